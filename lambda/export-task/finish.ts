/**
 * The export workflow's `finish` step: decide the outcome from the caught error and the task's
 * state, cancel a task only when the workflow gives up on it for good (deadline or an
 * unexpected error, never a lost watch), signal the wait condition, return the WorkflowOutput.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client, ExportTask } from '@aws-sdk/client-ec2';
import { causeText } from '../shared/cause';
import {
  ERROR_DEADLINE_PASSED,
  ERROR_EXPORT_FAILED,
  ERROR_EXPORT_REJECTED,
  ERROR_INVALID_INPUT,
  ERROR_PREFLIGHT_FAILED,
  ERROR_QUOTA_FULL,
  ERROR_QUOTA_NEVER_FREED,
  ERROR_THROTTLED,
  ERROR_TRANSIENT,
  ERROR_WATCH_LOST,
  ERROR_WORKFLOW_ERROR,
  FinishEvent,
  INTERNAL_CANCELLED,
  INTERNAL_COMPLETED,
  NormalizedRequest,
  TAG_CLIENT_TOKEN,
  WATCH_LOST_AFTER_FAILED_POLLS,
  WorkflowInput,
  WorkflowOutput,
} from '../shared/contract';
import { errorCode, errorMessage } from '../shared/ec2-errors';
import { cancelExport, isCancellable } from '../shared/export-task';
import { handleUrlOf } from '../shared/handle-url';
import { progressOf } from '../shared/image-task';
import { DEFAULT_S3_PREFIX, objectExtensionFor, objectKeyFor, s3UriFor } from '../shared/normalize';
import { buildSignal, parseSuccessData, sendSignal, SignalOptions, successData } from '../shared/signal';
import { AnyExportTask, findAnyTaskByTag, findTaskForAnyRequest, kindOf } from '../shared/task-lookup';
import { MAX_REASON_CHARS, truncate } from '../shared/truncate';

/** Errors that happen before any task exists: finish passes them on as they are. */
const PASS_THROUGH_ERRORS = new Set([ERROR_INVALID_INPUT, ERROR_PREFLIGHT_FAILED, ERROR_EXPORT_REJECTED]);

/** Errors the workflow retries the finish step for. */
const RETRYABLE = new Set([ERROR_THROTTLED, ERROR_TRANSIENT]);

/**
 * How long a start that was still calling CreateInstanceExportTask when the deadline fired can
 * take to finish: one call with the handlers' per-attempt timeout and retries (see clients.ts).
 */
export const LATE_START_GRACE_MS = 45_000;

/** Options of the finish step (tests replace the signal transport and the sleep). */
export interface FinishOptions extends SignalOptions {
  /** How long to wait before looking again for a task a late start may have created. */
  readonly lateStartGraceMs?: number;
}

/** A normalized request or a raw input, of either kind (an image export has imageId and roleName). */
type AnyRequest = Partial<NormalizedRequest> & Partial<WorkflowInput>
  & { readonly imageId?: string; readonly roleName?: string; readonly kind?: string };

/** What the request exports, for messages: the instance or the AMI id. */
function subjectOf(request: AnyRequest): string {
  return kindOf(request) === 'image' ? request.imageId ?? 'the AMI' : request.instanceId ?? 'the instance';
}

/** The API that lists the request's tasks, and the CLI command that shows one. */
function describeApiOf(request: AnyRequest): { readonly api: string; readonly cli: string } {
  return kindOf(request) === 'image'
    ? { api: 'DescribeExportImageTasks', cli: 'aws ec2 describe-export-image-tasks --export-image-task-ids' }
    : { api: 'DescribeExportTasks', cli: 'aws ec2 describe-export-tasks --export-task-ids' };
}

interface Outcome {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly errorName?: string;
  readonly cause?: string;
}

function failed(errorName: string, cause: string): Outcome {
  return { status: 'FAILED', errorName, cause: truncate(cause, MAX_REASON_CHARS) };
}

