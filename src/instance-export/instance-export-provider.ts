import { ArnFormat, Aws, Stack, aws_iam as iam, aws_lambda as lambda } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { BucketGrantProvider } from '../bucket/bucket-grant-provider';
import { IVmImportServiceRole } from '../image-export/vm-import-service-role';
import { CustomResourceHandler } from '../internal';
import {
  bucketPreflightStatement,
  cancelManagedExportTasksStatement,
  createTaggedExportTaskStatements,
  cancelManagedExportImageTasksStatement,
  createTaggedExportImageTaskStatements,
  describeImagesStatement,
  imageArn,
} from '../workflow/export-task-permissions';
import { InstanceExportWorkflow } from '../workflow/instance-export-workflow';

const PROVIDER_ID = 'VmExportInstanceExportProvider';

/**
 * The custom resource provider of `InstanceExport`: validates, runs the preflight checks,
 * starts one workflow execution per export and answers CloudFormation at once; stops and
 * cancels on delete. One per stack, shared by every export in it; its function is the stack's
 * CustomResourceHandler.
 */
export class InstanceExportProvider extends Construct {
  /**
   * The stack's provider, created on first use, allowed to run executions of `workflow` (and
   * of every workflow an earlier call passed).
   */
  public static of(scope: IConstruct, workflow: InstanceExportWorkflow): InstanceExportProvider {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(PROVIDER_ID) as InstanceExportProvider | undefined;
    const provider = existing ?? new InstanceExportProvider(stack, PROVIDER_ID, workflow);
    provider.allowWorkflow(workflow);
    return provider;
  }

  /** The Lambda function (the stack's CustomResourceHandler). */
  public readonly handler: lambda.Function;
  /** The service token for `CustomResource`. */
  public readonly serviceToken: string;

  private readonly grantedBuckets = new Set<string>();
  private readonly deletableObjects = new Set<string>();
  /** The workflows whose executions the handler may start, describe and stop. */
  private readonly workflows: InstanceExportWorkflow[] = [];
  private startGranted = false;
  private imageExportsGranted = false;
  private readonly readableRoles: IVmImportServiceRole[] = [];
  private readonly startableImages = new Set<string>();
  private handleReadGranted = false;
  private readonly handlerScope: CustomResourceHandler;

  private constructor(scope: Construct, id: string, workflow: InstanceExportWorkflow) {
    super(scope, id);
    this.handlerScope = CustomResourceHandler.of(this);
    this.handler = this.handlerScope.handler;
    this.serviceToken = this.handlerScope.serviceToken;

    this.allowWorkflow(workflow);
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      sid: 'DescribeForPreflight',
      // The Describe actions support no resource-level permissions.
      actions: ['ec2:DescribeExportTasks', 'ec2:DescribeInstances', 'ec2:DescribeVolumes'],
      resources: ['*'],
    }));
    this.handler.addToRolePolicy(cancelManagedExportTasksStatement(this));
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      sid: 'DetectRollback',
      actions: ['cloudformation:DescribeStacks'],
      resources: [Aws.STACK_ID],
    }));

    this.handlerScope.acknowledge();
  }

  /**
   * Let the handler start, describe and stop executions of `workflow` (once per workflow). The
   * first workflow's statements keep the Sids `StartExportWorkflow` / `StopExportWorkflow`;
   * the n-th workflow's get the suffix n (`StartExportWorkflow2`, ...).
   */
  private allowWorkflow(workflow: InstanceExportWorkflow): void {
    if (this.workflows.includes(workflow)) {
      return;
    }
    this.workflows.push(workflow);
    const suffix = this.workflows.length === 1 ? '' : String(this.workflows.length);
    const stack = Stack.of(this);
    const machineName = stack.splitArn(workflow.stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName;
    const executions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${machineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      sid: `StartExportWorkflow${suffix}`,
      actions: ['states:StartExecution'],
      resources: [workflow.stateMachine.stateMachineArn],
    }));
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      sid: `StopExportWorkflow${suffix}`,
      actions: ['states:DescribeExecution', 'states:StopExecution'],
      resources: [executions],
    }));
    if (this.workflows.length > 1) {
      // The new executions/* statement has a wildcard resource: record why.
      this.handlerScope.acknowledge();
    }
  }

  /**
   * Let the handler read the stack's wait condition handles (once): it hashes a handle's URL
   * into the workflow input, so that only the executions it starts can have the handle signalled.
   */
  public grantWaitConditionReads(): void {
    if (this.handleReadGranted) {
      return;
    }
    this.handleReadGranted = true;
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      sid: 'ReadWaitConditionHandles',
      actions: ['cloudformation:DescribeStackResource'],
      resources: [Aws.STACK_ID],
    }));
  }

  /** Let the handler run the bucket preflight checks (and delete exported objects, if asked). */
  public grantBucket(bucketArn: string, deleteObjectsUnder?: string): void {
    if (!this.grantedBuckets.has(bucketArn)) {
      this.grantedBuckets.add(bucketArn);
      // The same function serves the bucket's grant in this stack, whose statement covers the reads.
      if (!BucketGrantProvider.readsBucket(this, bucketArn)) {
        this.handler.addToRolePolicy(bucketPreflightStatement(bucketArn));
      }
    }
    const objects = deleteObjectsUnder === undefined ? undefined : `${bucketArn}/${deleteObjectsUnder}*`;
    if (objects !== undefined && !this.deletableObjects.has(objects)) {
      this.deletableObjects.add(objects);
      this.handler.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: [objects] }));
      // Only the new wildcard statement needs a fresh look; the walk is not free in big stacks.
      this.handlerScope.acknowledge();
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
    for (const statement of createTaggedExportTaskStatements(this)) {
      this.handler.addToRolePolicy(statement);
    }
    this.handlerScope.acknowledge();
  }

  /**
   * Let the handler look up, and cancel on delete, the stack's export image tasks (once), and
   * read `serviceRole` for the preflight (GetRole, SimulatePrincipalPolicy: the role must trust
   * the service and may write to the bucket).
   */
  public grantImageExports(serviceRole: IVmImportServiceRole): void {
    if (!this.imageExportsGranted) {
      this.imageExportsGranted = true;
      this.handler.addToRolePolicy(describeImagesStatement());
      this.handler.addToRolePolicy(cancelManagedExportImageTasksStatement(this));
      this.handlerScope.acknowledge();
    }
    if (this.readableRoles.includes(serviceRole)) {
      return;
    }
    this.readableRoles.push(serviceRole);
    this.handler.addToRolePolicy(new iam.PolicyStatement({
      actions: ['iam:GetRole', 'iam:SimulatePrincipalPolicy'],
      resources: [serviceRole.roleArn],
    }));
  }

  /**
   * Let the handler start an image export itself (exports that do not wait for completion start
   * the task before answering CloudFormation): ExportImage on the AMI, and passing the role.
   */
  public grantStartImageExport(imageId: string, serviceRole: IVmImportServiceRole): void {
    this.grantImageExports(serviceRole);
    if (this.startableImages.size === 0) {
      for (const statement of createTaggedExportImageTaskStatements(this)) {
        this.handler.addToRolePolicy(statement);
      }
      this.handlerScope.acknowledge();
    }
    if (!this.startableImages.has(imageId)) {
      this.startableImages.add(imageId);
      this.handler.addToRolePolicy(new iam.PolicyStatement({ actions: ['ec2:ExportImage'], resources: [imageArn(this, imageId)] }));
    }
    serviceRole.grantPassRole(this.handler);
  }
}
