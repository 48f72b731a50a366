import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { WorkflowErrors } from '../export-workflow-names';

/**
 * Errors of the Lambda service itself (not of the handler) that are worth retrying.
 */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

/**
 * Errors the Lambda steps throw for conditions that pass (quota aside): throttling and other
 * transient errors (InternalError, Unavailable, HTTP 5xx, network errors, timed-out requests).
 */
export const TRANSIENT_STEP_ERRORS = [WorkflowErrors.THROTTLED, WorkflowErrors.TRANSIENT];

/**
 * A type test that is safe on a missing field: IsPresent first (And stops at the first false
 * rule), so that neither Step Functions nor the local interpreter evaluates a missing path.
 */
export function presentString(jsonPath: string): sfn.Condition {
  return sfn.Condition.and(sfn.Condition.isPresent(jsonPath), sfn.Condition.isString(jsonPath));
}

export function addLambdaRetries(task: tasks.LambdaInvoke): void {
  task.addRetry({
    errors: LAMBDA_SERVICE_ERRORS,
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 6,
    jitterStrategy: sfn.JitterType.FULL,
  });
}
