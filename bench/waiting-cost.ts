/**
 * Waiting cost: runs the SYNTHESIZED export workflow in aws-local-stepfunctions (through
 * test/support/local-sfn.ts: simulated clock, Wait seconds counted, never slept) against small
 * fakes, for exports that complete after 5 min, 30 min, 2 h and 12 h, and compares each with the
 * same export waited on by the CDK Provider framework's `isCompleteHandler` (a model computed
 * from the framework's retry policy, see `providerBaseline`).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Section, Verdict, duration, int, usd, verdictCell } from './table';
import { VmExportBucket } from '../src/bucket/vm-export-bucket';
import { InstanceExport } from '../src/instance-export/instance-export';
import { TargetEnvironment } from '../src/workflow/export-formats';
import { WorkflowErrors as E, WorkflowStateNames as N } from '../src/workflow/export-workflow-names';
import {
  AslDefinition,
  LocalHandler,
  LocalRunResult,
  collectStates,
  definitionFromTemplate,
  isLambdaTask,
  runLocal,
} from '../test/support/local-sfn';

/** Step Functions Standard: $0.025 per 1,000 state transitions (list price, free tier ignored). */
export const SFN_PRICE_PER_TRANSITION = 0.025 / 1000;
/** Lambda: $0.20 per 1M requests (list price, free tier ignored; duration not counted). */
export const LAMBDA_PRICE_PER_REQUEST = 0.20 / 1_000_000;

/**
 * Lambda invocations of the custom resource Create. This library: 1 (CloudFormation invokes the
 * handler, which answers itself). The Provider framework baseline: 2 (the framework's onEvent
 * function, then the user's onEvent handler).
 */
const CREATE_INVOCATIONS = 1;
const PROVIDER_CREATE_INVOCATIONS = 2;

/** The Provider framework's defaults and limits (custom-resources/lib/provider-framework/provider.d.ts). */
export const PROVIDER = {
  /** `queryInterval` default. */
  QUERY_INTERVAL_SECONDS: 5,
  /** `totalTimeout` maximum ("The maximum timeout is 1 hour"); the default is 30 min. */
  MAX_TOTAL_TIMEOUT_SECONDS: 3600,
} as const;

const HOUR = 3600;
const TASK_ID = 'export-i-0123456789abcdef0';
/** How long (real milliseconds) the deadline branch waits: never reached while the export branch runs. */
const DEADLINE_REAL_MS = 10 * 60 * 1000;

/** Export durations of the main table. */
export const SCENARIOS: ReadonlyArray<{ readonly label: string; readonly seconds: number }> = [
  { label: '5 min', seconds: 5 * 60 },
  { label: '30 min', seconds: 30 * 60 },
  { label: '2 h', seconds: 2 * HOUR },
  { label: '12 h', seconds: 12 * HOUR },
];

/** Completion times at which the detection lag is checked (around the 15-minute switch too). */
export const LAG_SAMPLES = [1, 59, 60, 61, 899, 900, 901, 3601, 43000];

/** Budgets. */
export const WAITING_BUDGETS = {
  LAMBDA_WHILE_POLLING: 0,
  TRANSITIONS_12H: 500,
  /** Detection lag while the export is younger than 15 minutes, and afterwards. */
  LAG_EARLY_SECONDS: 60,
  LAG_LATE_SECONDS: 300,
  EARLY_PHASE_SECONDS: 15 * 60,
} as const;

/** What one simulated export measured. */
export interface WorkflowRun {
  readonly completesAfter: number;
  readonly status: string;
  readonly transitions: number;
  /** Workflow Lambda invocations (prepare, start, finish, ...), without the custom resource Create. */
  readonly workflowLambdaInvocations: number;
  /** Lambda invocations after the export task was started and before its completion was seen. */
  readonly lambdaWhilePolling: number;
  readonly polls: number;
  /** Seconds from the fake's completion to the first DescribeExportTasks that saw it. */
  readonly lagSeconds: number;
  /** Task states that had no dedicated fake and were bound to a pass-through handler. */
  readonly passThroughStates: string[];
  readonly realMs: number;
}

