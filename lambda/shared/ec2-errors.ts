/**
 * Errors: the library's named errors and helpers to read AWS SDK errors.
 */
import {
  ERROR_EXPORT_REJECTED,
  ERROR_QUOTA_FULL,
  ERROR_THROTTLED,
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
  return THROTTLING_CODES.has(errorCode(err));
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

/** True when the service says the conversion-task quota is full. */
export function isQuotaFull(err: unknown): boolean {
  const code = errorCode(err);
  if (code === 'ResourceLimitExceeded') {
    return true;
  }
  const msg = errorMessage(err).toLowerCase();
  return /conversion[ -]?tasks?/.test(msg) && /(limit|maximum|exceed|quota)/.test(msg);
}

/** Error codes (exact or prefix) that mean the service refused this export for good. */
const REJECTION_CODES = ['AuthFailure', 'NotExportable', 'InvalidParameter', 'InvalidParameterValue',
  'InvalidParameterCombination', 'Unsupported', 'UnsupportedOperation', 'InvalidInstanceID',
  'IncorrectInstanceState', 'InvalidPermission', 'MissingParameter'];

/** True when CreateInstanceExportTask refused the request (not worth retrying). */
export function isRejection(err: unknown): boolean {
  const code = errorCode(err);
  return REJECTION_CODES.some((c) => code === c || code.startsWith(c + '.'));
}

/** What to do about a rejection, by error code and message. */
export function rejectionHint(err: unknown): string {
  const code = errorCode(err);
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
  if (isThrottling(err)) {
    return throttledError(err, `CreateInstanceExportTask for ${instanceId}`);
  }
  if (isQuotaFull(err)) {
    return new VmExportError(ERROR_QUOTA_FULL,
      `The conversion-task quota of this region is full; the export of ${instanceId} waits for a free slot (${errorCode(err)}: ${errorMessage(err)}). The default quota is 5 concurrent tasks per region, adjustable to 20 via Service Quotas.`);
  }
  if (isRejection(err)) {
    return new VmExportError(ERROR_EXPORT_REJECTED,
      `EC2 refused to export ${instanceId}: ${errorCode(err)}: ${errorMessage(err)} ${rejectionHint(err)}`);
  }
  return err;
}