function extensionOf(request: AnyRequest): string {
  if (request.objectExtension) {
    return request.objectExtension;
  }
  if (kindOf(request) === 'image') {
    return `.${(request.diskImageFormat ?? 'VMDK').toLowerCase()}`;
  }
  const target = (request.targetEnvironment ?? '').toLowerCase();
  const disk = request.diskImageFormat ?? (target === 'vmware' ? 'VMDK' : 'VHD');
  const container = request.containerFormat ?? (target === 'vmware' && disk.toUpperCase() === 'VMDK' ? 'ova' : 'none');
  return objectExtensionFor(disk, container);
}

/**
 * The object key of a completed export: the key the task reported (listed, seen by the poll or
 * recorded at completion), else the documented `<prefix><task id><extension>`.
 */
export function completedKeyOf(request: AnyRequest, task: ExportTask | undefined, exportTaskId: string): string {
  return task?.ExportToS3Task?.S3Key
    || objectKeyFor(request.s3Prefix ?? DEFAULT_S3_PREFIX, exportTaskId, extensionOf(request));
}

async function cancelForFinish(ec2: EC2Client, task: ExportTask): Promise<string> {
  try {
    const result = await cancelExport(ec2, task.ExportTaskId!);
    return result === 'cancelled' ? `task ${task.ExportTaskId} was cancelled` : `task ${task.ExportTaskId} had nothing left to cancel`;
  } catch (err) {
    console.error(JSON.stringify({ message: 'CancelExportTask failed', exportTaskId: task.ExportTaskId, code: errorCode(err), error: errorMessage(err) }));
    return `cancelling task ${task.ExportTaskId} failed (${errorCode(err)}: ${errorMessage(err)}); cancel it by hand`;
  }
}

/**
 * The completed task as the poll saw it (the Cause of INTERNAL_COMPLETED is `<task id>|<key>`),
 * for when EC2 no longer lists it by the time finish looks.
 */
export function polledCompletion(error: FinishEvent['error']): ExportTask | undefined {
  if (error?.Error !== INTERNAL_COMPLETED || typeof error.Cause !== 'string') {
    return undefined;
  }
  const seen = parseSuccessData(error.Cause);
  return seen && seen.s3Key !== ''
    ? { ExportTaskId: seen.exportTaskId, State: 'completed', ExportToS3Task: { S3Key: seen.s3Key } }
    : undefined;
}

/** The adopted export, known to have completed although EC2 no longer lists it. */
function adoptedCompletion(request: AnyRequest): ExportTask | undefined {
  return request.adoptExportTaskId && request.completedExportS3Key
    ? { ExportTaskId: request.adoptExportTaskId, State: 'completed', ExportToS3Task: { S3Key: request.completedExportS3Key } }
    : undefined;
}

function watchLost(request: AnyRequest, task: ExportTask | undefined, cause: string): Outcome {
  const subject = subjectOf(request);
  const { api, cli } = describeApiOf(request);
  const where = task?.ExportTaskId
    ? `Export task ${task.ExportTaskId} of ${subject} is ${task.State ?? 'in an unknown state'}`
    : `The export task of ${subject} is in an unknown state`;
  const command = task?.ExportTaskId ? cli : cli.replace(/ --.*$/, '');
  return failed(ERROR_WATCH_LOST,
    `${where}: ${api} failed ${WATCH_LOST_AFTER_FAILED_POLLS} times in a row${cause ? ` (last: ${cause})` : ''}, so the workflow stopped watching. The task was NOT cancelled: check it with '${command}${task?.ExportTaskId ? ` ${task.ExportTaskId}` : ''}', and cancel it or deploy again once EC2 answers.`);
}

