import { createHash } from 'crypto';
import { CloudFormationClient, DescribeStackResourceCommand } from '@aws-sdk/client-cloudformation';
import {
  CancelExportTaskCommand,
  CreateInstanceExportTaskCommand,
  DescribeExportImageTasksCommand,
  DescribeExportTasksCommand,
  DescribeInstancesCommand,
  EC2Client,
  ExportTask,
} from '@aws-sdk/client-ec2';
import {
  GetBucketAclCommand,
  GetBucketLocationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { finish, handler, prepare, start } from '../lambda/export-task';
import { mockExportableInstanceAndBucket } from './support/preflight-mocks';
import { specCanonicalId } from './support/spec-canonical-ids';
import {
  ERROR_DEADLINE_PASSED,
  ERROR_EXPORT_FAILED,
  ERROR_EXPORT_REJECTED,
  ERROR_INVALID_INPUT,
  ERROR_PREFLIGHT_FAILED,
  ERROR_QUOTA_FULL,
  ERROR_QUOTA_NEVER_FREED,
  ERROR_THROTTLED,
  ERROR_WORKFLOW_ERROR,
  FinishEvent,
  INTERNAL_CANCELLED,
  INTERNAL_COMPLETED,
  NormalizedRequest,
  TAG_CLIENT_TOKEN,
  WorkflowInput,
} from '../lambda/shared/contract';
import { normalizeRequest } from '../lambda/shared/normalize';

const ec2Mock = mockClient(EC2Client);
const s3Mock = mockClient(S3Client);
const cfnMock = mockClient(CloudFormationClient);
const ec2 = new EC2Client({ region: 'eu-west-1' });
const s3 = new S3Client({ region: 'eu-west-1' });
const cfn = new CloudFormationClient({ region: 'eu-west-1' });
const clients = { ec2, s3, cfn };

const INSTANCE = 'i-0123456789abcdef0';
const BUCKET = 'my-exports';
const TASK_ID = 'export-i-0fedcba9876543210';
const TOKEN = '0123456789abcdef0123456789abcdef';
const HANDLE = 'https://cloudformation-waitcondition-eu-west-1.s3.eu-west-1.amazonaws.com/arn%3Aaws%3Acloudformation/handle?X-Amz-Signature=SECRET';
const STACK_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/app/5f1e0c40-0000-4000-8000-000000000000';
const HANDLE_ID = 'ExportHandle0a1b2c3d';
/** SHA-256 (hex) of HANDLE: what the export resource's handler puts into the input. */
const HANDLE_HASH = createHash('sha256').update(HANDLE).digest('hex');

const input: WorkflowInput = {
  instanceId: INSTANCE,
  targetEnvironment: 'vmware',
  s3Bucket: BUCKET,
  s3Prefix: 'vms/',
  clientToken: TOKEN,
  deadlineSeconds: 3600,
  waitConditionStackId: STACK_ID,
  waitConditionHandleLogicalId: HANDLE_ID,
  waitConditionHandleHash: HANDLE_HASH,
};
const request: NormalizedRequest = normalizeRequest(input);

function task(state: string, extra: Partial<ExportTask> = {}): ExportTask {
  return {
    ExportTaskId: TASK_ID,
    State: state as never,
    ExportToS3Task: { S3Bucket: BUCKET, S3Key: `vms/${TASK_ID}.ova`, DiskImageFormat: 'VMDK', ContainerFormat: 'ova' },
    Tags: [{ Key: TAG_CLIENT_TOKEN, Value: TOKEN }],
    ...extra,
  };
}

function awsError(name: string, message = name): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

let fetchMock: jest.Mock;
let logSpy: jest.SpyInstance;
let errorSpy: jest.SpyInstance;
const noSleep = async () => undefined;

beforeEach(() => {
  ec2Mock.reset();
  s3Mock.reset();
  cfnMock.reset();
  // CloudFormation's answer for the handle: its physical id is the URL its Ref returns.
  cfnMock.on(DescribeStackResourceCommand, { StackName: STACK_ID, LogicalResourceId: HANDLE_ID })
    .resolves({ StackResourceDetail: { LogicalResourceId: HANDLE_ID, PhysicalResourceId: HANDLE, ResourceType: 'AWS::CloudFormation::WaitConditionHandle', ResourceStatus: 'CREATE_COMPLETE', LastUpdatedTimestamp: new Date(0) } });
  fetchMock = jest.fn().mockResolvedValue({ ok: true, status: 200 });
  logSpy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  errorSpy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
});

afterEach(() => {
  // The handle URL is a credential: it must never reach the logs.
  const logged = [...logSpy.mock.calls, ...errorSpy.mock.calls].map((c) => c.join(' ')).join('\n');
  expect(logged).not.toContain('SECRET');
  expect(logged).not.toContain('cloudformation-waitcondition');
  logSpy.mockRestore();
  errorSpy.mockRestore();
});

function signalBody(): Record<string, string> {
  expect(fetchMock).toHaveBeenCalledTimes(1);
  const [url, init] = fetchMock.mock.calls[0];
  expect(url).toBe(HANDLE);
  expect(init.method).toBe('PUT');
  expect(init.headers).toEqual({ 'Content-Type': '' });
  return JSON.parse(init.body);
}

async function runFinish(error: FinishEvent['error'], req: FinishEvent['request'] = request) {
  return finish({ action: 'finish', request: req, error }, clients, { fetch: fetchMock, sleep: noSleep });
}

describe('prepare', () => {
  function goodBucketAndInstance() {
    mockExportableInstanceAndBucket(ec2Mock, s3Mock, { instanceId: INSTANCE, region: 'eu-west-1', canonicalId: specCanonicalId('eu-west-1') });
  }

  test('returns the normalized request after the preflight', async () => {
    goodBucketAndInstance();
    await expect(prepare(input, clients, 'eu-west-1')).resolves.toEqual({ ...request, kind: 'instance', notAfter: expect.any(Number) });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeInstancesCommand, { InstanceIds: [INSTANCE] });
    expect(s3Mock).toHaveReceivedCommandWith(GetBucketAclCommand, { Bucket: BUCKET });
  });

  test('preflight: false skips every check', async () => {
    await expect(prepare({ ...input, preflight: false }, clients, 'eu-west-1')).resolves.toEqual({ ...request, kind: 'instance', notAfter: expect.any(Number) });
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(s3Mock.calls()).toHaveLength(0);
  });

  test('invalid input throws VmExport.InvalidInput before any call', async () => {
    await expect(handler({ action: 'prepare', input: { ...input, targetEnvironment: 'kvm' } })).rejects.toMatchObject({ name: ERROR_INVALID_INPUT });
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('a broken rule throws VmExport.PreflightFailed (region from the client)', async () => {
    goodBucketAndInstance();
    s3Mock.on(GetBucketLocationCommand).resolves({ LocationConstraint: 'us-west-2' });
    const saved = process.env.AWS_REGION;
    process.env.AWS_REGION = 'eu-west-1';
    try {
      await expect(handler({ action: 'prepare', input })).rejects.toMatchObject({
        name: ERROR_PREFLIGHT_FAILED,
        message: expect.stringContaining('bucket my-exports is in us-west-2, not in eu-west-1'),
      });
    } finally {
      process.env.AWS_REGION = saved;
    }
  });
});

describe('start', () => {
  test('creates the task once and returns its id', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    ec2Mock.on(CreateInstanceExportTaskCommand).resolves({ ExportTask: { ExportTaskId: TASK_ID, State: 'active' } });
    await expect(handler({ action: 'start', request })).resolves.toEqual({ exportTaskId: TASK_ID, state: 'active' });
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateInstanceExportTaskCommand, 1);
    expect(ec2Mock).toHaveReceivedCommandWith(CreateInstanceExportTaskCommand, {
      InstanceId: INSTANCE,
      ExportToS3Task: { DiskImageFormat: 'VMDK', ContainerFormat: 'ova', S3Bucket: BUCKET, S3Prefix: 'vms/' },
    });
  });

  test('a retried start finds the task by its client token tag', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('active')] });
    await expect(start(request, clients)).resolves.toEqual({ exportTaskId: TASK_ID, state: 'active', s3Key: `vms/${TASK_ID}.ova` });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateInstanceExportTaskCommand);
  });

  test('quota full with no task visible that holds a slot throws VmExport.QuotaFull for the workflow to retry', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [] });
    ec2Mock.on(CreateInstanceExportTaskCommand).rejects(awsError('ResourceLimitExceeded', 'too many conversion tasks'));
    await expect(start(request, clients)).rejects.toMatchObject({ name: ERROR_QUOTA_FULL });
  });

  test('quota full answers quota-full with the tasks that hold the slots, for the workflow to watch', async () => {
    const other = { ExportTaskId: 'export-i-0aaaaaaaaaaaaaaaa', State: 'active' as const, Tags: [] };
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [other, { ...other, ExportTaskId: 'export-i-0bbbbbbbbbbbbbbbb', State: 'completed' }] });
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [{ ExportImageTaskId: 'export-ami-0cccccccccccccccc', Status: 'active' }] });
    ec2Mock.on(CreateInstanceExportTaskCommand).rejects(awsError('ResourceLimitExceeded', 'too many conversion tasks'));
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await expect(start(request, clients)).resolves.toEqual({
        exportTaskId: '', state: 'quota-full', holders: ['export-i-0aaaaaaaaaaaaaaaa'], imageHolders: ['export-ami-0cccccccccccccccc'],
      });
    } finally {
      log.mockRestore();
    }
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateInstanceExportTaskCommand, 1);
  });
});

