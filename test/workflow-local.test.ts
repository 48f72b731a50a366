/**
 * Runs the SYNTHESIZED export workflow with aws-local-stepfunctions against in-test fakes of the
 * export-task Lambda and of EC2 DescribeExportTasks, on a simulated clock.
 */
import './setup/with-resolvers';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Errors, StateNames as N } from './support/documented-names';
import {
  AslDefinition,
  LocalHandler,
  LocalRunOptions,
  LocalRunResult,
  collectStates,
  definitionFromTemplate,
  runLocal,
} from './support/local-sfn';
import { WorkflowErrors } from '../src/workflow/export-workflow-names';
import { InstanceExportWorkflow } from '../src/workflow/instance-export-workflow';

/**
 * Error names: the documented ones (README), plus the two internal names the export branch hands
 * to Finish, which no document names and which therefore still come from src/.
 */
const E = {
  ...Errors,
  INTERNAL_COMPLETED: WorkflowErrors.INTERNAL_COMPLETED,
  INTERNAL_CANCELLED: WorkflowErrors.INTERNAL_CANCELLED,
} as const;

const TASK_ID = 'export-i-0123456789abcdef0';
const HOUR = 3600;

let definition: AslDefinition;

beforeAll(() => {
  const app = new App();
  const stack = new Stack(app, 'LocalWorkflowStack');
  InstanceExportWorkflow.of(stack);
  definition = definitionFromTemplate(Template.fromStack(stack));
});

// -------------------------------------------------------------------------------------------------
// Fakes
// -------------------------------------------------------------------------------------------------

/** An error as Step Functions reports a Lambda function error: name = errorType, cause = the JSON. */
function lambdaError(name: string, message: string): Error {
  const error = new Error(JSON.stringify({ errorType: name, errorMessage: message, trace: [] }));
  error.name = name;
  return error;
}

/**
 * An error as the AWS SDK integration reports an EC2 API error (SPEC section 4): always
 * `Ec2.Ec2Exception`, and a Java SDK v2 Cause with the message, the HTTP status and the request
 * id but no error code.
 */
function ec2Error(message: string, status: number): Error {
  const error = new Error(`${message} (Service: Ec2, Status Code: ${status}, Request ID: 0f1e2d3c-aaaa-bbbb-cccc-000000000000)`);
  error.name = 'Ec2.Ec2Exception';
  return error;
}

/** The three kinds of failed poll the issue names: throttling (503), InternalError (500), a permanent error (400). */
const THROTTLED_POLL = () => ec2Error('Request limit exceeded.', 503);
const INTERNAL_ERROR_POLL = () => ec2Error('An internal error has occurred.', 500);
const PERMANENT_ERROR_POLL = () => ec2Error('You are not authorized to perform this operation.', 400);

interface FakeOptions {
  /** Simulated seconds after the task starts at which it completes; undefined: never. */
  readonly completesAfter?: number;
  /** Ends `cancelled` with this StatusMessage after `cancelledAfter` seconds. */
  readonly cancelledMessage?: string;
  readonly cancelledAfter?: number;
  /** Errors DescribeExportTasks throws on its first calls (from `describeErrorsFrom`), in order. */
  readonly describeErrors?: Error[];
  /** Simulated second from which `describeErrors` are thrown. @default 0 */
  readonly describeErrorsFrom?: number;
  /** DescribeExportTasks answers without the task on its first calls. */
  readonly describeNotListed?: number;
  /** StartExport returns this state (e.g. 'completed' for an adopted, finished task). */
  readonly startState?: string;
  /** StartExport throws VmExport.QuotaFull until this simulated second. */
  readonly quotaFullUntil?: number;
  /** Prepare throws this. */
  readonly prepareError?: Error;
  readonly deadlineSeconds?: number;
}

interface FakeWorld {
  readonly handlers: Record<string, LocalHandler>;
  readonly finishPayloads: any[];
  readonly describeStates: Array<{ at: number; state: string }>;
  /** Simulated second of every DescribeExportTasks call (failed ones included). */
  readonly describeCalls: number[];
  /** The entries the PublishSucceeded / PublishFailed states sent to EventBridge PutEvents. */
  readonly events: Array<{ state: string; entry: any }>;
  taskStartedAt?: number;
}

const INPUT = {
  instanceId: 'i-0123456789abcdef0',
  targetEnvironment: 'vmware',
  s3Bucket: 'my-export-bucket',
  s3Prefix: 'vms/',
};

