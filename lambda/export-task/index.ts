/**
 * The export workflow's Lambda step: `prepare`, `start` and `finish` (see ExportTaskEvent).
 */
import { EC2Client, ExportTask } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
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
  ERROR_WORKFLOW_ERROR,
  ExportTaskEvent,
  FinishEvent,
  INTERNAL_CANCELLED,
  INTERNAL_COMPLETED,
  NormalizedRequest,
  StartResult,
  WorkflowInput,
  WorkflowOutput,
} from '../shared/contract';
import { errorCode, errorMessage, VmExportError } from '../shared/ec2-errors';
import { cancelExport, findTaskForRequest, isCancellable, startExport } from '../shared/export-task';
import { DEFAULT_S3_PREFIX, normalizeRequest, objectExtensionFor, objectKeyFor, s3UriFor } from '../shared/normalize';
import { runPreflight } from '../shared/preflight';
import { buildSignal, sendSignal, SignalOptions } from '../shared/signal';
import { MAX_REASON_CHARS, truncate } from '../shared/truncate';

const ec2 = new EC2Client({});
const s3 = new S3Client({});

/** The SDK clients the steps use. */
export interface TaskClients {
  readonly ec2: EC2Client;
  readonly s3: S3Client;
}

/** Errors that happen before any task exists: finish passes them on as they are. */
const PASS_THROUGH_ERRORS = new Set([ERROR_INVALID_INPUT, ERROR_PREFLIGHT_FAILED, ERROR_EXPORT_REJECTED]);

/** The region the function runs in. */
export async function currentRegion(client: EC2Client): Promise<string> {
  return process.env.AWS_REGION || await client.config.region();
}

/** `prepare`: validate, apply defaults, run the preflight unless `preflight` is false. */
export async function prepare(input: WorkflowInput, clients: TaskClients, region?: string): Promise<NormalizedRequest> {
  const request = normalizeRequest(input);
  if (input.preflight !== false) {
    await runPreflight(clients.ec2, clients.s3, request, region ?? await currentRegion(clients.ec2));
  }
  return request;
}

/** `start`: adopt, find by client token or create the task (at most once). */
export async function start(request: NormalizedRequest, clients: Pick<TaskClients, 'ec2'>): Promise<StartResult> {
  return startExport(clients.ec2, request);
}

type AnyRequest = Partial<NormalizedRequest> & Partial<WorkflowInput>;

function extensionOf(request: AnyRequest): string {
  if (request.objectExtension) {
    return request.objectExtension;
  }
  const target = (request.targetEnvironment ?? '').toLowerCase();
  const disk = request.diskImageFormat ?? (target === 'vmware' ? 'VMDK' : 'VHD');
  const container = request.containerFormat ?? (target === 'vmware' ? 'ova' : 'none');
  return objectExtensionFor(disk, container);
}

interface Outcome {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly errorName?: string;
  readonly cause?: string;
}

function failed(errorName: string, cause: string): Outcome {
  return { status: 'FAILED', errorName, cause: truncate(cause, MAX_REASON_CHARS) };
}

async function cancelForFinish(clients: Pick<TaskClients, 'ec2'>, task: ExportTask): Promise<string> {
  try {
    const result = await cancelExport(clients.ec2, task.ExportTaskId!);
    return result === 'cancelled' ? `task ${task.ExportTaskId} was cancelled` : `task ${task.ExportTaskId} had nothing left to cancel`;
  } catch (err) {
    console.error(JSON.stringify({ message: 'CancelExportTask failed', exportTaskId: task.ExportTaskId, code: errorCode(err), error: errorMessage(err) }));
    return `cancelling task ${task.ExportTaskId} failed (${errorCode(err)}: ${errorMessage(err)}); cancel it by hand`;
  }
}

