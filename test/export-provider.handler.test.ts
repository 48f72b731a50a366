import { createHash } from 'crypto';
import { CloudFormationClient, DescribeStackResourceCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CancelExportTaskCommand,
  CreateInstanceExportTaskCommand,
  DescribeExportTasksCommand,
  DescribeInstancesCommand,
  EC2Client,
  ExportTask,
} from '@aws-sdk/client-ec2';
import { DeleteObjectCommand, GetBucketLocationCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../lambda/custom-resource';
import {
  changedAffectingProperties,
  clientTokenOfPhysicalId,
  executionArnFor,
  exportHashOf,
  onEvent,
  parseStateMachineArn,
} from '../lambda/export-provider';
import {
  ERROR_INVALID_INPUT,
  ERROR_PREFLIGHT_FAILED,
  ERROR_QUOTA_FULL,
  ExportResourceProperties,
  TAG_CLIENT_TOKEN,
  TAG_EXPORT_HASH,
  TAG_MANAGED,
  TAG_MANAGED_VALUE,
  WorkflowInput,
} from '../lambda/shared/contract';
import { clientTokenFor, sha256Hex } from '../lambda/shared/hash';

const sfnMock = mockClient(SFNClient);
const ec2Mock = mockClient(EC2Client);
const s3Mock = mockClient(S3Client);
const cfnMock = mockClient(CloudFormationClient);
const clients = {
  sfn: new SFNClient({ region: 'cn-north-1' }),
  ec2: new EC2Client({ region: 'cn-north-1' }),
  s3: new S3Client({ region: 'cn-north-1' }),
  cfn: new CloudFormationClient({ region: 'cn-north-1' }),
};

// A China-partition ARN: the partition must come from the ARN, never a literal.
const SM_ARN = 'arn:aws-cn:states:cn-north-1:123456789012:stateMachine:VmExportWorkflow';
const STACK_ID = 'arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/app/1111';
const LOGICAL_ID = 'ExportWeb';
const INSTANCE = 'i-0123456789abcdef0';
const BUCKET = 'my-exports';
const TASK_ID = 'export-i-0fedcba9876543210';
/** Logical ids of two wait condition handles (the resource passes the id, never the handle's URL). */
const HANDLE_1 = 'ExportHandle0a1b2c3d';
const HANDLE_2 = 'ExportHandle4e5f6a7b';
/** Their URLs (physical ids) as CloudFormation reports them, and the SHA-256 hex the input carries. */
const HANDLE_URLS: Record<string, string> = {
  [HANDLE_1]: 'https://cloudformation-waitcondition-cn-north-1.s3.cn-north-1.amazonaws.com.cn/h1?X-Amz-Signature=ONE',
  [HANDLE_2]: 'https://cloudformation-waitcondition-cn-north-1.s3.cn-north-1.amazonaws.com.cn/h2?X-Amz-Signature=TWO',
};
const urlHashOf = (handle: string) => createHash('sha256').update(HANDLE_URLS[handle]).digest('hex');

const props: ExportResourceProperties = {
  ServiceToken: 'arn:aws-cn:lambda:cn-north-1:123456789012:function:provider',
  StateMachineArn: SM_ARN,
  InstanceId: INSTANCE,
  TargetEnvironment: 'vmware',
  DiskImageFormat: 'VMDK',
  ContainerFormat: 'ova',
  S3Bucket: BUCKET,
  S3Prefix: 'vms/',
  Description: 'web server',
  Tags: [{ Key: 'team', Value: 'ops' }],
  DeadlineSeconds: '7200',
  WaitForCompletion: 'true',
  Preflight: 'false',
  DeleteObjectOnDelete: 'false',
  CanonicalId: '834bafd86b15b6ca71074df0fd1f93d234b9d5e848a2cb31f880c149003ce36f',
  WaitConditionHandle: HANDLE_1,
};

const noWaitProps: ExportResourceProperties = { ...props, WaitForCompletion: 'false', WaitConditionHandle: undefined };

function base(requestId: string) {
  return {
    ServiceToken: props.ServiceToken,
    ResponseURL: 'https://cloudformation-custom-resource-response.example/x',
    StackId: STACK_ID,
    RequestId: requestId,
    LogicalResourceId: LOGICAL_ID,
    ResourceType: 'Custom::VmInstanceExport',
  };
}

function createEvent(p: ExportResourceProperties = props, requestId = 'req-1'): CloudFormationCustomResourceEvent {
  return { ...base(requestId), RequestType: 'Create', ResourceProperties: p as never };
}

function updateEvent(oldP: ExportResourceProperties, newP: ExportResourceProperties, physicalId: string, requestId = 'req-2'): CloudFormationCustomResourceEvent {
  return { ...base(requestId), RequestType: 'Update', PhysicalResourceId: physicalId, ResourceProperties: newP as never, OldResourceProperties: oldP as never };
}

function deleteEvent(physicalId: string, p: ExportResourceProperties = props): CloudFormationCustomResourceEvent {
  return { ...base('req-3'), RequestType: 'Delete', PhysicalResourceId: physicalId, ResourceProperties: p as never };
}

const token1 = clientTokenFor(STACK_ID, LOGICAL_ID, 'req-1');
const token2 = clientTokenFor(STACK_ID, LOGICAL_ID, 'req-2');
const execArn = (name: string) => `arn:aws-cn:states:cn-north-1:123456789012:execution:VmExportWorkflow:${name}`;
const ARN_1 = execArn(`vmx-${token1}`);
const ARN_2 = execArn(`vmx-${token2}`);
/** An export that did not wait: the execution's name (the physical id) also carries the task id. */
const NO_WAIT_ARN_1 = execArn(`vmx-${token1}-export-i-0fedcba9876543210`);
const NO_WAIT_ARN_2 = execArn(`vmx-${token2}-export-i-0fedcba9876543210`);

function task(state: string, tags: Record<string, string>, extra: Partial<ExportTask> = {}): ExportTask {
  return {
    ExportTaskId: TASK_ID,
    State: state as never,
    ExportToS3Task: { S3Bucket: BUCKET, S3Key: `vms/${TASK_ID}.ova` },
    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    ...extra,
  };
}

function awsError(name: string, message = name): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

function startInputs(): WorkflowInput[] {
  return sfnMock.commandCalls(StartExecutionCommand).map((c) => JSON.parse(c.args[0].input.input!));
}

let logSpy: jest.SpyInstance;
let errorSpy: jest.SpyInstance;
beforeEach(() => {
  sfnMock.reset();
  ec2Mock.reset();
  s3Mock.reset();
  cfnMock.reset();
  logSpy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  errorSpy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'app', StackStatus: 'UPDATE_IN_PROGRESS', CreationTime: new Date() }] });
  for (const [LogicalResourceId, PhysicalResourceId] of Object.entries(HANDLE_URLS)) {
    cfnMock.on(DescribeStackResourceCommand, { StackName: STACK_ID, LogicalResourceId })
      .resolves({ StackResourceDetail: { LogicalResourceId, PhysicalResourceId, ResourceStatus: 'CREATE_COMPLETE' } as never });
  }
});
afterEach(() => {
  const logged = [...logSpy.mock.calls, ...errorSpy.mock.calls].map((c) => c.join(' ')).join('\n');
  expect(logged).not.toContain('X-Amz-Signature');
  logSpy.mockRestore();
  errorSpy.mockRestore();
});

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe('names', () => {
  test('execution ARN keeps the partition of the state machine ARN', () => {
    expect(parseStateMachineArn(SM_ARN)).toEqual({ partition: 'aws-cn', region: 'cn-north-1', account: '123456789012', name: 'VmExportWorkflow' });
    expect(executionArnFor(SM_ARN, 'vmx-abc')).toBe('arn:aws-cn:states:cn-north-1:123456789012:execution:VmExportWorkflow:vmx-abc');
    expect(executionArnFor('arn:aws-us-gov:states:us-gov-west-1:1:stateMachine:M', 'n')).toBe('arn:aws-us-gov:states:us-gov-west-1:1:execution:M:n');
    expect(() => parseStateMachineArn('not-an-arn')).toThrow(/is not a state machine ARN/);
  });

  test('client token of a physical id', () => {
    expect(clientTokenOfPhysicalId(ARN_1)).toBe(token1);
    expect(clientTokenOfPhysicalId('ExportWeb-marker-123')).toBeUndefined();
    expect(clientTokenOfPhysicalId(execArn('other-name'))).toBeUndefined();
  });

  test('export hash: affecting properties only', () => {
    const h = exportHashOf(STACK_ID, LOGICAL_ID, props);
    expect(h).toMatch(/^[0-9a-f]{32}$/);
    expect(h).toBe(sha256Hex([STACK_ID, LOGICAL_ID, INSTANCE, 'vmware', 'VMDK', 'ova', BUCKET, 'vms/', ''].join('|')).slice(0, 32));
    expect(exportHashOf(STACK_ID, LOGICAL_ID, { ...props, DeadlineSeconds: '60', Description: 'x', WaitConditionHandle: HANDLE_2 })).toBe(h);
    expect(exportHashOf(STACK_ID, LOGICAL_ID, { ...props, Revision: '2' })).not.toBe(h);
    expect(changedAffectingProperties(props, { ...props, InstanceId: 'i-1111111111111111f', S3Prefix: 'x/' })).toEqual(['InstanceId', 'S3Prefix']);
  });
});

