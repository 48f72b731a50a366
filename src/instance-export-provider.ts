import { ArnFormat, Aws, Duration, Stack, aws_iam as iam, aws_lambda as lambda, aws_logs as logs, custom_resources as cr } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { acknowledgeServiceConstraints } from './acknowledgements';
import { TAG_MANAGED, TAG_MANAGED_VALUE } from './export-constants';
import { handlerCode } from './handler-assets';
import { handlerRuntime } from './handler-runtime';
import { InstanceExportWorkflow } from './instance-export-workflow';

const PROVIDER_ID = 'VmExportInstanceExportProvider';

/**
 * The custom resource provider of `InstanceExport`: validates, runs the preflight checks,
 * starts one workflow execution per export and answers CloudFormation at once; stops and
 * cancels on delete. One per stack, shared by every export in it.
 */
export class InstanceExportProvider extends Construct {
  /** The stack's provider, created on first use. */
  public static of(scope: IConstruct, workflow: InstanceExportWorkflow): InstanceExportProvider {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(PROVIDER_ID) as InstanceExportProvider | undefined;
    return existing ?? new InstanceExportProvider(stack, PROVIDER_ID, workflow);
  }

  /** The onEvent Lambda function. */
  public readonly handler: lambda.Function;
  /** The service token for `CustomResource`. */
  public readonly serviceToken: string;

  private readonly grantedBuckets = new Set<string>();
  private readonly deletableObjects = new Set<string>();
  private startGranted = false;

  private constructor(scope: Construct, id: string, workflow: InstanceExportWorkflow) {
    super(scope, id);
    const stack = Stack.of(this);
    // An explicit role: log writes scoped to the handler's own log group, no managed policy.
    const role = new iam.Role(this, 'HandlerRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    this.handler = new lambda.Function(this, 'Handler', {
      role,
      code: handlerCode('export-provider'),
      handler: 'index.handler',
      runtime: handlerRuntime(this),
      timeout: Duration.minutes(5),
      memorySize: 256,
      description: 'Starts, checks and cancels VM Import/Export instance exports for CloudFormation',
      logGroup: new logs.LogGroup(this, 'HandlerLogs', { retention: logs.RetentionDays.ONE_YEAR }),
    });
    this.handler.logGroup.grantWrite(role);

    const machineName = stack.splitArn(workflow.stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName;
    const executions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${machineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      sid: 'StartExportWorkflow',
      actions: ['states:StartExecution'],
      resources: [workflow.stateMachine.stateMachineArn],
    }));
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      sid: 'StopExportWorkflow',
      actions: ['states:DescribeExecution', 'states:StopExecution'],
      resources: [executions],
    }));
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      sid: 'DescribeForPreflight',
      // The Describe actions support no resource-level permissions.
      actions: ['ec2:DescribeExportTasks', 'ec2:DescribeInstances', 'ec2:DescribeVolumes'],
      resources: ['*'],
    }));
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      sid: 'CancelManagedExportTasks',
      actions: ['ec2:CancelExportTask'],
      resources: [this.exportTaskArn()],
      conditions: { StringEquals: { [`aws:ResourceTag/${TAG_MANAGED}`]: TAG_MANAGED_VALUE } },
    }));
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      sid: 'DetectRollback',
      actions: ['cloudformation:DescribeStacks'],
      resources: [Aws.STACK_ID],
    }));

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.handler,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', { retention: logs.RetentionDays.ONE_YEAR }),
    });
    this.serviceToken = provider.serviceToken;
    acknowledgeServiceConstraints(this);
  }

  /** Let the handler run the bucket preflight checks (and delete exported objects, if asked). */
  public grantBucket(bucketArn: string, deleteObjectsUnder?: string): void {
    if (!this.grantedBuckets.has(bucketArn)) {
      this.grantedBuckets.add(bucketArn);
      this.handler.addToRolePolicy(new iam.PolicyStatement({
        actions: ['s3:GetBucketLocation', 's3:GetBucketOwnershipControls', 's3:GetEncryptionConfiguration', 's3:GetBucketAcl'],
        resources: [bucketArn],
      }));
    }
    const objects = deleteObjectsUnder === undefined ? undefined : `${bucketArn}/${deleteObjectsUnder}*`;
    if (objects !== undefined && !this.deletableObjects.has(objects)) {
      this.deletableObjects.add(objects);
      this.handler.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: [objects] }));
      // Only the new wildcard statement needs a fresh look; the walk is not free in big stacks.
      acknowledgeServiceConstraints(this);
    }
  }

  /**
   * Let the handler start an export of this instance itself (exports that do not wait for
   * completion start the task before answering CloudFormation).
   */
  public grantStartExport(instanceId: string): void {
    const stack = Stack.of(this);
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      actions: ['ec2:CreateInstanceExportTask'],
      resources: [stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: instanceId })],
    }));
    if (this.startGranted) {
      return;
    }
    this.startGranted = true;
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      sid: 'CreateTaggedExportTasks',
      actions: ['ec2:CreateInstanceExportTask'],
      resources: [this.exportTaskArn()],
      conditions: { StringEquals: { [`aws:RequestTag/${TAG_MANAGED}`]: TAG_MANAGED_VALUE } },
    }));
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      sid: 'TagExportTasksOnCreate',
      actions: ['ec2:CreateTags'],
      resources: [this.exportTaskArn()],
      conditions: { StringEquals: { 'ec2:CreateAction': 'CreateInstanceExportTask' } },
    }));
    acknowledgeServiceConstraints(this);
  }

  private exportTaskArn(): string {
    return Stack.of(this).formatArn({ service: 'ec2', resource: 'export-instance-task', resourceName: '*' });
  }
}
