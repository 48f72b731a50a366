/**
 * Signals an AWS::CloudFormation::WaitConditionHandle. The handle URL is a presigned URL (a
 * credential): it is never logged nor put into an error message.
 */
import { ERROR_WORKFLOW_ERROR, SIGNAL_DATA_SEPARATOR, WAIT_CONDITION_UNIQUE_ID } from './contract';
import { VmExportError } from './ec2-errors';
import { PutOptions, putWithRetries } from './http-put';
import { MAX_REASON_CHARS, truncate } from './truncate';

/** The JSON document a wait condition handle takes. */
export interface WaitConditionSignal {
  readonly Status: 'SUCCESS' | 'FAILURE';
  readonly UniqueId: string;
  readonly Data: string;
  readonly Reason: string;
}

/** How the signal is sent (see http-put.ts). */
export type SignalOptions = PutOptions;
export type { FetchLike } from './http-put';

/** The Data of a success signal: the task id and the object key the task reported. */
export function successData(exportTaskId: string, s3Key: string): string {
  return `${exportTaskId}${SIGNAL_DATA_SEPARATOR}${s3Key}`;
}

/** What a task id looks like: `export-` and letters, digits and hyphens (`export-i-...`). */
const TASK_ID = /^export-[A-Za-z0-9-]+$/;

/**
 * The parts of a `successData` text (a success signal's Data, or the poll's record of a
 * completion). A text without the separator is a task id alone (a signal of an earlier version
 * of the library): its key is ''. Undefined when the text does not start with a task id.
 */
export function parseSuccessData(text: string): { exportTaskId: string; s3Key: string } | undefined {
  const at = text.indexOf(SIGNAL_DATA_SEPARATOR);
  const exportTaskId = at < 0 ? text : text.slice(0, at);
  return TASK_ID.test(exportTaskId) ? { exportTaskId, s3Key: at < 0 ? '' : text.slice(at + 1) } : undefined;
}

/** Builds the signal document (Reason shortened to at most 1000 characters). */
export function buildSignal(success: boolean, data: string, reason: string): WaitConditionSignal {
  return {
    Status: success ? 'SUCCESS' : 'FAILURE',
    UniqueId: WAIT_CONDITION_UNIQUE_ID,
    Data: data,
    Reason: truncate(reason, MAX_REASON_CHARS),
  };
}

/**
 * PUTs the signal to the handle URL (see putWithRetries: per-attempt timeout, retries of
 * network errors, timeouts and 5xx answers). Throws VmExport.WorkflowError after the last
 * attempt or on a 4xx answer (e.g. an expired URL).
 */
export async function sendSignal(url: string, signal: WaitConditionSignal, options: SignalOptions = {}): Promise<void> {
  const result = await putWithRetries(url, JSON.stringify(signal), options);
  if (!result.ok) {
    throw new VmExportError(ERROR_WORKFLOW_ERROR,
      `Could not signal the wait condition handle (${signal.Status} ${signal.Data}): ${result.last}.`);
  }
}