/** Decides the outcome of an export from the caught error and the task's state. */
async function decide(
  request: AnyRequest,
  error: FinishEvent['error'],
  task: ExportTask | undefined,
  clients: Pick<TaskClients, 'ec2'>,
): Promise<Outcome> {
  const instanceId = request.instanceId ?? 'the instance';
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
      `Export task ${taskId ?? '(unknown)'} of ${instanceId} ended ${state}${statusMessage}. Check the instance against the VM Import/Export requirements and deploy again.`);
  }
  if (errorName === INTERNAL_COMPLETED) {
    return failed(ERROR_WORKFLOW_ERROR,
      `The workflow saw the export of ${instanceId} complete, but the task ${taskId ? `${taskId} is ${state}` : 'cannot be found'}. Check DescribeExportTasks and the bucket.`);
  }
  if (errorName === ERROR_DEADLINE_PASSED || errorName === ERROR_QUOTA_FULL) {
    if (task && isCancellable(task)) {
      const cancelled = await cancelForFinish(clients, task);
      return failed(ERROR_DEADLINE_PASSED,
        `The deadline of ${request.deadlineSeconds ?? 'the'} seconds passed while export task ${taskId} of ${instanceId} was ${state}; ${cancelled}. Raise the deadline (InstanceExport timeout, at most 12 h; deadlineSeconds of the workflow, at most 7 days) for large volumes and try again.`);
    }
    if (!task) {
      return failed(ERROR_QUOTA_NEVER_FREED,
        `The export of ${instanceId} never started: the conversion-task quota stayed full until the deadline (${request.deadlineSeconds ?? '?'} s) passed. The quota is 5 concurrent conversion tasks per region by default, adjustable to 20 via Service Quotas; wait for other exports/imports to finish or raise the quota, then deploy again.`);
    }
  }
  const detail = errorName ? `${errorName}${cause ? `: ${cause}` : ''}` : 'the workflow ended without a result';
  const cancelled = task && isCancellable(task) ? `; ${await cancelForFinish(clients, task)}` : '';
  return failed(ERROR_WORKFLOW_ERROR,
    `The export workflow of ${instanceId} failed unexpectedly (${detail})${cancelled}. Check the execution history and deploy again.`);
}

/**
 * `finish`: decide the outcome, cancel an active task when giving up, signal the wait
 * condition handle when there is one, and return the WorkflowOutput.
 */
export async function finish(event: FinishEvent, clients: Pick<TaskClients, 'ec2'>, signalOptions: SignalOptions = {}): Promise<WorkflowOutput> {
  const request = (event.request ?? {}) as AnyRequest;
  const instanceId = request.instanceId ?? '';
  const s3Bucket = request.s3Bucket ?? '';
  const errorName = event.error?.Error;

  let outcome: Outcome;
  let task: ExportTask | undefined;
  if (errorName && PASS_THROUGH_ERRORS.has(errorName)) {
    outcome = failed(errorName, causeText(event.error?.Cause) || `${errorName} for ${instanceId}`);
  } else {
    let lookupError: unknown;
    try {
      task = await findTaskForRequest(clients.ec2, request);
    } catch (err) {
      if ((err as Error).name === ERROR_THROTTLED) {
        throw err; // the workflow retries the step
      }
      lookupError = err;
    }
    outcome = lookupError === undefined
      ? await decide(request, event.error, task, clients)
      : failed(ERROR_WORKFLOW_ERROR,
        `The export task of ${instanceId} could not be looked up (${errorCode(lookupError)}: ${errorMessage(lookupError)}) after ${errorName ?? 'the workflow ended'}. Check DescribeExportTasks permissions and the task, then deploy again.`);
  }

  const exportTaskId = task?.ExportTaskId;
  const s3Key = outcome.status === 'SUCCEEDED' && exportTaskId
    ? (task?.ExportToS3Task?.S3Key || objectKeyFor(request.s3Prefix || DEFAULT_S3_PREFIX, exportTaskId, extensionOf(request)))
    : undefined;
  const output: WorkflowOutput = {
    status: outcome.status,
    instanceId,
    ...(exportTaskId ? { exportTaskId } : {}),
    s3Bucket,
    ...(s3Key ? { s3Key, s3Uri: s3UriFor(s3Bucket, s3Key) } : {}),
    state: task?.State ?? 'none',
    ...(outcome.errorName ? { errorName: outcome.errorName, cause: outcome.cause } : {}),
  };
  console.log(JSON.stringify({ message: 'export finished', ...output, caught: errorName }));

  if (request.waitConditionHandleUrl) {
    const signal = output.status === 'SUCCEEDED'
      ? buildSignal(true, exportTaskId!, `Exported ${instanceId} to ${output.s3Uri}`)
      : buildSignal(false, output.errorName!, `${output.errorName}: ${output.cause}`);
    await sendSignal(request.waitConditionHandleUrl, signal, signalOptions);
  }
  return output;
}

/** The Lambda entry point. */
export async function handler(event: ExportTaskEvent): Promise<NormalizedRequest | StartResult | WorkflowOutput> {
  const clients = { ec2, s3 };
  switch (event?.action) {
    case 'prepare':
      return prepare(event.input, clients);
    case 'start':
      return start(event.request, clients);
    case 'finish':
      return finish(event, clients);
    default:
      throw new VmExportError(ERROR_INVALID_INPUT,
        `Unknown action ${JSON.stringify((event as { action?: unknown } | undefined)?.action)}: the export-task function takes 'prepare', 'start' or 'finish'.`);
  }
}
