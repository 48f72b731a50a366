/**
 * TEST CODE ONLY: a local stand-in for CloudFormation's DescribeStacks (the export provider
 * asks it whether the stack is rolling back).
 */
import { awsError } from './errors';

export class FakeCloudFormation {
  /** Stack status by stack id (or name). */
  public readonly stacks = new Map<string, string>();

  public setStackStatus(stackId: string, status: string): void {
    this.stacks.set(stackId, status);
  }

  public handle(operation: string, input: any): any {
    if (operation !== 'DescribeStacks') {
      throw awsError('cloudformation', 'InvalidAction', `fake-aws: CloudFormation ${operation} is not implemented`);
    }
    const status = this.stacks.get(input.StackName);
    if (!status) throw awsError('cloudformation', 'ValidationError', `Stack with id ${input.StackName} does not exist`);
    return { Stacks: [{ StackId: input.StackName, StackName: String(input.StackName).split('/')[1] ?? input.StackName, StackStatus: status }] };
  }
}