function fakeWorld(options: FakeOptions = {}): FakeWorld {
  const world: FakeWorld = {
    finishPayloads: [],
    describeStates: [],
    describeCalls: [],
    events: [],
    handlers: {},
  };
  const describeErrors = [...(options.describeErrors ?? [])];
  let notListed = options.describeNotListed ?? 0;

  const exportTask = (payload: any, clock: { now: number }) => {
    switch (payload.action) {
      case 'prepare': {
        if (options.prepareError) throw options.prepareError;
        const input = payload.input;
        return {
          instanceId: input.instanceId,
          targetEnvironment: input.targetEnvironment,
          diskImageFormat: 'VMDK',
          containerFormat: 'ova',
          s3Bucket: input.s3Bucket,
          s3Prefix: input.s3Prefix ?? 'exports/',
          tags: [],
          deadlineSeconds: options.deadlineSeconds ?? 6 * HOUR,
          clientToken: 'token-1',
          objectExtension: '.ova',
        };
      }
      case 'start': {
        if (options.quotaFullUntil !== undefined && clock.now < options.quotaFullUntil) {
          throw lambdaError(E.QUOTA_FULL, 'The conversion-task quota is full (ResourceLimitExceeded).');
        }
        world.taskStartedAt = clock.now;
        return { exportTaskId: TASK_ID, state: options.startState ?? 'active' };
      }
      case 'finish': {
        world.finishPayloads.push(payload);
        const request = payload.request;
        const base = { instanceId: request.instanceId, s3Bucket: request.s3Bucket };
        const error = payload.error?.Error;
        if (error === E.INTERNAL_COMPLETED) {
          const s3Key = `${request.s3Prefix}${TASK_ID}${request.objectExtension}`;
          return {
            ...base,
            status: 'SUCCEEDED',
            exportTaskId: TASK_ID,
            s3Key,
            s3Uri: `s3://${request.s3Bucket}/${s3Key}`,
            state: 'completed',
          };
        }
        const failed = (errorName: string, cause: string, state = 'none') =>
          ({ ...base, status: 'FAILED', state, errorName, cause, exportTaskId: world.taskStartedAt !== undefined ? TASK_ID : undefined });
        switch (error) {
          case E.INTERNAL_CANCELLED:
            return failed(E.EXPORT_FAILED, `The export task ${TASK_ID} was cancelled: ${payload.error.Cause}`, 'cancelled');
          case E.WATCH_LOST:
            return failed(E.WATCH_LOST, `Lost track: ${payload.error.Cause}`, 'active');
          case E.DEADLINE_PASSED:
            return world.taskStartedAt === undefined
              ? failed(E.QUOTA_NEVER_FREED, 'The deadline passed before a conversion-task slot freed.')
              : failed(E.DEADLINE_PASSED, 'The deadline passed; the export task was cancelled.', 'cancelled');
          case E.PREFLIGHT_FAILED:
          case E.INVALID_INPUT:
          case E.EXPORT_REJECTED:
            return failed(error, JSON.parse(payload.error.Cause).errorMessage);
          default:
            return failed(E.WORKFLOW_ERROR, `${error}: ${payload.error?.Cause}`);
        }
      }
      default:
        throw lambdaError('Error', `unknown action ${payload.action}`);
    }
  };

  const lambdaHandler: LocalHandler = (input, { clock }) => {
    expect(input.FunctionName).toMatch(/^arn:aws:lambda:/);
    return { Payload: exportTask(input.Payload, clock) };
  };
  world.handlers[N.PREPARE] = lambdaHandler;
  world.handlers[N.START_EXPORT] = lambdaHandler;
  world.handlers[N.FINISH] = lambdaHandler;
  // EventBridge PutEvents (optimized integration): { Entries } in, { Entries, FailedEntryCount } out.
  const putEvents: LocalHandler = (input, { stateName }) => {
    for (const entry of input.Entries) world.events.push({ state: stateName, entry });
    return { Entries: input.Entries.map((_: unknown, i: number) => ({ EventId: `event-${i}` })), FailedEntryCount: 0 };
  };
  world.handlers[N.PUBLISH_SUCCEEDED] = putEvents;
  world.handlers[N.PUBLISH_FAILED] = putEvents;
  world.handlers[N.DESCRIBE_EXPORT_TASK] = (input, { clock }) => {
    expect(input).toEqual({ ExportTaskIds: [TASK_ID] });
    world.describeCalls.push(clock.now);
    if (clock.now >= (options.describeErrorsFrom ?? 0)) {
      const error = describeErrors.shift();
      if (error) throw error;
    }
    if (notListed > 0) {
      notListed--;
      return { ExportTasks: [] };
    }
    const elapsed = clock.now - (world.taskStartedAt ?? 0);
    let state = 'active';
    let statusMessage: string | undefined;
    if (options.completesAfter !== undefined && elapsed >= options.completesAfter) {
      state = 'completed';
    } else if (options.cancelledMessage !== undefined && elapsed >= (options.cancelledAfter ?? 0)) {
      state = 'cancelled';
      statusMessage = options.cancelledMessage;
    }
    world.describeStates.push({ at: clock.now, state });
    return {
      ExportTasks: [{
        ExportTaskId: TASK_ID,
        State: state,
        ...(statusMessage !== undefined ? { StatusMessage: statusMessage } : {}),
        ExportToS3Task: { S3Bucket: INPUT.s3Bucket, S3Key: `vms/${TASK_ID}.ova`, DiskImageFormat: 'vmdk', ContainerFormat: 'ova' },
        InstanceExportDetails: { InstanceId: INPUT.instanceId, TargetEnvironment: 'vmware' },
      }],
    };
  };
  return world;
}

