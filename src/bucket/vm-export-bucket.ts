import {
  Annotations,
  Aws,
  CustomResource,
  Duration,
  RemovalPolicy,
  Stack,
  Token,
  aws_iam as iam,
  aws_s3 as s3,
} from 'aws-cdk-lib';
import { Construct, DependencyGroup, IConstruct, IDependable } from 'constructs';
import { BucketGrantProvider } from './bucket-grant-provider';
import { VmExportCanonicalIds } from './canonical-ids';
import { acknowledgeExportBucket, BUCKET_GRANT_RESOURCE_TYPE, BUCKET_POLICY_SID } from '../internal';
import { validateDefaultCanonicalId } from './partitions';
import { validateBucketName, validateCanonicalId } from './validation';
import { appBucketChecks, isVmExportBucket, ownedCfnBucket, synthBucketProblems } from './vm-export-bucket-checks';

/**
 * An S3 bucket that VM Import/Export can write an exported instance into.
 */
export interface IVmExportBucket extends IConstruct {
  /** The underlying bucket. */
  readonly bucket: s3.IBucket;
  /** The bucket's name. */
  readonly bucketName: string;
  /** The bucket's ARN. */
  readonly bucketArn: string;
  /** The canonical ID of the VM Import/Export service account the bucket grants access to. */
  readonly canonicalId: string;
  /**
   * The grants to the service account (bucket ACL and bucket policy). Anything that starts
   * an export must depend on this, so that no export starts before the bucket can receive it.
   */
  readonly grantsApplied: IDependable;
}

/**
 * Options for using an existing bucket as the export bucket.
 */
export interface VmExportBucketImportOptions {
  /**
   * The canonical ID of the VM Import/Export service account to grant access to.
   *
   * Set it for a region newer than the library's table, or a private partition. Required in
   * the partitions without a documented ID (`aws-eusc`, `aws-iso*`).
   *
   * @default - the ID for the stack's region (`VmExportCanonicalIds.of(scope)`); an error at
   * synth time when the stack's region is in `aws-eusc` or `aws-iso*`, and at deploy time when
   * an environment-agnostic stack is deployed there
   */
  readonly canonicalId?: string;
}

/**
 * Properties of a `VmExportBucket`.
 */
export interface VmExportBucketProps {
  /**
   * The bucket's physical name.
   *
   * @default - CloudFormation generates a unique name
   */
  readonly bucketName?: string;

  /**
   * The canonical ID of the VM Import/Export service account to grant access to.
   *
   * Set it for a region newer than the library's table, or a private partition. Must be
   * 64 lowercase hexadecimal characters. Required in the partitions without a documented ID
   * (`aws-eusc`, `aws-iso*`).
   *
   * @default - the ID for the stack's region (`VmExportCanonicalIds.of(this)`); an error at
   * synth time when the stack's region is in `aws-eusc` or `aws-iso*`, and at deploy time when
   * an environment-agnostic stack is deployed there
   */
  readonly canonicalId?: string;

  /**
   * What happens to the bucket when it leaves the stack. Exported images are kept unless
   * you opt in to deleting them.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Delete every object in the bucket when the bucket is removed. Requires
   * `removalPolicy: RemovalPolicy.DESTROY`.
   *
   * @default false
   */
  readonly autoDeleteObjects?: boolean;

  /**
   * Keep every version of every object.
   *
   * @default false
   */
  readonly versioned?: boolean;

  /**
   * Delete exported images this long after they were written (whole days, at least one).
   *
   * @default - exports never expire
   */
  readonly expireExportsAfter?: Duration;

  /**
   * Abort multipart uploads that did not complete (an interrupted export) after this long
   * (whole days, at least one).
   *
   * @default Duration.days(7)
   */
  readonly abortIncompleteUploadsAfter?: Duration;

  /**
   * A bucket to write server access logs to.
   *
   * @default - no server access logs
   */
  readonly serverAccessLogsBucket?: s3.IBucket;

  /**
   * The key prefix of the server access logs.
   *
   * @default - no prefix
   */
  readonly serverAccessLogsPrefix?: string;
}

/**
 * An S3 bucket prepared for VM Import/Export instance exports.
 *
 * The bucket is encrypted with SSE-S3 (the service cannot write to SSE-KMS buckets), lets
 * ACLs work (object ownership `BucketOwnerPreferred`), blocks public access, accepts HTTPS
 * only, aborts incomplete uploads, and is retained when the stack is deleted. A custom
 * resource adds READ_ACP and WRITE for the region's VM Import/Export canonical ID to the
 * bucket ACL, keeping every other grant, and the bucket policy gets the statement the
 * service's guide documents.
 *
 * @example
 * const exportBucket = new VmExportBucket(this, 'ExportBucket', {
 *   expireExportsAfter: Duration.days(30),
 * });
 */
