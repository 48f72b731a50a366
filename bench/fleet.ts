/**
 * Fleet export at the quota limit: the SYNTHESIZED fleet and export workflows run in
 * aws-local-stepfunctions on virtual time (test/support/local-sfn.ts: every execution's waits
 * and retries end when a shared simulated clock reaches them; the clock jumps only when nothing
 * can run), against the fake EC2 with its conversion-task quota (test/support/fake-aws). Prints,
 * side by side, the fleet and two baselines started together:
 *
 * - this release's export workflow, one execution per instance (a full quota is waited out in
 *   its slot loop: no Lambda, but every waiting execution looks every 60 s);
 * - the previous release's behaviour (StartExport retried with backoff, 30 s up to 300 s with
 *   full jitter, a Lambda invocation each time), reproduced by hiding the slot holders from the
 *   start step, which then throws VmExport.QuotaFull as it did.
 *
 * Floor: N exports of D each on q slots take at least ceil(N / q) x D. For mixed durations the
 * floor printed is max(longest, total / q), and the budget compares with the ideal dispatcher
 * that starts the next instance (in input order) the moment a slot frees, with no overhead.
 */
import '../test/setup/with-resolvers';
import { Section, Verdict, duration, int, usd } from './table';
import { LAMBDA_PRICE_PER_REQUEST, SFN_PRICE_PER_TRANSITION } from './waiting-cost';
import { FakeExecution } from '../test/support/fake-aws';
import {
  deployFleetWorld,
  exportExecutions,
  FleetWorld,
  HOUR,
  instanceIdOf,
  peakActiveExports,
  startExecution,
  taggedInstance,
} from '../test/support/fake-aws/fleet-world';

/**
 * A deadline long enough for the last of 20 exports started together to get a slot and finish
 * (the default 6 h would cancel the baselines' late ones and flatter their makespan).
 */
const DEADLINE_SECONDS = 24 * HOUR;
const SETTINGS = { targetEnvironment: 'vmware', s3Bucket: 'e2e-vm-exports', s3Prefix: 'fleet/', deadlineSeconds: DEADLINE_SECONDS };
const QUOTA = 5;
/** Lambda invocations a single export needs: Prepare, StartExport, Finish. */
const EXPORT_LAMBDA_STEPS = 3;
/** Lambda invocations of a fleet without failures: PrepareFleet, FinishFleet. */
const FLEET_LAMBDA_STEPS = 2;

/** The budgets of the issue. */
export const FLEET_BUDGETS = {
  MAKESPAN_OVER_FLOOR: 1.05,
  TRANSITIONS_OVER_SINGLE: 1.2,
  LAMBDA_WHILE_WAITING: 0,
} as const;

type Mode = 'fleet' | 'singles' | 'previous';

interface Run {
  readonly mode: Mode;
  readonly makespan: number;
  readonly transitions: number;
  readonly lambda: number;
  /** Lambda invocations beyond the steps every export (and the fleet) needs: spent waiting. */
  readonly lambdaWhileWaiting: number;
  readonly peak: number;
  readonly succeeded: number;
}

/** 20 durations from 20 min to 3 h, in a fixed shuffled order. */
export function mixedDurations(n: number): number[] {
  const min = 20 * 60;
  const max = 3 * HOUR;
  return Array.from({ length: n }, (_, i) => {
    const k = (i * 7) % n;
    return Math.round(min + ((max - min) * k) / (n - 1));
  });
}

/** The makespan of the ideal dispatcher: each instance, in order, starts when the earliest slot frees. */
export function idealListSchedule(durations: number[], slots: number): number {
  const free = new Array(slots).fill(0);
  for (const d of durations) {
    free.sort((a, b) => a - b);
    free[0] += d;
  }
  return Math.max(...free);
}

function endOf(e: FakeExecution): number {
  return e.stoppedAt ?? e.result?.simulatedSeconds ?? 0;
}

async function hideSlotHolders<T>(fn: () => Promise<T>): Promise<T> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const holders = require('../lambda/shared/slot-holders') as { findSlotHolders: (...args: unknown[]) => Promise<unknown> };
  const original = holders.findSlotHolders;
  holders.findSlotHolders = async () => ({ holders: [], imageHolders: [] });
  try {
    return await fn();
  } finally {
    holders.findSlotHolders = original;
  }
}

