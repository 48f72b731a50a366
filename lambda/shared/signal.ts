/**
 * Signals an AWS::CloudFormation::WaitConditionHandle. The handle URL is a presigned URL (a
 * credential): it is never logged nor put into an error message.
 */
import { REQUEST_TIMEOUT_MS } from './clients';
import { ERROR_WORKFLOW_ERROR, SIGNAL_DATA_SEPARATOR, WAIT_CONDITION_UNIQUE_ID } from './contract';
import { VmExportError } from './ec2-errors';
import { MAX_REASON_CHARS, truncate } from './truncate';

/** The JSON document a wait condition handle takes. */
export interface WaitConditionSignal {
  readonly Status: 'SUCCESS' | 'FAILURE';
  readonly UniqueId: string;
  readonly Data: string;
  readonly Reason: string;
}

/** The fetch function used to send (replaceable in tests). */
export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal?: AbortSignal }) =>
Promise<{ ok: boolean; status: number }>;

export interface SignalOptions {
  readonly fetch?: FetchLike;
  /** Attempts in all (default 4). */
  readonly attempts?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Milliseconds one PUT may take before it is abandoned and retried (default 10 s). */
  readonly attemptTimeoutMs?: number;
}

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

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One PUT, abandoned after `timeoutMs` even if the transport ignores the abort signal. */
async function putOnce(send: FetchLike, url: string, body: string, timeoutMs: number): Promise<{ ok: boolean; status: number }> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      const error = new Error(`no answer within ${timeoutMs} ms`);
      error.name = 'TimeoutError';
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([send(url, { method: 'PUT', headers: { 'Content-Type': '' }, body, signal: controller.signal }), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * PUTs the signal to the handle URL with an empty Content-Type (what the presigned URL was
 * signed with). Each attempt is abandoned after `attemptTimeoutMs`. Retries network errors,
 * timeouts and 5xx answers; throws VmExport.WorkflowError after the last attempt or on a 4xx
 * answer (e.g. an expired URL).
 */
export async function sendSignal(url: string, signal: WaitConditionSignal, options: SignalOptions = {}): Promise<void> {
  const send: FetchLike = options.fetch ?? ((u, init) => fetch(u, init));
  const attempts = options.attempts ?? 4;
  const sleep = options.sleep ?? defaultSleep;
  const timeoutMs = options.attemptTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const body = JSON.stringify(signal);
  let last = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const res = await putOnce(send, url, body, timeoutMs);
      if (res.ok) {
        return;
      }
      last = `HTTP ${res.status}`;
      if (res.status < 500) {
        break;
      }
    } catch (err) {
      // The error text of a failed request may contain the URL: keep only its name.
      last = `network error (${(err as { name?: string } | undefined)?.name ?? 'Error'})`;
    }
    if (attempt < attempts) {
      await sleep(Math.min(8000, 500 * 2 ** (attempt - 1)));
    }
  }
  throw new VmExportError(ERROR_WORKFLOW_ERROR,
    `Could not signal the wait condition handle (${signal.Status} ${signal.Data}): ${last}.`);
}
