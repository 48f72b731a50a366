/**
 * TEST CODE ONLY: a local stand-in for Step Functions: StartExecution really runs the registered
 * (synthesized) state machine with aws-local-stepfunctions through `runLocal` (test/support/
 * local-sfn.ts), on the world's simulated clock; DescribeExecution and StopExecution work on
 * those runs.
 *
 * Model of StopExecution: the execution is reported ABORTED at once, and every Task state that
 * starts afterwards fails (`FakeSfn.ExecutionStopped`), so no Lambda step runs after the stop and
 * the local run winds down (a Task that is already running finishes, as in Step Functions).
 */
import { awsError } from './errors';
import { FakeWorld } from './world';
import { AslDefinition, LocalHandler, LocalRunResult, runLocal } from '../local-sfn';

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

  constructor(private readonly world: FakeWorld, private readonly handlers: HandlerFactory) {
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
          this.emitStatusChange(e);
        }
        return { stopDate: this.world.now() };
      }
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
    this.emitStatusChange(e);
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
    const execution: FakeExecution = {
      executionArn,
      stateMachineArn: input.stateMachineArn,
      name,
      input: text,
      startedAt: this.world.clock.now,
      status: 'RUNNING',
      stopped: false,
      done,
    };
    this.executions.set(executionArn, execution);
    const handlers = this.handlers(execution);
    const guarded: Record<string, LocalHandler> = {};
    for (const [state, handler] of Object.entries(handlers)) {
      guarded[state] = (taskInput, context) => {
        if (execution.stopped) {
          const error = new Error(`the execution was stopped before ${state} ran`);
          error.name = 'FakeSfn.ExecutionStopped';
          throw error;
        }
        return handler(taskInput, context);
      };
    }
    void runLocal(definition, parsed, {
      handlers: guarded,
      clock: this.world.clock,
      // Every wait and retry interval is simulated, the Deadline too: it fires when the polls
      // have advanced the simulated clock to the execution's deadline, never by real time.
      clockWaits: ['Deadline'],
      validate: false,
    }).then((result) => {
      execution.result = result;
      if (execution.status === 'RUNNING') {
        execution.status = result.status;
        execution.output = result.output;
        execution.error = result.error;
        execution.cause = result.cause;
        this.emitStatusChange(execution);
      }
    }, (err) => {
      const wasRunning = execution.status === 'RUNNING';
      execution.status = wasRunning ? 'FAILED' : execution.status;
      execution.error = execution.error ?? 'FakeSfn.LocalRunError';
      execution.cause = execution.cause ?? String(err);
      execution.result = { status: 'FAILED' } as LocalRunResult;
      if (wasRunning) this.emitStatusChange(execution);
    }).finally(resolveDone);
    return { executionArn, startDate: new Date(this.world.clock.epochMs + execution.startedAt * 1000) };
  }

  /**
   * Sends the `Step Functions Execution Status Change` event of an ended execution, shaped as
   * the Step Functions user guide documents it (dates in epoch milliseconds, input and output
   * as JSON strings, error and cause null unless set).
   */
  private emitStatusChange(e: FakeExecution): void {
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
        stopDate: this.world.now().getTime(),
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
