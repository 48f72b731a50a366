/**
 * TEST CODE ONLY: a local stand-in for CloudFormation's DescribeStacks (the export provider
 * asks it whether the stack is rolling back) and DescribeStackResource (the export-task function
 * reads the wait condition handle's URL, its physical id).
 *
 * Errors as CloudFormation documents and returns them: an unknown stack or resource is a
 * `ValidationError` (HTTP 400) whose message says it does not exist. A deleted stack stays
 * readable by its stack id (DescribeStackResource: "for up to 90 days after the stack has been
 * deleted"), its resources with the status DELETE_COMPLETE.
 */
import { awsError } from './errors';

export class FakeCloudFormation {
  /** Stack status by stack id (or name). */
  public readonly stacks = new Map<string, string>();
  /** Physical ids and statuses by `<stack id>|<logical id>`. */
  public readonly resources = new Map<string, { physicalId: string; status: string }>();

  public setStackStatus(stackId: string, status: string): void {
    this.stacks.set(stackId, status);
  }

  /** Records a resource of a stack (the stack exists from then on, CREATE_IN_PROGRESS unless set). */
  public putResource(stackId: string, logicalId: string, physicalId: string): void {
    if (!this.stacks.has(stackId)) this.stacks.set(stackId, 'CREATE_IN_PROGRESS');
    this.resources.set(`${stackId}|${logicalId}`, { physicalId, status: 'CREATE_COMPLETE' });
  }

  /** Deletes a resource: still listed by stack id, with the status DELETE_COMPLETE. */
  public deleteResource(stackId: string, logicalId: string): void {
    const resource = this.resources.get(`${stackId}|${logicalId}`);
    if (resource) resource.status = 'DELETE_COMPLETE';
  }

  /** Deletes a stack and its resources (still readable by stack id). */
  public deleteStack(stackId: string): void {
    this.stacks.set(stackId, 'DELETE_COMPLETE');
    for (const [key, resource] of this.resources) if (key.startsWith(`${stackId}|`)) resource.status = 'DELETE_COMPLETE';
  }

  public handle(operation: string, input: any): any {
    switch (operation) {
      case 'DescribeStacks':
        return this.describeStacks(input);
      case 'DescribeStackResource':
        return this.describeStackResource(input);
      default:
        throw awsError('cloudformation', 'InvalidAction', `fake-aws: CloudFormation ${operation} is not implemented`);
    }
  }

  private describeStacks(input: any): any {
    const status = this.stacks.get(input.StackName);
    if (!status) throw awsError('cloudformation', 'ValidationError', `Stack with id ${input.StackName} does not exist`);
    return { Stacks: [{ StackId: input.StackName, StackName: String(input.StackName).split('/')[1] ?? input.StackName, StackStatus: status }] };
  }

  private describeStackResource(input: any): any {
    const stackId = String(input.StackName);
    if (!this.stacks.has(stackId)) throw awsError('cloudformation', 'ValidationError', `Stack '${stackId}' does not exist`);
    const resource = this.resources.get(`${stackId}|${input.LogicalResourceId}`);
    const stackName = stackId.split('/')[1] ?? stackId;
    if (resource === undefined) {
      throw awsError('cloudformation', 'ValidationError', `Resource ${input.LogicalResourceId} does not exist for stack ${stackName}`);
    }
    return {
      StackResourceDetail: {
        StackName: stackName,
        StackId: stackId,
        LogicalResourceId: input.LogicalResourceId,
        PhysicalResourceId: resource.physicalId,
        ResourceType: 'AWS::CloudFormation::WaitConditionHandle',
        LastUpdatedTimestamp: new Date(0),
        ResourceStatus: resource.status,
      },
    };
  }
}