export class VmExportBucket extends Construct implements IVmExportBucket {
  /**
   * Use an existing bucket as the export bucket.
   *
   * At deploy time a custom resource checks the bucket (same region as the stack, object
   * ownership not `BucketOwnerEnforced`, default encryption not SSE-KMS) and fails the
   * deployment with the fix when it is not usable. It then adds the ACL grants and merges a
   * statement with a Sid of its own into the bucket policy, which records the ACL grants it
   * added. On delete it removes its statement and only the grants it added, unless another
   * stack's grant resource still relies on them. The bucket policy is never replaced.
   *
   * @param scope the scope
   * @param id the construct id
   * @param bucketName the existing bucket's name
   * @param options import options
   */
  public static fromBucketName(
    scope: Construct,
    id: string,
    bucketName: string,
    options: VmExportBucketImportOptions = {},
  ): IVmExportBucket {
    return new ImportedVmExportBucket(scope, id, bucketName, options);
  }

  /**
   * Use a bucket the app already defines (or any `s3.IBucket`) as the export bucket.
   *
   * At synth time the bucket is refused when what the app says about it already rules it out:
   * a region or account other than the stack's, SSE-KMS or DSSE-KMS default encryption, or
   * object ownership `BucketOwnerEnforced` (a bucket without object ownership settings gets a
   * warning: S3 creates new buckets with `BucketOwnerEnforced`). At deploy time a custom
   * resource checks the rest (location, ownership controls, default encryption) and adds the
   * ACL grants, as with `fromBucketName`.
   *
   * A bucket the app creates (`new s3.Bucket`) gets the service's statement in its own bucket
   * policy (`addToResourcePolicy`), which CloudFormation manages; any other bucket gets the
   * statement merged into its policy at deploy time, as with `fromBucketName`.
   *
   * @param scope the scope
   * @param id the construct id
   * @param bucket the bucket
   * @param options import options
   */
  public static fromBucket(
    scope: Construct,
    id: string,
    bucket: s3.IBucket,
    options: VmExportBucketImportOptions = {},
  ): IVmExportBucket {
    return new ExistingVmExportBucket(scope, id, bucket, options);
  }

  public readonly bucket: s3.IBucket;
  public readonly bucketName: string;
  public readonly bucketArn: string;
  public readonly canonicalId: string;
  public readonly grantsApplied: IDependable;

  /**
   * @param scope the scope to create the bucket in
   * @param id the construct id (part of the logical ids: renaming it replaces the bucket)
   * @param props bucket properties
   */
  constructor(scope: Construct, id: string, props: VmExportBucketProps = {}) {
    super(scope, id);
    validateProps(this, props);

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: props.bucketName,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: props.versioned,
      removalPolicy,
      autoDeleteObjects: props.autoDeleteObjects,
      serverAccessLogsBucket: props.serverAccessLogsBucket,
      serverAccessLogsPrefix: props.serverAccessLogsPrefix,
      lifecycleRules: lifecycleRules(props),
    });
    acknowledgeExportBucket(bucket, { serverAccessLogs: !!props.serverAccessLogsBucket, versioned: !!props.versioned });
    this.bucket = bucket;
    this.bucketName = bucket.bucketName;
    this.bucketArn = bucket.bucketArn;
    const canonicalId = props.canonicalId ?? VmExportCanonicalIds.of(this);

    bucket.addToResourcePolicy(serviceAccessStatement(canonicalId, bucket));
    const aclGrant = grantResource(this, this.bucket, canonicalId, false, props.canonicalId === undefined);
    this.canonicalId = publishedCanonicalId(canonicalId, aclGrant);

    const grants = new DependencyGroup();
    grants.add(aclGrant);
    if (bucket.policy) {
      grants.add(bucket.policy);
      // On delete the grant looks in this policy for other stacks that still rely on the
      // grants; CloudFormation deletes the policy too, so the grant must go first.
      aclGrant.node.addDependency(bucket.policy);
    }
    this.grantsApplied = grants;
  }
}

/**
 * An existing bucket, checked and granted at deploy time.
 */
class ImportedVmExportBucket extends Construct implements IVmExportBucket {
  public readonly bucket: s3.IBucket;
  public readonly bucketName: string;
  public readonly bucketArn: string;
  public readonly canonicalId: string;
  public readonly grantsApplied: IDependable;