describe('Create (wait for completion)', () => {
  test('starts one execution with a deterministic name and the exact input', async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: ARN_1, startDate: new Date() });
    const res = await onEvent(createEvent(), clients);
    expect(res).toEqual({ PhysicalResourceId: ARN_1, Data: { ExecutionArn: ARN_1 } });
    expect(sfnMock).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    const call = sfnMock.commandCalls(StartExecutionCommand)[0].args[0].input;
    expect(call.stateMachineArn).toBe(SM_ARN);
    expect(call.name).toBe(`vmx-${token1}`);
    expect(token1).toBe(sha256Hex(`${STACK_ID}|${LOGICAL_ID}|req-1`).slice(0, 32));
    expect(startInputs()[0]).toEqual({
      instanceId: INSTANCE,
      targetEnvironment: 'vmware',
      diskImageFormat: 'VMDK',
      containerFormat: 'ova',
      s3Bucket: BUCKET,
      s3Prefix: 'vms/',
      description: 'web server',
      tags: [{ Key: 'team', Value: 'ops' }],
      deadlineSeconds: 7200,
      canonicalId: props.CanonicalId,
      preflight: false,
      clientToken: token1,
      exportHash: exportHashOf(STACK_ID, LOGICAL_ID, props),
      waitConditionStackId: STACK_ID,
      waitConditionHandleLogicalId: HANDLE_1,
      waitConditionHandleHash: urlHashOf(HANDLE_1),
    });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateInstanceExportTaskCommand);
  });

  test('ExecutionAlreadyExists (same RequestId retried) -> same physical id, no second execution', async () => {
    sfnMock.on(StartExecutionCommand).rejects(awsError('ExecutionAlreadyExists', 'Execution Already Exists'));
    sfnMock.on(DescribeExecutionCommand, { executionArn: ARN_1 }).resolves({ status: 'RUNNING' } as never);
    const res = await onEvent(createEvent(), clients);
    expect(res.PhysicalResourceId).toBe(ARN_1);
    expect(sfnMock).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
  });

  test('ExecutionAlreadyExists for an execution an earlier, failed attempt stopped -> VmExport.WorkflowError, not SUCCESS with a dead execution', async () => {
    sfnMock.on(StartExecutionCommand).rejects(awsError('ExecutionAlreadyExists', 'Execution Already Exists'));
    sfnMock.on(DescribeExecutionCommand, { executionArn: ARN_1 })
      .resolves({ status: 'ABORTED', error: 'VmExport.Stopped', cause: 'The custom resource request failed after it started the export.' } as never);
    const err = await failure(onEvent(createEvent(), clients));
    expect(err.name).toBe('VmExport.WorkflowError');
    expect(err.message).toContain('was stopped by an earlier attempt that failed (The custom resource request failed after it started the export.)');
  });

  test('ExecutionAlreadyExists for an execution stopped by someone else is answered with it (its backstop signals the wait condition)', async () => {
    sfnMock.on(StartExecutionCommand).rejects(awsError('ExecutionAlreadyExists', 'Execution Already Exists'));
    sfnMock.on(DescribeExecutionCommand, { executionArn: ARN_1 }).resolves({ status: 'ABORTED' } as never);
    await expect(onEvent(createEvent(), clients)).resolves.toMatchObject({ PhysicalResourceId: ARN_1 });
  });

  test.each<[string, Partial<ExportResourceProperties>, RegExp]>([
    ['bad instance id', { InstanceId: 'i-xyz' }, /instanceId 'i-xyz' is not an instance id/],
    ['RAW', { DiskImageFormat: 'RAW', ContainerFormat: 'none' }, /only for AMI export/],
    ['prefix without slash', { S3Prefix: 'vms' }, /s3Prefix 'vms' must end with '\/'/],
    ['deadline text', { DeadlineSeconds: 'abc' }, /deadlineSeconds 'abc' is out of range/],
    ['deadline too long', { DeadlineSeconds: '700000' }, /deadlineSeconds 700000 is out of range/],
    ['missing handle', { WaitConditionHandle: undefined }, /WaitConditionHandle is missing \(WaitForCompletion is 'true'\): pass the logical id of the wait condition handle/],
  ])('invalid input (%s) fails before anything starts', async (_n, change, message) => {
    const err = await failure(onEvent(createEvent({ ...props, ...change }), clients));
    expect(err.name).toBe(ERROR_INVALID_INPUT);
    expect(err.message).toMatch(message);
    expect(err.message.length).toBeLessThanOrEqual(1000);
    expect(err.message).toContain(change.InstanceId ?? INSTANCE);
    expect(sfnMock.calls()).toHaveLength(0);
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('Preflight true without a CanonicalId is refused before anything starts', async () => {
    const err = await failure(onEvent(createEvent({ ...props, Preflight: 'true', CanonicalId: '' }), clients));
    expect(err.name).toBe(ERROR_INVALID_INPUT);
    expect(err.message).toMatch(/CanonicalId is missing \(Preflight is 'true'\): pass the canonical ID/);
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(sfnMock.calls()).toHaveLength(0);
  });

  test('Preflight true runs the checks; a failure starts nothing', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    s3Mock.on(GetBucketLocationCommand).rejects(awsError('NoSuchBucket'));
    const err = await failure(onEvent(createEvent({ ...props, Preflight: 'true' }), clients));
    expect(err.name).toBe(ERROR_PREFLIGHT_FAILED);
    expect(err.message).toMatch(/instance i-0123456789abcdef0 does not exist.*bucket my-exports does not exist/);
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeInstancesCommand, { InstanceIds: [INSTANCE] });
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  test('module-level handler uses the same logic and answers CloudFormation itself, once', async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: ARN_1, startDate: new Date() });
    const put = jest.spyOn(globalThis, 'fetch').mockResolvedValue(new Response(null, { status: 200 }));
    try {
      const event = createEvent();
      await expect(handler(event)).resolves.toBeUndefined();
      expect(put).toHaveBeenCalledTimes(1);
      const [url, init] = put.mock.calls[0];
      expect(url).toBe(event.ResponseURL);
      expect(init?.method).toBe('PUT');
      expect(JSON.parse(String(init?.body))).toEqual({
        Status: 'SUCCESS',
        Reason: 'OK',
        PhysicalResourceId: ARN_1,
        StackId: STACK_ID,
        RequestId: event.RequestId,
        LogicalResourceId: LOGICAL_ID,
        Data: { ExecutionArn: ARN_1 },
      });
    } finally {
      put.mockRestore();
    }
  });
});

