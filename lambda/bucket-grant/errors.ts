/**
 * Error helpers of the bucket grant handler. The handler turns a thrown error into a FAILED
 * response whose reason is the error message (see ../shared/cfn-response.ts), and CloudFormation shows that reason in
 * the stack events, so every message names the bucket, the problem and the fix, and stays short
 * (a response body is limited to 4096 bytes).
 */

/** The longest SDK message quoted in one of our errors. */
const MAX_SDK_MESSAGE = 300;
/** The longest message this handler throws. */
export const MAX_ERROR_MESSAGE = 2000;

/** The error code of an SDK v3 error (`name`, or `Code` for unmodelled errors), or ''. */
export function errorCode(err: unknown): string {
  if (typeof err !== 'object' || err === null) return '';
  const e = err as { name?: unknown; Code?: unknown };
  if (typeof e.name === 'string' && e.name !== '' && e.name !== 'Error' && e.name !== 'S3ServiceException') return e.name;
  return typeof e.Code === 'string' ? e.Code : '';
}

/** The message of any thrown value, on one line and cut to `max` characters. */
export function errorMessage(err: unknown, max: number = MAX_SDK_MESSAGE): string {
  const raw = err instanceof Error ? err.message : String(err);
  return truncate(raw.replace(/\s+/g, ' ').trim(), max);
}

/** Cut a string to `max` characters, marking the cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/** True when the error is S3 telling us the bucket does not exist. */
export function isNoSuchBucket(err: unknown): boolean {
  return errorCode(err) === 'NoSuchBucket';
}

/**
 * The error thrown when an S3 call fails unexpectedly (AccessDenied, SlowDown, ...): which call,
 * on which bucket, and the SDK's own code and message.
 */
export function s3CallError(call: string, bucket: string, err: unknown): Error {
  const code = errorCode(err);
  const message = errorMessage(err);
  const detail = code && !message.startsWith(code) ? `${code}: ${message}` : message || code || 'unknown error';
  const hint = hintFor(code, call);
  const base = `S3 ${call} failed on bucket '${bucket}': ${detail}`;
  return grantError(hint ? `${base.replace(/\.+$/, '')}. ${hint}` : base);
}

/** A short fix for the errors a user can act on. */
function hintFor(code: string, call: string): string {
  switch (code) {
    case 'AccessDenied':
    case 'AllAccessDisabled':
      return `Check that the handler's role may call s3:${call} on the bucket and that no bucket policy or SCP denies it.`;
    case 'SlowDown':
    case 'Throttling':
    case 'ThrottlingException':
    case 'TooManyRequestsException':
    case 'RequestLimitExceeded':
      return 'S3 throttled the request after retries; deploy again.';
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
    case 'IllegalLocationConstraintException':
      return 'The bucket is in another region; the export bucket must be in the stack\'s region.';
    default:
      return '';
  }
}

/** The name of every error this handler throws itself. */
export const GRANT_ERROR_NAME = 'VmExportBucketGrantError';

/** An error of this handler, its message cut to MAX_ERROR_MESSAGE. */
export function grantError(message: string): Error {
  const error = new Error(truncate(message, MAX_ERROR_MESSAGE));
  error.name = GRANT_ERROR_NAME;
  return error;
}

/** The error thrown when the bucket does not exist (Create / Update only). */
export function noSuchBucketError(bucket: string): Error {
  return grantError(
    `Bucket '${bucket}' does not exist (NoSuchBucket). Create it in this account and region, or pass the name of an existing bucket.`,
  );
}