/** Runs `fn` with the handlers' one-line JSON logs (a line per decision) kept out of the benchmark's output. */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const log = console.log;
  console.log = () => undefined;
  try {
    return await fn();
  } finally {
    console.log = log;
  }
}

/** Exports `durations` (one instance each) with the fleet or as executions started together. */
export async function runExports(mode: Mode, durations: number[], quota = QUOTA): Promise<Run> {
  const run = async () => {
    const w = await deployFleetWorld({ instances: durations.map((d, i) => taggedInstance(i + 1, {}, d)), fake: { quota } });
    const ids = durations.map((_, i) => instanceIdOf(i + 1));
    let fleet: FakeExecution | undefined;
    if (mode === 'fleet') {
      fleet = startExecution(w, { ...SETTINGS, instanceIds: ids, maxConcurrentExports: quota }, 'bench');
    } else {
      ids.forEach((instanceId, i) => startExecution(w, { ...SETTINGS, instanceId, clientToken: `bench-${i}` }, `bench-${i}`, w.exportArn));
    }
    await w.fake.settle();
    return measure(w, mode, fleet);
  };
  return quietly(() => (mode === 'previous' ? hideSlotHolders(run) : run()));
}

function measure(w: FleetWorld, mode: Mode, fleet: FakeExecution | undefined): Run {
  const exports = exportExecutions(w);
  const all = fleet ? [fleet, ...exports] : exports;
  const transitions = all.reduce((sum, e) => sum + (e.result?.transitions ?? 0), 0);
  const lambda = all.reduce((sum, e) => sum + (e.result?.lambdaInvocations ?? 0), 0);
  const needed = exports.length * EXPORT_LAMBDA_STEPS + (fleet ? FLEET_LAMBDA_STEPS : 0);
  return {
    mode,
    makespan: Math.max(...all.map(endOf)),
    transitions,
    lambda,
    lambdaWhileWaiting: lambda - needed,
    peak: peakActiveExports(w),
    succeeded: exports.filter((e) => e.status === 'SUCCEEDED').length,
  };
}

/** Transitions of each export run alone (no other export, the quota free), in total. */
async function singleTransitions(durations: number[]): Promise<number> {
  const alone = await runExports('singles', durations, durations.length);
  return alone.transitions;
}

const LABEL: Record<Mode, string> = {
  fleet: 'InstanceExportFleet',
  singles: 'one execution per instance (this release)',
  previous: 'one execution per instance (StartExport retried with backoff)',
};

interface Scenario {
  readonly name: string;
  readonly durations: number[];
  /** What the makespan budget compares with. */
  readonly reference: number;
  readonly referenceLabel: string;
  readonly floor: number;
}

function scenarios(ci: boolean): Scenario[] {
  const n = ci ? 10 : 20;
  const uniform = Array.from({ length: n }, () => HOUR);
  const floor = Math.ceil(n / QUOTA) * HOUR;
  const list: Scenario[] = [{ name: `${n} exports of 1 h`, durations: uniform, reference: floor, referenceLabel: 'the floor ceil(N/q) x D', floor }];
  if (!ci) {
    const mixed = mixedDurations(n);
    const lower = Math.max(Math.max(...mixed), mixed.reduce((a, b) => a + b, 0) / QUOTA);
    list.push({ name: `${n} exports of 20 min to 3 h`, durations: mixed, reference: idealListSchedule(mixed, QUOTA), referenceLabel: 'the ideal in-order dispatcher', floor: lower });
  }
  return list;
}

function row(scenario: Scenario, run: Run, single: number): string[] {
  const n = scenario.durations.length;
  const cost = run.transitions * SFN_PRICE_PER_TRANSITION + run.lambda * LAMBDA_PRICE_PER_REQUEST;
  return [
    scenario.name,
    LABEL[run.mode],
    duration(run.makespan),
    `${(run.makespan / scenario.floor).toFixed(3)}x`,
    (run.transitions / n).toFixed(1),
    `${(run.transitions / single).toFixed(2)}x`,
    int(run.lambda),
    int(run.lambdaWhileWaiting),
    String(run.peak),
    usd(cost / n),
  ];
}

