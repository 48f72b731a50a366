import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** The execution endings after which the finish step may not have signalled. */
export const BACKSTOP_STATUSES = ['FAILED', 'ABORTED', 'TIMED_OUT'];

/** What the signal backstop is wired to. */
export interface SignalBackstopOptions {
  /** The export state machine whose executions are watched. */
  readonly stateMachine: sfn.IStateMachine;
  /** The export-task function, which also answers execution status change events. */
  readonly exportFunction: lambda.IFunction;
  /** The function's role (allowed to read the executions' input). */
  readonly functionRole: iam.IRole;
}

/**
 * The signal backstop: an EventBridge rule on the state machine's own execution status changes
 * (FAILED, ABORTED, TIMED_OUT) invokes the export-task function, which sends the wait condition
 * the FAILURE signal that an execution ending without the finish step owes it (see
 * lambda/export-task/backstop.ts). Without it a lost signal leaves the deployment waiting for
 * the full wait condition timeout.
 *
 * The read permission is a separate policy: the function's own policy cannot name the state
 * machine, which already depends on the function.
 */
export function addSignalBackstop(scope: Construct, options: SignalBackstopOptions): events.Rule {
  const stack = Stack.of(scope);
  const machineName = stack.splitArn(options.stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName;
  new iam.Policy(scope, 'SignalBackstopPolicy', {
    roles: [options.functionRole],
    statements: [new iam.PolicyStatement({
      sid: 'ReadEndedExecutions',
      actions: ['states:DescribeExecution'],
      resources: [stack.formatArn({
        service: 'states',
        resource: 'execution',
        resourceName: `${machineName}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      })],
    })],
  });
  return new events.Rule(scope, 'SignalBackstopRule', {
    description: 'cdk-vm-export: signal the wait condition of an export execution that ended without reporting its outcome',
    eventPattern: {
      source: ['aws.states'],
      detailType: ['Step Functions Execution Status Change'],
      detail: {
        status: BACKSTOP_STATUSES,
        stateMachineArn: [options.stateMachine.stateMachineArn],
      },
    },
    targets: [new targets.LambdaFunction(options.exportFunction, {
      retryAttempts: 8,
      maxEventAge: Duration.hours(2),
    })],
  });
}