/** What the Provider framework's waiter would cost for the same export (a model, not a run). */
export interface ProviderEstimate {
  readonly completesAfter: number;
  /** False when the export outlasts the 1 h total timeout. */
  readonly completes: boolean;
  readonly polls: number;
  readonly transitions: number;
  readonly lambdaInvocations: number;
  readonly lambdaWhilePolling: number;
  readonly lagSeconds?: number;
}

/**
 * The Provider framework's waiter for `isCompleteHandler`: a Standard state machine with one
 * Task state (`framework-isComplete-task`, the framework's isComplete function, which invokes the
 * user's isComplete handler) retried on every error with `IntervalSeconds = queryInterval`,
 * `BackoffRate = 1`, `MaxAttempts = totalTimeout / queryInterval`; once the retries are used up
 * its Catch goes to `framework-onTimeout-task` (one more Lambda). "Not complete yet" is an
 * error, so each poll after the first is a retry. Model, per poll: 1 state transition (the
 * first poll is the Task state being entered, every later one a retry) and 2 Lambda invocations
 * (framework isComplete wrapper + user isComplete). The first poll runs right after onEvent
 * (second 0), then every `queryInterval` seconds; Lambda run time is ignored. Taken at its most
 * generous settings: default 5 s interval, 1 h total timeout (the maximum; the default is 30 min).
 */
export function providerBaseline(completesAfter: number): ProviderEstimate {
  const interval = PROVIDER.QUERY_INTERVAL_SECONDS;
  const maxAttempts = PROVIDER.MAX_TOTAL_TIMEOUT_SECONDS / interval;
  const seenAtPoll = Math.ceil(completesAfter / interval);
  if (seenAtPoll <= maxAttempts) {
    const polls = seenAtPoll + 1;
    return {
      completesAfter,
      completes: true,
      polls,
      transitions: polls,
      lambdaInvocations: PROVIDER_CREATE_INVOCATIONS + 2 * polls,
      lambdaWhilePolling: 2 * polls,
      lagSeconds: seenAtPoll * interval - completesAfter,
    };
  }
  // Every retry used up at 1 h: the Catch enters framework-onTimeout-task (1 transition, 1 Lambda)
  // and the deployment fails.
  const polls = maxAttempts + 1;
  return {
    completesAfter,
    completes: false,
    polls,
    transitions: polls + 1,
    lambdaInvocations: PROVIDER_CREATE_INVOCATIONS + 2 * polls + 1,
    lambdaWhilePolling: 2 * polls,
  };
}

/** The list-price cost of some transitions and Lambda requests. */
export function listPrice(transitions: number, lambdaInvocations: number): number {
  return transitions * SFN_PRICE_PER_TRANSITION + lambdaInvocations * LAMBDA_PRICE_PER_REQUEST;
}

/**
 * The export workflow's definition, taken from the template of a synthesized stack with one
 * bucket and one export (the very definition that would be deployed).
 */
