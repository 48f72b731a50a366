/**
 * Run a SYNTHESIZED Step Functions definition locally with aws-local-stepfunctions, on a
 * simulated clock.
 *
 * - `definitionFromTemplate()` takes a state machine's `DefinitionString` out of a synthesized
 *   template and replaces the CloudFormation intrinsics (Fn::Join, Ref, Fn::GetAtt, Fn::Sub,
 *   DefinitionSubstitutions) with placeholder values, so that the very definition that is
 *   deployed is the one that runs. Nothing is rebuilt by hand.
 * - `runLocal()` runs it with local handlers for the Task states (keyed by STATE NAME; a Task
 *   without a handler fails instead of calling AWS), turns every Wait and every Retry interval
 *   into zero real time while a `SimulatedClock` advances by the configured seconds (unless a
 *   Wait is given a real duration in `realTimeWaits`), and counts state transitions and Lambda
 *   invocations, per simulated hour too.
 *
 * The handlers see the clock as it stands when the state runs: each handler call first yields to
 * the event loop so that the event log (which drives the clock) has caught up.
 *
 * Virtual time (opt-in, `virtualTime: virtualScheduler(clock)`): for many executions on one clock
 * the model above is wrong (the clock would advance by the SUM of every execution's waits). In
 * virtual time every Wait entry and every retry interval is a timer of the clock's shared
 * discrete-event scheduler (VirtualScheduler) that ends when the clock reaches its end, and the
 * clock jumps to the earliest pending end only once nothing can run any more. Not modelled in
 * virtual time: a Task's TimeoutSeconds / HeartbeatSeconds and the execution's TimeoutSeconds
 * (the interpreter times them with real timers).
 */
import '../setup/with-resolvers';
import '../setup/jayway-paths';
import type * as Asl from 'aws-local-stepfunctions' with { 'resolution-mode': 'import' };

/** A state machine definition (Amazon States Language, JSONPath). */
export type AslDefinition = Asl.StateMachineDefinition;

type RunHandle = ReturnType<Asl.StateMachine['run']>;
/** One event of the interpreter's event log. */
export type AslEvent = RunHandle['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** Placeholder values for the pseudo parameters. */
export interface PseudoParameters {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly stackName: string;
  readonly urlSuffix: string;
}

export const DEFAULT_PSEUDO_PARAMETERS: PseudoParameters = {
  partition: 'aws',
  region: 'us-east-1',
  account: '123456789012',
  stackName: 'LocalStack',
  urlSuffix: 'amazonaws.com',
};

// -----------------------------------------------------------------------------------------------
// Definition extraction
// -----------------------------------------------------------------------------------------------

type Json = any;

/** A synthesized template: the JSON, or anything with `toJSON()` (aws-cdk-lib/assertions Template). */
export type TemplateLike = Json | { toJSON(): Json };

function templateJson(template: TemplateLike): Json {
  return typeof template?.toJSON === 'function' ? template.toJSON() : template;
}

/** The plain-JSON definitions of every AWS::StepFunctions::StateMachine in the template, by logical id. */
export function stateMachineDefinitions(
  template: TemplateLike,
  pseudo: Partial<PseudoParameters> = {},
): Record<string, AslDefinition> {
  const json = templateJson(template);
  const resources: Record<string, Json> = json.Resources ?? {};
  const params = { ...DEFAULT_PSEUDO_PARAMETERS, ...pseudo };
  const result: Record<string, AslDefinition> = {};
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    const props = resource.Properties ?? {};
    let text: string;
    if (props.DefinitionString !== undefined) {
      text = String(resolveIntrinsics(props.DefinitionString, resources, params));
    } else if (props.Definition !== undefined) {
      text = JSON.stringify(resolveIntrinsics(props.Definition, resources, params));
    } else {
      throw new Error(`${logicalId}: no inline definition (DefinitionS3Location is not supported)`);
    }
    const substitutions: Record<string, Json> = props.DefinitionSubstitutions ?? {};
    for (const [name, value] of Object.entries(substitutions)) {
      const resolved = String(resolveIntrinsics(value, resources, params));
      text = text.split('${' + name + '}').join(resolved);
    }
    result[logicalId] = JSON.parse(text);
  }
  return result;
}

/**
 * The definition of the one state machine in the template (or of `logicalIdPrefix`'s, matched
 * as a prefix of the logical id).
 */
export function definitionFromTemplate(
  template: TemplateLike,
  logicalIdPrefix?: string,
  pseudo: Partial<PseudoParameters> = {},
): AslDefinition {
  const all = stateMachineDefinitions(template, pseudo);
  const ids = Object.keys(all).filter((id) => logicalIdPrefix === undefined || id.startsWith(logicalIdPrefix));
  if (ids.length !== 1) {
    throw new Error(`expected exactly one state machine${logicalIdPrefix ? ` matching ${logicalIdPrefix}` : ''}, found: ${ids.join(', ') || 'none'}`);
  }
  return all[ids[0]];
}

