/**
 * TEST CODE ONLY: a local stand-in for Step Functions: StartExecution really runs the registered
 * (synthesized) state machine with aws-local-stepfunctions through `runLocal` (test/support/
 * local-sfn.ts), on the world's simulated clock; DescribeExecution and StopExecution work on
 * those runs.
 *
 * Model of StopExecution: the execution is reported ABORTED at once, and every Task state that
 * starts afterwards fails (`FakeSfn.ExecutionStopped`), so no Lambda step runs after the stop and
 * the local run winds down (a Task that is already running finishes, as in Step Functions).
 *
 * Options (FakeSfnOptions): `virtualTime` runs every execution on the world clock's shared
 * discrete-event scheduler (local-sfn.ts VirtualScheduler): waits and retries of concurrent
 * executions overlap instead of adding up. Every run gets a context object (`$$.Execution.Id`,
 * `Name`, `StartTime` on the simulated clock, `$$.StateMachine.Id`). Nested executions
 * (`states:startExecution.sync` / `.sync:2`, see index.ts) record their parent; when the parent
 * leaves RUNNING (StopExecution, its own failure or timeout) its running children are stopped
 * (`stopChildrenWithParent`, see there).
 */
import { awsError } from './errors';
import { FakeWorld } from './world';
import { AslDefinition, collectStates, LocalHandler, LocalRunResult, RESOURCE_KEY, runLocal, virtualScheduler } from '../local-sfn';

/** Definitions (objects) already validated by aws-local-stepfunctions. */
const VALIDATED = new WeakSet<AslDefinition>();

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface FakeExecution {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  readonly startedAt: number;
  status: ExecutionStatus;
  stopped: boolean;
  error?: string;
  cause?: string;
  output?: unknown;
  /** The local run's result once it ended. */
  result?: LocalRunResult;
  /** Settles when the local run ended. */
  readonly done: Promise<void>;
  /** Settles when the execution left RUNNING (its status is final; the local run may still wind down). */
  readonly ended?: Promise<void>;
  /** Simulated second it left RUNNING. */
  stoppedAt?: number;
  /** The execution whose `states:startExecution.sync` Task started this one. */
  parentArn?: string;
  /** Executions this one started through `states:startExecution.sync` Tasks. */
  children?: string[];
}

/**
 * The Cause Step Functions gives a nested execution it stops because the Task state that was
 * waiting on it (`.sync`) ended with its parent. Not in the user guide; this wording is what
 * public reports quote for jobs Step Functions stops (a Stack Overflow answer on AWS Batch, and
 * the measured tests of an emulator, hectorvent/floci AslExecutorNestedSyncTimeoutTest, which
 * also show that StopExecution is called with no error).
 */
export function childAbortCause(parentArn: string): string {
  return `The Task state in AWS Step Functions execution [${parentArn}] which was managing this resource was aborted`;
}

export interface FakeSfnOptions {
  /** Run every execution in virtual time on the world clock's shared scheduler. @default false */
  readonly virtualTime?: boolean;
  /** Seed of the virtual-time FULL-jitter generator. @default DEFAULT_VIRTUAL_TIME_SEED */
  readonly virtualTimeSeed?: number;
  /**
   * Stop (ABORTED, with its status change event) a running child that a `.sync` Task started when
   * its parent leaves RUNNING. The user guide does not say it in words; its IAM policy for the
   * synchronous nested pattern grants `states:StopExecution` on the child executions
   * (https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html), and public
   * reports (see childAbortCause) show the child stopped. @default true
   */
  readonly stopChildrenWithParent?: boolean;
}

/** Builds the Task handlers of one execution (see createFakeAws). */
export type HandlerFactory = (execution: FakeExecution) => Record<string, LocalHandler>;

/** Receives the execution status change events Step Functions sends to the default bus. */
export type StatusChangeListener = (event: Record<string, unknown>) => void;

export class FakeSfn {
  public readonly stateMachines = new Map<string, AslDefinition>();
  public readonly executions = new Map<string, FakeExecution>();
  /** Where execution status changes go (the fake event bus). */
  public statusChangeListener?: StatusChangeListener;

  private readonly options: FakeSfnOptions;
  private readonly endedResolvers = new Map<string, () => void>();
  private readonly aborters = new Map<string, AbortController>();

  constructor(private readonly world: FakeWorld, private readonly handlers: HandlerFactory, options: FakeSfnOptions = {}) {
    this.options = options;
  }

  /** Whether executions run in virtual time. */
  public get virtualTime(): boolean {
    return this.options.virtualTime === true;
  }

