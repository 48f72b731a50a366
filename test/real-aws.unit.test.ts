/**
 * Unit tests of the handlers' answers to what the real AWS does (issue "survive the real AWS"):
 * transient and quota errors, the signal backstop, per-attempt timeouts of the signal PUT, no
 * task after the deadline, a start that outlives the deadline, a lost watch, and completion
 * records that outlive DescribeExportTasks. Expected texts are literals from SPEC sections 3 to 5.
 */
import { createHash } from 'crypto';
import { CloudFormationClient, DescribeStackResourceCommand } from '@aws-sdk/client-cloudformation';
import { CancelExportTaskCommand, CreateInstanceExportTaskCommand, DescribeExportTasksCommand, EC2Client, ExportTask } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { App, CfnOutput, Stack } from 'aws-cdk-lib';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { backstop, ExecutionStatusChangeEvent, finish, isExecutionStatusChange, start } from '../lambda/export-task';
import { polledCompletion } from '../lambda/export-task/finish';
import { isQuotaFull, isTransient, retryableOr } from '../lambda/shared/ec2-errors';
import { clientTokenOfExecutionName, executionNameFor, exportTaskIdOfExecutionName } from '../lambda/shared/hash';
import { normalizeRequest } from '../lambda/shared/normalize';
import { sendSignal } from '../lambda/shared/signal';
import { InstanceExport, TargetEnvironment, VmExportBucket } from '../src';
import { evaluateCfn } from './support/cfn-eval';
import { completedAttributeRefs } from './support/export-attributes';

const ec2Mock = mockClient(EC2Client);
const sfnMock = mockClient(SFNClient);
const ec2 = new EC2Client({ region: 'eu-west-1' });
const sfn = new SFNClient({ region: 'eu-west-1' });
const cfnMock = mockClient(CloudFormationClient);
const cfn = new CloudFormationClient({ region: 'eu-west-1' });

const INSTANCE = 'i-0123456789abcdef0';
const TASK_ID = 'export-i-0fedcba9876543210';
const TOKEN = '0123456789abcdef0123456789abcdef';
const HANDLE = 'https://cloudformation-waitcondition-eu-west-1.s3.eu-west-1.amazonaws.com/arn%3Aaws%3Acloudformation/handle?X-Amz-Signature=SECRET';
const STACK_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/app/5f1e0c40-0000-4000-8000-000000000000';
const HANDLE_ID = 'ExportHandle0a1b2c3d';
/** Where the execution input says the wait condition is (never the URL itself). */
const WAIT_CONDITION = { waitConditionStackId: STACK_ID, waitConditionHandleLogicalId: HANDLE_ID, waitConditionHandleHash: createHash('sha256').update(HANDLE).digest('hex') };
const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:VmExportWorkflow:vmx-0123456789abcdef0123456789abcdef';

function sdkError(name: string, message: string, httpStatusCode?: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { name, ...(httpStatusCode ? { $metadata: { httpStatusCode } } : {}), ...extra });
}

const INPUT = { instanceId: INSTANCE, targetEnvironment: 'vmware', s3Bucket: 'my-exports', s3Prefix: 'vms/', clientToken: TOKEN, deadlineSeconds: 3600, ...WAIT_CONDITION };
const request = normalizeRequest(INPUT);

function task(state: string): ExportTask {
  return { ExportTaskId: TASK_ID, State: state as never, ExportToS3Task: { S3Bucket: 'my-exports', S3Key: `vms/${TASK_ID}.ova` } };
}

