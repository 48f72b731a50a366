/**
 * The signal backstop: an EventBridge rule sends every execution of the export workflow that
 * ends FAILED, ABORTED or TIMED_OUT here. When the execution ended without the finish step
 * having signalled (the finish step failed, a States.Runtime error, a stop from outside, the
 * execution's own timeout), this sends the wait condition one FAILURE signal with the reason,
 * so that no deployment waits out its full timeout. An execution stopped from outside also gets
 * its export task cancelled (no state of a stopped execution runs again).
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { causeText } from '../shared/cause';
import {
  ERROR_DEADLINE_PASSED,
  ERROR_EXPORT_FAILED,
  ERROR_EXPORT_REJECTED,
  ERROR_INVALID_INPUT,
  ERROR_PREFLIGHT_FAILED,
  ERROR_QUOTA_NEVER_FREED,
  ERROR_THROTTLED,
  ERROR_TRANSIENT,
  ERROR_WATCH_LOST,
  ERROR_WORKFLOW_ERROR,
  EXECUTION_STOPPED_BY_PROVIDER,
} from '../shared/contract';
import { errorCode, errorMessage } from '../shared/ec2-errors';
import { cancelExport, isCancellable } from '../shared/export-task';
import { handleUrlOf } from '../shared/handle-url';
import { buildSignal, sendSignal, SignalOptions } from '../shared/signal';
import { findTaskForAnyRequest } from '../shared/task-lookup';

/** The `detail-type` Step Functions gives execution status changes on the default event bus. */
export const EXECUTION_STATUS_CHANGE = 'Step Functions Execution Status Change';

/** What EventBridge delivers (the fields the backstop reads). */
export interface ExecutionStatusChangeEvent {
  readonly 'source': string;
  readonly 'detail-type': string;
  readonly 'detail': {
    readonly executionArn: string;
    readonly name?: string;
    readonly status: string;
    readonly input?: string | null;
    readonly inputDetails?: { readonly included?: boolean } | null;
    readonly error?: string | null;
    readonly cause?: string | null;
  };
}

/** What the backstop did (returned, and logged as one line). */
export interface BackstopResult {
  readonly action: 'signalled' | 'none';
  readonly why: string;
  /** For an execution stopped from outside: what became of its export task. */
  readonly task?: string;
}

/**
 * Error names the execution only ends with after the finish step returned, that is after it
 * signalled (every Fail state of CheckFailure, UnexpectedOutcome included).
 */
const SIGNALLED_BY_FINISH = new Set([
  ERROR_PREFLIGHT_FAILED, ERROR_EXPORT_REJECTED, ERROR_EXPORT_FAILED, ERROR_DEADLINE_PASSED,
  ERROR_QUOTA_NEVER_FREED, ERROR_INVALID_INPUT, ERROR_WORKFLOW_ERROR, ERROR_WATCH_LOST,
]);

const ENDINGS = new Set(['FAILED', 'ABORTED', 'TIMED_OUT']);

/** True for an execution status change event (what the rule delivers). */
export function isExecutionStatusChange(event: unknown): event is ExecutionStatusChangeEvent {
  const e = event as Partial<ExecutionStatusChangeEvent> | undefined;
  return e?.source === 'aws.states' && e['detail-type'] === EXECUTION_STATUS_CHANGE && typeof e.detail === 'object';
}

/** Why no signal is needed, or undefined when one is. */
function noSignalNeeded(detail: ExecutionStatusChangeEvent['detail']): string | undefined {
  if (!ENDINGS.has(detail.status)) {
    return `status ${detail.status}: the finish step signalled`;
  }
  if (detail.status === 'FAILED' && SIGNALLED_BY_FINISH.has(detail.error ?? '')) {
    return `ended with ${detail.error} after the finish step signalled`;
  }
  if (detail.status === 'ABORTED' && detail.error === EXECUTION_STOPPED_BY_PROVIDER) {
    return 'stopped by the export resource (deleted or replaced): its wait condition goes with it';
  }
  return undefined;
}

/** Reads the execution's input once, when first asked (the cancel and the signal both need it). */
type InputReader = () => Promise<Record<string, unknown>>;

function inputReader(sfn: SFNClient, detail: ExecutionStatusChangeEvent['detail']): InputReader {
  let read: Promise<Record<string, unknown>> | undefined;
  return () => (read ??= inputOf(sfn, detail));
}