/** Replaces CloudFormation intrinsics with placeholder values (ARNs stay ARN-shaped). */
export function resolveIntrinsics(value: Json, resources: Record<string, Json>, pseudo: PseudoParameters): Json {
  const recurse = (v: Json): Json => resolveIntrinsics(v, resources, pseudo);
  if (Array.isArray(value)) return value.map(recurse);
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const [key] = keys;
    const arg = value[key];
    switch (key) {
      case 'Ref':
        return refValue(arg, resources, pseudo);
      case 'Fn::GetAtt': {
        const [id, attr] = Array.isArray(arg) ? arg : String(arg).split('.');
        return getAttValue(id, attr, resources, pseudo);
      }
      case 'Fn::Join': {
        const [sep, parts] = arg;
        return (recurse(parts) as Json[]).map(String).join(sep);
      }
      case 'Fn::Select': {
        const [index, list] = arg;
        return (recurse(list) as Json[])[Number(recurse(index))];
      }
      case 'Fn::Split': {
        const [sep, source] = arg;
        return String(recurse(source)).split(sep);
      }
      case 'Fn::Sub': {
        const [template, vars] = Array.isArray(arg) ? arg : [arg, {}];
        const resolvedVars: Record<string, Json> = recurse(vars ?? {});
        return String(template).replace(/\$\{([^}!]+)\}/g, (_m: string, name: string) => {
          if (name in resolvedVars) return String(resolvedVars[name]);
          if (name.includes('.')) {
            const [id, attr] = name.split('.');
            return String(getAttValue(id, attr, resources, pseudo));
          }
          return String(refValue(name, resources, pseudo));
        });
      }
      default:
        break;
    }
  }
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(value)) out[k] = recurse(v);
  return out;
}

function refValue(name: string, resources: Record<string, Json>, pseudo: PseudoParameters): string {
  switch (name) {
    case 'AWS::Partition': return pseudo.partition;
    case 'AWS::Region': return pseudo.region;
    case 'AWS::AccountId': return pseudo.account;
    case 'AWS::StackName': return pseudo.stackName;
    case 'AWS::URLSuffix': return pseudo.urlSuffix;
    case 'AWS::NoValue': return '';
    default:
      break;
  }
  const type: string | undefined = resources[name]?.Type;
  if (type === 'AWS::StepFunctions::StateMachine' || type === 'AWS::SNS::Topic') {
    return getAttValue(name, 'Arn', resources, pseudo);
  }
  return name;
}

function getAttValue(id: string, attr: string, resources: Record<string, Json>, pseudo: PseudoParameters): string {
  const type: string = resources[id]?.Type ?? 'AWS::Unknown::Resource';
  if (attr !== 'Arn') return `${id}.${attr}`;
  const { partition: p, region: r, account: a } = pseudo;
  switch (type) {
    case 'AWS::Lambda::Function': return `arn:${p}:lambda:${r}:${a}:function:${id}`;
    case 'AWS::IAM::Role': return `arn:${p}:iam::${a}:role/${id}`;
    case 'AWS::S3::Bucket': return `arn:${p}:s3:::${id.toLowerCase()}`;
    case 'AWS::SQS::Queue': return `arn:${p}:sqs:${r}:${a}:${id}`;
    case 'AWS::StepFunctions::StateMachine': return `arn:${p}:states:${r}:${a}:stateMachine:${id}`;
    default: {
      const service = type.split('::')[1]?.toLowerCase() ?? 'unknown';
      return `arn:${p}:${service}:${r}:${a}:${id}`;
    }
  }
}

/** Every state of the definition, nested Parallel branches and Map iterators included, by name. */
export function collectStates(definition: { States: Record<string, Json> }): Map<string, Json> {
  const states = new Map<string, Json>();
  const visit = (machine: { States: Record<string, Json> }) => {
    for (const [name, state] of Object.entries(machine.States)) {
      if (states.has(name)) throw new Error(`duplicate state name ${name}`);
      states.set(name, state);
      for (const branch of state.Branches ?? []) visit(branch);
      if (state.Iterator) visit(state.Iterator);
      if (state.ItemProcessor) visit(state.ItemProcessor);
    }
  };
  visit(definition);
  return states;
}

/**
 * Handler keys that name a Task RESOURCE instead of a state, e.g.
 * `arn:aws:states:::aws-sdk:ec2:describeExportImageTasks`: such a handler serves every Task state
 * with that Resource (in any partition) that has no handler under its own name.
 */
export const RESOURCE_KEY = /^arn:[^:]+:states:::/;

function resourceHandler<H>(handlers: Record<string, H> | undefined, state: Json): H | undefined {
  const resource: string = state?.Resource ?? '';
  if (!handlers || !RESOURCE_KEY.test(resource)) return undefined;
  const normal = (arn: string) => arn.replace(/^arn:[^:]+:/, 'arn:aws:');
  const key = Object.keys(handlers).find((k) => RESOURCE_KEY.test(k) && normal(k) === normal(resource));
  return key === undefined ? undefined : handlers[key];
}