/** Runs with the Deadline wait effectively never firing (it is aborted when the export branch ends). */
async function run(world: FakeWorld, extra: Partial<LocalRunOptions> = {}, input: any = INPUT): Promise<LocalRunResult> {
  return runLocal(definition, input, {
    handlers: world.handlers,
    // The Deadline fires on the simulated clock (when the polls reach it), never in real time.
    clockWaits: [N.DEADLINE],
    ...extra,
  });
}

function firstCompletedDescribe(world: FakeWorld): number {
  const hit = world.describeStates.find((d) => d.state === 'completed');
  if (!hit) throw new Error('the task was never seen completed');
  return hit.at;
}

// -------------------------------------------------------------------------------------------------
// Scenarios
// -------------------------------------------------------------------------------------------------

describe('export workflow, run locally from the synthesized definition', () => {
  test('the definition is plain JSONPath (no JSONata, no variables, no distributed map)', () => {
    const text = JSON.stringify(definition);
    expect(text).not.toMatch(/JSONata|"Assign"|"Arguments"|"Output"|DISTRIBUTED|"ItemReader"/);
    const states = collectStates(definition);
    for (const name of Object.values(N)) {
      expect(states.has(name)).toBe(true);
    }
  });

  test('completes after a few polls: output has the task id and key, Finish got INTERNAL_COMPLETED', async () => {
    const world = fakeWorld({ completesAfter: 150 });
    const result = await run(world);

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual({
      status: 'SUCCEEDED',
      instanceId: INPUT.instanceId,
      s3Bucket: INPUT.s3Bucket,
      exportTaskId: TASK_ID,
      s3Key: `vms/${TASK_ID}.ova`,
      s3Uri: `s3://${INPUT.s3Bucket}/vms/${TASK_ID}.ova`,
      state: 'completed',
    });
    expect(world.finishPayloads).toHaveLength(1);
    expect(world.finishPayloads[0]).toEqual({
      action: 'finish',
      request: expect.objectContaining({ instanceId: INPUT.instanceId, deadlineSeconds: 6 * HOUR, objectExtension: '.ova' }),
      // The poll hands Finish the task id and the key the completed task reported.
      error: { Error: E.INTERNAL_COMPLETED, Cause: `${TASK_ID}|vms/${TASK_ID}.ova` },
    });
    // 60 s polls: seen completed at the 3rd poll (180 s).
    expect(result.callsOf(N.DESCRIBE_EXPORT_TASK)).toHaveLength(3);
    expect(firstCompletedDescribe(world)).toBe(180);
    expect(result.entered(N.SUCCEEDED)).toBe(1);
    // The start step received the normalized request.
    expect(result.callsOf(N.START_EXPORT)[0].input.Payload).toEqual({
      action: 'start',
      request: expect.objectContaining({ clientToken: 'token-1', s3Prefix: 'vms/' }),
    });
  });

  test('cancelled ("Task expired and automatically canceled"): Fail ERROR_EXPORT_FAILED, message reaches Finish', async () => {
    const message = 'Task expired and automatically canceled';
    const world = fakeWorld({ cancelledMessage: message, cancelledAfter: 2 * HOUR });
    const result = await run(world);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe(E.EXPORT_FAILED);
    expect(result.cause).toContain(message);
    expect(result.entered(N.EXPORT_FAILED)).toBe(1);
    expect(world.finishPayloads).toHaveLength(1);
    expect(world.finishPayloads[0].error).toEqual({ Error: E.INTERNAL_CANCELLED, Cause: message });
  });

  test('cancelled without a StatusMessage still reaches Finish as INTERNAL_CANCELLED', async () => {
    const world = fakeWorld({ cancelledMessage: undefined, completesAfter: undefined });
    world.handlers[N.DESCRIBE_EXPORT_TASK] = () => ({ ExportTasks: [{ ExportTaskId: TASK_ID, State: 'cancelled' }] });
    const result = await run(world);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe(E.EXPORT_FAILED);
    expect(world.finishPayloads[0].error).toEqual({ Error: E.INTERNAL_CANCELLED, Cause: 'The export task was cancelled.' });
  });

  test('never finishes: the Deadline branch fires, Finish gets ERROR_DEADLINE_PASSED, Fail ERROR_DEADLINE_PASSED', async () => {
    const world = fakeWorld({ deadlineSeconds: 6 * HOUR });
    // The export never ends: the polls advance the simulated clock to the 6-hour deadline.
    const result = await run(world);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe(E.DEADLINE_PASSED);
    expect(result.entered(N.DEADLINE_REACHED)).toBe(1);
    expect(result.entered(N.DEADLINE_PASSED)).toBe(1);
    expect(result.entered(N.TASK_COMPLETED)).toBe(0);
    expect(world.finishPayloads).toHaveLength(1);
    expect(world.finishPayloads[0].error).toEqual({
      Error: E.DEADLINE_PASSED,
      Cause: 'The deadline passed before the export task finished.',
    });
    expect(result.callsOf(N.DESCRIBE_EXPORT_TASK).length).toBeGreaterThan(1);
    // Polling never invoked Lambda: prepare, start, finish.
    expect(result.lambdaInvocations).toBe(3);
  });

  test('the Deadline wait reads request.deadlineSeconds', () => {
    const deadline = collectStates(definition).get(N.DEADLINE);
    expect(deadline).toEqual(expect.objectContaining({ Type: 'Wait', SecondsPath: '$.request.deadlineSeconds' }));
  });

  // SPEC section 4: every EC2 error reaches the poll as Ec2.Ec2Exception with no error code in
  // its Cause, so throttling, an internal error and a permanent refusal look alike to it.
  test.each([
    ['throttling (503)', THROTTLED_POLL],
    ['InternalError (500)', INTERNAL_ERROR_POLL],
    ['a permanent error (400)', PERMANENT_ERROR_POLL],
  ])('%s on 9 polls in a row, 3 h into a 6 h export: the export still completes, nothing is cancelled', async (_kind, error) => {
    // 9 failed polls of 4 attempts each (the first try and 3 quick retries).
    // The deadline (7 h, on the simulated clock like every wait) is after the export.
    const world = fakeWorld({
      completesAfter: 6 * HOUR, deadlineSeconds: 7 * HOUR, describeErrorsFrom: 3 * HOUR, describeErrors: Array.from({ length: 36 }, error),
    });
    const result = await run(world);

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ status: 'SUCCEEDED', exportTaskId: TASK_ID });
    expect(result.entered(N.COUNT_FAILED_POLL)).toBe(9);
    expect(result.entered(N.WATCH_LOST)).toBe(0);
    expect(world.finishPayloads).toHaveLength(1);
    expect(world.finishPayloads[0].error.Error).toBe(E.INTERNAL_COMPLETED);
  });

  test('each failed poll is retried 3 times quickly (5 s, 10 s, 20 s at most) before it counts', async () => {
    const world = fakeWorld({ completesAfter: 2 * HOUR, describeErrorsFrom: HOUR, describeErrors: Array.from({ length: 4 }, THROTTLED_POLL) });
    const result = await run(world);

    expect(result.status).toBe('SUCCEEDED');
    const retried = result.timeline.filter((t) => t.type === 'StateRetried' && t.state === N.DESCRIBE_EXPORT_TASK);
    expect(retried).toHaveLength(3);
    expect(result.entered(N.COUNT_FAILED_POLL)).toBe(1);
    expect(result.entered(N.WAIT_AFTER_FAILED_POLL)).toBe(1);
  });

  test('10 failed polls in a row: WatchLost after at least 30 minutes, Finish reports it, nothing cancelled', async () => {
    const world = fakeWorld({ describeErrorsFrom: HOUR, describeErrors: Array.from({ length: 40 }, INTERNAL_ERROR_POLL) });
    const result = await run(world);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe(E.WATCH_LOST);
    expect(result.entered(N.WATCH_LOST_OUTCOME)).toBe(1);
    expect(world.finishPayloads).toHaveLength(1);
    expect(world.finishPayloads[0].error.Error).toBe(E.WATCH_LOST);
    // The cause of the last failed poll is handed on (the status code is all it has).
    expect(world.finishPayloads[0].error.Cause).toContain('Status Code: 500');
    const failedCalls = world.describeCalls.filter((at) => at >= HOUR);
    expect(failedCalls).toHaveLength(40);
    expect(failedCalls.at(-1)! - failedCalls[0]).toBeGreaterThanOrEqual(30 * 60);
  });

  test('a successful poll resets the count: 9 failures, a success, 9 failures, then completion', async () => {
    const nine = () => Array.from({ length: 36 }, PERMANENT_ERROR_POLL);
    // The deadline (9 h, simulated) is after the export.
    const world = fakeWorld({
      completesAfter: 8 * HOUR, deadlineSeconds: 9 * HOUR, describeErrorsFrom: HOUR, describeErrors: [...nine(), ...nine()],
    });
    // One success between the two runs: the 37th call is the first that does not throw.
    const describe = world.handlers[N.DESCRIBE_EXPORT_TASK];
    let calls = 0;
    world.handlers[N.DESCRIBE_EXPORT_TASK] = (input, ctx) => {
      if (ctx.clock.now >= HOUR && ++calls === 37) {
        return { ExportTasks: [{ ExportTaskId: TASK_ID, State: 'active' }] };
      }
      return describe(input, ctx);
    };
    const result = await run(world);

    expect(result.status).toBe('SUCCEEDED');
    expect(result.entered(N.COUNT_FAILED_POLL)).toBe(18);
    expect(result.entered(N.WATCH_LOST)).toBe(0);
  });

  test('an answer that does not list the task (just after creation) is a failed poll, not a failure', async () => {
    const world = fakeWorld({ completesAfter: 30 * 60, describeNotListed: 2 });
    const result = await run(world);

    expect(result.status).toBe('SUCCEEDED');
    expect(result.entered(N.TASK_NOT_LISTED)).toBe(2);
    expect(result.entered(N.COUNT_FAILED_POLL)).toBe(2);
  });

  test('an adopted task that already completed goes to Finish without a single poll', async () => {
    const world = fakeWorld({ startState: 'completed' });
    const result = await run(world);

    expect(result.status).toBe('SUCCEEDED');
    expect(result.callsOf(N.DESCRIBE_EXPORT_TASK)).toHaveLength(0);
    expect(result.entered(N.ADOPTED_TASK_COMPLETED)).toBe(1);
    expect(world.finishPayloads[0].error.Error).toBe(E.INTERNAL_COMPLETED);
  });

  test('quota full on start for more than 15 simulated minutes, then succeeds', async () => {
    const world = fakeWorld({ quotaFullUntil: 20 * 60, completesAfter: 10 * 60 });
    const result = await run(world);

    expect(result.status).toBe('SUCCEEDED');
    const starts = result.callsOf(N.START_EXPORT);
    expect(starts.filter((c) => c.error?.name === E.QUOTA_FULL).length).toBeGreaterThan(2);
    expect(starts.at(-1)!.error).toBeUndefined();
    expect(world.taskStartedAt).toBeGreaterThanOrEqual(20 * 60);
    // Backoff: 30, 60, 120, 240, 300, 300 ... (upper bounds; FULL jitter only shortens them).
    const retryGaps = starts.slice(1).map((c, i) => c.at - starts[i].at);
    expect(retryGaps.slice(0, 5)).toEqual([30, 60, 120, 240, 300]);
    // The documented maximum (README, Limits: 30 s up to 300 s).
    expect(Math.max(...retryGaps)).toBeLessThanOrEqual(300);
    expect(world.finishPayloads[0].error.Error).toBe(E.INTERNAL_COMPLETED);
  });

  test('quota never frees before the deadline: Finish decides QUOTA_NEVER_FREED', async () => {
    const world = fakeWorld({ quotaFullUntil: Number.MAX_SAFE_INTEGER });
    const result = await run(world);

    expect(world.finishPayloads[0].error.Error).toBe(E.DEADLINE_PASSED);
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe(E.QUOTA_NEVER_FREED);
    expect(result.callsOf(N.DESCRIBE_EXPORT_TASK)).toHaveLength(0);
  });

  test('preflight error: Fail ERROR_PREFLIGHT_FAILED, no StartExport, Finish gets the raw input', async () => {
    const world = fakeWorld({ prepareError: lambdaError(E.PREFLIGHT_FAILED, 'The bucket does not grant the VM Import/Export service READ_ACP.') });
    const result = await run(world);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe(E.PREFLIGHT_FAILED);
    expect(result.cause).toBe('The bucket does not grant the VM Import/Export service READ_ACP.');
    expect(result.callsOf(N.START_EXPORT)).toHaveLength(0);
    expect(result.entered(N.EXPORT)).toBe(0);
    expect(world.finishPayloads).toEqual([{
      action: 'finish',
      request: INPUT,
      error: { Error: E.PREFLIGHT_FAILED, Cause: expect.stringContaining('READ_ACP') },
    }]);
  });

  test('throttled Prepare is retried', async () => {
    const world = fakeWorld({ completesAfter: 60 });
    const prepare = world.handlers[N.PREPARE];
    world.handlers[N.PREPARE] = (input, ctx) => {
      if (ctx.callIndex < 2) throw lambdaError(E.THROTTLED, 'RequestLimitExceeded');
      return prepare(input, ctx);
    };
    const result = await run(world);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.callsOf(N.PREPARE)).toHaveLength(3);
  });

  test('a failing finish step ends in FinishFailed (VmExport.FinishFailed, for the signal backstop)', async () => {
    const world = fakeWorld({ completesAfter: 60 });
    world.handlers[N.FINISH] = () => {
      throw lambdaError('Error', 'boom');
    };
    const result = await run(world);
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('VmExport.FinishFailed');
    expect(result.entered(N.FINISH_FAILED)).toBe(1);
    expect(result.cause).toContain('boom');
  });

  test.each([
    [E.PREFLIGHT_FAILED, N.PREFLIGHT_FAILED],
    [E.EXPORT_REJECTED, N.EXPORT_REJECTED],
    [E.EXPORT_FAILED, N.EXPORT_FAILED],
    [E.DEADLINE_PASSED, N.DEADLINE_PASSED],
    [E.QUOTA_NEVER_FREED, N.QUOTA_NEVER_FREED],
    [E.INVALID_INPUT, N.INVALID_INPUT],
    [E.WORKFLOW_ERROR, N.WORKFLOW_ERROR],
    [E.WATCH_LOST, N.WATCH_LOST_OUTCOME],
  ])('a FAILED outcome %s ends in the Fail state %s with the cause', async (errorName, stateName) => {
    const world = fakeWorld({ completesAfter: 60 });
    world.handlers[N.FINISH] = () => ({
      Payload: { status: 'FAILED', instanceId: INPUT.instanceId, s3Bucket: INPUT.s3Bucket, state: 'none', errorName, cause: `why: ${errorName}` },
    });
    const result = await run(world);
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe(errorName);
    expect(result.cause).toBe(`why: ${errorName}`);
    expect(result.entered(stateName)).toBe(1);
  });

  test('an outcome the workflow does not know ends in UnexpectedOutcome (WorkflowError)', async () => {
    const world = fakeWorld({ completesAfter: 60 });
    world.handlers[N.FINISH] = () => ({ Payload: { status: 'FAILED', errorName: 'Something.Else' } });
    const result = await run(world);
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe(E.WORKFLOW_ERROR);
    expect(result.entered(N.UNEXPECTED_OUTCOME)).toBe(1);
  });
});

