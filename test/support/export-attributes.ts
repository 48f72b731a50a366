/**
 * TEST CODE ONLY: what `Fn::GetAtt <Custom::VmExportAttributes>.<attribute>` resolves to once
 * the export's wait condition got its signals. Each attributes resource's properties are
 * evaluated with the wait condition's Data as CloudFormation returns it (a JSON string of the
 * signals by UniqueId), and its Create goes through the handler's onAttributesEvent (the
 * export provider's onEvent dispatches to it: test/export-attributes.test.ts).
 */
import type { CloudFormationCustomResourceCreateEvent } from 'aws-lambda';
import { CfnEvalContext, evaluateCfn } from './cfn-eval';
import { onAttributesEvent } from '../../lambda/export-provider/attributes';
import { EXPORT_ATTRIBUTES_RESOURCE_TYPE } from '../../lambda/shared/contract';

/**
 * Refs for cfn-eval: `<WaitCondition>.Data` for every wait condition, and
 * `<Attributes>.ExportTaskId` / `.ExportObjectKey` / `.ExportObjectUri` for every attributes
 * resource that reads one. `signals` is the success signals (UniqueId to Data) each wait
 * condition received.
 */
export function completedAttributeRefs(template: any, ctx: CfnEvalContext, signals: Record<string, string>): Record<string, unknown> {
  const resources = Object.entries<any>(template.Resources ?? {});
  const data = JSON.stringify(signals);
  const refs: Record<string, unknown> = {};
  for (const [id, resource] of resources) {
    if (resource.Type === 'AWS::CloudFormation::WaitCondition') refs[`${id}.Data`] = data;
  }
  const withData: CfnEvalContext = { ...ctx, refs: { ...ctx.refs, ...refs } };
  for (const [id, resource] of resources) {
    if (resource.Type !== EXPORT_ATTRIBUTES_RESOURCE_TYPE) continue;
    const { ServiceToken: serviceToken, ...rest } = resource.Properties;
    const properties = { ServiceToken: JSON.stringify(serviceToken), ...evaluateCfn(rest, withData) as Record<string, any> };
    const event: CloudFormationCustomResourceCreateEvent = {
      RequestType: 'Create',
      ServiceToken: String(properties.ServiceToken),
      ResponseURL: 'https://cloudformation-custom-resource-response.s3.amazonaws.com/fake',
      StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/Stack/00000000-0000-0000-0000-000000000001',
      RequestId: `attributes-${id}`,
      LogicalResourceId: id,
      ResourceType: resource.Type,
      ResourceProperties: properties as any,
    };
    for (const [name, value] of Object.entries(onAttributesEvent(event).Data ?? {})) {
      refs[`${id}.${name}`] = value;
    }
  }
  return refs;
}
