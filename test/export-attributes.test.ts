/**
 * The Custom::VmExportAttributes resource's handler: the export provider's onEvent serves it
 * without any AWS call, reads both signal formats, and refuses Data it cannot read with a
 * message that names the value and the fix.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { exportAttributesOf } from '../lambda/export-provider/attributes';
import { onEvent, ProviderClients } from '../lambda/export-provider/index';

const TASK_ID = 'export-i-0a1b2c3d4e5f60718';
const PROPS = { ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:VmExportCustomResourcesHandler', S3Bucket: 'my-exports', S3Prefix: 'vms/', ObjectExtension: '.ova' };

/** Clients that fail the test on any use: the attributes resource calls no AWS API. */
const noClients = new Proxy({}, { get: (_t, name) => { throw new Error(`the attributes resource used the ${String(name)} client`); } }) as ProviderClients;

function event(requestType: 'Create' | 'Update' | 'Delete', data: unknown): CloudFormationCustomResourceEvent {
  const base = {
    ServiceToken: PROPS.ServiceToken,
    ResponseURL: 'https://example.com/response',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/S/00000000-0000-0000-0000-000000000001',
    RequestId: 'request-1',
    LogicalResourceId: 'ExportAttributes38DAA238',
    ResourceType: 'Custom::VmExportAttributes',
    ResourceProperties: { ...PROPS, WaitConditionData: data } as any,
  };
  if (requestType === 'Create') return { ...base, RequestType: 'Create' };
  if (requestType === 'Update') return { ...base, RequestType: 'Update', PhysicalResourceId: TASK_ID, OldResourceProperties: base.ResourceProperties };
  return { ...base, RequestType: 'Delete', PhysicalResourceId: TASK_ID };
}

beforeAll(() => {
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
});

describe('Custom::VmExportAttributes through the export provider', () => {
  test('Create: the reported key of a `<task id>|<key>` signal, as string attributes', async () => {
    const data = JSON.stringify({ export: `${TASK_ID}|vms/moved/${TASK_ID}.ova` });
    await expect(onEvent(event('Create', data), noClients)).resolves.toEqual({
      PhysicalResourceId: TASK_ID,
      Data: { ExportTaskId: TASK_ID, ExportObjectKey: `vms/moved/${TASK_ID}.ova`, ExportObjectUri: `s3://my-exports/vms/moved/${TASK_ID}.ova` },
    });
  });

  test('Update: a signal of an earlier version (task id only) gives the documented key', async () => {
    const res = await onEvent(event('Update', JSON.stringify({ export: TASK_ID })), noClients);
    expect(res.Data).toEqual({ ExportTaskId: TASK_ID, ExportObjectKey: `vms/${TASK_ID}.ova`, ExportObjectUri: `s3://my-exports/vms/${TASK_ID}.ova` });
  });

  test('Data passed as an object (not a JSON string) is read the same way', () => {
    expect(exportAttributesOf({ ...PROPS, WaitConditionData: { export: `${TASK_ID}|vms/${TASK_ID}.ova` } }).ExportObjectKey).toBe(`vms/${TASK_ID}.ova`);
  });

  test('Delete does nothing, whatever the Data, and keeps the physical id', async () => {
    await expect(onEvent(event('Delete', 'not json'), noClients)).resolves.toEqual({ PhysicalResourceId: TASK_ID });
  });

  test.each<[string, unknown, RegExp]>([
    ['not JSON', 'garbage', /WaitConditionData 'garbage' is not the Data of a wait condition.*pass Fn::GetAtt <WaitCondition>\.Data/],
    ['a JSON array', '[1]', /WaitConditionData '\[1\]' is not the Data of a wait condition/],
    ['no export signal', '{"other":"x"}', /WaitConditionData '\{"other":"x"\}' has no success signal with UniqueId 'export': pass the Data of the export's own wait condition/],
    ['no task id', '{"export":"hello|vms/x.ova"}', /success signal 'hello\|vms\/x\.ova' does not start with a task id \(export-i-\.\.\.\)/],
  ])('%s: Create fails naming the value and the fix', async (_name, data, message) => {
    await expect(onEvent(event('Create', data), noClients)).rejects.toThrow(message);
    await expect(onEvent(event('Create', data), noClients)).rejects.toMatchObject({ name: 'VmExport.InvalidInput' });
  });
});
