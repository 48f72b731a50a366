import { Duration, RemovalPolicy, Stack, aws_iam as iam, aws_lambda as lambda, aws_logs as logs, custom_resources as cr } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { acknowledgeServiceConstraints } from './acknowledgements';
import { handlerCode } from './handler-assets';
import { handlerRuntime } from './handler-runtime';

const PROVIDER_ID = 'VmExportBucketGrantProvider';

/**
 * The custom resource provider that grants the VM Import/Export service account access to
 * export buckets (bucket ACL, and for imported buckets the bucket policy). One per stack,
 * shared by every export bucket in it.
 */
export class BucketGrantProvider extends Construct {
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

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    // An explicit role: log writes scoped to the handler's own log group, no managed policy.
    const role = new iam.Role(this, 'HandlerRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    this.handler = new lambda.Function(this, 'Handler', {
      role,
      code: handlerCode('bucket-grant'),
      handler: 'index.handler',
      runtime: handlerRuntime(this),
      timeout: Duration.minutes(2),
      memorySize: 256,
      description: 'Grants the VM Import/Export service account access to an export bucket',
      logGroup: new logs.LogGroup(this, 'HandlerLogs', {
        retention: logs.RetentionDays.ONE_YEAR,
        removalPolicy: RemovalPolicy.RETAIN,
      }),
    });
    this.handler.logGroup.grantWrite(role);
    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.handler,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', {
        retention: logs.RetentionDays.ONE_YEAR,
        removalPolicy: RemovalPolicy.RETAIN,
      }),
    });
    this.serviceToken = provider.serviceToken;
    acknowledgeServiceConstraints(this);
  }

  /**
   * Let the handler manage the grants of one bucket.
   *
   * @param bucketArn the bucket's ARN
   * @param managePolicy also read and write the bucket policy (imported buckets)
   */
  public grantBucket(bucketArn: string, managePolicy: boolean): void {
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
  }
}
