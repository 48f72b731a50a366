import { S3Client } from '@aws-sdk/client-s3';
import { grantError, isNoSuchBucket, noSuchBucketError, s3CallError } from './errors';
import { aclsDisabled, bucketRegion, unsupportedEncryption } from '../shared/bucket-settings';

/** Runs one read of the bucket, turning S3's errors into the grant handler's errors. */
async function read<T>(call: string, bucket: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isNoSuchBucket(err)) throw noSuchBucketError(bucket);
    throw s3CallError(call, bucket, err);
  }
}

/** The region problem, or undefined when the bucket is in the expected region. */
async function checkLocation(s3: S3Client, bucket: string, expectedRegion: string): Promise<string | undefined> {
  const region = await read('GetBucketLocation', bucket, () => bucketRegion(s3, bucket));
  if (region === expectedRegion) return undefined;
  return `it is in ${region} but the stack is in ${expectedRegion}; VM Import/Export only exports to a bucket in the instance's region, so use a bucket in ${expectedRegion}`;
}

/** The object ownership problem, or undefined when ACLs are enabled. */
async function checkOwnership(s3: S3Client, bucket: string): Promise<string | undefined> {
  if (!await read('GetBucketOwnershipControls', bucket, () => aclsDisabled(s3, bucket))) return undefined;
  return 'its object ownership is BucketOwnerEnforced, which disables ACLs, so the export service cannot be granted access; fix: '
    + `aws s3api put-bucket-ownership-controls --bucket ${bucket} --ownership-controls 'Rules=[{ObjectOwnership=BucketOwnerPreferred}]'`;
}

/** The default encryption problem, or undefined for none or SSE-S3. */
async function checkEncryption(s3: S3Client, bucket: string): Promise<string | undefined> {
  const bad = await read('GetBucketEncryption', bucket, () => unsupportedEncryption(s3, bucket));
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