/** The fleet benchmark (`ci`: the uniform case with 10 exports, the fleet only). */
export async function measureFleet(ci = false): Promise<Section> {
  const rows: string[][] = [];
  const verdicts: Verdict[] = [];
  const notes: string[] = [];
  for (const scenario of scenarios(ci)) {
    const single = await singleTransitions(scenario.durations);
    const modes: Mode[] = ci ? ['fleet'] : ['fleet', 'singles', 'previous'];
    for (const mode of modes) {
      const run = await runExports(mode, scenario.durations);
      rows.push(row(scenario, run, single));
      if (run.succeeded !== scenario.durations.length) {
        verdicts.push({ budget: `${scenario.name}, ${LABEL[mode]}: every export succeeds`, measured: `${run.succeeded} of ${scenario.durations.length}`, ok: false });
      }
      if (mode !== 'fleet') continue;
      const over = run.makespan / scenario.reference;
      verdicts.push({ budget: `${scenario.name}: makespan ≤ ${FLEET_BUDGETS.MAKESPAN_OVER_FLOOR}x ${scenario.referenceLabel} (${duration(scenario.reference)})`, measured: `${duration(run.makespan)} = ${over.toFixed(3)}x`, ok: over <= FLEET_BUDGETS.MAKESPAN_OVER_FLOOR });
      const ratio = run.transitions / single;
      verdicts.push({ budget: `${scenario.name}: state transitions per export ≤ ${FLEET_BUDGETS.TRANSITIONS_OVER_SINGLE}x a single export of the same duration`, measured: `${(run.transitions / scenario.durations.length).toFixed(1)} against ${(single / scenario.durations.length).toFixed(1)} = ${ratio.toFixed(2)}x`, ok: ratio <= FLEET_BUDGETS.TRANSITIONS_OVER_SINGLE });
      verdicts.push({ budget: `${scenario.name}: Lambda invocations while waiting for a slot or polling = ${FLEET_BUDGETS.LAMBDA_WHILE_WAITING}`, measured: String(run.lambdaWhileWaiting), ok: run.lambdaWhileWaiting === FLEET_BUDGETS.LAMBDA_WHILE_WAITING });
      verdicts.push({ budget: `${scenario.name}: at most ${QUOTA} exports at once`, measured: String(run.peak), ok: run.peak <= QUOTA });
    }
  }
  notes.push(
    `Quota ${QUOTA} conversion tasks, nothing else holding slots; virtual time (simulated seconds, never slept), every execution on one clock; Lambda steps and API calls take no simulated time; each export's deadline ${DEADLINE_SECONDS / HOUR} h.`,
    'Transitions: states entered plus retries, of the fleet and every export execution; "x single" compares with the same exports each run alone.',
    `Lambda "while waiting": invocations beyond the ${EXPORT_LAMBDA_STEPS} every export needs (Prepare, StartExport, Finish) and the fleet's ${FLEET_LAMBDA_STEPS} (PrepareFleet, FinishFleet): StartExport calls that found the quota full.`,
    'Floor: ceil(N/q) x D for equal durations; for mixed ones max(longest, total/q). The mixed budget compares with the ideal dispatcher in input order (no dispatcher can know the durations beforehand).',
    'A 1 h export ends on one of its polls (1 h is 15 polls 60 s apart and 9 polls 300 s apart), so the uniform rows lose nothing to the poll interval; the mixed durations are not multiples of it: each export is seen complete up to 300 s late, which the mixed rows include.',
    'Baseline "retried with backoff": the start step sees no slot holder and throws VmExport.QuotaFull, as the previous release did; Step Functions retries it (30 s doubling to 300 s, full jitter drawn from the simulation\'s seeded generator).',
    `Cost: $${SFN_PRICE_PER_TRANSITION * 1000} per 1,000 transitions, $${LAMBDA_PRICE_PER_REQUEST * 1e6} per 1M Lambda requests (list prices, duration and free tier left out).`,
  );
  return {
    title: ci ? 'Fleet export (CI: 10 exports of 1 h, quota 5)' : 'Fleet export at the quota limit',
    tables: [{
      headers: ['scenario', 'how', 'makespan', 'x floor', 'transitions/export', 'x single', 'Lambda', 'Lambda while waiting', 'peak', 'cost/export'],
      rows,
    }],
    notes,
    verdicts,
  };
}
