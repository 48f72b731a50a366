/**
 * Errors: the library's named errors and helpers to read AWS SDK errors.
 */
import {
  ERROR_EXPORT_REJECTED,
  ERROR_QUOTA_FULL,
  ERROR_THROTTLED,
  ERROR_TRANSIENT,
} from './contract';
import { truncate } from './truncate';

/**
 * An error whose `name` is one of the contract's ERROR_* names. The Lambda runtime reports
 * `name` as the error type, which the workflow's Retry / Catch match on.
 */
export class VmExportError extends Error {
  constructor(name: string, message: string) {
    super(truncate(message));
    this.name = name;
  }
}

/** The error code of an AWS SDK v3 error (its `name`, or `Code` / `code` for odd shapes). */
export function errorCode(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { name?: unknown; Code?: unknown; code?: unknown };
    for (const v of [e.Code, e.code, e.name]) {
      if (typeof v === 'string' && v !== '' && v !== 'Error') {
        return v;
      }
    }
    if (typeof e.name === 'string') {
      return e.name;
    }
  }
  return 'UnknownError';
}

/**
 * The error code without the `Client.` / `Server.` fault prefix. The EC2 guides write codes with
 * it (the VM export errors list `Client.UnsupportedOperation`); the Query API's `<Code>`, which
 * the SDK v3 copies verbatim into the error's `name`, normally has none (`UnsupportedOperation`).
 * Both forms are accepted.
 */
export function bareCode(err: unknown): string {
  return errorCode(err).replace(/^(Client|Server)\./, '');
}

/** The message of any thrown value. */
export function errorMessage(err: unknown): string {
  if (err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
}

const THROTTLING_CODES = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'SlowDown',
  'TooManyRequestsException',
  'RequestThrottled',
]);

/** True for EC2 / S3 / CloudFormation throttling errors. */
export function isThrottling(err: unknown): boolean {
  return THROTTLING_CODES.has(bareCode(err));
}