let logSpy: jest.SpyInstance;
beforeEach(() => {
  ec2Mock.reset();
  sfnMock.reset();
  cfnMock.reset();
  cfnMock.on(DescribeStackResourceCommand, { StackName: STACK_ID, LogicalResourceId: HANDLE_ID })
    .resolves({ StackResourceDetail: { LogicalResourceId: HANDLE_ID, PhysicalResourceId: HANDLE } as never });
  logSpy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  jest.spyOn(console, 'error').mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

describe('transient errors: RequestLimitExceeded, InternalError, Unavailable, HTTP 5xx and network errors', () => {
  test.each([
    ['InternalError', sdkError('InternalError', 'An internal error has occurred.', 500)],
    ['Unavailable', sdkError('Unavailable', 'The service is unavailable.', 503)],
    ['an unnamed 502', sdkError('Error', 'Bad Gateway', 502)],
    ['a reset connection', sdkError('Error', 'socket hang up', undefined, { code: 'ECONNRESET' })],
    ['a timed-out request', sdkError('TimeoutError', 'Connection timed out after 10000 ms')],
  ])('%s is transient: VmExport.Transient keeps the code and message', (_name, err) => {
    expect(isTransient(err)).toBe(true);
    const mapped = retryableOr(err, 'DescribeExportTasks') as Error;
    expect(mapped.name).toBe('VmExport.Transient');
    expect(mapped.message).toContain(err.message);
  });

  test('throttling stays VmExport.Throttled; a client error (400) is not transient', () => {
    expect((retryableOr(sdkError('RequestLimitExceeded', 'Request limit exceeded.', 503), 'x') as Error).name).toBe('VmExport.Throttled');
    const refused = sdkError('InvalidParameterValue', 'bad', 400);
    expect(isTransient(refused)).toBe(false);
    expect(retryableOr(refused, 'x')).toBe(refused);
  });
});

describe('quota full (the real code is unpublished, SPEC section 3)', () => {
  test.each([
    ['ResourceLimitExceeded', 'whatever'],
    ['ConversionTaskLimitExceeded', 'whatever'],
    ['ExportTaskLimitExceeded', 'whatever'],
    ['InvalidParameter', 'There are too many active export tasks.'],
    ['IncorrectState', 'You have reached the maximum number of concurrent conversion tasks.'],
    ['Unknown', 'Too many concurrent export tasks are running in this region.'],
  ])('%s / %s is quota full', (code, message) => {
    expect(isQuotaFull(sdkError(code, message, 400))).toBe(true);
  });

  test.each([
    ['RequestLimitExceeded', 'Request limit exceeded.'],
    ['InvalidParameterValue', 'Value for parameter description is invalid. Length exceeds 255 characters.'],
    ['NotExportable', 'This instance has multiple volumes attached.'],
  ])('%s / %s is not quota full', (code, message) => {
    expect(isQuotaFull(sdkError(code, message, 400))).toBe(false);
  });

  test('the raw code and message are logged when the quota is full', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    ec2Mock.on(CreateInstanceExportTaskCommand).rejects(sdkError('ConversionTaskLimitExceeded', 'Conversion task limit exceeded.', 400));
    await expect(start(request, { ec2 })).rejects.toMatchObject({ name: 'VmExport.QuotaFull' });
    const lines = logSpy.mock.calls.map((c) => JSON.parse(c[0]));
    expect(lines).toContainEqual(expect.objectContaining({ code: 'ConversionTaskLimitExceeded', error: 'Conversion task limit exceeded.' }));
  });
});

describe('the signal PUT has a per-attempt timeout and bounded retries', () => {
  test('a PUT that never answers is abandoned after each attempt; after 4 attempts the step fails', async () => {
    const fetch = jest.fn(() => new Promise<never>(() => undefined));
    const sleeps: number[] = [];
    const err = await sendSignal(HANDLE, { Status: 'FAILURE', UniqueId: 'export', Data: 'x', Reason: 'y' },
      { fetch, sleep: async (ms) => { sleeps.push(ms); }, attemptTimeoutMs: 5 }).catch((e) => e);
    expect(fetch).toHaveBeenCalledTimes(4);
    expect(sleeps).toEqual([500, 1000, 2000]);
    expect(err.message).toContain('network error (TimeoutError)');
    // The presigned URL is a credential: never in an error.
    expect(err.message).not.toContain('X-Amz-Signature');
  });

  test('each attempt gets an abort signal that fires at its timeout', async () => {
    let seen: AbortSignal | undefined;
    const fetch = jest.fn((_url: string, init: { signal?: AbortSignal }) => {
      seen = init.signal;
      return new Promise<never>(() => undefined);
    });
    await sendSignal(HANDLE, { Status: 'SUCCESS', UniqueId: 'export', Data: 'x', Reason: 'y' },
      { fetch, sleep: async () => undefined, attempts: 1, attemptTimeoutMs: 5 }).catch(() => undefined);
    expect(seen?.aborted).toBe(true);
  });
});

describe('signal backstop', () => {
  function event(detail: Partial<ExecutionStatusChangeEvent['detail']>): ExecutionStatusChangeEvent {
    return {
      'source': 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      'detail': {
        executionArn: EXECUTION,
        name: 'vmx-0123456789abcdef0123456789abcdef',
        status: 'FAILED',
        input: JSON.stringify({ instanceId: INSTANCE, ...WAIT_CONDITION }),
        inputDetails: { included: true },
        error: null,
        cause: null,
        ...detail,
      },
    };
  }

  function capture() {
    const puts: any[] = [];
    const fetch = jest.fn(async (url: string, init: { body: string }) => {
      puts.push({ url, body: JSON.parse(init.body) });
      return { ok: true, status: 200 };
    });
    return { puts, options: { fetch, sleep: async () => undefined } };
  }

  test.each([
    ['FAILED', 'VmExport.FinishFailed', 'ended FAILED with VmExport.FinishFailed'],
    ['FAILED', 'States.Runtime', 'ended FAILED with States.Runtime'],
    ['ABORTED', null, 'ended ABORTED'],
    ['TIMED_OUT', null, 'ended TIMED_OUT'],
  ])('%s (%s): one FAILURE signal whose reason names it', async (status, error, reason) => {
    const { puts, options } = capture();
    const out = await backstop(event({ status, error }), { sfn, cfn }, options);
    expect(out.action).toBe('signalled');
    expect(puts).toHaveLength(1);
    expect(puts[0].url).toBe(HANDLE);
    expect(puts[0].body).toMatchObject({ Status: 'FAILURE', UniqueId: 'export', Data: error ?? status });
    expect(puts[0].body.Reason).toContain(reason);
    expect(puts[0].body.Reason).toContain(INSTANCE);
  });

  test.each([
    ['SUCCEEDED', null],
    ['FAILED', 'VmExport.ExportFailed'],
    ['FAILED', 'VmExport.DeadlinePassed'],
    ['FAILED', 'VmExport.WatchLost'],
    ['FAILED', 'VmExport.WorkflowError'],
    ['ABORTED', 'VmExport.Stopped'],
  ])('%s (%s): the finish step signalled (or the resource is gone): nothing sent', async (status, error) => {
    const { puts, options } = capture();
    const out = await backstop(event({ status, error }), { sfn, cfn }, options);
    expect(out.action).toBe('none');
    expect(puts).toHaveLength(0);
  });

  test('an image export\'s execution: the reason names the AMI and the image task command', async () => {
    const { puts, options } = capture();
    const input = JSON.stringify({ imageId: 'ami-0123456789abcdef0', ...WAIT_CONDITION });
    await backstop(event({ status: 'TIMED_OUT', input }), { sfn, cfn }, options);
    expect(puts).toHaveLength(1);
    expect(puts[0].body.Reason).toContain('The export of ami-0123456789abcdef0 ended TIMED_OUT');
    expect(puts[0].body.Reason).toContain('aws ec2 describe-export-image-tasks');
    expect(puts[0].body.Reason).not.toContain('describe-export-tasks\'');
  });

  test('an event without the input reads it with DescribeExecution', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves({ input: JSON.stringify({ instanceId: INSTANCE, ...WAIT_CONDITION }) } as never);
    const { puts, options } = capture();
    await backstop(event({ status: 'ABORTED', input: null, inputDetails: { included: false } }), { sfn, cfn }, options);
    expect(sfnMock).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXECUTION });
    expect(puts).toHaveLength(1);
  });

  test('an ABORTED event without the stop\'s error: the error is read from Step Functions (a stop by the resource sends nothing)', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'ABORTED', error: 'VmExport.Stopped', cause: 'The export resource was deleted.' } as never);
    const { puts, options } = capture();
    const out = await backstop(event({ status: 'ABORTED', error: undefined }), { sfn, cfn }, options);
    expect(out.action).toBe('none');
    expect(puts).toHaveLength(0);
  });

  test('an ABORTED event without an error, and Step Functions has none either (a console stop): one FAILURE signal', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'ABORTED' } as never);
    const { puts, options } = capture();
    await backstop(event({ status: 'ABORTED', error: undefined }), { sfn, cfn }, options);
    expect(puts).toHaveLength(1);
  });

  test('an execution started without a wait condition (pipeline, schedule): nothing to signal', async () => {
    const { puts, options } = capture();
    const out = await backstop(event({ status: 'ABORTED', input: JSON.stringify({ instanceId: INSTANCE }) }), { sfn, cfn }, options);
    expect(out).toEqual({ action: 'none', why: 'the execution has no wait condition to signal' });
    expect(puts).toHaveLength(0);
  });

  describe('an execution stopped from outside gets its export task cancelled', () => {
    const FLEET_TOKEN = 'fleet-0123456789abcdef-' + INSTANCE;
    const active: ExportTask = {
      ExportTaskId: 'export-i-0aaaaaaaaaaaaaaaa',
      State: 'active',
      Tags: [{ Key: 'vm-export:client-token', Value: FLEET_TOKEN }],
      InstanceExportDetails: { InstanceId: INSTANCE, TargetEnvironment: 'vmware' },
    };
    const stopped = (input: Record<string, unknown>) => event({ status: 'ABORTED', error: 'Operator', input: JSON.stringify({ instanceId: INSTANCE, ...input }) });

    test('its task (found by its client token) is cancelled; no wait condition: nothing signalled', async () => {
      ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [active] });
      ec2Mock.on(CancelExportTaskCommand).resolves({});
      const { puts, options } = capture();
      const out = await backstop(stopped({ clientToken: FLEET_TOKEN }), { sfn, cfn, ec2 }, options);
      expect(ec2Mock).toHaveReceivedCommandWith(CancelExportTaskCommand, { ExportTaskId: active.ExportTaskId });
      expect(out).toEqual({ action: 'none', why: 'the execution has no wait condition to signal', task: `task ${active.ExportTaskId} was cancelled` });
      expect(puts).toHaveLength(0);
    });

    test('with a wait condition: cancelled, and the FAILURE signal says so', async () => {
      ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [active] });
      ec2Mock.on(CancelExportTaskCommand).resolves({});
      const { puts, options } = capture();
      await backstop(stopped({ clientToken: FLEET_TOKEN, ...WAIT_CONDITION }), { sfn, cfn, ec2 }, options);
      expect(puts).toHaveLength(1);
      expect(puts[0].body.Reason).toContain(`Its export: task ${active.ExportTaskId} was cancelled`);
    });

    test.each([
      ['no clientToken (the task cannot be told from others)', {}],
      ['an adopted task (another execution started it)', { clientToken: FLEET_TOKEN, adoptExportTaskId: active.ExportTaskId }],
    ])('%s: nothing cancelled', async (_label, input) => {
      ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [active] });
      const { options } = capture();
      const out = await backstop(stopped(input), { sfn, cfn, ec2 }, options);
      expect(ec2Mock).not.toHaveReceivedCommand(CancelExportTaskCommand);
      expect(out.task).toMatch(/^no task of its own to cancel/);
    });

    test.each([
      ['a completed task', [{ ...active, State: 'completed' as const }], 'is completed: nothing to cancel'],
      ['no task', [], 'it had started no task'],
    ])('%s: nothing cancelled, and the result says why', async (_label, tasks, why) => {
      ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: tasks });
      const { options } = capture();
      const out = await backstop(stopped({ clientToken: FLEET_TOKEN }), { sfn, cfn, ec2 }, options);
      expect(ec2Mock).not.toHaveReceivedCommand(CancelExportTaskCommand);
      expect(out.task).toContain(why);
    });

    test('a task that ended while it was being cancelled: nothing left to cancel', async () => {
      ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [active] });
      ec2Mock.on(CancelExportTaskCommand).rejects(sdkError('IncorrectState', 'Export task is in state completed and cannot be cancelled.', 400));
      const { options } = capture();
      const out = await backstop(stopped({ clientToken: FLEET_TOKEN }), { sfn, cfn, ec2 }, options);
      expect(out.task).toBe(`task ${active.ExportTaskId} had nothing left to cancel`);
    });

    test('without an EC2 client (an older caller), the backstop only signals', async () => {
      const { puts, options } = capture();
      const out = await backstop(stopped({ clientToken: FLEET_TOKEN, ...WAIT_CONDITION }), { sfn, cfn }, options);
      expect(out.task).toBeUndefined();
      expect(puts).toHaveLength(1);
      expect(puts[0].body.Reason).toContain('Any export task it started was not cancelled by this signal');
    });

    test('an event without the input: Step Functions is asked once, for the cancel and the signal both', async () => {
      const input = JSON.stringify({ instanceId: INSTANCE, clientToken: FLEET_TOKEN, ...WAIT_CONDITION });
      sfnMock.on(DescribeExecutionCommand).resolves({ input } as never);
      ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [active] });
      ec2Mock.on(CancelExportTaskCommand).resolves({});
      const { puts, options } = capture();
      await backstop(event({ status: 'ABORTED', error: 'Operator', input: null, inputDetails: { included: false } }), { sfn, cfn, ec2 }, options);
      expect(sfnMock).toHaveReceivedCommandTimes(DescribeExecutionCommand, 1);
      expect(ec2Mock).toHaveReceivedCommandWith(CancelExportTaskCommand, { ExportTaskId: active.ExportTaskId });
      expect(puts).toHaveLength(1);
    });

    test('a stop by the export resource, or an ending other than ABORTED: EC2 is not asked', async () => {
      const { options } = capture();
      await backstop(event({ status: 'ABORTED', error: 'VmExport.Stopped', input: JSON.stringify({ clientToken: FLEET_TOKEN }) }), { sfn, cfn, ec2 }, options);
      await backstop(event({ status: 'FAILED', error: 'States.Runtime', input: JSON.stringify({ clientToken: FLEET_TOKEN }) }), { sfn, cfn, ec2 }, options);
      expect(ec2Mock).not.toHaveReceivedCommand(DescribeExportTasksCommand);
    });

    test('a cancel that fails never stops the signal; a throttled one is delivered again (thrown after signalling)', async () => {
      ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [active] });
      ec2Mock.on(CancelExportTaskCommand).rejects(sdkError('RequestLimitExceeded', 'Request limit exceeded.', 503));
      const { puts, options } = capture();
      await expect(backstop(stopped({ clientToken: FLEET_TOKEN, ...WAIT_CONDITION }), { sfn, cfn, ec2 }, options)).rejects.toMatchObject({ name: 'VmExport.Throttled' });
      expect(puts).toHaveLength(1);
      expect(puts[0].body.Reason).toContain('cancelling it failed for now (VmExport.Throttled); it is tried again');
      ec2Mock.on(CancelExportTaskCommand).rejects(sdkError('UnauthorizedOperation', 'You are not authorized.', 403));
      const again = capture();
      const out = await backstop(stopped({ clientToken: FLEET_TOKEN, ...WAIT_CONDITION }), { sfn, cfn, ec2 }, again.options);
      expect(again.puts).toHaveLength(1);
      expect(out.task).toContain('cancelling it failed (UnauthorizedOperation');
    });
  });

  test('the handler recognizes execution status change events and nothing else', () => {
    expect(isExecutionStatusChange(event({}))).toBe(true);
    expect(isExecutionStatusChange({ action: 'finish' })).toBe(false);
    expect(isExecutionStatusChange({ 'source': 'aws.ec2', 'detail-type': 'Step Functions Execution Status Change', 'detail': {} })).toBe(false);
  });
});

