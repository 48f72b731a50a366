/**
 * The settings of an export bucket that VM Import/Export depends on (SPEC section 2), read one
 * way for both the bucket grant's check of an imported bucket and the workflow's preflight:
 * the region, whether ACLs are disabled, and a default encryption the service cannot use.
 * These functions only read and interpret; the callers word the problems and map S3's errors.
 */
import {
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetBucketOwnershipControlsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { normalizeBucketRegion } from './bucket-region';

/** Default encryption algorithms VM Import/Export cannot write with: SSE-KMS and DSSE-KMS. */
export const UNSUPPORTED_ENCRYPTION: readonly string[] = ['aws:kms', 'aws:kms:dsse'];

/** The error code of an SDK error (`name`, else `Code`). */
function codeOf(err: unknown): string {
  const e = err as { name?: unknown; Code?: unknown } | undefined;
  return typeof e?.name === 'string' && e.name !== 'Error' ? e.name : typeof e?.Code === 'string' ? e.Code : '';
}

/** The bucket's region (GetBucketLocation, normalized). S3's errors are thrown as they are. */
export async function bucketRegion(s3: S3Client, bucket: string): Promise<string> {
  const out = await s3.send(new GetBucketLocationCommand({ Bucket: bucket }));
  return normalizeBucketRegion(out.LocationConstraint);
}

/**
 * True when a rule of the bucket's ownership controls is BucketOwnerEnforced (ACLs disabled).
 * A bucket without ownership controls behaves like ObjectWriter: ACLs work.
 */
export async function aclsDisabled(s3: S3Client, bucket: string): Promise<boolean> {
  try {
    const out = await s3.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket }));
    return (out.OwnershipControls?.Rules ?? []).some((r) => r.ObjectOwnership === 'BucketOwnerEnforced');
  } catch (err) {
    if (codeOf(err) === 'OwnershipControlsNotFoundError') {
      return false;
    }
    throw err;
  }
}

/** The default encryption algorithm of the bucket that the service cannot use, if any. */
export async function unsupportedEncryption(s3: S3Client, bucket: string): Promise<string | undefined> {
  try {
    const out = await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
    return (out.ServerSideEncryptionConfiguration?.Rules ?? [])
      .map((r) => r.ApplyServerSideEncryptionByDefault?.SSEAlgorithm as string | undefined)
      .find((a): a is string => typeof a === 'string' && UNSUPPORTED_ENCRYPTION.includes(a));
  } catch (err) {
    if (codeOf(err) === 'ServerSideEncryptionConfigurationNotFoundError') {
      return undefined;
    }
    throw err;
  }
}
