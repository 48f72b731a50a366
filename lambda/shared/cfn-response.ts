/**
 * The handlers answer CloudFormation themselves (no Provider framework in front of them: one
 * Lambda invocation per custom resource event). CloudFormation invokes the function
 * asynchronously with a presigned `ResponseURL` and waits for the response document there
 * (Lambda developer guide, "Using Lambda with CloudFormation"); Lambda retries an asynchronous
 * invocation that returns an error twice (CloudFormation reference, AWS::Lambda::EventInvokeConfig).
 *
 * - A result becomes SUCCESS with its physical id and Data.
 * - An error becomes FAILED with the error's message as the reason. A failed Create answers
 *   with a marker physical id (CREATE_FAILED_PREFIX): the Delete CloudFormation then sends
 *   for it finds nothing to remove (whatever the Create started it undid before it threw).
 * - The document is at most 4096 bytes: the reason is shortened to fit, and Data that cannot
 *   fit turns the answer into FAILED.
 * - The PUT is retried (see http-put.ts). When it still fails (other than with a 4xx answer: an
 *   expired URL stays expired) the invocation fails, and Lambda runs the event again (asynchronous invocations are retried twice): every handler is
 *   idempotent for a RequestId, so the retry gives the same answer.
 *
 * Neither URL is logged; the event is not logged (its properties are the user's).
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { PutOptions, putWithRetries } from './http-put';
import { ELLIPSIS, MAX_CUSTOM_RESOURCE_RESPONSE_BYTES, MAX_REASON_CHARS, truncate } from './truncate';

/** What a handler's logic returns for an event it handled. */
export interface CustomResourceResult {
  readonly PhysicalResourceId: string;
  readonly Data?: object;
}

/** The document CloudFormation reads from the ResponseURL. */
export interface CustomResourceResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly Data?: object;
}

/** Physical id of a resource whose Create failed (followed by the RequestId). */
export const CREATE_FAILED_PREFIX = 'vm-export:create-failed:';

/** True for the physical id a failed Create answered with: its Delete has nothing to do. */
export function isCreateFailedMarker(physicalId: string | undefined): boolean {
  return typeof physicalId === 'string' && physicalId.startsWith(CREATE_FAILED_PREFIX);
}

/** The reason CloudFormation shows for an error: its name when it names one, and its message. */
export function reasonOf(err: unknown): string {
  const e = err as { name?: unknown; message?: unknown } | undefined;
  const message = typeof e?.message === 'string' && e.message.trim() !== '' ? e.message : String(err);
  const name = typeof e?.name === 'string' && e.name !== 'Error' && !message.startsWith(e.name) ? `${e.name}: ` : '';
  return truncate(`${name}${message}`, MAX_REASON_CHARS);
}

function physicalIdOf(event: CloudFormationCustomResourceEvent): string | undefined {
  return (event as { PhysicalResourceId?: string }).PhysicalResourceId;
}

/** The FAILED document for an error. */
export function failedResponse(event: CloudFormationCustomResourceEvent, err: unknown): CustomResourceResponse {
  return fitted({
    Status: 'FAILED',
    Reason: reasonOf(err),
    PhysicalResourceId: physicalIdOf(event) ?? `${CREATE_FAILED_PREFIX}${event.RequestId}`,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  });
}

/** The SUCCESS document for a result (FAILED when its Data cannot fit in 4096 bytes). */
export function successResponse(event: CloudFormationCustomResourceEvent, result: CustomResourceResult): CustomResourceResponse {
  const response: CustomResourceResponse = {
    Status: 'SUCCESS',
    Reason: 'OK',
    PhysicalResourceId: result.PhysicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    ...(result.Data ? { Data: result.Data } : {}),
  };
  const bytes = sizeOf(response);
  if (bytes <= MAX_CUSTOM_RESOURCE_RESPONSE_BYTES) {
    return response;
  }
  // The work was done: answer with its physical id, so that the Delete CloudFormation sends next
  // undoes it (a create-failed marker would make that Delete do nothing).
  const done = { ...event, PhysicalResourceId: result.PhysicalResourceId } as CloudFormationCustomResourceEvent;
  return failedResponse(done, new Error(
    `The response to CloudFormation would take ${bytes} bytes, more than its limit of ${MAX_CUSTOM_RESOURCE_RESPONSE_BYTES}: ` +
    'please report this as a bug of cdk-vm-export.'));
}

function sizeOf(response: CustomResourceResponse): number {
  return Buffer.byteLength(JSON.stringify(response), 'utf8');
}

/**
 * Shortens the reason of a FAILED document until the whole document fits. A character takes 1 to
 * 6 bytes in the document (UTF-8, JSON escapes such as \u0001): the longest prefix of the reason
 * (whole code points, ellipsis added) whose document fits is found by bisection.
 */
function fitted(response: CustomResourceResponse): CustomResourceResponse {
  if (sizeOf(response) <= MAX_CUSTOM_RESOURCE_RESPONSE_BYTES || response.Reason === '') {
    return response;
  }
  const chars = Array.from(response.Reason);
  const withPrefix = (n: number) => ({ ...response, Reason: chars.slice(0, n).join('') + ELLIPSIS });
  let lo = 0;
  let hi = chars.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (sizeOf(withPrefix(mid)) <= MAX_CUSTOM_RESOURCE_RESPONSE_BYTES) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return withPrefix(lo);
}

/** How the handler answers (replaceable in tests). */
export interface AnswerOptions extends PutOptions {
  /** Where the decision line goes (default: console.log). */
  readonly log?: (line: string) => void;
}

/**
 * Runs `work` for the event and answers CloudFormation with its outcome. Resolves with the
 * document sent; rejects only when the document could not be delivered for a reason that may
 * pass (Lambda then retries the event).
 */
export async function answerCloudFormation(
  event: CloudFormationCustomResourceEvent,
  work: () => Promise<CustomResourceResult>,
  options: AnswerOptions = {},
): Promise<CustomResourceResponse> {
  let response: CustomResourceResponse;
  try {
    response = successResponse(event, await work());
  } catch (err) {
    response = failedResponse(event, err);
  }
  const log = options.log ?? ((line: string) => console.log(line));
  const sent = await putWithRetries(event.ResponseURL, JSON.stringify(response), options);
  // A 4xx answer (an expired or invalid URL) will not change: running the event again would only
  // repeat its work.
  const retry = !sent.ok && !/^HTTP 4\d\d$/.test(sent.last);
  log(JSON.stringify({
    message: sent.ok ? 'answered CloudFormation'
      : retry ? 'could not answer CloudFormation; Lambda retries the event' : 'could not answer CloudFormation: the response URL refused the answer',
    requestType: event.RequestType,
    logicalResourceId: event.LogicalResourceId,
    requestId: event.RequestId,
    status: response.Status,
    physicalResourceId: response.PhysicalResourceId,
    ...(response.Status === 'FAILED' ? { reason: response.Reason } : {}),
    ...(sent.ok ? {} : { error: sent.last }),
  }));
  if (retry) {
    throw new Error(`Could not deliver the response to CloudFormation: ${(sent as { last: string }).last}.`);
  }
  return response;
}