describe('no task is left behind by a start that outlives the deadline', () => {
  test('start creates nothing once the deadline (notAfter) has passed', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    const late = { ...request, notAfter: 1_000 };
    await expect(start(late, { ec2 }, () => 1_000)).rejects.toMatchObject({ name: 'VmExport.DeadlinePassed' });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateInstanceExportTaskCommand);
  });

  test('before the deadline it creates the task', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    ec2Mock.on(CreateInstanceExportTaskCommand).resolves({ ExportTask: task('active') });
    await expect(start({ ...request, notAfter: 1_000 }, { ec2 }, () => 999)).resolves.toMatchObject({ exportTaskId: TASK_ID });
  });

  test('finish at the deadline finds no task, waits for a start still in flight, then cancels the task it created', async () => {
    ec2Mock.on(DescribeExportTasksCommand)
      .resolvesOnce({ ExportTasks: [] })
      .resolves({ ExportTasks: [{ ...task('active'), Tags: [{ Key: 'vm-export:client-token', Value: TOKEN }] }] });
    ec2Mock.on(CancelExportTaskCommand).resolves({});
    const slept: number[] = [];
    const out = await finish({ action: 'finish', request: { ...request, waitConditionStackId: undefined, waitConditionHandleLogicalId: undefined }, error: { Error: 'VmExport.DeadlinePassed', Cause: 'The deadline passed.' } },
      { ec2, cfn }, { sleep: async (ms) => { slept.push(ms); } });
    expect(slept).toEqual([45_000]);
    expect(ec2Mock).toHaveReceivedCommandWith(CancelExportTaskCommand, { ExportTaskId: TASK_ID });
    expect(out).toMatchObject({ status: 'FAILED', errorName: 'VmExport.DeadlinePassed', exportTaskId: TASK_ID });
  });
});