  /** Registers a definition; it is validated once here, and every run skips the validation. */
  public registerStateMachine(arn: string, definition: AslDefinition): void {
    if (!VALIDATED.has(definition)) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const asl = require('aws-local-stepfunctions');
      new asl.StateMachine(definition);
      VALIDATED.add(definition);
    }
    this.stateMachines.set(arn, definition);
  }

  /** Executions still running. */
  public running(): FakeExecution[] {
    return [...this.executions.values()].filter((e) => e.status === 'RUNNING');
  }

  /** Waits until every local run (also those started meanwhile) has ended. */
  public async settle(): Promise<void> {
    for (;;) {
      const pending = [...this.executions.values()].filter((e) => !e.result);
      if (pending.length === 0) return;
      await Promise.all(pending.map((e) => e.done));
    }
  }

  public execution(arn: string): FakeExecution {
    const e = this.executions.get(arn);
    if (!e) throw new Error(`fake-aws: no execution ${arn}`);
    return e;
  }

  public handle(operation: string, input: any): any {
    switch (operation) {
      case 'StartExecution':
        return this.start(input);
      case 'DescribeExecution': {
        const e = this.executions.get(input.executionArn);
        if (!e) throw awsError('sfn', 'ExecutionDoesNotExist', `Execution Does Not Exist: '${input.executionArn}'`);
        return {
          executionArn: e.executionArn,
          stateMachineArn: e.stateMachineArn,
          name: e.name,
          status: e.status,
          startDate: new Date(this.world.clock.epochMs + e.startedAt * 1000),
          input: e.input,
          ...(e.output !== undefined ? { output: JSON.stringify(e.output) } : {}),
          ...(e.error ? { error: e.error } : {}),
          ...(e.cause ? { cause: e.cause } : {}),
        };
      }
      case 'StopExecution': {
        const e = this.executions.get(input.executionArn);
        if (!e) throw awsError('sfn', 'ExecutionDoesNotExist', `Execution Does Not Exist: '${input.executionArn}'`);
        if (e.status === 'RUNNING') {
          e.status = 'ABORTED';
          e.stopped = true;
          e.error = input.error;
          e.cause = input.cause;
          this.finish(e);
        }
        return { stopDate: this.world.now() };
      }
      case 'ListExecutions':
        return this.list(input);
      default:
        throw awsError('sfn', 'UnknownOperationException', `fake-aws: Step Functions ${operation} is not implemented`);
    }
  }

  /**
   * Ends a running execution the way Step Functions ends one on an error no Catch handles (for
   * example `States.Runtime`) or on its own timeout (`TIMED_OUT`): no further state runs, and
   * the status change event is sent.
   */
  public endExecution(executionArn: string, status: 'FAILED' | 'TIMED_OUT', error?: string, cause?: string): void {
    const e = this.execution(executionArn);
    if (e.status !== 'RUNNING') throw new Error(`fake-aws: ${executionArn} is ${e.status}, not RUNNING`);
    e.status = status;
    e.stopped = true;
    e.error = error;
    e.cause = cause;
    this.finish(e);
  }

  /**
   * The child's DescribeExecution response as the `states:startExecution.sync` integrations
   * return it: PascalCase keys, dates in epoch milliseconds; `.sync:2` gives Input and Output as
   * JSON values, `.sync` as JSON strings (see index.ts, START_EXECUTION_SYNC2_RESOURCE).
   */
  public syncResult(executionArn: string, jsonPayloads: boolean): Record<string, unknown> {
    const e = this.execution(executionArn);
    const payload = (text: string | undefined) => (text === undefined ? undefined : jsonPayloads ? JSON.parse(text) : text);
    const output = e.output === undefined ? undefined : JSON.stringify(e.output);
    const out: Record<string, unknown> = {
      ExecutionArn: e.executionArn,
      Input: payload(e.input),
      InputDetails: { Included: true },
      Name: e.name,
    };
    if (output !== undefined) {
      out.Output = payload(output);
      out.OutputDetails = { Included: true };
    }
    out.StartDate = this.world.clock.epochMs + e.startedAt * 1000;
    out.StateMachineArn = e.stateMachineArn;
    out.Status = e.status;
    if (e.stoppedAt !== undefined) out.StopDate = this.world.clock.epochMs + e.stoppedAt * 1000;
    if (e.error !== undefined) out.Error = e.error;
    if (e.cause !== undefined) out.Cause = e.cause;
    return out;
  }

  /** Starts a child execution for a `.sync` Task of `parentArn` (see StartExecution). */
  public startChild(parentArn: string | undefined, input: any): FakeExecution {
    const { executionArn } = this.start(input);
    const child = this.execution(executionArn);
    if (parentArn && this.executions.has(parentArn) && child.parentArn === undefined && child.executionArn !== parentArn) {
      child.parentArn = parentArn;
      const parent = this.execution(parentArn);
      parent.children = [...(parent.children ?? []), executionArn];
      // A parent that already ended does not keep a child it started running.
      if (parent.status !== 'RUNNING') this.stopChildren(parent);
    }
    return child;
  }

  /** ListExecutions: newest first, as the API reference says; paged with an opaque token. */
  private list(input: any): any {
    const arn: string | undefined = input.stateMachineArn;
    if (!arn) throw awsError('sfn', 'ValidationException', 'Must provide a StateMachine ARN or MapRun ARN');
    if (!this.stateMachines.has(arn)) {
      throw awsError('sfn', 'StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    }
    const maxResults: number = input.maxResults ?? 0;
    if (!Number.isInteger(maxResults) || maxResults < 0 || maxResults > 1000) {
      throw awsError('sfn', 'ValidationException', `1 validation error detected: Value '${maxResults}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000`);
    }
    const pageSize = maxResults === 0 ? 100 : maxResults;
    const all = [...this.executions.values()]
      .map((e, order) => ({ e, order }))
      .filter(({ e }) => e.stateMachineArn === arn && (!input.statusFilter || e.status === input.statusFilter))
      .sort((a, b) => b.e.startedAt - a.e.startedAt || b.order - a.order)
      .map(({ e }) => e);
    let offset = 0;
    if (input.nextToken !== undefined) {
      const decoded = decodeToken(input.nextToken, arn);
      if (decoded === undefined) throw awsError('sfn', 'InvalidToken', `Invalid Token: '${input.nextToken}'`);
      offset = decoded;
    }
    const page = all.slice(offset, offset + pageSize);
    const next = offset + pageSize < all.length ? encodeToken(offset + pageSize, arn) : undefined;
    return {
      executions: page.map((e) => ({
        executionArn: e.executionArn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: new Date(this.world.clock.epochMs + e.startedAt * 1000),
        ...(e.stoppedAt !== undefined ? { stopDate: new Date(this.world.clock.epochMs + e.stoppedAt * 1000) } : {}),
      })),
      ...(next ? { nextToken: next } : {}),
    };
  }

  /** An execution left RUNNING: stop date, status change event, its `.sync` children. */
  private finish(e: FakeExecution): void {
    e.stoppedAt = this.world.clock.now;
    this.aborters.get(e.executionArn)?.abort();
    this.aborters.delete(e.executionArn);
    this.emitStatusChange(e);
    this.endedResolvers.get(e.executionArn)?.();
    this.stopChildren(e);
  }

  private stopChildren(parent: FakeExecution): void {
    if (this.options.stopChildrenWithParent === false) return;
    for (const childArn of parent.children ?? []) {
      const child = this.executions.get(childArn);
      if (child?.status === 'RUNNING') {
        this.handle('StopExecution', { executionArn: childArn, cause: childAbortCause(parent.executionArn) });
      }
    }
  }

  private start(input: any): any {
    const definition = this.stateMachines.get(input.stateMachineArn);
    if (!definition) {
      throw awsError('sfn', 'StateMachineDoesNotExist', `State Machine Does Not Exist: '${input.stateMachineArn}'`);
    }
    const name: string = input.name ?? `exec-${this.executions.size + 1}`;
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) {
      throw awsError('sfn', 'InvalidName', `Invalid Name: '${name}'`);
    }
    const arnParts = String(input.stateMachineArn).split(':');
    const executionArn = [...arnParts.slice(0, 5), 'execution', arnParts[6], name].join(':');
    const text: string = input.input ?? '{}';
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw awsError('sfn', 'InvalidExecutionInput', 'Invalid execution input: not JSON');
    }
    const existing = this.executions.get(executionArn);
    if (existing) {
      // Step Functions answers a repeated StartExecution with the same name and input of a
      // running execution with that execution; anything else is ExecutionAlreadyExists.
      if (existing.status === 'RUNNING' && existing.input === text) {
        return { executionArn, startDate: new Date(this.world.clock.epochMs + existing.startedAt * 1000) };
      }
      throw awsError('sfn', 'ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => { resolveDone = resolve; });
    let resolveEnded!: () => void;
    const ended = new Promise<void>((resolve) => { resolveEnded = resolve; });
    const execution: FakeExecution = {
      executionArn,
      stateMachineArn: input.stateMachineArn,
      name,
      input: text,
      startedAt: this.world.clock.now,
      status: 'RUNNING',
      stopped: false,
      done,
      ended,
    };
    this.executions.set(executionArn, execution);
    this.endedResolvers.set(executionArn, resolveEnded);
    const handlers = this.handlers(execution);
    const guarded: Record<string, LocalHandler> = {};
    // Handlers keyed by a state name the definition lacks are left out (a hand-written definition
    // need not have the workflow's states); resource-keyed ones match by Resource anyway.
    const allStates = collectStates(definition);
    const taskStates = new Set([...allStates].filter(([, st]) => st.Type === 'Task').map(([n]) => n));
    for (const [state, handler] of Object.entries(handlers)) {
      if (!RESOURCE_KEY.test(state) && !taskStates.has(state)) continue;
      guarded[state] = (taskInput, context) => {
        if (execution.stopped) {
          const error = new Error(`the execution was stopped before ${state} ran`);
          error.name = 'FakeSfn.ExecutionStopped';
          throw error;
        }
        return handler(taskInput, context);
      };
    }
    const smParts = String(input.stateMachineArn).split(':');
    const context = {
      Execution: {
        Id: executionArn,
        Name: name,
        StartTime: this.world.now().toISOString(),
        RoleArn: `arn:${smParts[1] ?? 'aws'}:iam::${this.world.accountId}:role/FakeSfnExecutionRole`,
      },
      StateMachine: { Id: input.stateMachineArn, Name: smParts[6] ?? '' },
    };
    const scheduler = this.options.virtualTime ? virtualScheduler(this.world.clock, this.options.virtualTimeSeed) : undefined;
    // In virtual time a stopped execution's local run is aborted at once, so that its pending
    // waits leave the shared clock alone (a Task handler already running still finishes).
    const abort = scheduler ? new AbortController() : undefined;
    if (abort) this.aborters.set(executionArn, abort);
    scheduler?.bump();
    void runLocal(definition, parsed, {
      handlers: guarded,
      clock: this.world.clock,
      // Every wait and retry interval is simulated, the Deadline too: it fires when the polls
      // have advanced the simulated clock to the execution's deadline, never by real time.
      // (In virtual time every Wait ends on the clock this way.)
      clockWaits: allStates.get('Deadline')?.Type === 'Wait' ? ['Deadline'] : [],
      validate: false,
      context,
      virtualTime: scheduler,
      abortSignal: abort?.signal,
    }).then((result) => {
      execution.result = result;
      if (execution.status === 'RUNNING') {
        execution.status = result.status;
        execution.output = result.output;
        execution.error = result.error;
        execution.cause = result.cause;
        this.finish(execution);
      }
    }, (err) => {
      const wasRunning = execution.status === 'RUNNING';
      execution.status = wasRunning ? 'FAILED' : execution.status;
      execution.error = execution.error ?? 'FakeSfn.LocalRunError';
      execution.cause = execution.cause ?? String(err);
      execution.result = { status: 'FAILED' } as LocalRunResult;
      if (wasRunning) this.finish(execution);
    }).finally(() => {
      scheduler?.bump();
      resolveDone();
    });
    return { executionArn, startDate: new Date(this.world.clock.epochMs + execution.startedAt * 1000) };
  }

  /**
   * Sends the `Step Functions Execution Status Change` event of an ended execution, shaped as
   * the Step Functions user guide documents it (dates in epoch milliseconds, input and output
   * as JSON strings, error and cause null unless set).
   */
  private emitStatusChange(e: FakeExecution): void {
    const stopMs = e.stoppedAt !== undefined ? this.world.clock.epochMs + e.stoppedAt * 1000 : this.world.now().getTime();
    this.statusChangeListener?.({
      'version': '0',
      'id': `fake-event-${e.name}-${e.status}`,
      'detail-type': 'Step Functions Execution Status Change',
      'source': 'aws.states',
      'account': this.world.accountId,
      'time': this.world.now().toISOString(),
      'region': this.world.region,
      'resources': [e.executionArn],
      'detail': {
        executionArn: e.executionArn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: this.world.clock.epochMs + e.startedAt * 1000,
        stopDate: stopMs,
        input: e.input,
        output: e.output === undefined ? null : JSON.stringify(e.output),
        inputDetails: { included: true },
        outputDetails: e.output === undefined ? null : { included: true },
        error: e.error ?? null,
        cause: e.cause ?? null,
      },
    });
  }
}

function encodeToken(offset: number, stateMachineArn: string): string {
  return Buffer.from(JSON.stringify({ o: offset, a: stateMachineArn })).toString('base64');
}

function decodeToken(token: unknown, stateMachineArn: string): number | undefined {
  if (typeof token !== 'string') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (parsed?.a !== stateMachineArn || !Number.isInteger(parsed?.o) || parsed.o < 0) return undefined;
    return parsed.o;
  } catch {
    return undefined;
  }
}