describe('Create (no wait)', () => {
  test('starts the task itself, then the execution adopting it', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    ec2Mock.on(CreateInstanceExportTaskCommand).resolves({ ExportTask: { ExportTaskId: TASK_ID, State: 'active' } });
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: NO_WAIT_ARN_1, startDate: new Date() });
    const res = await onEvent(createEvent(noWaitProps), clients);
    expect(res).toEqual({
      PhysicalResourceId: NO_WAIT_ARN_1,
      Data: {
        ExecutionArn: NO_WAIT_ARN_1,
        ExportTaskId: TASK_ID,
        ExportObjectKey: `vms/${TASK_ID}.ova`,
        ExportObjectUri: `s3://${BUCKET}/vms/${TASK_ID}.ova`,
      },
    });
    expect(ec2Mock).toHaveReceivedCommandWith(CreateInstanceExportTaskCommand, {
      InstanceId: INSTANCE,
      TargetEnvironment: 'vmware',
      Description: 'web server',
      ExportToS3Task: { DiskImageFormat: 'VMDK', ContainerFormat: 'ova', S3Bucket: BUCKET, S3Prefix: 'vms/' },
      TagSpecifications: [{
        ResourceType: 'export-instance-task',
        Tags: [
          { Key: TAG_MANAGED, Value: TAG_MANAGED_VALUE },
          { Key: TAG_CLIENT_TOKEN, Value: token1 },
          { Key: TAG_EXPORT_HASH, Value: exportHashOf(STACK_ID, LOGICAL_ID, noWaitProps) },
          { Key: 'team', Value: 'ops' },
        ],
      }],
    });
    const input = startInputs()[0];
    expect(input.adoptExportTaskId).toBe(TASK_ID);
    expect(input.waitConditionStackId).toBeUndefined();
    expect(input.waitConditionHandleLogicalId).toBeUndefined();
    expect(input.deadlineSeconds).toBe(7200);
    // The name (and so the physical id) carries the task id, which outlives DescribeExportTasks.
    expect(sfnMock.commandCalls(StartExecutionCommand)[0].args[0].input.name).toBe(`vmx-${token1}-${TASK_ID}`);
  });

  test('a retried request finds its task by tag: no second CreateInstanceExportTask', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('active', { [TAG_CLIENT_TOKEN]: token1 })] });
    sfnMock.on(StartExecutionCommand).rejects(awsError('ExecutionAlreadyExists'));
    const res = await onEvent(createEvent(noWaitProps), clients);
    expect(res.PhysicalResourceId).toBe(NO_WAIT_ARN_1);
    expect(res.Data?.ExportTaskId).toBe(TASK_ID);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateInstanceExportTaskCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(CancelExportTaskCommand);
  });

  test('quota full -> clear failure pointing at waitForCompletion: true', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    ec2Mock.on(CreateInstanceExportTaskCommand).rejects(awsError('ResourceLimitExceeded', 'limit'));
    const err = await failure(onEvent(createEvent(noWaitProps), clients));
    expect(err.name).toBe(ERROR_QUOTA_FULL);
    expect(err.message).toMatch(/quota of this region is full.*waitForCompletion: true/);
    expect(err.message).toContain(INSTANCE);
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  test('StartExecution fails -> the task is cancelled BEFORE the error is thrown', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    ec2Mock.on(CreateInstanceExportTaskCommand).resolves({ ExportTask: { ExportTaskId: TASK_ID, State: 'active' } });
    ec2Mock.on(CancelExportTaskCommand).resolves({});
    sfnMock.on(StartExecutionCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform states:StartExecution'));
    const err = await failure(onEvent(createEvent(noWaitProps), clients));
    expect(err.message).toContain('not authorized to perform states:StartExecution');
    expect(err.message).toContain(INSTANCE);
    expect(ec2Mock).toHaveReceivedCommandWith(CancelExportTaskCommand, { ExportTaskId: TASK_ID });
  });
});

