import { Stack, aws_iam as iam, aws_lambda as lambda } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { CustomResourceHandler } from '../internal';

const PROVIDER_ID = 'VmExportBucketGrantProvider';

/**
 * The custom resource provider that grants the VM Import/Export service account access to
 * export buckets (bucket ACL, and for imported buckets the bucket policy). One per stack,
 * shared by every export bucket in it; its function is the stack's CustomResourceHandler.
 */
export class BucketGrantProvider extends Construct {
  /**
   * True when the stack's provider was asked to grant `bucketArn`: its function may then already
   * read the bucket's location, ownership controls, encryption and ACL (what the export's
   * preflight reads), and the export need not grant them again to the same function.
   */
  public static readsBucket(scope: IConstruct, bucketArn: string): boolean {
    const existing = Stack.of(scope).node.tryFindChild(PROVIDER_ID) as BucketGrantProvider | undefined;
    return existing?.buckets.has(bucketArn) ?? false;
  }

  /** The stack's provider, created on first use. */
  public static of(scope: IConstruct): BucketGrantProvider {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(PROVIDER_ID) as BucketGrantProvider | undefined;
    return existing ?? new BucketGrantProvider(stack, PROVIDER_ID);
  }

  /** The Lambda function that reads and writes the bucket ACL and policy. */
  public readonly handler: lambda.Function;
  /** The service token for `CustomResource`. */
  public readonly serviceToken: string;

  private readonly buckets = new Set<string>();

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    const shared = CustomResourceHandler.of(this);
    this.handler = shared.handler;
    this.serviceToken = shared.serviceToken;
  }

  /**
   * Let the handler manage the grants of one bucket.
   *
   * The bucket policy records which grant resources hold the grants (one statement each, see
   * lambda/bucket-grant/holders.ts). An imported bucket's handler reads and writes it; a
   * VmExportBucket's policy belongs to CloudFormation, and its handler only reads it (on delete,
   * or when the canonical ID changes) to find other stacks that still rely on the grants.
   *
   * @param bucketArn the bucket's ARN
   * @param managePolicy also read and write the bucket policy (imported buckets)
   */
  public grantBucket(bucketArn: string, managePolicy: boolean): void {
    this.buckets.add(bucketArn);
    const actions = [
      's3:GetBucketAcl',
      's3:PutBucketAcl',
      's3:GetBucketLocation',
      's3:GetBucketOwnershipControls',
      's3:GetEncryptionConfiguration',
    ];
    if (managePolicy) {
      actions.push('s3:GetBucketPolicy', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy');
    }
    this.handler.addToRolePolicy(new iam.PolicyStatement({ actions, resources: [bucketArn] }));
    if (!managePolicy) {
      this.handler.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetBucketPolicy'], resources: [bucketArn] }));
    }
  }
}