describe('finish after a lost watch, and when EC2 forgot the task', () => {
  test('WatchLost with the task still active: reported, NOT cancelled', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [{ ...task('active'), Tags: [{ Key: 'vm-export:client-token', Value: TOKEN }] }] });
    const out = await finish({
      action: 'finish',
      request: { ...request, waitConditionStackId: undefined, waitConditionHandleLogicalId: undefined },
      error: { Error: 'VmExport.WatchLost', Cause: 'An internal error has occurred. (Service: Ec2, Status Code: 500, Request ID: 1)' },
    }, { ec2, cfn });
    expect(ec2Mock).not.toHaveReceivedCommand(CancelExportTaskCommand);
    expect(out).toMatchObject({ status: 'FAILED', errorName: 'VmExport.WatchLost', state: 'active' });
    expect(out.cause).toContain('was NOT cancelled');
    expect(out.cause).toContain(`--export-task-ids ${TASK_ID}`);
  });

  test('WatchLost while EC2 still fails: reported with both errors, no retry, nothing cancelled', async () => {
    ec2Mock.on(DescribeExportTasksCommand).rejects(sdkError('InternalError', 'An internal error has occurred.', 500));
    const out = await finish({
      action: 'finish',
      request: { ...request, waitConditionStackId: undefined, waitConditionHandleLogicalId: undefined },
      error: { Error: 'VmExport.WatchLost', Cause: 'last poll' },
    }, { ec2, cfn });
    expect(out).toMatchObject({ status: 'FAILED', errorName: 'VmExport.WatchLost', state: 'none' });
    expect(out.cause).toContain('last poll');
    expect(out.cause).toContain('InternalError');
    expect(ec2Mock).not.toHaveReceivedCommand(CancelExportTaskCommand);
  });

  test('completion seen by the poll, task forgotten by the time finish looks: success with the reported key', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    const out = await finish({
      action: 'finish',
      request: { ...request, waitConditionStackId: undefined, waitConditionHandleLogicalId: undefined },
      error: { Error: 'VmExport.Internal.Completed', Cause: `${TASK_ID}|vms/reported/${TASK_ID}.ova` },
    }, { ec2, cfn });
    expect(out).toMatchObject({ status: 'SUCCEEDED', exportTaskId: TASK_ID, s3Key: `vms/reported/${TASK_ID}.ova`, state: 'completed' });
  });

  test('an adopted export recorded as completed, no longer listed: success with the recorded key', async () => {
    ec2Mock.on(DescribeExportTasksCommand).rejects(sdkError('InvalidExportTaskID.NotFound', 'The export task ID does not exist', 400));
    const adopted = normalizeRequest({ ...INPUT, adoptExportTaskId: TASK_ID, completedExportS3Key: `vms/${TASK_ID}.ova` });
    const out = await finish({
      action: 'finish',
      request: { ...adopted, waitConditionStackId: undefined, waitConditionHandleLogicalId: undefined },
      error: { Error: 'VmExport.Internal.Completed', Cause: 'The adopted export task had already completed.' },
    }, { ec2, cfn });
    expect(out).toMatchObject({ status: 'SUCCEEDED', exportTaskId: TASK_ID, s3Key: `vms/${TASK_ID}.ova` });
  });

  test.each([
    ['no separator', TASK_ID],
    ['not a task id', 'The export task completed.'],
    ['empty key', `${TASK_ID}|`],
  ])('a completion cause that is not `<task id>|<key>` (%s) is not taken as a record', (_name, cause) => {
    expect(polledCompletion({ Error: 'VmExport.Internal.Completed', Cause: cause })).toBeUndefined();
  });
});