describe('Update', () => {
  const newInstance = 'i-0aaaaaaaaaaaaaaaa';

  test('(a) affecting change with a new handle -> a new export, new physical id, old one untouched', async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: ARN_2, startDate: new Date() });
    const newProps = { ...props, InstanceId: newInstance, WaitConditionHandle: HANDLE_2 };
    const res = await onEvent(updateEvent(props, newProps, ARN_1), clients);
    expect(res).toEqual({ PhysicalResourceId: ARN_2, Data: { ExecutionArn: ARN_2 } });
    expect(cfnMock).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: STACK_ID });
    const input = startInputs()[0];
    expect(input).toMatchObject({
      instanceId: newInstance,
      clientToken: token2,
      waitConditionStackId: STACK_ID,
      waitConditionHandleLogicalId: HANDLE_2,
      waitConditionHandleHash: urlHashOf(HANDLE_2),
      exportHash: exportHashOf(STACK_ID, LOGICAL_ID, newProps),
    });
    expect(sfnMock).not.toHaveReceivedCommand(StopExecutionCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(CancelExportTaskCommand);
  });

  test('(a) no-wait mode: affecting change starts a new task', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    ec2Mock.on(CreateInstanceExportTaskCommand).resolves({ ExportTask: { ExportTaskId: TASK_ID, State: 'active' } });
    sfnMock.on(StartExecutionCommand).resolves({});
    const res = await onEvent(updateEvent(noWaitProps, { ...noWaitProps, S3Prefix: 'other/' }, NO_WAIT_ARN_1), clients);
    expect(res.PhysicalResourceId).toBe(NO_WAIT_ARN_2);
    expect(res.Data?.ExportObjectKey).toBe(`other/${TASK_ID}.ova`);
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateInstanceExportTaskCommand, 1);
  });

  test('(a) rollback reuses the completed export of the same properties and starts nothing', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'app', StackStatus: 'UPDATE_ROLLBACK_IN_PROGRESS', CreationTime: new Date() }] });
    // Rollback: "new" properties are the original ones (exported by token1 earlier).
    const failedProps = { ...props, InstanceId: newInstance, WaitConditionHandle: HANDLE_2 };
    const hash = exportHashOf(STACK_ID, LOGICAL_ID, props);
    ec2Mock.on(DescribeExportTasksCommand).resolves({
      ExportTasks: [
        task('cancelled', { [TAG_EXPORT_HASH]: hash, [TAG_CLIENT_TOKEN]: 'zzz' }, { ExportTaskId: 'export-i-0000000000000000a' }),
        task('completed', { [TAG_EXPORT_HASH]: hash, [TAG_CLIENT_TOKEN]: token1 }),
      ],
    });
    const res = await onEvent(updateEvent(failedProps, props, ARN_2, 'req-rollback'), clients);
    expect(res).toEqual({ PhysicalResourceId: ARN_1, Data: { ExecutionArn: ARN_1 } });
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateInstanceExportTaskCommand);
  });

  test('(a) rollback whose earlier export EC2 no longer lists starts nothing (the old wait condition keeps the attributes)', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'app', StackStatus: 'UPDATE_ROLLBACK_IN_PROGRESS', CreationTime: new Date() }] });
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    sfnMock.on(StartExecutionCommand).resolves({});
    const res = await onEvent(updateEvent({ ...props, InstanceId: newInstance, WaitConditionHandle: HANDLE_2 }, props, ARN_2), clients);
    expect(res.PhysicalResourceId).toMatch(/:execution:VmExportWorkflow:vmx-[0-9a-f]{32}$/);
    expect(res.PhysicalResourceId).not.toBe(ARN_2);
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateInstanceExportTaskCommand);
  });

  test('(a) a no-wait rollback whose earlier export EC2 no longer lists fails clearly and starts nothing', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'app', StackStatus: 'UPDATE_ROLLBACK_IN_PROGRESS', CreationTime: new Date() }] });
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    const err = await failure(onEvent(updateEvent({ ...noWaitProps, InstanceId: newInstance }, noWaitProps, NO_WAIT_ARN_2), clients));
    expect(err.message).toContain('no second export was started');
    expect(err.message).toContain('continue-update-rollback --resources-to-skip');
    expect(sfnMock).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateInstanceExportTaskCommand);
  });

  test('(b) affecting change with the same handle -> clear error, nothing started', async () => {
    const err = await failure(onEvent(updateEvent(props, { ...props, InstanceId: newInstance }, ARN_1), clients));
    expect(err.name).toBe(ERROR_INVALID_INPUT);
    expect(err.message).toContain(`InstanceId '${INSTANCE}' -> '${newInstance}'`);
    expect(err.message).toMatch(/set the construct's `revision` prop to a new value \(or pass a literal instance id\)/i);
    expect(err.message.length).toBeLessThanOrEqual(1000);
    expect(sfnMock.calls()).toHaveLength(0);
  });

  test('(c) timeout change: same physical id, old execution stopped, new execution adopts the task and signals the new handle', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
    sfnMock.on(StopExecutionCommand).resolves({ stopDate: new Date() });
    sfnMock.on(StartExecutionCommand).resolves({});
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('active', { [TAG_CLIENT_TOKEN]: token1 })] });
    const newProps = { ...props, DeadlineSeconds: '36000', WaitConditionHandle: HANDLE_2 };
    const res = await onEvent(updateEvent(props, newProps, ARN_1), clients);
    const newName = `vmx-${sha256Hex(`${token1}|req-2`).slice(0, 32)}`;
    expect(res).toEqual({ PhysicalResourceId: ARN_1, Data: { ExecutionArn: execArn(newName) } });
    expect(sfnMock).toHaveReceivedCommandWith(StopExecutionCommand, { executionArn: ARN_1 });
    const call = sfnMock.commandCalls(StartExecutionCommand)[0].args[0].input;
    expect(call.name).toBe(newName);
    expect(startInputs()[0]).toMatchObject({
      clientToken: token1,
      adoptExportTaskId: TASK_ID,
      waitConditionStackId: STACK_ID,
      waitConditionHandleLogicalId: HANDLE_2,
      waitConditionHandleHash: urlHashOf(HANDLE_2),
      deadlineSeconds: 36000,
      preflight: false,
    });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateInstanceExportTaskCommand);
  });

  test('(c) old execution already finished and task not started yet: no stop, no adopt', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);
    sfnMock.on(StartExecutionCommand).resolves({});
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    await onEvent(updateEvent(props, { ...props, WaitConditionHandle: HANDLE_2 }, ARN_1), clients);
    expect(sfnMock).not.toHaveReceivedCommand(StopExecutionCommand);
    const input = startInputs()[0];
    expect(input.adoptExportTaskId).toBeUndefined();
    expect(input.clientToken).toBe(token1);
  });

  test('(d) nothing export-affecting changed -> same physical id, nothing done', async () => {
    const res = await onEvent(updateEvent(props, { ...props, Description: 'changed', Tags: [] }, ARN_1), clients);
    expect(res).toEqual({ PhysicalResourceId: ARN_1, Data: { ExecutionArn: ARN_1 } });
    expect(sfnMock.calls()).toHaveLength(0);
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('(d) no-wait mode returns the task attributes again', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('completed', { [TAG_CLIENT_TOKEN]: token1 })] });
    const res = await onEvent(updateEvent(noWaitProps, { ...noWaitProps, Description: 'x' }, ARN_1), clients);
    expect(res).toEqual({
      PhysicalResourceId: ARN_1,
      Data: { ExecutionArn: ARN_1, ExportTaskId: TASK_ID, ExportObjectKey: `vms/${TASK_ID}.ova`, ExportObjectUri: `s3://${BUCKET}/vms/${TASK_ID}.ova` },
    });
    expect(sfnMock.calls()).toHaveLength(0);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateInstanceExportTaskCommand);
  });
});