describe('finish', () => {
  test('completed -> SUCCEEDED, success signal with the task id', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('completed')] });
    const out = await runFinish({ Error: INTERNAL_COMPLETED, Cause: 'done' });
    expect(out).toEqual({
      status: 'SUCCEEDED',
      kind: 'instance',
      instanceId: INSTANCE,
      exportTaskId: TASK_ID,
      s3Bucket: BUCKET,
      s3Key: `vms/${TASK_ID}.ova`,
      s3Uri: `s3://${BUCKET}/vms/${TASK_ID}.ova`,
      state: 'completed',
    });
    expect(signalBody()).toEqual({
      Status: 'SUCCESS',
      UniqueId: 'export',
      Data: `${TASK_ID}|vms/${TASK_ID}.ova`,
      Reason: `Exported ${INSTANCE} to s3://${BUCKET}/vms/${TASK_ID}.ova`,
    });
    expect(ec2Mock).not.toHaveReceivedCommand(CancelExportTaskCommand);
  });

  test('key is built from prefix + task id + extension when the task has none', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('completed', { ExportToS3Task: undefined })] });
    const out = await runFinish({ Error: INTERNAL_COMPLETED });
    expect(out.s3Key).toBe(`vms/${TASK_ID}.ova`);
  });

  test('deadline passed but the task completed meanwhile -> SUCCEEDED, no cancel', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('completed')] });
    const out = await runFinish({ Error: ERROR_DEADLINE_PASSED });
    expect(out.status).toBe('SUCCEEDED');
    expect(ec2Mock).not.toHaveReceivedCommand(CancelExportTaskCommand);
    expect(signalBody().Status).toBe('SUCCESS');
  });

  test('adopted task is looked up by id', async () => {
    ec2Mock.on(DescribeExportTasksCommand, { ExportTaskIds: [TASK_ID] }).resolves({ ExportTasks: [task('completed')] });
    const out = await runFinish({ Error: INTERNAL_COMPLETED }, { ...request, adoptExportTaskId: TASK_ID });
    expect(out.status).toBe('SUCCEEDED');
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeExportTasksCommand, { ExportTaskIds: [TASK_ID] });
  });

  test('cancelled ("Task expired and automatically canceled") -> ExportFailed with the status message', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('cancelled', { StatusMessage: 'Task expired and automatically canceled' })] });
    const out = await runFinish({ Error: INTERNAL_CANCELLED });
    expect(out).toMatchObject({ status: 'FAILED', errorName: ERROR_EXPORT_FAILED, state: 'cancelled', exportTaskId: TASK_ID });
    expect(out.cause).toContain('Task expired and automatically canceled');
    expect(out.s3Key).toBeUndefined();
    const body = signalBody();
    expect(body).toEqual({ Status: 'FAILURE', UniqueId: 'export', Data: ERROR_EXPORT_FAILED, Reason: `${ERROR_EXPORT_FAILED}: ${out.cause}` });
    expect(body.Reason).toContain('Task expired and automatically canceled');
    expect(ec2Mock).not.toHaveReceivedCommand(CancelExportTaskCommand);
  });

  test('a long status message is truncated in the signal', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('cancelled', { StatusMessage: 'x'.repeat(5000) })] });
    const out = await runFinish({ Error: INTERNAL_CANCELLED });
    expect(out.cause!.length).toBeLessThanOrEqual(1000);
    const body = signalBody();
    expect(body.Reason.length).toBeLessThanOrEqual(1000);
    expect(body.Reason.endsWith(' [...]')).toBe(true);
  });

  test('deadline passed while active -> CancelExportTask, DeadlinePassed', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('active')] });
    ec2Mock.on(CancelExportTaskCommand).resolves({});
    const out = await runFinish({ Error: ERROR_DEADLINE_PASSED, Cause: 'deadline' });
    expect(ec2Mock).toHaveReceivedCommandTimes(CancelExportTaskCommand, 1);
    expect(ec2Mock).toHaveReceivedCommandWith(CancelExportTaskCommand, { ExportTaskId: TASK_ID });
    expect(out).toMatchObject({ status: 'FAILED', errorName: ERROR_DEADLINE_PASSED, state: 'active' });
    expect(out.cause).toMatch(/deadline of 3600 seconds passed .* was cancelled/);
    expect(signalBody()).toMatchObject({ Status: 'FAILURE', Data: ERROR_DEADLINE_PASSED });
  });

  test('deadline passed while cancelling -> cancel attempted, nothing left is fine', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('cancelling')] });
    ec2Mock.on(CancelExportTaskCommand).rejects(awsError('IncorrectState', 'task is cancelling'));
    const out = await runFinish({ Error: ERROR_DEADLINE_PASSED });
    expect(ec2Mock).toHaveReceivedCommandWith(CancelExportTaskCommand, { ExportTaskId: TASK_ID });
    expect(out.errorName).toBe(ERROR_DEADLINE_PASSED);
    expect(out.cause).toContain('nothing left to cancel');
  });

  test('deadline passed with no task -> QuotaNeverFreed', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    const out = await runFinish({ Error: ERROR_DEADLINE_PASSED });
    expect(out).toMatchObject({ status: 'FAILED', errorName: ERROR_QUOTA_NEVER_FREED, state: 'none' });
    expect(out.cause).toMatch(/5 concurrent conversion tasks per region by default, adjustable to 20 via Service Quotas/);
    expect(out.exportTaskId).toBeUndefined();
    expect(signalBody()).toMatchObject({ Status: 'FAILURE', Data: ERROR_QUOTA_NEVER_FREED });
    expect(ec2Mock).not.toHaveReceivedCommand(CancelExportTaskCommand);
  });

  test('quota retries exhausted with no task -> QuotaNeverFreed', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    const out = await runFinish({ Error: ERROR_QUOTA_FULL, Cause: JSON.stringify({ errorType: ERROR_QUOTA_FULL, errorMessage: 'full' }) });
    expect(out.errorName).toBe(ERROR_QUOTA_NEVER_FREED);
  });

  test.each([ERROR_PREFLIGHT_FAILED, ERROR_EXPORT_REJECTED, ERROR_INVALID_INPUT])('%s is passed through with the errorMessage of the Cause', async (name) => {
    const cause = JSON.stringify({ errorType: name, errorMessage: `Preflight checks failed for ${INSTANCE}: (1) the instance is pending`, trace: ['at x'] });
    const out = await runFinish({ Error: name, Cause: cause });
    expect(out).toEqual({
      status: 'FAILED',
      kind: 'instance',
      instanceId: INSTANCE,
      s3Bucket: BUCKET,
      state: 'none',
      errorName: name,
      cause: `Preflight checks failed for ${INSTANCE}: (1) the instance is pending`,
    });
    expect(signalBody()).toEqual({
      Status: 'FAILURE',
      UniqueId: 'export',
      Data: name,
      Reason: `${name}: Preflight checks failed for ${INSTANCE}: (1) the instance is pending`,
    });
    expect(ec2Mock).not.toHaveReceivedCommand(CancelExportTaskCommand);
  });

  test('raw input (prepare failed) still signals', async () => {
    const raw: WorkflowInput = { instanceId: 'i-bad', targetEnvironment: 'vmware', s3Bucket: BUCKET, waitConditionStackId: STACK_ID, waitConditionHandleLogicalId: HANDLE_ID, waitConditionHandleHash: HANDLE_HASH };
    const out = await runFinish({ Error: ERROR_INVALID_INPUT, Cause: JSON.stringify({ errorMessage: 'instanceId bad' }) }, raw);
    expect(out).toMatchObject({ status: 'FAILED', errorName: ERROR_INVALID_INPUT, instanceId: 'i-bad', cause: 'instanceId bad' });
    expect(signalBody().Data).toBe(ERROR_INVALID_INPUT);
  });

  test.each(['States.TaskFailed', 'Lambda.ServiceException', 'Ec2.Ec2Exception', 'States.Timeout'])('unexpected %s -> cancel the active task, WorkflowError', async (name) => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('active')] });
    ec2Mock.on(CancelExportTaskCommand).resolves({});
    const out = await runFinish({ Error: name, Cause: 'Service error: RequestLimitExceeded' });
    expect(ec2Mock).toHaveReceivedCommandWith(CancelExportTaskCommand, { ExportTaskId: TASK_ID });
    expect(out).toMatchObject({ status: 'FAILED', errorName: ERROR_WORKFLOW_ERROR });
    expect(out.cause).toContain(`${name}: Service error: RequestLimitExceeded`);
    expect(out.cause).toContain(`task ${TASK_ID} was cancelled`);
    expect(signalBody()).toMatchObject({ Status: 'FAILURE', Data: ERROR_WORKFLOW_ERROR });
  });

  test('unexpected error without a task -> WorkflowError, no cancel', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    const out = await runFinish({ Error: 'States.Runtime', Cause: 'bad path' });
    expect(out.errorName).toBe(ERROR_WORKFLOW_ERROR);
    expect(ec2Mock).not.toHaveReceivedCommand(CancelExportTaskCommand);
  });

  test('a failing cancel is reported in the cause, the signal still goes out', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('active')] });
    ec2Mock.on(CancelExportTaskCommand).rejects(awsError('UnauthorizedOperation', 'not allowed'));
    const out = await runFinish({ Error: 'States.TaskFailed' });
    expect(out.cause).toMatch(/cancelling task export-i-0fedcba9876543210 failed \(UnauthorizedOperation: not allowed\); cancel it by hand/);
    expect(signalBody().Status).toBe('FAILURE');
  });

  test('a failed task lookup still signals a failure; throttling is left to the workflow retry', async () => {
    ec2Mock.on(DescribeExportTasksCommand).rejects(awsError('UnauthorizedOperation', 'not allowed to describe'));
    const out = await runFinish({ Error: ERROR_DEADLINE_PASSED });
    expect(out).toMatchObject({ status: 'FAILED', errorName: ERROR_WORKFLOW_ERROR, state: 'none' });
    expect(out.cause).toContain('UnauthorizedOperation: not allowed to describe');
    expect(signalBody()).toMatchObject({ Status: 'FAILURE', Data: ERROR_WORKFLOW_ERROR });
    ec2Mock.on(DescribeExportTasksCommand).rejects(awsError('RequestLimitExceeded'));
    await expect(runFinish({ Error: ERROR_DEADLINE_PASSED })).rejects.toMatchObject({ name: ERROR_THROTTLED });
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  test('completed reported but the task is not found -> WorkflowError', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    const out = await runFinish({ Error: INTERNAL_COMPLETED });
    expect(out.errorName).toBe(ERROR_WORKFLOW_ERROR);
    expect(out.cause).toContain('cannot be found');
  });

  test('no handle -> no signal', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('completed')] });
    const { waitConditionStackId: _stack, waitConditionHandleLogicalId: _handle, waitConditionHandleHash: _hash, ...noHandle } = request;
    const out = await runFinish({ Error: INTERNAL_COMPLETED }, noHandle);
    expect(out.status).toBe('SUCCEEDED');
    expect(fetchMock).not.toHaveBeenCalled();
    expect(cfnMock).not.toHaveReceivedCommand(DescribeStackResourceCommand);
  });

  test('the URL is read from the handle\'s physical id, in the stack the input names', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('completed')] });
    await runFinish({ Error: INTERNAL_COMPLETED });
    expect(cfnMock).toHaveReceivedCommandWith(DescribeStackResourceCommand, { StackName: STACK_ID, LogicalResourceId: HANDLE_ID });
    expect(signalBody().Status).toBe('SUCCESS');
  });

  test.each([
    ['the stack is gone', `Stack '${STACK_ID}' does not exist`],
    ['the handle is gone', `Resource ${HANDLE_ID} does not exist for stack app`],
  ])('%s (ValidationError) -> no signal, the outcome stands', async (_name, message) => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('completed')] });
    cfnMock.on(DescribeStackResourceCommand).rejects(awsError('ValidationError', message));
    const out = await runFinish({ Error: INTERNAL_COMPLETED });
    expect(out.status).toBe('SUCCEEDED');
    expect(fetchMock).not.toHaveBeenCalled();
  });

  test('throttled while reading the handle -> VmExport.Throttled (the workflow retries the step)', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('completed')] });
    cfnMock.on(DescribeStackResourceCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    await expect(runFinish({ Error: INTERNAL_COMPLETED })).rejects.toMatchObject({ name: ERROR_THROTTLED });
    expect(fetchMock).not.toHaveBeenCalled();
  });

  test.each([
    ['no physical id', undefined, /has no URL as its physical id \(none\)/],
    ['a physical id that is not a URL', 'ExportHandle0a1b2c3d', /has no URL as its physical id \(20 characters, not https\)/],
  ])('%s -> VmExport.WorkflowError naming the handle, no signal', async (_name, physicalId, message) => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('completed')] });
    cfnMock.on(DescribeStackResourceCommand).resolves({ StackResourceDetail: { PhysicalResourceId: physicalId } as never });
    const err = await runFinish({ Error: INTERNAL_COMPLETED }).catch((e) => e);
    expect(err.name).toBe(ERROR_WORKFLOW_ERROR);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(HANDLE_ID);
    expect(fetchMock).not.toHaveBeenCalled();
  });

  test('access denied while reading the handle names the permission', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('completed')] });
    cfnMock.on(DescribeStackResourceCommand).rejects(awsError('AccessDenied', 'User is not authorized to perform: cloudformation:DescribeStackResource'));
    const err = await runFinish({ Error: INTERNAL_COMPLETED }).catch((e) => e);
    expect(err.name).toBe(ERROR_WORKFLOW_ERROR);
    expect(err.message).toContain('needs cloudformation:DescribeStackResource on the stack');
  });

  test('a signal that cannot be delivered fails the step without the URL', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('completed')] });
    fetchMock.mockResolvedValue({ ok: false, status: 403 });
    const err = await runFinish({ Error: INTERNAL_COMPLETED }).catch((e) => e);
    expect(err.name).toBe(ERROR_WORKFLOW_ERROR);
    expect(err.message).not.toContain('SECRET');
  });

  test('handler finish uses the global fetch', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [task('completed')] });
    const spy = jest.spyOn(globalThis, 'fetch').mockResolvedValue(new Response(null, { status: 200 }));
    try {
      const out = await handler({ action: 'finish', request, error: { Error: INTERNAL_COMPLETED } });
      expect((out as { status: string }).status).toBe('SUCCEEDED');
      expect(spy).toHaveBeenCalledTimes(1);
      const [url, init] = spy.mock.calls[0] as [string, RequestInit];
      expect(url).toBe(HANDLE);
      expect(init.headers).toEqual({ 'Content-Type': '' });
      expect(JSON.parse(init.body as string)).toEqual({ Status: 'SUCCESS', UniqueId: 'export', Data: `${TASK_ID}|vms/${TASK_ID}.ova`, Reason: expect.any(String) });
    } finally {
      spy.mockRestore();
    }
  });
});

test('unknown action is rejected', async () => {
  await expect(handler({ action: 'explode' } as never)).rejects.toMatchObject({ name: ERROR_INVALID_INPUT });
});
