import {
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetBucketOwnershipControlsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { errorCode, grantError, isNoSuchBucket, noSuchBucketError, s3CallError } from './errors';
import { normalizeBucketRegion } from '../shared/bucket-region';

/** Default encryption algorithms VM Import/Export cannot write with. */
const UNSUPPORTED_ENCRYPTION = ['aws:kms', 'aws:kms:dsse'];

/** The region problem, or undefined when the bucket is in the expected region. */
async function checkLocation(s3: S3Client, bucket: string, expectedRegion: string): Promise<string | undefined> {
  let region: string;
  try {
    const out = await s3.send(new GetBucketLocationCommand({ Bucket: bucket }));
    region = normalizeBucketRegion(out.LocationConstraint);
  } catch (err) {
    if (isNoSuchBucket(err)) throw noSuchBucketError(bucket);
    throw s3CallError('GetBucketLocation', bucket, err);
  }
  if (region === expectedRegion) return undefined;
  return `it is in ${region} but the stack is in ${expectedRegion}; VM Import/Export only exports to a bucket in the instance's region, so use a bucket in ${expectedRegion}`;
}

/** The object ownership problem, or undefined when ACLs are enabled. */
async function checkOwnership(s3: S3Client, bucket: string): Promise<string | undefined> {
  try {
    const out = await s3.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket }));
    const rules = out.OwnershipControls?.Rules ?? [];
    if (!rules.some((r) => r.ObjectOwnership === 'BucketOwnerEnforced')) return undefined;
  } catch (err) {
    // A bucket without ownership controls behaves like ObjectWriter: ACLs work.
    if (errorCode(err) === 'OwnershipControlsNotFoundError') return undefined;
    if (isNoSuchBucket(err)) throw noSuchBucketError(bucket);
    throw s3CallError('GetBucketOwnershipControls', bucket, err);
  }
  return 'its object ownership is BucketOwnerEnforced, which disables ACLs, so the export service cannot be granted access; fix: '
    + `aws s3api put-bucket-ownership-controls --bucket ${bucket} --ownership-controls 'Rules=[{ObjectOwnership=BucketOwnerPreferred}]'`;
}

/** The default encryption problem, or undefined for none or SSE-S3. */
async function checkEncryption(s3: S3Client, bucket: string): Promise<string | undefined> {
  let algorithms: string[];
  try {
    const out = await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
    algorithms = (out.ServerSideEncryptionConfiguration?.Rules ?? [])
      .map((r) => r.ApplyServerSideEncryptionByDefault?.SSEAlgorithm as string | undefined)
      .filter((a): a is string => typeof a === 'string');
  } catch (err) {
    if (errorCode(err) === 'ServerSideEncryptionConfigurationNotFoundError') return undefined;
    if (isNoSuchBucket(err)) throw noSuchBucketError(bucket);
    throw s3CallError('GetBucketEncryption', bucket, err);
  }
  const bad = algorithms.find((a) => UNSUPPORTED_ENCRYPTION.includes(a));
  if (bad === undefined) return undefined;
  return `its default encryption is ${bad}, which VM Import/Export does not support; fix: use SSE-S3, `
    + `aws s3api put-bucket-encryption --bucket ${bucket} --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'`;
}

/**
 * Check an existing (imported) bucket before granting: region, object ownership and default
 * encryption. Every problem found is reported in one error. A missing bucket or a failing S3
 * call ends the check at once.
 */
export async function verifyBucket(s3: S3Client, bucket: string, expectedRegion: string): Promise<void> {
  const problems: string[] = [];
  for (const check of [
    () => checkLocation(s3, bucket, expectedRegion),
    () => checkOwnership(s3, bucket),
    () => checkEncryption(s3, bucket),
  ]) {
    const problem = await check();
    if (problem !== undefined) problems.push(problem);
  }
  if (problems.length === 0) return;
  const list = problems.length === 1 ? problems[0] : problems.map((p, i) => `(${i + 1}) ${p}`).join(' ');
  throw grantError(`Bucket '${bucket}' cannot receive VM exports: ${list}`);
}
