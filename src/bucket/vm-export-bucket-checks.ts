import { Reference, Stack, Token, Tokenization, aws_s3 as s3 } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Synth-time checks of buckets the app knows about (VmExportBucket.fromBucket and
 * fromBucketName): what the app's own template says rules a bucket out before anything deploys.
 */

/** KMS-based default encryptions, which VM Import/Export cannot write into. */
const KMS_ALGORITHMS = ['aws:kms', 'aws:kms:dsse'];

/** True for anything shaped like an IVmExportBucket (also for callers in plain JavaScript). */
export function isVmExportBucket(x: unknown): boolean {
  if (x === null || typeof x !== 'object') {
    return false;
  }
  const o = x as Record<string, unknown>;
  return 'grantsApplied' in o && 'canonicalId' in o && typeof o.bucket === 'object' && o.bucket !== null;
}

/** The CfnBucket of a bucket the app creates (`new s3.Bucket`), else undefined. */
export function ownedCfnBucket(bucket: s3.IBucket): s3.CfnBucket | undefined {
  const child = bucket.node.defaultChild;
  return child instanceof s3.CfnBucket ? child : undefined;
}

/** Problems of a bucket that the app's template shows at synth (region, account, encryption, ownership). */
export function synthBucketProblems(scope: IConstruct, bucket: s3.IBucket, cfn: s3.CfnBucket | undefined): string[] {
  const problems: string[] = [];
  const here = Stack.of(scope);
  const env = bucket.env;
  const label = `bucket '${bucket.node.path}'`;
  if (!Token.isUnresolved(env.region) && !Token.isUnresolved(here.region) && env.region !== here.region) {
    problems.push(`${label} is in region ${env.region} but this stack is in ${here.region}: VM Import/Export writes only to a ` +
      `bucket in the exporting region. Use a bucket of ${here.region}.`);
  }
  if (!Token.isUnresolved(env.account) && !Token.isUnresolved(here.account) && env.account !== here.account) {
    problems.push(`${label} is in account ${env.account} but this stack is in ${here.account}: the export bucket must belong to ` +
      'the exporting account. Use a bucket of the exporting account.');
  }
  if (cfn) {
    problems.push(...cfnBucketProblems(cfn, label));
  }
  return problems;
}

/** Encryption and object ownership of a bucket the app creates. */
function cfnBucketProblems(cfn: s3.CfnBucket, label: string): string[] {
  const problems: string[] = [];
  const stack = Stack.of(cfn);
  const encryption = stack.resolve(cfn.bucketEncryption) as
    { serverSideEncryptionConfiguration?: Array<{ serverSideEncryptionByDefault?: { sseAlgorithm?: unknown } }> } | undefined;
  const algorithms = (encryption?.serverSideEncryptionConfiguration ?? [])
    .map((rule) => rule?.serverSideEncryptionByDefault?.sseAlgorithm)
    .filter((a): a is string => typeof a === 'string');
  const kms = algorithms.find((a) => KMS_ALGORITHMS.includes(a));
  if (kms) {
    problems.push(`${label} has default encryption ${kms}: VM Import/Export cannot write to a KMS-encrypted bucket. ` +
      'Use encryption: s3.BucketEncryption.S3_MANAGED (SSE-S3).');
  }
  const ownership = stack.resolve(cfn.ownershipControls) as { rules?: Array<{ objectOwnership?: unknown }> } | undefined;
  if ((ownership?.rules ?? []).some((rule) => rule?.objectOwnership === s3.ObjectOwnership.BUCKET_OWNER_ENFORCED)) {
    problems.push(`${label} has object ownership BucketOwnerEnforced, which disables ACLs: VM Import/Export needs an ACL grant. ` +
      'Set objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED.');
  }
  return problems;
}

/** The literal bucket name of a CfnBucket, or undefined. */
function literalName(cfn: s3.CfnBucket): string | undefined {
  return typeof cfn.bucketName === 'string' && !Token.isUnresolved(cfn.bucketName) ? cfn.bucketName : undefined;
}

/** The CfnBuckets a (possibly tokenized) string refers to. */
function referencedBuckets(value: string): s3.CfnBucket[] {
  if (!Token.isUnresolved(value)) {
    return [];
  }
  return Tokenization.reverseString(value).tokens
    .filter((t): t is Reference => Reference.isReference(t))
    .map((t) => t.target)
    .filter((t): t is s3.CfnBucket => t instanceof s3.CfnBucket);
}

/**
 * Run at synth (a construct validation) for a bucket given by name or imported: the app's own
 * bucket of the same literal name is checked like `fromBucket` checks it, and a bucket policy the
 * app manages for it is refused (a statement merged at deploy time would race it and be lost on
 * its next update).
 */
export function appBucketChecks(scope: IConstruct, bucketName: string, bucket: s3.IBucket | undefined): string[] {
  const problems: string[] = [];
  const literal = Token.isUnresolved(bucketName) ? undefined : bucketName;
  const all = scope.node.root.node.findAll();
  const sameBucket = (cfn: s3.CfnBucket) => literal !== undefined && literalName(cfn) === literal;
  for (const c of all) {
    if (c instanceof s3.CfnBucket && sameBucket(c)) {
      problems.push(...cfnBucketProblems(c, `bucket '${bucketName}' (created by '${c.node.path}')`));
    }
  }
  for (const c of all) {
    if (!(c instanceof s3.CfnBucketPolicy) || typeof c.bucket !== 'string') {
      continue;
    }
    const matches = c.bucket === bucketName || (literal !== undefined && c.bucket === literal)
      || referencedBuckets(c.bucket).some(sameBucket)
      || (bucket !== undefined && c.bucket === bucket.bucketName);
    if (matches) {
      problems.push(`the policy of bucket '${literal ?? bucket?.node.path ?? bucketName}' is managed by CloudFormation (AWS::S3::BucketPolicy ` +
        `'${c.node.path}'): the service's statement, merged into the policy at deploy time, would race that resource and be ` +
        'removed by its next update. When the app creates the bucket, pass the bucket itself with VmExportBucket.fromBucket(bucket) ' +
        '(the statement then goes into that policy); otherwise remove the AWS::S3::BucketPolicy from the app, or use a new VmExportBucket.');
    }
  }
  return problems;
}