describe('records that outlive DescribeExportTasks', () => {
  test('an execution name carries the client token and, for exports that did not wait, the task id', () => {
    expect(executionNameFor(TOKEN)).toBe(`vmx-${TOKEN}`);
    expect(executionNameFor(TOKEN, TASK_ID)).toBe(`vmx-${TOKEN}-${TASK_ID}`);
    expect(executionNameFor(TOKEN, TASK_ID).length).toBeLessThanOrEqual(80);
    expect(clientTokenOfExecutionName(`vmx-${TOKEN}-${TASK_ID}`)).toBe(TOKEN);
    expect(exportTaskIdOfExecutionName(`vmx-${TOKEN}-${TASK_ID}`)).toBe(TASK_ID);
    expect(exportTaskIdOfExecutionName(`vmx-${TOKEN}`)).toBeUndefined();
  });

  test('a prefix with "|", a quote or a backslash is refused (the key travels through the wait condition)', () => {
    expect(() => normalizeRequest({ ...INPUT, s3Prefix: 'a|b/' })).toThrow(/s3Prefix 'a\|b\/' contains '\|'/);
    expect(() => normalizeRequest({ ...INPUT, s3Prefix: 'a"b/' })).toThrow(/contains '"'/);
  });

  test('completedExportS3Key is only valid with adoptExportTaskId', () => {
    expect(() => normalizeRequest({ ...INPUT, completedExportS3Key: 'vms/x.ova' })).toThrow(/completedExportS3Key is only valid with adoptExportTaskId/);
  });
});

