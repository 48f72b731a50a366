/**
 * TEST CODE ONLY: a local stand-in for the AWS services the library's handlers call (EC2 VM
 * export of instances and images, S3, Step Functions, CloudFormation, IAM), reached through REAL
 * SDK clients whose middleware short-circuits into the fake. See SPEC section 3 for the behaviour modelled.
 *
 * ```ts
 * const fake = createFakeAws({ region: 'eu-west-1' });
 * fake.s3.createBucket('exports');
 * fake.ec2.addInstance({ instanceId: 'i-0123456789abcdef0' });
 * fake.sfn.registerStateMachine(arn, definitionFromTemplate(template));
 * await providerOnEvent(event, fake.clients('provider'));   // StartExecution runs the workflow
 * await fake.sfn.settle();
 * fake.signals;                                             // the wait-condition PUTs
 * ```
 */
import { DescribeExportImageTasksCommand, DescribeExportTasksCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { FetchLike, SignalOptions } from '../../../lambda/shared/signal';
// The handlers below stand in for the states the README names ("The workflow's states").
import { StateNames as N } from '../documented-names';
import { LocalHandler, SimulatedClock } from '../local-sfn';
import { specCanonicalId } from '../spec-canonical-ids';
import { createFakeClients, FakeClients } from './client-middleware';
import { lambdaFunctionError, SfnErrorNaming, sfnIntegrationError } from './errors';
import { FakeCloudFormation } from './fake-cloudformation';
import { CancelCompletedAnswer, ExportBehaviour, FakeEc2 } from './fake-ec2';
import { FakeEc2ImagesOptions } from './fake-ec2-images';
import { FakeEvents } from './fake-events';
import { FakeIam, FakeIamOptions } from './fake-iam';
import { FakeS3 } from './fake-s3';
import { FakeExecution, FakeSfn } from './fake-sfn';
import { FakeCaller, FakeWorld } from './world';
import { ExportTaskEvent } from '../../../lambda/shared/contract';

export * from './client-middleware';
export * from './errors';
export * from './fake-cloudformation';
export * from './fake-ec2';
export * from './fake-ec2-images';
export * from './fake-events';
export * from './fake-iam';
export * from './fake-s3';
export * from './fake-sfn';
export * from './world';

/** Callers the fake's own client sets use. */
export const CALLERS = {
  /** The export-task Lambda (prepare / start / finish) inside the workflow. */
  EXPORT_TASK: 'export-task',
  /** The workflow's DescribeExportTask state (AWS SDK integration). */
  SFN_INTEGRATION: 'sfn-integration',
} as const;

/**
 * The Task resource of the image workflow's poll (AWS SDK integration
 * ec2:DescribeExportImageTasks). Its handler is keyed by this resource (local-sfn: a handler
 * keyed by a Task's Resource serves every Task state with that Resource and no handler of its
 * own), so it does not depend on the state's name.
 */
export const DESCRIBE_EXPORT_IMAGE_TASKS_RESOURCE = 'arn:aws:states:::aws-sdk:ec2:describeExportImageTasks';

/** The Task resource of the workflow's EventBridge PutEvents states (outcome and progress events). */
export const PUT_EVENTS_RESOURCE = 'arn:aws:states:::events:putEvents';

/**
 * AWS SDK integration ec2:DescribeInstances (tag-filtered listing of instances): the Task's
 * Parameters are the API input in PascalCase, the result the API output without $metadata; EC2
 * errors fail the state as `Ec2.Ec2Exception` (sfnIntegrationError).
 */
export const DESCRIBE_INSTANCES_RESOURCE = 'arn:aws:states:::aws-sdk:ec2:describeInstances';

/** The Task resource of the slot loop's DescribeSlotHolders (AWS SDK integration ec2:DescribeExportTasks). */
export const DESCRIBE_EXPORT_TASKS_RESOURCE = 'arn:aws:states:::aws-sdk:ec2:describeExportTasks';

/** The Lambda invoke integration: serves the Lambda states that have no handler of their own (the fleet's). */
export const LAMBDA_INVOKE_RESOURCE = 'arn:aws:states:::lambda:invoke';

/**
 * Nested execution, Run a Job pattern, version 2 (optimized Step Functions integration,
 * https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html): starts the
 * child (StateMachineArn, Input as JSON or a JSON string, optional Name) and waits until it ends.
 *
 * Success: the child's DescribeExecution response with PascalCase keys (ExecutionArn, Input,
 * InputDetails, Name, Output, OutputDetails, StartDate, StateMachineArn, Status, StopDate; dates
 * in epoch milliseconds), Input and Output as JSON values (`.sync`: as JSON strings). The user
 * guide names the pattern but its pages in the searchable copies do not show the response; the
 * PascalCase envelope is what AWS's TestState guide implies (a `.sync:2` mock "must match the
 * DescribeExecution response schema") and what an emulator's tests record as measured on AWS
 * (hectorvent/floci AslExecutorNestedStartExecutionTest).
 *
 * A child that ends FAILED, TIMED_OUT or ABORTED fails the Task with `States.TaskFailed` and a
 * Cause that is the JSON text of that same envelope (its Status, Error and Cause included). NOT
 * verified in the documentation (it is silent); `syncChildFailure` changes the choice.
 * A refused StartExecution fails it with `StepFunctions.<Code>Exception` (same emulator source).
 */
export const START_EXECUTION_SYNC2_RESOURCE = 'arn:aws:states:::states:startExecution.sync:2';
/** Nested execution, Run a Job pattern, version 1: like `.sync:2` with Input and Output as JSON strings. */
export const START_EXECUTION_SYNC_RESOURCE = 'arn:aws:states:::states:startExecution.sync';

/** How a `.sync` Task reports a child that did not succeed (see START_EXECUTION_SYNC2_RESOURCE). */
export interface SyncChildFailureOptions {
  /** The Task's error name. @default 'States.TaskFailed' */
  readonly error?: string;
  /** `describe-execution`: the JSON envelope of the child (default); `child`: the child's own Cause. */
  readonly cause?: 'describe-execution' | 'child';
}

/** One wait-condition signal the finish step sent. */
export interface CapturedSignal {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: { Status: string; UniqueId: string; Data: string; Reason: string };
  /** Simulated second. */
  readonly at: number;
  /** What the handle answered: an HTTP status, or 'hang' (no answer at all). */
  readonly answer: number | 'hang';
  /** True when CloudFormation took the signal (a 2xx answer). */
  readonly accepted: boolean;
}

export interface FakeAwsOptions {
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '123456789012' */
  readonly accountId?: string;
  /** The canonical ID the fake export service requires. @default the region's ID in SPEC section 1 (the fake's own copy of the table) */
  readonly serviceCanonicalId?: string;
  /** Concurrent active conversion tasks. @default 5 */
  readonly quota?: number;
  /** @default { outcome: 'complete', afterPolls: 3 } */
  readonly defaultExportBehaviour?: ExportBehaviour;
  /** How the DescribeExportTask state names EC2 errors. @default 'generic' (Ec2.Ec2Exception) */
  readonly sfnErrorNaming?: SfnErrorNaming;
  /** HTTP status the wait condition handle answers the signal with. @default 200 */
  readonly signalStatus?: number;
  /**
   * The answers of the first PUTs to the handle, in order (an HTTP status, or 'hang': the request
   * never gets an answer); later PUTs get `signalStatus`.
   */
  readonly signalAnswers?: Array<number | 'hang'>;
  /** Simulated seconds after which EC2 stops listing a finished task. @default never */
  readonly forgetFinishedAfterSeconds?: number;
  /** What CancelExportTask answers for a completed task. @default 'incorrect-state' */
  readonly cancelCompletedAnswer?: CancelCompletedAnswer;
  /** The error of a full conversion-task quota. @default ResourceLimitExceeded */
  readonly quotaError?: { readonly code: string; readonly message: string };
  /** Options of the fake's image side (ExportImage; fake-ec2-images.ts). */
  readonly imageExport?: FakeEc2ImagesOptions;
  /** Options of the fake IAM. */
  readonly iam?: FakeIamOptions;
  readonly clock?: SimulatedClock;
  /**
   * Virtual time (discrete-event simulation): every execution FakeSfn runs shares the world
   * clock's scheduler, so the Wait states and retry intervals of concurrent executions overlap
   * (two executions each waiting an hour end at hour 1, not 2), and the clock moves only when
   * no execution can run any more. Off: each wait and retry advances the shared clock when it is
   * entered (the model the existing tests were written for). @default false
   */
  readonly virtualTime?: boolean;
  /** Seed of the virtual-time FULL-jitter generator (reproducible retries). @default DEFAULT_VIRTUAL_TIME_SEED */
  readonly virtualTimeSeed?: number;
  /** Stop running `.sync` children when their parent leaves RUNNING (FakeSfnOptions). @default true */
  readonly stopChildrenWithParent?: boolean;
  /** How a `.sync` Task reports a failed child. @default { error: 'States.TaskFailed', cause: 'describe-execution' } */
  readonly syncChildFailure?: SyncChildFailureOptions;
}

export interface FakeAws {
  readonly world: FakeWorld;
  readonly ec2: FakeEc2;
  readonly s3: FakeS3;
  readonly sfn: FakeSfn;
  readonly cfn: FakeCloudFormation;
  /** IAM roles (the VM Import/Export service role of image export). */
  readonly iam: FakeIam;
  /** The default event bus (execution status changes, the signal backstop's rule). */
  readonly events: FakeEvents;
  /** Every entry the workflow's EventBridge PutEvents states sent (outcome and progress events), in order. */
  readonly publishedEvents: Array<{ readonly Source: string; readonly DetailType: string; readonly Detail: string }>;
  /** Wait-condition signals, in order. */
  readonly signals: CapturedSignal[];
  /** Signal options for `finish` (a fetch that records the PUT, no real sleeping). */
  readonly signalOptions: SignalOptions;
  /** Real SDK clients answered by the fake; calls are logged with `caller`. */
  clients(caller: FakeCaller): FakeClients;
  /** The local-sfn Task handlers of the export workflow, bound to the real export-task handler functions. */
  workflowHandlers(execution?: FakeExecution): Record<string, LocalHandler>;
  /** The Lambda target of the signal backstop rule (the export-task function's event entry). */
  backstopTarget(event: any): Promise<unknown>;
  /** Waits until every workflow execution has ended and every event was delivered. */
  settle(): Promise<void>;
}

export function createFakeAws(options: FakeAwsOptions = {}): FakeAws {
  const world = new FakeWorld({ region: options.region, accountId: options.accountId, clock: options.clock });
  const s3 = new FakeS3(world);
  const iam = new FakeIam(world, options.iam);
  const ec2 = new FakeEc2(world, s3, {
    serviceCanonicalId: options.serviceCanonicalId ?? specCanonicalId(world.region),
    quota: options.quota,
    defaultBehaviour: options.defaultExportBehaviour,
    forgetFinishedAfterSeconds: options.forgetFinishedAfterSeconds,
    cancelCompletedAnswer: options.cancelCompletedAnswer,
    quotaError: options.quotaError,
    iam,
    images: options.imageExport,
  });
  const events = new FakeEvents();
  const cfn = new FakeCloudFormation();
  const signals: CapturedSignal[] = [];
  const answers = [...(options.signalAnswers ?? [])];
  const fetch: FetchLike = async (url, init) => {
    const answer = answers.length > 0 ? answers.shift()! : (options.signalStatus ?? 200);
    const accepted = typeof answer === 'number' && answer >= 200 && answer < 300;
    signals.push({ url, method: init.method, headers: init.headers, body: JSON.parse(init.body), at: world.clock.now, answer, accepted });
    if (answer === 'hang') {
      return new Promise<never>(() => undefined);
    }
    return { ok: accepted, status: answer };
  };
  // Real time only for the per-attempt timeout of a PUT that hangs (a few milliseconds).
  const signalOptions: SignalOptions = { fetch, sleep: async () => undefined, attemptTimeoutMs: 5 };
  const clientCache = new Map<FakeCaller, FakeClients>();
  const clients = (caller: FakeCaller) => {
    let set = clientCache.get(caller);
    if (!set) {
      set = createFakeClients(world, caller);
      clientCache.set(caller, set);
    }
    return set;
  };
  const naming = options.sfnErrorNaming ?? 'generic';

  const publishedEvents: FakeAws['publishedEvents'] = [];
  // eslint-disable-next-line prefer-const
  let sfn: FakeSfn;
  const workflowHandlers = (execution?: FakeExecution): Record<string, LocalHandler> => {
    const taskClients = clients(CALLERS.EXPORT_TASK);
    const integration = clients(CALLERS.SFN_INTEGRATION);
    // Loaded lazily: the handler module creates default clients at import time.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exportTask = require('../../../lambda/export-task') as typeof import('../../../lambda/export-task');
    const lambda: LocalHandler = async (input) => {
      const payload = input.Payload as ExportTaskEvent;
      try {
        switch (payload.action) {
          case 'prepare':
            return { Payload: await exportTask.prepare(payload.input, taskClients, world.region, world.accountId) };
          case 'start':
            return { Payload: await exportTask.start(payload.request, taskClients) };
          case 'finish':
            return { Payload: await exportTask.finish(payload, taskClients, signalOptions) };
          // The fleet workflow's steps (InstanceExportFleet) run on the same function.
          case 'fleet-prepare':
          case 'fleet-record':
          case 'fleet-finish':
            return { Payload: await exportTask.handler(payload) };
          default:
            throw new Error(`unknown action ${(payload as { action?: string }).action}`);
        }
      } catch (err) {
        throw lambdaFunctionError(err);
      }
    };
    // An AWS SDK integration of EC2: the API's input and output in PascalCase (without
    // $metadata); every error named as Step Functions names it (sfnIntegrationError).
    const ec2Integration = (command: new (input: any) => any): LocalHandler => async (input) => {
      try {
        const out = await integration.ec2.send(new command(input));
        const { $metadata: _metadata, ...rest } = out;
        return JSON.parse(JSON.stringify(rest));
      } catch (err) {
        throw sfnIntegrationError(err, naming);
      }
    };
    const describe = ec2Integration(DescribeExportTasksCommand);
    const describeImageTasks = ec2Integration(DescribeExportImageTasksCommand);
    const describeInstances = ec2Integration(DescribeInstancesCommand);
    // EventBridge PutEvents (optimized integration): { Entries } in, { Entries, FailedEntryCount } out.
    const putEvents: LocalHandler = (input) => {
      for (const entry of input.Entries) {
        // The optimized integration takes Detail as JSON (an object) and sends it as a string.
        publishedEvents.push({ Source: entry.Source, DetailType: entry.DetailType, Detail: typeof entry.Detail === 'string' ? entry.Detail : JSON.stringify(entry.Detail) });
      }
      return { Entries: input.Entries.map((_: unknown, i: number) => ({ EventId: `event-${publishedEvents.length}-${i}` })), FailedEntryCount: 0 };
    };
    const startSync = (jsonPayloads: boolean): LocalHandler => async (input, context) => {
      let child: FakeExecution;
      try {
        child = sfn.startChild(execution?.executionArn, {
          stateMachineArn: input.StateMachineArn,
          ...(input.Name !== undefined ? { name: input.Name } : {}),
          input: input.Input === undefined ? '{}' : typeof input.Input === 'string' ? input.Input : JSON.stringify(input.Input),
        });
      } catch (err) {
        const e = err as Error;
        const code = e.name ?? 'Error';
        const error = new Error(e.message);
        error.name = `StepFunctions.${code.endsWith('Exception') ? code : `${code}Exception`}`;
        throw error;
      }
      const ended = child.ended ?? child.done;
      await (context.waitFor ? context.waitFor(ended) : ended);
      const envelope = sfn.syncResult(child.executionArn, jsonPayloads);
      if (child.status === 'SUCCEEDED') return envelope;
      const failure = options.syncChildFailure ?? {};
      const error = new Error(failure.cause === 'child' ? (child.cause ?? '') : JSON.stringify(envelope));
      error.name = failure.error ?? 'States.TaskFailed';
      throw error;
    };
    return {
      [PUT_EVENTS_RESOURCE]: putEvents,
      [DESCRIBE_INSTANCES_RESOURCE]: describeInstances,
      [START_EXECUTION_SYNC2_RESOURCE]: startSync(true),
      [START_EXECUTION_SYNC_RESOURCE]: startSync(false),
      [N.PREPARE]: lambda,
      [N.START_EXPORT]: lambda,
      [N.FINISH]: lambda,
      [N.DESCRIBE_EXPORT_TASK]: describe,
      // The slot loop's look at the tasks that hold the slots (DescribeSlotHolders).
      [DESCRIBE_EXPORT_TASKS_RESOURCE]: describe,
      [DESCRIBE_EXPORT_IMAGE_TASKS_RESOURCE]: describeImageTasks,
      // The fleet's Lambda states (PrepareFleet, RecordFailure, FinishFleet).
      [LAMBDA_INVOKE_RESOURCE]: lambda,
    };
  };

  sfn = new FakeSfn(world, workflowHandlers, {
    virtualTime: options.virtualTime,
    virtualTimeSeed: options.virtualTimeSeed,
    stopChildrenWithParent: options.stopChildrenWithParent,
  });
  sfn.statusChangeListener = (event) => events.publish(event);

  const backstopTarget = async (event: any) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exportTask = require('../../../lambda/export-task') as typeof import('../../../lambda/export-task');
    return exportTask.backstop(event, clients(CALLERS.EXPORT_TASK), signalOptions);
  };
  const settle = async () => {
    for (;;) {
      await sfn.settle();
      await events.settle();
      if ([...sfn.executions.values()].every((e) => e.result)) return;
    }
  };

  world.registerService('ec2', (op, input) => ec2.handle(op, input));
  world.registerService('s3', (op, input) => s3.handle(op, input));
  world.registerService('sfn', (op, input) => sfn.handle(op, input));
  world.registerService('cloudformation', (op, input) => cfn.handle(op, input));
  world.registerService('iam', (op, input) => iam.handle(op, input));

  return {
    world,
    ec2,
    s3,
    sfn,
    cfn,
    iam,
    events,
    publishedEvents,
    signals,
    clients,
    signalOptions,
    workflowHandlers,
    backstopTarget,
    settle,
  };
}