/** Decides the outcome of an export from the caught error and the task's state. */
async function decide(request: AnyRequest, error: FinishEvent['error'], task: ExportTask | undefined, ec2: EC2Client): Promise<Outcome> {
  const instanceId = subjectOf(request);
  const noun = kindOf(request) === 'image' ? 'AMI' : 'instance';
  const errorName = error?.Error;
  const cause = causeText(error?.Cause);
  const state = task?.State ?? 'none';
  const taskId = task?.ExportTaskId;
  const statusMessage = task?.StatusMessage ? `: ${task.StatusMessage}` : ' (no status message)';

  if (state === 'completed') {
    return { status: 'SUCCEEDED' };
  }
  if (state === 'cancelled' || errorName === INTERNAL_CANCELLED) {
    return failed(ERROR_EXPORT_FAILED,
      `Export task ${taskId ?? '(unknown)'} of ${instanceId} ended ${state}${statusMessage}. Check the ${noun} against the VM Import/Export requirements and deploy again.`);
  }
  if (errorName === ERROR_WATCH_LOST) {
    return watchLost(request, task, cause);
  }
  if (errorName === INTERNAL_COMPLETED) {
    return failed(ERROR_WORKFLOW_ERROR,
      `The workflow saw the export of ${instanceId} complete, but the task ${taskId ? `${taskId} is ${state}` : 'cannot be found'}. Check ${describeApiOf(request).api} and the bucket.`);
  }
  if (errorName === ERROR_DEADLINE_PASSED || errorName === ERROR_QUOTA_FULL) {
    if (task && isCancellable(task)) {
      const cancelled = await cancelForFinish(ec2, task);
      return failed(ERROR_DEADLINE_PASSED,
        `The deadline of ${request.deadlineSeconds ?? 'the'} seconds passed while export task ${taskId} of ${instanceId} was ${state}; ${cancelled}. Raise the deadline (${kindOf(request) === 'image' ? 'ImageExport' : 'InstanceExport'} timeout, at most 12 h; deadlineSeconds of the workflow, at most 7 days) for large volumes and try again.`);
    }
    if (!task) {
      return failed(ERROR_QUOTA_NEVER_FREED,
        `The export of ${instanceId} never started: the conversion-task quota stayed full until the deadline (${request.deadlineSeconds ?? '?'} s) passed. The quota is 5 concurrent conversion tasks per region by default, adjustable to 20 via Service Quotas; wait for other exports/imports to finish or raise the quota, then deploy again.`);
    }
  }
  const detail = errorName ? `${errorName}${cause ? `: ${cause}` : ''}` : 'the workflow ended without a result';
  const cancelled = task && isCancellable(task) ? `; ${await cancelForFinish(ec2, task)}` : '';
  return failed(ERROR_WORKFLOW_ERROR,
    `The export workflow of ${instanceId} failed unexpectedly (${detail})${cancelled}. Check the execution history and deploy again.`);
}

/**
 * A start that was still creating the task when the deadline fired may create it after the
 * first look: wait for that call to end, then look again (by the client token) so that the
 * task is cancelled instead of left running.
 */
async function lookAgainForLateStart(ec2: EC2Client, request: AnyRequest, options: FinishOptions): Promise<AnyExportTask | undefined> {
  if (request.adoptExportTaskId || !request.clientToken) {
    return undefined;
  }
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  await sleep(options.lateStartGraceMs ?? LATE_START_GRACE_MS);
  const late = await findAnyTaskByTag(ec2, kindOf(request), TAG_CLIENT_TOKEN, request.clientToken, { extension: extensionOf(request) });
  if (late) {
    console.log(JSON.stringify({ message: 'task created by a late start', exportTaskId: late.ExportTaskId, state: late.State }));
  }
  return late;
}

/** The task of the request, looked up for the outcome; retryable lookup errors are thrown. */
async function lookUp(ec2: EC2Client, request: AnyRequest, errorName: string | undefined, options: FinishOptions) {
  try {
    let task: AnyExportTask | undefined = await findTaskForAnyRequest(ec2, { ...request, objectExtension: extensionOf(request) });
    if (!task && errorName === ERROR_DEADLINE_PASSED) {
      task = await lookAgainForLateStart(ec2, request, options);
    }
    return { task };
  } catch (err) {
    // A lost watch already waited out many failures: report it rather than retry again.
    if (RETRYABLE.has((err as Error).name) && errorName !== ERROR_WATCH_LOST) {
      throw err; // the workflow retries the step
    }
    return { task: undefined, lookupError: err };
  }
}