// -------------------------------------------------------------------------------------------------
// Outcome events (EventBridge PutEvents on the default bus).
// -------------------------------------------------------------------------------------------------

describe('export workflow outcome events', () => {
  const SOURCE = 'cdk-vm-export';

  test('the publish states are EventBridge PutEvents on the default bus, the detail is the whole outcome', () => {
    const states = collectStates(definition);
    for (const [name, detailType] of [[N.PUBLISH_SUCCEEDED, 'VM Export Succeeded'], [N.PUBLISH_FAILED, 'VM Export Failed']]) {
      const state = states.get(name);
      expect(state).toEqual(expect.objectContaining({
        Type: 'Task',
        Resource: 'arn:aws:states:::events:putEvents',
        Parameters: { Entries: [{ 'Detail.$': '$', 'DetailType': detailType, 'Source': SOURCE }] },
        ResultPath: null,
      }));
      // Caught: a failure to publish never changes the outcome.
      expect(state.Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], ResultPath: null })]);
    }
  });

  test('success: one "VM Export Succeeded" event whose detail is the output; the output is unchanged', async () => {
    const world = fakeWorld({ completesAfter: 150 });
    const result = await run(world);

    expect(result.status).toBe('SUCCEEDED');
    const expected = {
      status: 'SUCCEEDED',
      instanceId: INPUT.instanceId,
      s3Bucket: INPUT.s3Bucket,
      exportTaskId: TASK_ID,
      s3Key: `vms/${TASK_ID}.ova`,
      s3Uri: `s3://${INPUT.s3Bucket}/vms/${TASK_ID}.ova`,
      state: 'completed',
    };
    expect(world.events).toEqual([{
      state: N.PUBLISH_SUCCEEDED,
      entry: { Source: SOURCE, DetailType: 'VM Export Succeeded', Detail: expected },
    }]);
    expect(result.output).toEqual(expected);
    expect(result.entered(N.PUBLISH_FAILED)).toBe(0);
  });

  test('cancellation: one "VM Export Failed" event with errorName, cause and the task id', async () => {
    const message = 'Task expired and automatically canceled';
    const world = fakeWorld({ cancelledMessage: message, cancelledAfter: HOUR });
    const result = await run(world);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe(E.EXPORT_FAILED);
    expect(world.events).toHaveLength(1);
    expect(world.events[0].state).toBe(N.PUBLISH_FAILED);
    expect(world.events[0].entry).toEqual({
      Source: SOURCE,
      DetailType: 'VM Export Failed',
      Detail: {
        status: 'FAILED',
        instanceId: INPUT.instanceId,
        s3Bucket: INPUT.s3Bucket,
        exportTaskId: TASK_ID,
        state: 'cancelled',
        errorName: E.EXPORT_FAILED,
        cause: `The export task ${TASK_ID} was cancelled: ${message}`,
      },
    });
    expect(result.entered(N.CHECK_FAILURE)).toBe(1);
    expect(result.entered(N.EXPORT_FAILED)).toBe(1);
  });

  test('deadline: "VM Export Failed" with errorName DeadlinePassed', async () => {
    const world = fakeWorld({ deadlineSeconds: 6 * HOUR });
    const result = await run(world);

    expect(result.error).toBe(E.DEADLINE_PASSED);
    expect(world.events.map((e) => [e.entry.DetailType, e.entry.Detail.errorName])).toEqual([['VM Export Failed', E.DEADLINE_PASSED]]);
  });

  test('preflight failure: "VM Export Failed" without a task id', async () => {
    const world = fakeWorld({ prepareError: lambdaError(E.PREFLIGHT_FAILED, 'The instance has 2 volumes.') });
    const result = await run(world);

    expect(result.error).toBe(E.PREFLIGHT_FAILED);
    expect(world.events).toHaveLength(1);
    expect(world.events[0].entry.Detail).toEqual({
      status: 'FAILED',
      instanceId: INPUT.instanceId,
      s3Bucket: INPUT.s3Bucket,
      state: 'none',
      errorName: E.PREFLIGHT_FAILED,
      cause: 'The instance has 2 volumes.',
    });
  });

  test.each([
    ['success', { completesAfter: 60 }, 'SUCCEEDED', N.PUBLISH_SUCCEEDED],
    ['failure', { cancelledMessage: 'gone', cancelledAfter: 60 }, 'FAILED', N.PUBLISH_FAILED],
  ] as const)('a failing PutEvents (%s) is retried once, then ignored: same outcome, same output', async (_label, options, status, publishState) => {
    const reference = await run(fakeWorld(options));
    const world = fakeWorld(options);
    world.handlers[publishState] = () => {
      const error = new Error('1 entry failed: ThrottlingException');
      error.name = 'EventBridge.FailedEntry';
      throw error;
    };
    const result = await run(world);

    expect(result.status).toBe(status);
    expect(result.error).toBe(reference.error);
    expect(result.cause).toBe(reference.cause);
    expect(result.output).toEqual(reference.output);
    expect(result.callsOf(publishState)).toHaveLength(2);
    expect(result.callsOf(publishState).every((c) => c.error?.name === 'EventBridge.FailedEntry')).toBe(true);
  });

  test('an unknown outcome still publishes "VM Export Failed", then ends in UnexpectedOutcome', async () => {
    const world = fakeWorld({ completesAfter: 60 });
    world.handlers[N.FINISH] = () => ({ Payload: { status: 'FAILED', errorName: 'Something.Else' } });
    const result = await run(world);

    expect(result.error).toBe(E.WORKFLOW_ERROR);
    expect(result.entered(N.UNEXPECTED_OUTCOME)).toBe(1);
    expect(world.events.map((e) => e.entry)).toEqual([
      { Source: SOURCE, DetailType: 'VM Export Failed', Detail: { status: 'FAILED', errorName: 'Something.Else' } },
    ]);
  });

  test('a failing finish step publishes nothing (its input holds the wait condition URL)', async () => {
    const world = fakeWorld({ completesAfter: 60 });
    world.handlers[N.FINISH] = () => {
      throw lambdaError('Error', 'boom');
    };
    const result = await run(world);
    expect(result.entered(N.FINISH_FAILED)).toBe(1);
    expect(world.events).toEqual([]);
  });
});

