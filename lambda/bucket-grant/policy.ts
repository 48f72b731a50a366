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

/** The policy with `statement` in place of the statement(s) with its Sid, or appended. Pure. */
export function withStatement(policy: PolicyDocument, statement: PolicyStatement): PolicyDocument {
  const at = policy.Statement.findIndex((s) => s.Sid === statement.Sid);
  if (at < 0) return { ...policy, Statement: [...policy.Statement, statement] };
  const Statement = policy.Statement
    .map((s, i) => (i === at ? statement : s))
    .filter((s, i) => i === at || s.Sid !== statement.Sid);
  return { ...policy, Statement };
}

/** The policy without the statement(s) whose Sid is `sid`. Pure. */
export function withoutStatement(policy: PolicyDocument, sid: string): PolicyDocument {
  return { ...policy, Statement: policy.Statement.filter((s) => s.Sid !== sid) };
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

/** The bucket's current policy, an empty one when it has none, or undefined when the bucket is gone and that is allowed. */
async function readPolicy(s3: S3Client, bucket: string, ignoreMissingBucket: boolean): Promise<PolicyDocument | undefined> {
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

async function writePolicy(s3: S3Client, bucket: string, policy: PolicyDocument, ignoreMissingBucket: boolean): Promise<void> {
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

/**
 * Merge the service statement into the bucket policy (replacing a statement with the same Sid,
 * keeping every other statement) and drop the statement of `removeSid` when given (a changed
 * Sid on Update). Writes only when the document changes. Returns true when it wrote.
 */
export async function mergeServiceStatement(
  s3: S3Client,
  bucket: string,
  statement: PolicyStatement,
  removeSid?: string,
): Promise<boolean> {
  const current = await readPolicy(s3, bucket, false) as PolicyDocument;
  let next = current;
  if (removeSid !== undefined && removeSid !== statement.Sid) next = withoutStatement(next, removeSid);
  next = withStatement(next, statement);
  if (JSON.stringify(next) === JSON.stringify(current)) return false;
  await writePolicy(s3, bucket, next, false);
  return true;
}

/**
 * Remove only the statement(s) with `sid` from the bucket policy; delete the policy when no
 * statement is left. A bucket or policy that is already gone counts as done. Returns true when
 * it wrote.
 */
export async function removeServiceStatement(
  s3: S3Client,
  bucket: string,
  sid: string,
  options: { ignoreMissingBucket?: boolean } = {},
): Promise<boolean> {
  const ignore = options.ignoreMissingBucket ?? false;
  const current = await readPolicy(s3, bucket, ignore);
  if (current === undefined) return false;
  const next = withoutStatement(current, sid);
  if (next.Statement.length === current.Statement.length) return false;
  await writePolicy(s3, bucket, next, ignore);
  return true;
}