export function synthesizedDefinition(): AslDefinition {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-vm-export-bench-'));
  try {
    const app = new App({ outdir });
    const stack = new Stack(app, 'BenchWaitingStack', { env: { account: '123456789012', region: 'us-east-1' } });
    const bucket = new VmExportBucket(stack, 'Bucket');
    new InstanceExport(stack, 'Export', {
      instanceId: 'i-0123456789abcdef0',
      bucket,
      targetEnvironment: TargetEnvironment.VMWARE,
    });
    const template = app.synth().getStackByName(stack.stackName).template;
    return definitionFromTemplate(template);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

interface World {
  startedAt?: number;
  /** Index into the run's calls of the StartExport call that returned the task. */
  startCallIndex?: number;
  seenAt?: number;
  seenCallIndex?: number;
  readonly passThrough: Set<string>;
}

/**
 * Fakes for every Task state of the definition: the export-task Lambda (dispatching on the
 * payload's `action` like the real one), EC2 DescribeExportTasks (completes `completesAfter`
 * simulated seconds after the start), and a pass-through for any other Task state.
 */
function bindHandlers(definition: AslDefinition, completesAfter: number, world: World, calls: () => number): Record<string, LocalHandler> {
  const handlers: Record<string, LocalHandler> = {};
  const exportTask = (payload: any, now: number, stateName: string): any => {
    switch (payload?.action) {
      case 'prepare':
        return {
          instanceId: payload.input.instanceId,
          targetEnvironment: payload.input.targetEnvironment,
          diskImageFormat: 'VMDK',
          containerFormat: 'ova',
          s3Bucket: payload.input.s3Bucket,
          s3Prefix: payload.input.s3Prefix ?? 'exports/',
          tags: [],
          // Larger than the export so that it completes (the Deadline wait runs in real time anyway).
          deadlineSeconds: completesAfter + 600,
          clientToken: 'bench-token',
          objectExtension: '.ova',
        };
      case 'start':
        world.startedAt = now;
        world.startCallIndex = calls();
        return { exportTaskId: TASK_ID, state: 'active' };
      case 'finish': {
        const request = payload.request;
        const key = `${request.s3Prefix}${TASK_ID}${request.objectExtension}`;
        const completed = payload.error?.Error === E.INTERNAL_COMPLETED;
        return completed
          ? { status: 'SUCCEEDED', instanceId: request.instanceId, s3Bucket: request.s3Bucket, exportTaskId: TASK_ID, s3Key: key, s3Uri: `s3://${request.s3Bucket}/${key}`, state: 'completed' }
          : { status: 'FAILED', instanceId: request.instanceId, s3Bucket: request.s3Bucket, state: 'none', errorName: E.WORKFLOW_ERROR, cause: JSON.stringify(payload.error) };
      }
      default:
        world.passThrough.add(stateName);
        return payload;
    }
  };

  for (const [name, state] of collectStates(definition)) {
    if (state.Type !== 'Task') continue;
    const resource: string = state.Resource ?? '';
    if (isLambdaTask(state)) {
      handlers[name] = (input, { clock }) => ({ Payload: exportTask(input.Payload, clock.now, name) });
    } else if (/:aws-sdk:ec2:describeExportTasks$/.test(resource)) {
      handlers[name] = (_input, { clock }) => {
        const done = world.startedAt !== undefined && clock.now >= world.startedAt + completesAfter;
        if (done && world.seenAt === undefined) {
          world.seenAt = clock.now;
          world.seenCallIndex = calls();
        }
        return {
          ExportTasks: [{
            ExportTaskId: TASK_ID,
            State: done ? 'completed' : 'active',
            ExportToS3Task: { S3Bucket: 'bench-bucket', S3Key: `exports/${TASK_ID}.ova`, DiskImageFormat: 'vmdk', ContainerFormat: 'ova' },
            InstanceExportDetails: { InstanceId: 'i-0123456789abcdef0', TargetEnvironment: 'vmware' },
          }],
        };
      };
    } else if (/:aws-sdk:eventbridge:putEvents$|:events:putEvents/.test(resource)) {
      handlers[name] = () => {
        world.passThrough.add(name);
        return { Entries: [{ EventId: 'bench-event' }], FailedEntryCount: 0 };
      };
    } else {
      handlers[name] = (input) => {
        world.passThrough.add(name);
        return input;
      };
    }
  }
  return handlers;
}

/** Runs the workflow locally for an export that completes `completesAfter` seconds after it starts. */
export async function runWorkflow(definition: AslDefinition, completesAfter: number): Promise<WorkflowRun> {
  const world: World = { passThrough: new Set() };
  // The handler context has no call index over all states: count the handler calls ourselves.
  let callCount = 0;
  const counted = (h: LocalHandler): LocalHandler => (input, ctx) => {
    callCount++;
    return h(input, ctx);
  };
  const raw = bindHandlers(definition, completesAfter, world, () => callCount - 1);
  const handlers = Object.fromEntries(Object.entries(raw).map(([k, h]) => [k, counted(h)]));
  const realWaits: Record<string, number> = {};
  if (collectStates(definition).get(N.DEADLINE)?.Type === 'Wait') realWaits[N.DEADLINE] = DEADLINE_REAL_MS;

  const started = process.hrtime.bigint();
  const result: LocalRunResult = await runLocal(definition, {
    instanceId: 'i-0123456789abcdef0',
    targetEnvironment: 'vmware',
    s3Bucket: 'bench-bucket',
    s3Prefix: 'exports/',
    deadlineSeconds: completesAfter + 600,
  }, { handlers, realTimeWaits: realWaits });
  const realMs = Number(process.hrtime.bigint() - started) / 1e6;

  const from = world.startCallIndex ?? Infinity;
  const to = world.seenCallIndex ?? result.calls.length;
  const lambdaWhilePolling = result.calls.filter((c, i) => c.lambda && i > from && i < to).length;
  const describeState = [...collectStates(definition)]
    .find(([, s]) => /:aws-sdk:ec2:describeExportTasks$/.test(s.Resource ?? ''))?.[0];
  return {
    completesAfter,
    status: result.status,
    transitions: result.transitions,
    workflowLambdaInvocations: result.lambdaInvocations,
    lambdaWhilePolling,
    polls: describeState ? result.callsOf(describeState).length : 0,
    lagSeconds: world.seenAt !== undefined && world.startedAt !== undefined
      ? world.seenAt - (world.startedAt + completesAfter)
      : NaN,
    passThroughStates: [...world.passThrough].sort(),
    realMs,
  };
}

/** The waiting-cost benchmark. */
export async function measureWaitingCost(): Promise<Section> {
  const definition = synthesizedDefinition();
  const verdicts: Verdict[] = [];

  const runs: WorkflowRun[] = [];
  const bases: ProviderEstimate[] = [];
  for (const scenario of SCENARIOS) {
    const run = await runWorkflow(definition, scenario.seconds);
    runs.push(run);
    bases.push(providerBaseline(scenario.seconds));
    verdicts.push({
      budget: `${scenario.label} export: the workflow completes`,
      measured: run.status,
      ok: run.status === 'SUCCEEDED',
    });
    verdicts.push({
      budget: `${scenario.label} export: ${WAITING_BUDGETS.LAMBDA_WHILE_POLLING} Lambda invocations while polling`,
      measured: String(run.lambdaWhilePolling),
      ok: run.lambdaWhilePolling <= WAITING_BUDGETS.LAMBDA_WHILE_POLLING,
    });
  }
  const fails = (base: ProviderEstimate, text: string) => (base.completes ? text : `${text} (fails at 1 h)`);
  const lambdaTotal = (run: WorkflowRun) => CREATE_INVOCATIONS + run.workflowLambdaInvocations;
  const pair = (
    metric: string,
    mine: (run: WorkflowRun) => string,
    theirs: (base: ProviderEstimate) => string,
  ): string[][] => [
    [metric, ...runs.map(mine)],
    ['  Provider baseline', ...bases.map(theirs)],
  ];
  const mainRows: string[][] = [
    ...pair('outcome', (r) => (r.status === 'SUCCEEDED' ? 'completes' : r.status),
      (b) => (b.completes ? 'completes' : 'fails at 1 h')),
    ...pair('state transitions', (r) => int(r.transitions), (b) => fails(b, int(b.transitions))),
    ...pair('Lambda invocations', (r) => int(lambdaTotal(r)), (b) => fails(b, int(b.lambdaInvocations))),
    ...pair('Lambda invocations while polling', (r) => int(r.lambdaWhilePolling), (b) => fails(b, int(b.lambdaWhilePolling))),
    ...pair('polls', (r) => int(r.polls), (b) => fails(b, int(b.polls))),
    ...pair('detection lag', (r) => `${r.lagSeconds} s`, (b) => (b.lagSeconds !== undefined ? `${b.lagSeconds} s` : '—')),
    ...pair('cost (list price)', (r) => usd(listPrice(r.transitions, lambdaTotal(r))),
      (b) => fails(b, usd(listPrice(b.transitions, b.lambdaInvocations)))),
  ];
  const twelve = runs[SCENARIOS.findIndex((s) => s.seconds === 12 * HOUR)];
  verdicts.push({
    budget: `12 h export: ≤ ${WAITING_BUDGETS.TRANSITIONS_12H} state transitions`,
    measured: String(twelve.transitions),
    ok: twelve.status === 'SUCCEEDED' && twelve.transitions <= WAITING_BUDGETS.TRANSITIONS_12H,
  });

  const lagRows: string[][] = [];
  const lagOk: boolean[] = [];
  for (const t of LAG_SAMPLES) {
    const run = await runWorkflow(definition, t);
    const limit = t <= WAITING_BUDGETS.EARLY_PHASE_SECONDS ? WAITING_BUDGETS.LAG_EARLY_SECONDS : WAITING_BUDGETS.LAG_LATE_SECONDS;
    const ok = run.status === 'SUCCEEDED' && run.lagSeconds >= 0 && run.lagSeconds <= limit;
    lagOk.push(ok);
    const base = providerBaseline(t);
    lagRows.push([
      `${int(t)} s (${duration(t)})`,
      `${run.lagSeconds} s`,
      base.lagSeconds !== undefined ? `${base.lagSeconds} s` : 'fails at 1 h',
      `≤ ${limit} s`,
      verdictCell(ok),
    ]);
  }
  verdicts.push({
    budget: `detection lag ≤ ${WAITING_BUDGETS.LAG_EARLY_SECONDS} s in the first 15 min, ≤ ${WAITING_BUDGETS.LAG_LATE_SECONDS / 60} min after (${LAG_SAMPLES.length} completion times)`,
    measured: `${lagOk.filter(Boolean).length}/${lagOk.length} within`,
    ok: lagOk.every(Boolean),
  });

  const passThrough = [...new Set(runs.flatMap((r) => r.passThroughStates))];
  const notes = [
    'This workflow: the synthesized definition (template of a stack with one VmExportBucket and one InstanceExport) run in ' +
    'aws-local-stepfunctions via test/support/local-sfn.ts; Wait and Retry seconds advance a simulated clock (no sleeping). ' +
    'Fakes: Lambda `prepare` → a normalized request, `start` → a task id, `finish` → the output; DescribeExportTasks → ' +
    '`active` until T seconds after the start, then `completed`. The Deadline branch is held back (real-time wait) so that it never fires.',
    `Pass-through fakes bound to Task states without a dedicated fake: ${passThrough.length > 0 ? passThrough.join(', ') : 'none'}.`,
    'Transitions: states entered plus retries (what Standard workflows bill). Lambda invocations include the custom resource ' +
    `Create: ${CREATE_INVOCATIONS} for this library (its handler answers CloudFormation itself), ${PROVIDER_CREATE_INVOCATIONS} for the Provider baseline (framework onEvent + user onEvent). "While polling": after the export task started, before its completion was seen.`,
    'Detection lag: from the fake\'s completion time to the first DescribeExportTasks that returns `completed`.',
    `Provider baseline (a model, not a run): \`isCompleteHandler\` with the default ${PROVIDER.QUERY_INTERVAL_SECONDS} s queryInterval and the ` +
    `maximum ${PROVIDER.MAX_TOTAL_TIMEOUT_SECONDS / 60} min totalTimeout (default 30 min); waiter = one Task retried every interval (backoff 1, ` +
    `MaxAttempts = totalTimeout / interval = ${PROVIDER.MAX_TOTAL_TIMEOUT_SECONDS / PROVIDER.QUERY_INTERVAL_SECONDS}). Per poll: 1 transition ` +
    '(entry or retry) + 2 Lambda invocations (framework isComplete wrapper + user isComplete). Polls at 0, 5, 10, … s. ' +
    'Past 1 h the retries run out: 1 more transition and Lambda (framework-onTimeout-task) and the deployment fails ' +
    '(a custom resource may not take longer than 1 h anyway).',
    'Cost at list price: Step Functions Standard $0.025 per 1,000 transitions, Lambda $0.20 per 1M requests. The free tier ' +
    '(4,000 transitions and 1M requests a month) is ignored; Lambda duration (GB-seconds) is not counted.',
    `Real time of the local runs: ${runs.map((r, i) => `${SCENARIOS[i].label} ${(r.realMs / 1000).toFixed(1)} s`).join(', ')}.`,
  ];

  return {
    title: 'Waiting cost (simulated exports, per export)',
    tables: [
      {
        headers: ['per export, export takes', ...SCENARIOS.map((s) => s.label)],
        rows: mainRows,
      },
      {
        headers: ['completes after', 'detection lag', 'Provider', 'budget', 'verdict'],
        rows: lagRows,
        alignRight: [false, true, true, true, false],
      },
    ],
    notes,
    verdicts,
  };
}