// -------------------------------------------------------------------------------------------------
// Budgets: counted, not timed.
// -------------------------------------------------------------------------------------------------

describe('export workflow budgets (simulated time)', () => {
  test('a 12 h export: ≤ 500 transitions, Lambda only for prepare/start/finish', async () => {
    const world = fakeWorld({ completesAfter: 12 * HOUR, deadlineSeconds: 12 * HOUR + 600 });
    const result = await run(world);

    expect(result.status).toBe('SUCCEEDED');
    const lines = result.transitionsPerHour.map((t, h) =>
      `  hour ${String(h).padStart(2)}: ${String(t).padStart(3)} transitions, ${result.lambdaInvocationsPerHour[h] ?? 0} Lambda invocations`);
    // eslint-disable-next-line no-console
    console.log([
      `12 h export: ${result.transitions} state transitions, ${result.lambdaInvocations} Lambda invocations, ` +
      `${result.callsOf(N.DESCRIBE_EXPORT_TASK).length} polls, completion seen after ${firstCompletedDescribe(world) - 12 * HOUR} s`,
      ...lines,
    ].join('\n'));

    expect(result.transitions).toBeLessThanOrEqual(500);
    expect(result.lambdaInvocations).toBe(3);
    expect(result.callsOf(N.PREPARE)).toHaveLength(1);
    expect(result.callsOf(N.START_EXPORT)).toHaveLength(1);
    expect(result.callsOf(N.FINISH)).toHaveLength(1);
    // No Lambda invocation while polling: between the start and the completion.
    const pollStart = result.callsOf(N.START_EXPORT)[0].at;
    const pollEnd = firstCompletedDescribe(world);
    expect(result.calls.filter((c) => c.lambda && c.at > pollStart && c.at < pollEnd)).toHaveLength(0);
    // Long phase: exactly 3 transitions (Wait + Describe + Choice) per 5-minute poll = 36 per hour.
    for (let h = 1; h < 12; h++) {
      expect(result.transitionsPerHour[h]).toBe(36);
      expect(result.lambdaInvocationsPerHour[h]).toBe(0);
    }
  });

  test('long phase costs exactly 3 transitions per poll, short phase 4', async () => {
    const world = fakeWorld({ completesAfter: 2 * HOUR });
    const result = await run(world);
    const pollStates = new Set<string>([N.WAIT_LONG_POLL, N.DESCRIBE_EXPORT_TASK, N.CHECK_EXPORT_STATE, N.WAIT_SHORT_POLL, N.COUNT_SHORT_POLL]);
    const polls = result.timeline.filter((t) => t.type === 'StateEntered' && pollStates.has(t.state));
    const short = result.entered(N.WAIT_SHORT_POLL);
    const long = result.entered(N.WAIT_LONG_POLL);
    // The documented schedule (README, How it works): 60 s × 15, then every 300 s.
    expect(short).toBe(15);
    expect(polls.length).toBe(short * 4 + long * 3);
  });

  test('detection lag: ≤ 60 s in the first 15 minutes, ≤ 5 min afterwards', async () => {
    // Every minute of the first 15 matters: a shorter short phase would leave a gap there.
    const samples = [1, 59, 60, 61, 7 * 60 + 13, 10 * 60 + 30, 12 * 60 + 1, 14 * 60 + 59, 15 * 60, 15 * 60 + 1, 16 * 60, 20 * 60 + 1,
      47 * 60 + 30, HOUR, HOUR + 1, 3 * HOUR + 299, 5 * HOUR + 17];
    const lags: string[] = [];
    for (const completesAfter of samples) {
      const world = fakeWorld({ completesAfter });
      const result = await run(world);
      expect(result.status).toBe('SUCCEEDED');
      const lag = firstCompletedDescribe(world) - completesAfter;
      lags.push(`${completesAfter}s→${lag}s`);
      expect(lag).toBeGreaterThanOrEqual(0);
      expect(lag).toBeLessThanOrEqual(completesAfter <= 15 * 60 ? 60 : 300);
    }
    // eslint-disable-next-line no-console
    console.log(`detection lag (completion → seen): ${lags.join(', ')}`);
    // 17 local executions: about 4 s on an idle 2-core machine, more under load.
  }, 120_000);
});