describe('the attributes come from the key the task reported', () => {
  function synthExport(prefix = 'vms/') {
    const app = new App();
    const stack = new Stack(app, 'AttrStack', { env: { account: '123456789012', region: 'eu-west-1' } });
    const vm = new InstanceExport(stack, 'Export', {
      instanceId: INSTANCE, bucket: new VmExportBucket(stack, 'Bucket'), targetEnvironment: TargetEnvironment.VMWARE, prefix,
    });
    new CfnOutput(stack, 'Key', { value: vm.exportObjectKey });
    new CfnOutput(stack, 'TaskId', { value: vm.exportTaskId });
    return app.synth().getStackArtifact(stack.artifactId).template;
  }
  const template = synthExport();
  const bucketId = Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'AWS::S3::Bucket')!;
  const evaluate = (output: string, data: Record<string, string>) => {
    const ctx = { region: 'eu-west-1', refs: { [bucketId]: 'my-exports' } };
    return evaluateCfn(template.Outputs[output].Value, { ...ctx, refs: { ...ctx.refs, ...completedAttributeRefs(template, ctx, data) } });
  };

  test('a success signal `<task id>|<key>`: the key is the reported one, even where it differs from prefix + id', () => {
    const data = { export: `${TASK_ID}|vms/elsewhere/${TASK_ID}.ova` };
    expect(evaluate('Key', data)).toBe(`vms/elsewhere/${TASK_ID}.ova`);
    expect(evaluate('TaskId', data)).toBe(TASK_ID);
  });

  test('a signal of an earlier version (the task id only) still resolves to the documented key', () => {
    expect(evaluate('Key', { export: TASK_ID })).toBe(`vms/${TASK_ID}.ova`);
    expect(evaluate('TaskId', { export: TASK_ID })).toBe(TASK_ID);
  });

  test('a prefix with "|" is refused at synth time, naming the fix', () => {
    expect(() => synthExport('a|b/')).toThrow(/prefix 'a\|b\/' contains '\|'.*Choose a prefix without them/);
  });
});