/** Whether a Task state invokes a Lambda function (integration or bare function ARN). */
export function isLambdaTask(state: Json): boolean {
  const resource: string = state?.Resource ?? '';
  return state?.Type === 'Task' && (/:states:::lambda:invoke/.test(resource) || /^arn:[^:]+:lambda:/.test(resource));
}

/** A tiny JSONPath reader for `$`, `$.a.b`, `$.a[0].b`, `$['a']` (enough for SecondsPath and the like). */
export function readPath(json: Json, path: string): Json {
  if (path === '$') return json;
  if (!path.startsWith('$')) throw new Error(`unsupported path ${path}`);
  const tokens = path.slice(1).match(/\.[^.[\]]+|\[\d+\]|\['[^']*'\]/g) ?? [];
  let current = json;
  for (const token of tokens) {
    if (current === undefined || current === null) return undefined;
    if (token.startsWith('.')) current = current[token.slice(1)];
    else if (token.startsWith("['")) current = current[token.slice(2, -2)];
    else current = current[Number(token.slice(1, -1))];
  }
  return current;
}

// -----------------------------------------------------------------------------------------------
// Simulated clock and run
// -----------------------------------------------------------------------------------------------

/** Simulated time in seconds since the start of the execution. */
export class SimulatedClock {
  private seconds = 0;
  private readonly listeners: Array<() => void> = [];
  /** The epoch milliseconds simulated second 0 corresponds to (for Timestamp waits). */
  public readonly epochMs: number;

  constructor(epochMs: number = Date.now()) {
    this.epochMs = epochMs;
  }

  /** Seconds since the start. */
  public get now(): number {
    return this.seconds;
  }

  public advance(seconds: number): void {
    if (!(seconds >= 0)) throw new Error(`cannot advance the clock by ${seconds}`);
    this.seconds += seconds;
    this.listeners.forEach((listener) => listener());
  }

  /** Sets the clock to `seconds` exactly (not earlier than now): what the virtual-time scheduler uses. */
  public advanceTo(seconds: number): void {
    if (!(seconds >= this.seconds)) throw new Error(`cannot move the clock from ${this.seconds} back to ${seconds}`);
    this.seconds = seconds;
    this.listeners.forEach((listener) => listener());
  }

  /** Calls `listener` after every advance. */
  public onAdvance(listener: () => void): void {
    this.listeners.push(listener);
  }
}

// -----------------------------------------------------------------------------------------------
// Clock waits: a Wait state that runs concurrently with other branches (the Deadline of the poll
// Parallel) and ends when the SIMULATED clock passes its time, whatever the machine's speed. The
// interpreter sleeps a Wait with the global setTimeout for its override in milliseconds; each
// clock wait gets a unique sentinel override that the hook below keeps instead of starting a
// real timer, and the run fires it once the clock has advanced far enough.
// -----------------------------------------------------------------------------------------------

/** Sentinel overrides start here (about 23 days: never a real wait in a test). */
const CLOCK_WAIT_BASE_MS = 2_000_000_000;
let nextClockWaitMs = CLOCK_WAIT_BASE_MS;

interface ClockWaitTimer {
  /** The interpreter's timer callback, once it started sleeping. */
  fire?: () => void;
  /** Simulated second the wait ends at, once its StateEntered event was seen. */
  endsAt?: number;
  /** Fires when both are known and the clock has reached endsAt. */
  check: () => void;
}
const clockWaitTimers = new Map<number, ClockWaitTimer>();
const CLOCK_WAIT_HANDLE = Symbol('clock wait');

const VIRTUAL_HANDLE = Symbol('virtual time sleep');

interface HookedGlobal {
  setTimeout: Function;
  clearTimeout: Function;
  __vmExportClockWaits?: boolean;
  /** The setTimeout from before the hook (the scheduler's own real timers use it). */
  __vmExportRealSetTimeout?: Function;
}

function installClockWaitHook(): void {
  const g = globalThis as unknown as HookedGlobal;
  if (g.__vmExportClockWaits) return;
  g.__vmExportClockWaits = true;
  const realSetTimeout = g.setTimeout;
  const realClearTimeout = g.clearTimeout;
  g.__vmExportRealSetTimeout = realSetTimeout;
  g.setTimeout = function (callback: () => void, ms?: number, ...args: unknown[]) {
    const sleep = takeVirtualSleep();
    if (sleep) {
      const delaySeconds = typeof ms === 'number' && ms > 0 ? ms / 1000 : 0;
      const id = sleep.scheduler.schedule(sleep.scheduler.clock.now + delaySeconds, () => callback(), sleep.label);
      return { [VIRTUAL_HANDLE]: { scheduler: sleep.scheduler, id } };
    }
    const timer = typeof ms === 'number' ? clockWaitTimers.get(ms) : undefined;
    if (!timer) return realSetTimeout(callback, ms, ...args);
    timer.fire = () => callback();
    timer.check();
    return { [CLOCK_WAIT_HANDLE]: ms };
  };
  g.clearTimeout = function (handle: unknown) {
    if (handle !== null && typeof handle === 'object') {
      const virtual = (handle as Record<symbol, { scheduler: VirtualScheduler; id: number } | undefined>)[VIRTUAL_HANDLE];
      if (virtual) {
        virtual.scheduler.cancel(virtual.id);
        return;
      }
    }
    const ms = handle !== null && typeof handle === 'object' ? (handle as Record<symbol, number>)[CLOCK_WAIT_HANDLE] : undefined;
    if (ms !== undefined) {
      clockWaitTimers.delete(ms);
      return;
    }
    realClearTimeout(handle);
  };
}

// -----------------------------------------------------------------------------------------------
// Virtual time (discrete-event simulation) for many concurrent executions on one clock.
//
// The interpreter reads `waitTimeOverrides[stateName]` right before a Wait state sleeps, and
// `retryIntervalOverrides[stateName]` right before a retry sleeps (StateExecutor.shouldRetry, which
// runs after StateFailed and before StateRetried is dispatched), and then calls the global
// setTimeout, all in the same synchronous stack. In virtual mode both override maps are Proxies
// that answer `undefined` (so the interpreter computes the real delay: Seconds, SecondsPath,
// Timestamp, TimestampPath; IntervalSeconds x BackoffRate^(attempt-1) capped by MaxDelaySeconds,
// FULL jitter) and open a "virtual sleep window": the next setTimeout call is the sleep, and the
// hook hands it to the clock's scheduler instead of starting a real timer. The window closes at
// the first setTimeout or at the next microtask (a zero wait or an exhausted retrier never sleeps).
// While the window is open Date.now answers the simulated time (Timestamp waits) and Math.random
// the scheduler's seeded generator (FULL jitter), so runs are reproducible.
//
// Each Wait entry and each retry gets its own timer (loops and concurrent Map iterations of one
// state are fine), and a new StateExecutor per state entry keeps the interpreter's own attempt
// count, as in AWS. The scheduler advances the clock only when no execution can run any more.
// -----------------------------------------------------------------------------------------------

interface VirtualSleepWindow {
  readonly scheduler: VirtualScheduler;
  readonly label: string;
}

let openWindow: VirtualSleepWindow | undefined;
let restoreWindowGlobals: (() => void) | undefined;

function openVirtualSleepWindow(window: VirtualSleepWindow, patch: { nowMs?: number; random?: () => number }): void {
  closeVirtualSleepWindow();
  openWindow = window;
  const savedNow = Date.now;
  const savedRandom = Math.random;
  if (patch.nowMs !== undefined) {
    const nowMs = patch.nowMs;
    Date.now = () => nowMs;
  }
  if (patch.random) Math.random = patch.random;
  restoreWindowGlobals = () => {
    Date.now = savedNow;
    Math.random = savedRandom;
  };
  queueMicrotask(() => {
    if (openWindow === window) closeVirtualSleepWindow();
  });
}

function closeVirtualSleepWindow(): void {
  openWindow = undefined;
  const restore = restoreWindowGlobals;
  restoreWindowGlobals = undefined;
  restore?.();
}

function takeVirtualSleep(): VirtualSleepWindow | undefined {
  const window = openWindow;
  if (window) closeVirtualSleepWindow();
  return window;
}

/**
 * A deterministic pseudo-random generator in [0, 1) for reproducible jitter: a multiplicative
 * congruential generator modulo 2^31 - 1 (multiplier 48271; exact in double arithmetic).
 */
export function seededRandom(seed: number): () => number {
  const modulus = 2147483647;
  let state = Math.abs(Math.floor(seed)) % modulus;
  if (state === 0) state = 1;
  return () => {
    state = (state * 48271) % modulus;
    return (state - 1) / (modulus - 1);
  };
}

/** The default seed of the virtual-time jitter generator. */
export const DEFAULT_VIRTUAL_TIME_SEED = 20250101;

/** setImmediate rounds per idle check round (see VirtualScheduler). */
const IDLE_IMMEDIATE_ROUNDS = 4;
/** Consecutive quiet check rounds (each: setImmediate rounds plus one real timer) before the clock moves. */
const IDLE_CHECK_ROUNDS = 3;

interface VirtualTimer {
  readonly id: number;
  readonly endsAt: number;
  readonly fire: () => void;
  readonly label: string;
}

/**
 * The discrete-event scheduler of one simulated clock: every Wait and retry sleep of every
 * execution that runs in virtual time is a timer here; the clock only moves, to the earliest
 * pending end, when nothing ran for several event-loop turns (setImmediate rounds plus a real
 * timer round, repeated) and no Task handler is in flight. Idleness is judged by activity
 * (events consumed, handler calls, timers set or fired), never by elapsed real time, so a slow
 * machine only makes a run slower, not different.
 */
export class VirtualScheduler {
  /** Activity counter: anything that may lead to more work bumps it. */
  private activity = 0;
  /** Task handlers in flight (they block the clock unless they wait on something that waits). */
  private busyCount = 0;
  private readonly timers = new Map<number, VirtualTimer>();
  private nextId = 1;
  private looping = false;
  /** The seeded generator of FULL jitter. */
  public readonly random: () => number;
  /** Every timer that fired: label, end second (for tests and debugging). */
  public readonly fired: Array<{ readonly label: string; readonly at: number }> = [];

  constructor(public readonly clock: SimulatedClock, seed: number = DEFAULT_VIRTUAL_TIME_SEED) {
    this.random = seededRandom(seed);
    installClockWaitHook();
  }

  /** Records activity (keeps the clock from moving for a few more event-loop turns). */
  public bump(): void {
    this.activity++;
  }

  /** A Task handler started running. */
  public enterBusy(): void {
    this.busyCount++;
    this.activity++;
  }

  /** A Task handler finished (or started waiting on something that itself waits on the clock). */
  public leaveBusy(): void {
    this.busyCount--;
    this.activity++;
  }

  /** Awaits `promise` without blocking the clock (a handler waiting on a child execution). */
  public async waitFor<T>(promise: Promise<T>): Promise<T> {
    this.leaveBusy();
    try {
      return await promise;
    } finally {
      this.enterBusy();
    }
  }

  /** Timers not yet fired. */
  public get pending(): number {
    return this.timers.size;
  }

  public schedule(endsAt: number, fire: () => void, label: string): number {
    const id = this.nextId++;
    this.timers.set(id, { id, endsAt, fire, label });
    this.activity++;
    this.ensureLoop();
    return id;
  }

  public cancel(id: number): void {
    if (this.timers.delete(id)) this.activity++;
  }

  private ensureLoop(): void {
    if (this.looping) return;
    this.looping = true;
    void this.loop().finally(() => {
      this.looping = false;
      if (this.timers.size > 0) this.ensureLoop();
    });
  }

  private async loop(): Promise<void> {
    while (this.timers.size > 0) {
      if (!(await this.idle())) continue;
      if (this.timers.size === 0) break;
      const ordered = [...this.timers.values()].sort((a, b) => a.endsAt - b.endsAt || a.id - b.id);
      const next = ordered[0].endsAt;
      if (next > this.clock.now) this.clock.advanceTo(next);
      for (const timer of ordered) {
        if (timer.endsAt > this.clock.now) break;
        this.timers.delete(timer.id);
        this.fired.push({ label: timer.label, at: this.clock.now });
        timer.fire();
      }
      this.activity++;
    }
  }

  private async idle(): Promise<boolean> {
    const realSetTimeout = ((globalThis as unknown as HookedGlobal).__vmExportRealSetTimeout ?? setTimeout) as typeof setTimeout;
    for (let round = 0; round < IDLE_CHECK_ROUNDS; round++) {
      const before = this.activity;
      for (let i = 0; i < IDLE_IMMEDIATE_ROUNDS; i++) await new Promise<void>((resolve) => setImmediate(resolve));
      await new Promise<void>((resolve) => realSetTimeout(resolve, 1));
      if (this.busyCount > 0 || this.activity !== before) return false;
    }
    return true;
  }
}

const SCHEDULERS = new WeakMap<SimulatedClock, VirtualScheduler>();

/** The clock's virtual-time scheduler if one was created (no side effect). */
export function existingVirtualScheduler(clock: SimulatedClock): VirtualScheduler | undefined {
  return SCHEDULERS.get(clock);
}

/** The virtual-time scheduler of a clock (one per clock; `seed` only counts when it is created). */
export function virtualScheduler(clock: SimulatedClock, seed?: number): VirtualScheduler {
  let scheduler = SCHEDULERS.get(clock);
  if (!scheduler) {
    scheduler = new VirtualScheduler(clock, seed);
    SCHEDULERS.set(clock, scheduler);
  }
  return scheduler;
}

/** Runs `fn` with `new Date()` and `Date.now()` answering `ms` (the interpreter stamps `$$.Execution.StartTime` with it). */
function withFrozenNow<T>(ms: number, fn: () => T): T {
  const RealDate = Date;
  const Frozen = function (this: unknown, ...args: unknown[]) {
    if (!new.target) return new RealDate(ms).toString();
    return Reflect.construct(RealDate, args.length > 0 ? args : [ms], new.target);
  } as unknown as DateConstructor;
  Object.setPrototypeOf(Frozen, RealDate);
  (Frozen as { prototype: Date }).prototype = RealDate.prototype;
  Frozen.now = () => ms;
  globalThis.Date = Frozen;
  try {
    return fn();
  } finally {
    globalThis.Date = RealDate;
  }
}

/** What a local handler gets besides the Task's input. */
export interface LocalHandlerContext {
  readonly clock: SimulatedClock;
  readonly stateName: string;
  /** 0 for the first call of this state in the execution, 1 for the next (retries included). */
  readonly callIndex: number;
  /**
   * Awaits something that itself waits on the simulated clock (a child execution) without
   * keeping the clock from moving (virtual time; otherwise a plain await). Absent in handler
   * contexts that tests build by hand.
   */
  readonly waitFor?: <T>(promise: Promise<T>) => Promise<T>;
}

/**
 * A local Task handler. A Lambda `invoke` integration handler receives `{ FunctionName, Payload }`
 * and must return `{ Payload }`. Throw errors whose `name` is what the real service reports (a
 * Lambda function error: the error's name; an AWS SDK integration: `<Service>.<Exception>`); the
 * message becomes the Cause.
 */
export type LocalHandler = (input: Json, context: LocalHandlerContext) => Json | Promise<Json>;

export interface LocalRunOptions {
  /**
   * Local handlers for Task states, keyed by state name, or by a Task's Resource (an
   * `arn:<partition>:states:::...` key, RESOURCE_KEY) for every state with that Resource.
   */
  readonly handlers?: Record<string, LocalHandler>;
  /** Waits that take real time (milliseconds) instead of simulated time, by state name. */
  readonly realTimeWaits?: Record<string, number>;
  /**
   * Wait states that run concurrently with other branches and end when the simulated clock
   * (advanced by the other branches' waits and retries) reaches their time: a deadline that does
   * not depend on the machine's speed.
   */
  readonly clockWaits?: string[];
  /** Real retry intervals (milliseconds) by state name; other retries are simulated. */
  readonly realRetryIntervals?: Record<string, number | number[]>;
  /** The clock to advance. @default a new clock at 0 */
  readonly clock?: SimulatedClock;
  /**
   * Real milliseconds every handler call waits before it runs (0: only yield to the event loop).
   * Give a few ms when a real-time Wait must be able to win a race against a busy loop.
   * @default 0
   */
  readonly handlerDelayMs?: number;
  /**
   * Context object values (`$$`). When `context.Execution.StartTime` is given (ISO string), the
   * run is started with that time, so `$$.Execution.StartTime` is on the simulated clock (the
   * interpreter otherwise stamps the real time; Map iterations and Parallel branches still see
   * the real time: the interpreter restamps their StartTime).
   */
  readonly context?: Json;
  /**
   * Run in virtual time on this scheduler (see VirtualScheduler; one per clock,
   * `virtualScheduler(clock)`): every Wait and every retry interval ends when the shared clock
   * reaches its end, and the clock moves only when no execution on it can run. `clockWaits` are
   * then redundant (every Wait is one); `realTimeWaits` and `realRetryIntervals` still take real
   * time. The scheduler's clock is the run's clock.
   */
  readonly virtualTime?: VirtualScheduler;
  /** Aborts the run (the interpreter's `abort()`: no further state runs; the result is ABORTED). */
  readonly abortSignal?: AbortSignal;
  /**
   * Validate the definition before running (about 0.3 s per run). Callers that run one
   * definition many times validate it once themselves and pass false.
   * @default true
   */
  readonly validate?: boolean;
}

export interface TaskCall {
  readonly state: string;
  readonly input: Json;
  /** Simulated second of the call. */
  readonly at: number;
  readonly lambda: boolean;
  output?: Json;
  error?: { name: string; message: string };
}

export interface TimelineEntry {
  /** Simulated second. */
  readonly at: number;
  readonly type: 'StateEntered' | 'StateRetried';
  readonly state: string;
  readonly stateType: string;
}

export interface LocalRunResult {
  readonly status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  readonly output?: Json;
  /** The execution's error name (FAILED). */
  readonly error?: string;
  /** The execution's cause (FAILED). */
  readonly cause?: string;
  readonly events: AslEvent[];
  /** StateEntered and StateRetried, in order, on the simulated clock. */
  readonly timeline: TimelineEntry[];
  /** Every handler call, in order. */
  readonly calls: TaskCall[];
  /** Billable state transitions: states entered plus retries. */
  readonly transitions: number;
  readonly lambdaInvocations: number;
  /** Simulated seconds at the end. */
  readonly simulatedSeconds: number;
  /** Transitions entered in simulated hour h (index h). */
  readonly transitionsPerHour: number[];
  /** Lambda invocations in simulated hour h. */
  readonly lambdaInvocationsPerHour: number[];
  /** The handler calls of one state. */
  callsOf(state: string): TaskCall[];
  /** How many times a state was entered. */
  entered(state: string): number;
}

function loadAsl(): typeof Asl {
  // aws-local-stepfunctions is an ES module that ships a CommonJS build for require().
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('aws-local-stepfunctions');
}

function clone<T>(value: T): T {
  return value === undefined ? value : JSON.parse(JSON.stringify(value));
}

function waitSeconds(state: Json, input: Json, clock: SimulatedClock): number {
  const effective = state.InputPath ? readPath(input, state.InputPath) : input;
  if (typeof state.Seconds === 'number') return state.Seconds;
  if (state.SecondsPath) return Number(readPath(effective, state.SecondsPath));
  const timestamp = state.Timestamp ?? (state.TimestampPath ? readPath(effective, state.TimestampPath) : undefined);
  if (timestamp !== undefined) {
    const nowMs = clock.epochMs + clock.now * 1000;
    return Math.max(0, (new Date(timestamp).getTime() - nowMs) / 1000);
  }
  return 0;
}

/** The retry delay Step Functions would wait at most (FULL jitter only shortens it). */
export function retryDelaySeconds(retrier: Json, attempt: number): number {
  const interval = retrier.IntervalSeconds ?? 1;
  const backoff = retrier.BackoffRate ?? 2;
  const delay = interval * Math.pow(backoff, Math.max(0, attempt - 1));
  return retrier.MaxDelaySeconds ? Math.min(delay, retrier.MaxDelaySeconds) : delay;
}

/**
 * The override map of a virtual-time run: a Proxy that answers `undefined` for a Wait state
 * (kind 'wait') or a state with a Retry (kind 'retry'), so that the interpreter computes the
 * real delay, and opens the virtual sleep window for the setTimeout that follows. States in
 * `real` keep their real-time override.
 */
function virtualOverrides(
  scheduler: VirtualScheduler,
  states: Map<string, Json>,
  real: Record<string, number | number[]>,
  kind: 'wait' | 'retry',
): Record<string, any> {
  return new Proxy({}, {
    get(_target, property) {
      if (typeof property !== 'string') return undefined;
      if (property in real) return real[property];
      const state = states.get(property);
      if (!state) return undefined;
      if (kind === 'wait' && state.Type === 'Wait') {
        const timestampWait = state.Timestamp !== undefined || state.TimestampPath !== undefined;
        const clock = scheduler.clock;
        openVirtualSleepWindow({ scheduler, label: `wait:${property}` }, {
          nowMs: timestampWait ? clock.epochMs + clock.now * 1000 : undefined,
        });
      } else if (kind === 'retry' && state.Retry) {
        openVirtualSleepWindow({ scheduler, label: `retry:${property}` }, { random: scheduler.random });
      }
      return undefined;
    },
    has(_target, property) {
      return typeof property === 'string' && property in real;
    },
  });
}

function perHour(times: number[], hours: number): number[] {
  const buckets = new Array(Math.max(1, hours)).fill(0);
  for (const t of times) {
    const h = Math.floor(t / 3600);
    while (buckets.length <= h) buckets.push(0);
    buckets[h]++;
  }
  return buckets;
}

/** Runs `definition` locally on a simulated clock. */
export async function runLocal(definition: AslDefinition, input: Json, options: LocalRunOptions = {}): Promise<LocalRunResult> {
  const asl = loadAsl();
  const states = collectStates(definition);
  const scheduler = options.virtualTime;
  if (scheduler && options.clock && options.clock !== scheduler.clock) {
    throw new Error('virtualTime: the scheduler belongs to another clock');
  }
  const clock = scheduler?.clock ?? options.clock ?? new SimulatedClock();
  const realWaits = options.realTimeWaits ?? {};
  const realRetries = options.realRetryIntervals ?? {};

  let waitTimeOverrides: Record<string, number> = {};
  let retryIntervalOverrides: Record<string, number | number[]> = {};
  for (const [name, state] of states) {
    if (state.Type === 'Wait') waitTimeOverrides[name] = realWaits[name] ?? 0;
    if (state.Retry) retryIntervalOverrides[name] = realRetries[name] ?? 0;
  }
  for (const name of Object.keys(realWaits)) {
    if (states.get(name)?.Type !== 'Wait') throw new Error(`realTimeWaits: no Wait state named ${name}`);
  }
  if (scheduler) {
    waitTimeOverrides = virtualOverrides(scheduler, states, realWaits, 'wait');
    retryIntervalOverrides = virtualOverrides(scheduler, states, realRetries, 'retry');
  }
  const clockWaits = new Map<string, { ms: number; timer: ClockWaitTimer }>();
  for (const name of scheduler ? [] : options.clockWaits ?? []) {
    if (states.get(name)?.Type !== 'Wait') throw new Error(`clockWaits: no Wait state named ${name}`);
    if (name in realWaits) throw new Error(`${name} is both a real-time wait and a clock wait`);
    installClockWaitHook();
    const ms = nextClockWaitMs++;
    const timer: ClockWaitTimer = {
      check: () => {
        if (timer.fire && timer.endsAt !== undefined && clock.now >= timer.endsAt) {
          const fire = timer.fire;
          clockWaitTimers.delete(ms);
          timer.fire = undefined;
          fire();
        }
      },
    };
    clockWaitTimers.set(ms, timer);
    clock.onAdvance(() => timer.check());
    clockWaits.set(name, { ms, timer });
    waitTimeOverrides[name] = ms;
  }

  const calls: TaskCall[] = [];
  // The interpreter keeps retrying a Task of an aborted Parallel branch; once the execution is
  // over, handlers fail with an error no retrier matches so that such loops stop.
  let ended = false;
  const callCounts = new Map<string, number>();
  const handlers: Record<string, (input: Json) => Promise<Json>> = {};
  for (const [name, state] of states) {
    if (state.Type !== 'Task') continue;
    const handler = options.handlers?.[name] ?? resourceHandler(options.handlers, state);
    const lambda = isLambdaTask(state);
    const run = async (taskInput: Json) => {
      // Let the event log (and so the clock) catch up; also lets real-time timers fire.
      await new Promise<void>((resolve) => {
        if (options.handlerDelayMs) setTimeout(resolve, options.handlerDelayMs);
        else setImmediate(resolve);
      });
      if (ended) {
        const error = new Error('the local execution has ended');
        error.name = 'LocalSfn.ExecutionEnded';
        throw error;
      }
      const callIndex = callCounts.get(name) ?? 0;
      callCounts.set(name, callIndex + 1);
      const call: TaskCall = { state: name, input: clone(taskInput), at: clock.now, lambda };
      calls.push(call);
      if (!handler) {
        const error = new Error(`no local handler for Task state ${name}`);
        error.name = 'LocalSfn.NoHandler';
        call.error = { name: error.name, message: error.message };
        throw error;
      }
      try {
        const waitFor = scheduler
          ? <T>(promise: Promise<T>) => scheduler.waitFor(promise)
          : <T>(promise: Promise<T>) => promise;
        const output = await handler(taskInput, { clock, stateName: name, callIndex, waitFor });
        call.output = clone(output);
        return output;
      } catch (e) {
        const err = e as Error;
        call.error = { name: err.name, message: err.message };
        throw e;
      }
    };
    handlers[name] = scheduler
      ? async (taskInput: Json) => {
        scheduler.enterBusy();
        try {
          return await run(taskInput);
        } finally {
          scheduler.leaveBusy();
        }
      }
      : run;
  }
  for (const name of Object.keys(options.handlers ?? {})) {
    // A key that is a Task resource (RESOURCE_KEY) may match no state: the definition may lack that integration.
    if (RESOURCE_KEY.test(name)) continue;
    if (states.get(name)?.Type !== 'Task') throw new Error(`handlers: no Task state named ${name}`);
  }

  const machine = new asl.StateMachine(definition, options.validate === false ? { validationOptions: { noValidate: true } } : undefined);
  const start = () => machine.run(input, {
    overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides, retryIntervalOverrides },
    context: options.context,
  });
  const startTime = options.context?.Execution?.StartTime;
  const startMs = typeof startTime === 'string' ? Date.parse(startTime) : NaN;
  const execution = Number.isFinite(startMs) ? withFrozenNow(startMs, start) : start();
  if (options.abortSignal) {
    if (options.abortSignal.aborted) execution.abort();
    else options.abortSignal.addEventListener('abort', () => execution.abort(), { once: true });
  }

  const events: AslEvent[] = [];
  const timeline: TimelineEntry[] = [];
  const consumer = (async () => {
    for await (const event of execution.eventLogs) {
      events.push(event);
      scheduler?.bump();
      if (event.type === 'StateEntered') {
        timeline.push({ at: clock.now, type: event.type, state: event.state.name, stateType: event.state.type });
        const state = states.get(event.state.name);
        const clockWait = clockWaits.get(event.state.name);
        if (scheduler) {
          // Virtual time: the Wait's sleep is a scheduler timer (see virtualOverrides).
        } else if (clockWait) {
          clockWait.timer.endsAt = clock.now + waitSeconds(state, event.state.input, clock);
          clockWait.timer.check();
        } else if (state?.Type === 'Wait' && !(event.state.name in realWaits)) {
          clock.advance(waitSeconds(state, event.state.input, clock));
        }
      } else if (event.type === 'StateRetried') {
        timeline.push({ at: clock.now, type: event.type, state: event.state.name, stateType: event.state.type });
        if (!scheduler && !(event.state.name in realRetries)) {
          clock.advance(retryDelaySeconds(event.retry.retrier, event.retry.attempt));
        }
      }
    }
  })();

  let status: LocalRunResult['status'];
  let output: Json;
  let error: string | undefined;
  let cause: string | undefined;
  try {
    output = await execution.result;
    status = 'SUCCEEDED';
  } catch (e) {
    const err = e as Error & { cause?: Error };
    if (err instanceof asl.ExecutionTimeoutError) {
      status = 'TIMED_OUT';
    } else if (err instanceof asl.ExecutionAbortedError) {
      status = 'ABORTED';
    } else if (err instanceof asl.ExecutionError) {
      status = 'FAILED';
      error = err.cause?.name;
      cause = err.cause?.message;
    } else {
      throw e;
    }
  }
  ended = true;
  scheduler?.bump();
  await consumer;
  for (const { ms } of clockWaits.values()) clockWaitTimers.delete(ms);

  const transitions = timeline.length;
  const hours = Math.ceil(clock.now / 3600);
  const lambdaCalls = calls.filter((c) => c.lambda);
  return {
    status,
    output,
    error,
    cause,
    events,
    timeline,
    calls,
    transitions,
    lambdaInvocations: lambdaCalls.length,
    simulatedSeconds: clock.now,
    transitionsPerHour: perHour(timeline.map((t) => t.at), hours),
    lambdaInvocationsPerHour: perHour(lambdaCalls.map((c) => c.at), hours),
    callsOf: (state: string) => calls.filter((c) => c.state === state),
    entered: (state: string) => timeline.filter((t) => t.type === 'StateEntered' && t.state === state).length,
  };
}
