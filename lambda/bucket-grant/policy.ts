import {
  DeleteBucketPolicyCommand,
  GetBucketPolicyCommand,
  PutBucketPolicyCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { errorCode, grantError, isNoSuchBucket, noSuchBucketError, s3CallError } from './errors';

/** A policy statement: only `Sid` matters to us, every other field is kept as it is. */
export interface PolicyStatement {
  Sid?: string;
  [key: string]: unknown;
}

/** A bucket policy document with its statements as an array. */
export interface PolicyDocument {
  Version?: string;
  Statement: PolicyStatement[];
  [key: string]: unknown;
}

/** The statement that lets the VM Import/Export service read the ACL and write the image. */
export function serviceStatement(sid: string, canonicalId: string, partition: string, bucket: string): PolicyStatement {
  const bucketArn = `arn:${partition}:s3:::${bucket}`;
  return {
    Sid: sid,
    Effect: 'Allow',
    Principal: { CanonicalUser: canonicalId },
    Action: ['s3:GetBucketAcl', 's3:PutObject'],
    Resource: [bucketArn, `${bucketArn}/*`],
  };
}

/** Parse a bucket policy as S3 returns it; a single statement object becomes a one-item array. */
export function parsePolicy(text: string | undefined, bucket: string): PolicyDocument {
  if (text === undefined || text.trim() === '') return emptyPolicy();
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw grantError(`The bucket policy of '${bucket}' is not valid JSON; fix or delete the policy and deploy again.`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw grantError(`The bucket policy of '${bucket}' is not a JSON object; fix or delete the policy and deploy again.`);
  }
  const raw = doc as Record<string, unknown>;
  const statements = raw.Statement === undefined ? [] : Array.isArray(raw.Statement) ? raw.Statement : [raw.Statement];
  return { ...raw, Statement: statements as PolicyStatement[] };
}

function emptyPolicy(): PolicyDocument {
  return { Version: '2012-10-17', Statement: [] };
}

/** The bucket's current policy, an empty one when it has none, or undefined when the bucket is gone and `ignoreMissingBucket` is set. */
export async function readPolicy(s3: S3Client, bucket: string, ignoreMissingBucket = false): Promise<PolicyDocument | undefined> {
  try {
    const out = await s3.send(new GetBucketPolicyCommand({ Bucket: bucket }));
    return parsePolicy(out.Policy, bucket);
  } catch (err) {
    if (errorCode(err) === 'NoSuchBucketPolicy') return emptyPolicy();
    if (isNoSuchBucket(err)) {
      if (ignoreMissingBucket) return undefined;
      throw noSuchBucketError(bucket);
    }
    throw s3CallError('GetBucketPolicy', bucket, err);
  }
}

/** Write the policy, or delete it when no statement is left (S3 refuses a policy without statements). */
export async function writePolicy(s3: S3Client, bucket: string, policy: PolicyDocument, ignoreMissingBucket = false): Promise<void> {
  try {
    if (policy.Statement.length === 0) {
      await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    } else {
      await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
    }
  } catch (err) {
    if (ignoreMissingBucket && isNoSuchBucket(err)) return;
    throw s3CallError(policy.Statement.length === 0 ? 'DeleteBucketPolicy' : 'PutBucketPolicy', bucket, err);
  }
}