/** The execution's input: from the event, or (when the event left it out) from Step Functions. */
async function inputOf(sfn: SFNClient, detail: ExecutionStatusChangeEvent['detail']): Promise<Record<string, unknown>> {
  let text = detail.input;
  if (typeof text !== 'string' || detail.inputDetails?.included === false) {
    text = (await sfn.send(new DescribeExecutionCommand({ executionArn: detail.executionArn }))).input;
  }
  try {
    const parsed = JSON.parse(text ?? '{}');
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch {
    return {};
  }
}

function reasonOf(detail: ExecutionStatusChangeEvent['detail'], input: Record<string, unknown>, task: string | undefined): string {
  const subject = input.instanceId ?? input.imageId;
  const what = typeof subject === 'string' && subject ? `The export of ${subject}` : 'The export';
  const command = input.imageId !== undefined && input.instanceId === undefined ? 'aws ec2 describe-export-image-tasks' : 'aws ec2 describe-export-tasks';
  const error = detail.error ? ` with ${detail.error}` : '';
  const cause = detail.cause ? `: ${causeText(detail.cause)}` : '';
  const taskText = task === undefined
    ? `Any export task it started was not cancelled by this signal: check it with '${command}', then deploy again.`
    : `Its export: ${task}; check it with '${command}', then deploy again.`;
  return `${what} ended ${detail.status}${error}${cause} (execution ${detail.name ?? detail.executionArn}) before the workflow could report its outcome. ${taskText}`;
}

/**
 * The event's detail, with the error of a stopped execution read from Step Functions when the
 * event does not carry it (whether it does is not documented): a stop by the export resource
 * itself must be recognised.
 */
async function withStopError(sfn: SFNClient, detail: ExecutionStatusChangeEvent['detail']): Promise<ExecutionStatusChangeEvent['detail']> {
  if (detail.status !== 'ABORTED' || detail.error) {
    return detail;
  }
  try {
    const out = await sfn.send(new DescribeExecutionCommand({ executionArn: detail.executionArn }));
    return { ...detail, error: out.error ?? null, cause: detail.cause ?? out.cause ?? null, input: detail.input ?? out.input ?? null };
  } catch {
    return detail; // unknown: signalling a wait condition that is going away anyway is harmless
  }
}

/** The clients the backstop uses. */
export interface BackstopClients {
  readonly sfn: SFNClient;
  readonly cfn: CloudFormationClient;
  /** Cancels the export task of an execution stopped from outside. */
  readonly ec2?: EC2Client;
}

/**
 * Cancels the export task of an execution that was stopped from outside (the console, a stopped
 * fleet, whose `.sync` children Step Functions stops): a stopped execution runs no more states,
 * so nothing else would. Stops by the export resource (it handles its task itself) and adopted
 * tasks (another execution started them) are left alone.
 */
async function cancelStoppedExport(
  detail: ExecutionStatusChangeEvent['detail'], clients: BackstopClients, readInput: InputReader,
): Promise<string | undefined> {
  if (detail.status !== 'ABORTED' || detail.error === EXECUTION_STOPPED_BY_PROVIDER || !clients.ec2) {
    return undefined;
  }
  const input = await readInput();
  const clientToken = typeof input.clientToken === 'string' ? input.clientToken : '';
  if (clientToken === '' || input.adoptExportTaskId !== undefined) {
    return 'no task of its own to cancel (no clientToken in the input, or an adopted task)';
  }
  const task = await findTaskForAnyRequest(clients.ec2, { imageId: input.imageId, instanceId: input.instanceId, clientToken });
  if (!task || !isCancellable(task)) {
    return task ? `task ${task.ExportTaskId} is ${task.State}: nothing to cancel` : 'it had started no task';
  }
  const result = await cancelExport(clients.ec2, task.ExportTaskId!);
  return result === 'cancelled' ? `task ${task.ExportTaskId} was cancelled` : `task ${task.ExportTaskId} had nothing left to cancel`;
}

/**
 * Sends the FAILURE signal an execution that ended without signalling owes its wait condition,
 * after cancelling the export task of an execution stopped from outside.
 */
export async function backstop(
  event: ExecutionStatusChangeEvent,
  clients: BackstopClients,
  options: SignalOptions = {},
): Promise<BackstopResult> {
  const detail = await withStopError(clients.sfn, event.detail);
  const readInput = inputReader(clients.sfn, detail);
  let cancelError: unknown;
  const task = await cancelStoppedExport(detail, clients, readInput).catch((err) => {
    cancelError = err;
    return isRetryableStepError(err)
      ? `cancelling it failed for now (${errorCode(err)}); it is tried again`
      : `cancelling it failed (${errorCode(err)}: ${errorMessage(err)}); cancel it by hand`;
  });
  // The signal never waits for EC2: a deployment must not wait out its timeout for a failed cancel.
  const skip = noSignalNeeded(detail);
  const signal = await (skip !== undefined ? { action: 'none' as const, why: skip } : signalFor(detail, clients, options, task, readInput));
  const result = task === undefined ? signal : { ...signal, task };
  console.log(JSON.stringify({ message: 'signal backstop', executionArn: detail.executionArn, status: detail.status, error: detail.error, ...result }));
  if (cancelError !== undefined && isRetryableStepError(cancelError)) {
    // EventBridge delivers the event again: the next run cancels (a second signal is the same one).
    throw cancelError;
  }
  return result;
}

/** Throttling and transient errors (VmExport.Throttled, VmExport.Transient): worth another delivery. */
function isRetryableStepError(err: unknown): boolean {
  const name = (err as Error)?.name;
  return name === ERROR_THROTTLED || name === ERROR_TRANSIENT;
}

async function signalFor(
  detail: ExecutionStatusChangeEvent['detail'],
  clients: BackstopClients,
  options: SignalOptions,
  task: string | undefined,
  readInput: InputReader,
): Promise<BackstopResult> {
  let input: Record<string, unknown>;
  try {
    input = await readInput();
  } catch (err) {
    throw new Error(`The execution input of ${detail.executionArn} could not be read (${errorCode(err)}: ${errorMessage(err)}); EventBridge retries.`);
  }
  const stackId = input.waitConditionStackId;
  const logicalId = input.waitConditionHandleLogicalId;
  if (typeof stackId !== 'string' || stackId === '' || typeof logicalId !== 'string' || logicalId === '') {
    return { action: 'none', why: 'the execution has no wait condition to signal' };
  }
  const urlHash = typeof input.waitConditionHandleHash === 'string' ? input.waitConditionHandleHash : '';
  const url = await handleUrlOf(clients.cfn, { stackId, logicalId, urlHash });
  if (!url) {
    return { action: 'none', why: 'the wait condition handle no longer exists' };
  }
  const data = detail.error || detail.status;
  await sendSignal(url, buildSignal(false, data, reasonOf(detail, input, task)), options);
  return { action: 'signalled', why: `ended ${detail.status}${detail.error ? ` with ${detail.error}` : ''} without a signal` };
}
