import { Duration, Stack, aws_lambda as lambda } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { acknowledgeServiceConstraints } from './acknowledgements';
import { createHandlerProvider } from './handler-provider';

const HANDLER_ID = 'VmExportCustomResources';

/**
 * The one Lambda function per stack that serves the library's custom resources
 * (Custom::VmExportBucketGrant, Custom::VmInstanceExport, Custom::VmExportAttributes), created
 * on first use. CloudFormation invokes it once per event and it answers CloudFormation itself.
 * One function for all three keeps a stack with an export bucket and an export at one role, one
 * policy and one log group for the custom resources; its role holds the permissions every user
 * of it was granted (BucketGrantProvider, InstanceExportProvider).
 */
export class CustomResourceHandler extends Construct {
  /** The stack's handler, created on first use. */
  public static of(scope: IConstruct): CustomResourceHandler {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(HANDLER_ID) as CustomResourceHandler | undefined;
    return existing ?? new CustomResourceHandler(stack, HANDLER_ID);
  }

  /** The Lambda function. */
  public readonly handler: lambda.Function;
  /** The service token for the custom resources (the function's ARN). */
  public readonly serviceToken: string;

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    const { handler, serviceToken } = createHandlerProvider(this, {
      handlerName: 'custom-resource',
      description: 'cdk-vm-export custom resources: grants export buckets to the VM Import/Export service; starts, checks and cancels instance exports',
      timeout: Duration.minutes(5),
    });
    this.handler = handler;
    this.serviceToken = serviceToken;
    this.acknowledge();
  }

  /** Records (again) why the function, its role, policy and log group are as they are. */
  public acknowledge(): void {
    acknowledgeServiceConstraints(this);
  }
}