async function outcomeOf(event: FinishEvent, ec2: EC2Client, options: FinishOptions): Promise<{ outcome: Outcome; task?: AnyExportTask }> {
  const request = (event.request ?? {}) as AnyRequest;
  const errorName = event.error?.Error;
  if (errorName && PASS_THROUGH_ERRORS.has(errorName)) {
    return { outcome: failed(errorName, causeText(event.error?.Cause) || `${errorName} for ${subjectOf(request)}`) };
  }
  const { task: listed, lookupError } = await lookUp(ec2, request, errorName, options);
  // What was recorded when the task completed counts when EC2 no longer lists it (how long it
  // lists finished tasks is undocumented).
  const recorded = polledCompletion(event.error) ?? adoptedCompletion(request);
  const task = listed?.State === 'completed' ? listed : (recorded ?? listed);
  if (lookupError === undefined || task?.State === 'completed') {
    return { outcome: await decide(request, event.error, task, ec2), task };
  }
  const lookupText = `${errorCode(lookupError)}: ${errorMessage(lookupError)}`;
  if (errorName === ERROR_WATCH_LOST) {
    return { outcome: watchLost(request, undefined, `${causeText(event.error?.Cause)}; the final look-up: ${lookupText}`) };
  }
  return {
    outcome: failed(ERROR_WORKFLOW_ERROR,
      `The export task of ${subjectOf(request)} could not be looked up (${lookupText}) after ${errorName ?? 'the workflow ended'}. Check ${describeApiOf(request).api} permissions and the task, then deploy again.`),
  };
}

/** The URL of the request's wait condition handle; undefined without one, or when it is gone. */
async function signalUrlOf(request: AnyRequest, cfn: CloudFormationClient): Promise<string | undefined> {
  if (!request.waitConditionStackId || !request.waitConditionHandleLogicalId) {
    return undefined;
  }
  const where = { stackId: request.waitConditionStackId, logicalId: request.waitConditionHandleLogicalId };
  const url = await handleUrlOf(cfn, { ...where, urlHash: request.waitConditionHandleHash ?? '' });
  if (!url) {
    console.log(JSON.stringify({ message: 'no signal sent: the wait condition handle no longer exists', ...where }));
  }
  return url;
}

/**
 * `finish`: decide the outcome, cancel an active task when giving up, signal the wait
 * condition handle when there is one, and return the WorkflowOutput.
 */
export async function finish(
  event: FinishEvent,
  clients: { readonly ec2: EC2Client; readonly cfn: CloudFormationClient },
  options: FinishOptions = {},
): Promise<WorkflowOutput> {
  const request = (event.request ?? {}) as AnyRequest;
  const kind = kindOf(request);
  const subject = kind === 'image' ? request.imageId ?? '' : request.instanceId ?? '';
  const s3Bucket = request.s3Bucket ?? '';
  const { outcome, task } = await outcomeOf(event, clients.ec2, options);

  const exportTaskId = task?.ExportTaskId;
  const s3Key = outcome.status === 'SUCCEEDED' && exportTaskId ? completedKeyOf(request, task, exportTaskId) : undefined;
  const progress = outcome.status === 'SUCCEEDED' ? 100 : progressOf(task);
  const output: WorkflowOutput = {
    status: outcome.status,
    kind,
    ...(kind === 'image' ? { imageId: subject } : { instanceId: subject }),
    ...(exportTaskId ? { exportTaskId } : {}),
    s3Bucket,
    ...(s3Key ? { s3Key, s3Uri: s3UriFor(s3Bucket, s3Key) } : {}),
    state: task?.State ?? 'none',
    ...(kind === 'image' && progress !== undefined ? { progress } : {}),
    ...(outcome.errorName ? { errorName: outcome.errorName, cause: outcome.cause } : {}),
  };
  console.log(JSON.stringify({ message: 'export finished', ...output, caught: event.error?.Error }));

  const url = await signalUrlOf(request, clients.cfn);
  if (url) {
    const signal = output.status === 'SUCCEEDED'
      ? buildSignal(true, successData(exportTaskId!, s3Key!), `Exported ${subject} to ${output.s3Uri}`)
      : buildSignal(false, output.errorName!, `${output.errorName}: ${output.cause}`);
    await sendSignal(url, signal, options);
  }
  return output;
}
