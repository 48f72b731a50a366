import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { WorkflowErrors, WorkflowPaths, WorkflowStateNames as N, WorkflowTimings } from '../export-workflow-names';
import { addLambdaRetries, TRANSIENT_STEP_ERRORS } from './state-helpers';

/**
 * StartExport: adopts the request's task or starts one; retried with backoff while the
 * conversion-task quota is full and on transient errors. Its result is `$.start`
 * (`exportTaskId`, `state`).
 */
export function buildStartExport(scope: Construct, fn: lambda.IFunction): tasks.LambdaInvoke {
  const startExport = tasks.LambdaInvoke.jsonPath(scope, N.START_EXPORT, {
    comment: 'Adopt or start the export task (retried while the conversion-task quota is full).',
    lambdaFunction: fn,
    payload: sfn.TaskInput.fromObject({
      action: 'start',
      request: sfn.JsonPath.objectAt(WorkflowPaths.REQUEST),
    }),
    retryOnServiceExceptions: false,
    resultSelector: {
      exportTaskId: sfn.JsonPath.stringAt('$.Payload.exportTaskId'),
      state: sfn.JsonPath.stringAt('$.Payload.state'),
    },
    resultPath: WorkflowPaths.START,
  });
  addLambdaRetries(startExport);
  startExport.addRetry({
    errors: [WorkflowErrors.QUOTA_FULL, ...TRANSIENT_STEP_ERRORS],
    interval: Duration.seconds(WorkflowTimings.START_RETRY_INTERVAL_SECONDS),
    backoffRate: 2,
    maxDelay: Duration.seconds(WorkflowTimings.START_RETRY_MAX_DELAY_SECONDS),
    jitterStrategy: sfn.JitterType.FULL,
    maxAttempts: WorkflowTimings.START_RETRY_MAX_ATTEMPTS,
  });
  return startExport;
}
