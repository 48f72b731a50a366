import { Template } from 'aws-cdk-lib/assertions';
import { buildExampleApp } from '../examples/app';

describe('the example app', () => {
  const app = buildExampleApp();
  const template = Template.fromStack(app.node.findChild('VmExportExample') as any, { skipCyclicalDependenciesCheck: true });
  const json = template.toJSON();

  test('has a bucket, one export of the context instance and a downstream SSM parameter', () => {
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResourceProperties('Custom::VmInstanceExport', {
      InstanceId: 'i-0123456789abcdef0',
      TargetEnvironment: 'vmware',
      ContainerFormat: 'ova',
      S3Prefix: 'web-server/',
    });
    template.hasResourceProperties('AWS::CloudFormation::WaitCondition', { Timeout: String(4 * 3600) });
  });

  test('the SSM parameter waits for the export (its value is an attribute read from the wait condition data)', () => {
    const [waitConditionId] = Object.keys(template.findResources('AWS::CloudFormation::WaitCondition'));
    const [[attributesId, attributes]] = Object.entries(template.findResources('Custom::VmExportAttributes')) as any[];
    expect(attributes.Properties.WaitConditionData).toEqual({ 'Fn::GetAtt': [waitConditionId, 'Data'] });
    const [parameter] = Object.values(template.findResources('AWS::SSM::Parameter')) as any[];
    expect(JSON.stringify(parameter.Properties.Value)).toContain(`"Fn::GetAtt":["${attributesId}","Export`);
    expect(JSON.stringify(json.Outputs.ImageUri.Value)).toContain(attributesId);
  });
});