  constructor(scope: Construct, id: string, bucketName: string, options: VmExportBucketImportOptions) {
    super(scope, id);
    const errors = [
      ...validateBucketName('bucketName', bucketName),
      ...validateCanonicalId('canonicalId', options.canonicalId),
      ...validateDefaultCanonicalId(this, 'canonicalId', options.canonicalId),
    ];
    throwIfErrors(this, errors);

    this.bucket = s3.Bucket.fromBucketName(this, 'Bucket', bucketName);
    this.bucketName = this.bucket.bucketName;
    this.bucketArn = this.bucket.bucketArn;
    const canonicalId = options.canonicalId ?? VmExportCanonicalIds.of(this);
    const grant = grantResource(this, this.bucket, canonicalId, true, options.canonicalId === undefined);
    this.canonicalId = publishedCanonicalId(canonicalId, grant);
    this.grantsApplied = grant;
    // A bucket of the same name that the app creates, or whose policy it manages, is checked at synth.
    this.node.addValidation({ validate: () => appBucketChecks(this, bucketName, undefined) });
  }
}

/**
 * An `s3.IBucket` of the app (or imported), checked at synth as far as the app knows it and at
 * deploy time for the rest.
 */
class ExistingVmExportBucket extends Construct implements IVmExportBucket {
  public readonly bucket: s3.IBucket;
  public readonly bucketName: string;
  public readonly bucketArn: string;
  public readonly canonicalId: string;
  public readonly grantsApplied: IDependable;

  constructor(scope: Construct, id: string, bucket: s3.IBucket, options: VmExportBucketImportOptions) {
    super(scope, id);
    if (isVmExportBucket(bucket)) {
      throw new Error(`${this.node.path}: invalid properties:\n- bucket is already a VmExportBucket ('${(bucket as IConstruct).node.path}'): ` +
        'pass it directly as the bucket of an InstanceExport instead of wrapping it with VmExportBucket.fromBucket().');
    }
    if (!bucket || typeof bucket !== 'object' || typeof (bucket as s3.IBucket).bucketName !== 'string' || !(bucket as s3.IBucket).node) {
      throw new Error(`${this.node.path}: invalid properties:\n- bucket is ${bucket === undefined ? 'undefined' : typeof bucket}, not an s3.IBucket: ` +
        'pass a bucket construct (new s3.Bucket(...), s3.Bucket.fromBucketName(...)), or use VmExportBucket.fromBucketName() for a bucket name.');
    }
    const errors = [
      ...validateCanonicalId('canonicalId', options.canonicalId),
      ...validateDefaultCanonicalId(this, 'canonicalId', options.canonicalId),
      ...synthBucketProblems(this, bucket, ownedCfnBucket(bucket)),
    ];
    throwIfErrors(this, errors);

    this.bucket = bucket;
    this.bucketName = bucket.bucketName;
    this.bucketArn = bucket.bucketArn;
    const owned = ownedCfnBucket(bucket);
    const canonicalId = options.canonicalId ?? VmExportCanonicalIds.of(this);
    if (owned) {
      // The app creates this bucket and CloudFormation manages its policy: the statement goes
      // there (a statement merged at deploy time would race that policy and be lost on its next
      // update). In another stack, the ID is that stack's own (its conditions, or a literal).
      const policyId = options.canonicalId ?? (Stack.of(bucket) === Stack.of(this) ? canonicalId : VmExportCanonicalIds.of(bucket));
      bucket.addToResourcePolicy(serviceAccessStatement(policyId, bucket));
      if (Stack.of(owned).resolve(owned.ownershipControls) === undefined) {
        Annotations.of(this).addWarningV2('cdk-vm-export:bucketOwnershipUnset',
          `bucket '${bucket.node.path}' sets no object ownership: S3 creates new buckets with BucketOwnerEnforced, which disables ` +
          'the ACLs VM Import/Export needs, and the deployment then fails. Set objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED.');
      }
    }
    const grant = grantResource(this, bucket, canonicalId, !owned, options.canonicalId === undefined, true);
    const grants = new DependencyGroup();
    grants.add(grant);
    if (owned && bucket.policy) {
      grants.add(bucket.policy);
      grant.node.addDependency(bucket.policy);
    }
    this.canonicalId = publishedCanonicalId(canonicalId, grant);
    this.grantsApplied = grants;
    if (!owned) {
      this.node.addValidation({ validate: () => appBucketChecks(this, bucket.bucketName, bucket) });
    }
  }
}

/**
 * The canonical ID other constructs read. A literal stays a literal; a deploy-time value (the
 * conditions on AWS::Region of an environment-agnostic stack, a parameter) is read back from the
 * grant resource, so that a consumer (each InstanceExport, possibly in another stack) carries one
 * `Fn::GetAtt` instead of a copy of the expression and its conditions.
 */
function publishedCanonicalId(canonicalId: string, grant: CustomResource): string {
  return Token.isUnresolved(canonicalId) ? grant.getAttString('CanonicalId') : canonicalId;
}