/** True when the error says the resource does not exist (`*.NotFound`, `NoSuch*`, 404). */
export function isNotFound(err: unknown): boolean {
  const code = errorCode(err);
  if (code.endsWith('.NotFound') || code.startsWith('NoSuch') || code === 'NotFound') {
    return true;
  }
  const status = (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return status === 404;
}

/** A VmExport.Throttled error that keeps the service's code and message. */
export function throttledError(err: unknown, what: string): VmExportError {
  return new VmExportError(ERROR_THROTTLED,
    `AWS throttled ${what} (${errorCode(err)}: ${errorMessage(err)}). The workflow retries with backoff; if it persists, lower the API call rate in this account and region.`);
}

/** Server-side error codes that are documented as, or behave as, "try again". */
const TRANSIENT_CODES = new Set([
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'ServiceUnavailable',
  'Unavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

/** Node.js and SDK names of failed connections and requests that timed out. */
const NETWORK_ERRORS = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN',
  'ENETUNREACH', 'EHOSTUNREACH', 'TimeoutError', 'AbortError',
]);

/**
 * True for errors that pass: InternalError, Unavailable and the like, any HTTP 5xx answer, and
 * network errors or timed-out requests (no HTTP answer at all). Throttling is reported apart
 * (isThrottling), though it passes too.
 */
export function isTransient(err: unknown): boolean {
  if (isThrottling(err)) {
    return false;
  }
  const code = bareCode(err);
  if (TRANSIENT_CODES.has(code) || NETWORK_ERRORS.has(code)) {
    return true;
  }
  const e = err as { $fault?: unknown; $metadata?: { httpStatusCode?: number }; code?: unknown } | undefined;
  const status = e?.$metadata?.httpStatusCode;
  if (typeof status === 'number' && status >= 500) {
    return true;
  }
  return typeof e?.code === 'string' && NETWORK_ERRORS.has(e.code);
}

/** A VmExport.Transient error that keeps the service's code and message. */
export function transientError(err: unknown, what: string): VmExportError {
  return new VmExportError(ERROR_TRANSIENT,
    `${what} failed with a transient error (${errorCode(err)}: ${errorMessage(err)}). The workflow retries with backoff.`);
}

/**
 * The library's name for an error that passes (VmExport.Throttled or VmExport.Transient), or
 * the error itself. Every step that calls AWS throws through this, so that the workflow retries
 * every transient error, wherever it happens.
 */
export function retryableOr(err: unknown, what: string): unknown {
  if (err instanceof VmExportError) {
    return err;
  }
  if (isThrottling(err)) {
    return throttledError(err, what);
  }
  if (isTransient(err)) {
    return transientError(err, what);
  }
  return err;
}

/** Phrases of the (unpublished) messages about a full conversion-task quota. */
const QUOTA_MESSAGE = /(too many|maximum|max|limit|quota|exceed).*(active|concurrent|running|conversion|export).*tasks?|(active|concurrent|conversion|export)[ -]?tasks?.*(limit|maximum|exceed|quota|too many)/;

/**
 * True when the service says the conversion-task quota is full. Nobody has published the real
 * error code, so (SPEC section 3): every `*LimitExceeded` code except RequestLimitExceeded
 * (throttling), and every message about too many active or concurrent conversion or export tasks.
 */
export function isQuotaFull(err: unknown): boolean {
  const code = bareCode(err);
  if (code !== 'RequestLimitExceeded' && /LimitExceeded$/.test(code)) {
    return true;
  }
  return QUOTA_MESSAGE.test(errorMessage(err).toLowerCase());
}

/** Error codes (exact or prefix) that mean the service refused this export for good. */
const REJECTION_CODES = ['AuthFailure', 'NotExportable', 'InvalidParameter', 'InvalidParameterValue',
  'InvalidParameterCombination', 'Unsupported', 'UnsupportedOperation', 'InvalidInstanceID',
  'IncorrectInstanceState', 'InvalidPermission', 'MissingParameter'];

/** True when CreateInstanceExportTask refused the request (not worth retrying). */
export function isRejection(err: unknown): boolean {
  const code = bareCode(err);
  return REJECTION_CODES.some((c) => code === c || code.startsWith(c + '.'));
}

/** What to do about a rejection, by error code and message. */
export function rejectionHint(err: unknown): string {
  const code = bareCode(err);
  const msg = errorMessage(err).toLowerCase();
  if (code === 'AuthFailure') {
    return 'Check that the bucket ACL grants READ_ACP and WRITE to the VM Import/Export canonical ID of this region (the bucket grant of this library does it) and that object ownership is not BucketOwnerEnforced.';
  }
  if (code.startsWith('InvalidInstanceID')) {
    return 'Check the instance id: the instance must exist in this account and region.';
  }
  if (code === 'IncorrectInstanceState') {
    return 'The instance must be running or stopped.';
  }
  if (msg.includes('not local to the region')) {
    return 'The bucket must be in the same region as the instance.';
  }
  if (msg.includes('multiple volumes')) {
    return 'Only instances with exactly one volume can be exported: detach the other volumes or export an AMI of the instance instead.';
  }
  if (msg.includes('marketplace')) {
    return 'Instances launched from AWS Marketplace (product-code) AMIs cannot be exported.';
  }
  if (msg.includes('snapshot')) {
    return 'The instance was launched from an image whose snapshot is not yours or was deleted: export an AMI of the instance (ExportImage) instead.';
  }
  if (code === 'Unsupported' || code.startsWith('InvalidParameter')) {
    return 'Check the target environment and formats: vmware takes VMDK (optionally in an ova), citrix and microsoft take VHD.';
  }
  return 'See the VM Import/Export requirements for instance export.';
}

/** Maps a CreateInstanceExportTask error to the library's error names; unknown errors as-is. */
export function mapStartError(err: unknown, instanceId: string): unknown {
  if (err instanceof VmExportError) {
    return err;
  }
  if (isThrottling(err) || isTransient(err)) {
    return retryableOr(err, `CreateInstanceExportTask for ${instanceId}`);
  }
  if (isQuotaFull(err)) {
    // The quota's real error code is unpublished: keep the raw code and message in the logs.
    console.log(JSON.stringify({ message: 'conversion-task quota full', instanceId, code: errorCode(err), error: errorMessage(err) }));
    return new VmExportError(ERROR_QUOTA_FULL,
      `The conversion-task quota of this region is full; the export of ${instanceId} waits for a free slot (${errorCode(err)}: ${errorMessage(err)}). The default quota is 5 concurrent tasks per region, adjustable to 20 via Service Quotas.`);
  }
  if (isRejection(err)) {
    return new VmExportError(ERROR_EXPORT_REJECTED,
      `EC2 refused to export ${instanceId}: ${errorCode(err)}: ${errorMessage(err)} ${rejectionHint(err)}`);
  }
  return err;
}