describe('Delete', () => {
  test('marker physical id (failed create) -> success, no calls', async () => {
    const res = await onEvent(deleteEvent('app-ExportWeb-1A2B3C'), clients);
    expect(res).toEqual({ PhysicalResourceId: 'app-ExportWeb-1A2B3C' });
    expect(sfnMock.calls()).toHaveLength(0);
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('running execution and active task -> StopExecution and CancelExportTask', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
    sfnMock.on(StopExecutionCommand).resolves({});
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('active', { [TAG_CLIENT_TOKEN]: token1 })] });
    ec2Mock.on(CancelExportTaskCommand).resolves({});
    const res = await onEvent(deleteEvent(ARN_1), clients);
    expect(res).toEqual({ PhysicalResourceId: ARN_1 });
    expect(sfnMock).toHaveReceivedCommandWith(StopExecutionCommand, { executionArn: ARN_1 });
    expect(ec2Mock).toHaveReceivedCommandWith(CancelExportTaskCommand, { ExportTaskId: TASK_ID });
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectCommand);
  });

  test('task completed in the meantime (cancel says so) -> success', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('active', { [TAG_CLIENT_TOKEN]: token1 })] });
    ec2Mock.on(CancelExportTaskCommand).rejects(awsError('IncorrectState', 'The export task is already completed'));
    await expect(onEvent(deleteEvent(ARN_1), clients)).resolves.toEqual({ PhysicalResourceId: ARN_1 });
  });

  test('completed export is left in S3 by default', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('completed', { [TAG_CLIENT_TOKEN]: token1 })] });
    await onEvent(deleteEvent(ARN_1), clients);
    expect(sfnMock).not.toHaveReceivedCommand(StopExecutionCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(CancelExportTaskCommand);
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectCommand);
  });

  test('completed export with DeleteObjectOnDelete -> DeleteObject(bucket, key)', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('completed', { [TAG_CLIENT_TOKEN]: token1 }, { ExportToS3Task: {} })] });
    s3Mock.on(DeleteObjectCommand).resolves({});
    await onEvent(deleteEvent(ARN_1, { ...props, DeleteObjectOnDelete: 'true' }), clients);
    expect(s3Mock).toHaveReceivedCommandTimes(DeleteObjectCommand, 1);
    expect(s3Mock).toHaveReceivedCommandWith(DeleteObjectCommand, { Bucket: BUCKET, Key: `vms/${TASK_ID}.ova` });
  });

  test('object or bucket already gone -> success', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('completed', { [TAG_CLIENT_TOKEN]: token1 })] });
    s3Mock.on(DeleteObjectCommand).rejects(awsError('NoSuchBucket'));
    await expect(onEvent(deleteEvent(ARN_1, { ...props, DeleteObjectOnDelete: 'true' }), clients)).resolves.toEqual({ PhysicalResourceId: ARN_1 });
  });

  test('execution and task not found -> success', async () => {
    sfnMock.on(DescribeExecutionCommand).rejects(awsError('ExecutionDoesNotExist'));
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    await expect(onEvent(deleteEvent(ARN_1), clients)).resolves.toEqual({ PhysicalResourceId: ARN_1 });
    expect(sfnMock).not.toHaveReceivedCommand(StopExecutionCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(CancelExportTaskCommand);
  });

  test('already cancelled task -> nothing to do', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'FAILED' } as never);
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('cancelled', { [TAG_CLIENT_TOKEN]: token1 })] });
    await expect(onEvent(deleteEvent(ARN_1, { ...props, DeleteObjectOnDelete: 'true' }), clients)).resolves.toEqual({ PhysicalResourceId: ARN_1 });
    expect(ec2Mock).not.toHaveReceivedCommand(CancelExportTaskCommand);
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectCommand);
  });

  test('unexpected errors fail the delete with the instance named', async () => {
    sfnMock.on(DescribeExecutionCommand).rejects(awsError('AccessDeniedException', 'no states:DescribeExecution'));
    const err = await failure(onEvent(deleteEvent(ARN_1), clients));
    expect(err.message).toBe(`Export of ${INSTANCE}: no states:DescribeExecution`);
    expect(err.name).toBe('AccessDeniedException');
  });
});