/** The statement the service's guide asks for: the service account reads the ACL and writes. */
function serviceAccessStatement(canonicalId: string, bucket: s3.IBucket): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: BUCKET_POLICY_SID,
    principals: [new iam.CanonicalUserPrincipal(canonicalId)],
    actions: ['s3:GetBucketAcl', 's3:PutObject'],
    resources: [bucket.bucketArn, bucket.arnForObjects('*')],
  });
}

/**
 * The custom resource that adds the service account's grants (and, if imported, policy).
 * `defaulted`: the canonical ID is the library's default, not the user's.
 */
function grantResource(
  scope: Construct,
  bucket: s3.IBucket,
  canonicalId: string,
  imported: boolean,
  defaulted: boolean,
  verify: boolean = imported,
): CustomResource {
  const provider = BucketGrantProvider.of(scope);
  provider.grantBucket(bucket.bucketArn, imported);
  // The shape handlers read: BucketGrantProperties in lambda/shared/contract.ts.
  const properties = {
    BucketName: bucket.bucketName,
    CanonicalId: canonicalId,
    Partition: Aws.PARTITION,
    VerifyBucket: String(verify),
    ExpectedRegion: Aws.REGION,
    ManagePolicy: String(imported),
    PolicySid: BUCKET_POLICY_SID,
    // Only an environment-agnostic stack learns its partition at deploy time: the handler then
    // refuses a defaulted ID in a partition without a documented one (aws-eusc, aws-iso*).
    ...(defaulted && Token.isUnresolved(Stack.of(scope).region) ? { CanonicalIdDefaulted: 'true' } : {}),
  };
  const resource = new CustomResource(scope, 'ServiceGrant', {
    serviceToken: provider.serviceToken,
    resourceType: BUCKET_GRANT_RESOURCE_TYPE,
    properties,
  });
  // The handler's permissions must exist before it runs.
  resource.node.addDependency(provider.handler);
  return resource;
}

function lifecycleRules(props: VmExportBucketProps): s3.LifecycleRule[] {
  const rules: s3.LifecycleRule[] = [{
    id: 'AbortIncompleteUploads',
    abortIncompleteMultipartUploadAfter: props.abortIncompleteUploadsAfter ?? Duration.days(7),
  }];
  if (props.expireExportsAfter) {
    rules.push({ id: 'ExpireExports', expiration: props.expireExportsAfter });
  }
  return rules;
}

function validateProps(scope: Construct, props: VmExportBucketProps): void {
  const errors: string[] = [
    ...validateCanonicalId('canonicalId', props.canonicalId),
    ...validateDefaultCanonicalId(scope, 'canonicalId', props.canonicalId),
    ...validateBucketName('bucketName', props.bucketName),
    ...validateWholeDays('expireExportsAfter', props.expireExportsAfter),
    ...validateWholeDays('abortIncompleteUploadsAfter', props.abortIncompleteUploadsAfter),
  ];
  if (props.autoDeleteObjects && props.removalPolicy !== RemovalPolicy.DESTROY) {
    errors.push(
      `autoDeleteObjects is true but removalPolicy is ${props.removalPolicy ?? 'RETAIN (the default)'}: ` +
      'objects can only be deleted with a bucket that is destroyed. Set removalPolicy: RemovalPolicy.DESTROY, ' +
      'or drop autoDeleteObjects to keep the exported images.',
    );
  }
  if (props.serverAccessLogsPrefix !== undefined && !props.serverAccessLogsBucket) {
    errors.push(
      `serverAccessLogsPrefix is '${props.serverAccessLogsPrefix}' but no serverAccessLogsBucket is set: ` +
      'set serverAccessLogsBucket to the bucket that receives the logs, or drop the prefix.',
    );
  }
  const logsBucketName = props.serverAccessLogsBucket?.bucketName;
  if (props.bucketName && logsBucketName && !Token.isUnresolved(logsBucketName) && logsBucketName === props.bucketName) {
    errors.push(
      `serverAccessLogsBucket is the export bucket itself ('${logsBucketName}'): logging a bucket into itself ` +
      'writes a log object for every log delivery, forever. Use a separate bucket for access logs.',
    );
  }
  throwIfErrors(scope, errors);
}

function validateWholeDays(prop: string, value: Duration | undefined): string[] {
  if (value === undefined || value.isUnresolved()) {
    return [];
  }
  const days = value.toSeconds() / 86400;
  if (days < 1 || !Number.isInteger(days)) {
    return [
      `${prop} is ${value.toHumanString()}: S3 lifecycle rules count whole days. ` +
      'Use Duration.days(n) with n at least 1.',
    ];
  }
  return [];
}

function throwIfErrors(scope: Construct, errors: string[]): void {
  if (errors.length > 0) {
    throw new Error(`${scope.node.path}: invalid properties:\n- ${errors.join('\n- ')}`);
  }
}
