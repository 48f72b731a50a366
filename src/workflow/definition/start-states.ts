import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { WorkflowErrors, WorkflowPaths, WorkflowStateNames as N, WorkflowTimings } from '../export-workflow-names';
import { addLambdaRetries, TRANSIENT_STEP_ERRORS } from './state-helpers';

/**
 * StartExport: adopts the request's task or starts one. When the conversion-task quota is full
 * it answers `state: 'quota-full'` with the tasks that hold the slots (the workflow then waits in
 * the slot loop, slot-states.ts); when it sees no holder it throws VmExport.QuotaFull, retried
 * with backoff like transient errors. Its result is `$.start` (`exportTaskId`, `state`, and the
 * whole answer as `reply`, with `holders` and `imageHolders` when the quota is full).
 */
export function buildStartExport(scope: Construct, fn: lambda.IFunction): tasks.LambdaInvoke {
  const startExport = tasks.LambdaInvoke.jsonPath(scope, N.START_EXPORT, {
    comment: 'Adopt or start the export task (a full quota: wait for one of the tasks holding the slots).',
    lambdaFunction: fn,
    payload: sfn.TaskInput.fromObject({
      action: 'start',
      request: sfn.JsonPath.objectAt(WorkflowPaths.REQUEST),
    }),
    retryOnServiceExceptions: false,
    resultSelector: {
      exportTaskId: sfn.JsonPath.stringAt('$.Payload.exportTaskId'),
      state: sfn.JsonPath.stringAt('$.Payload.state'),
      // The whole answer: a full quota's answer also holds the slot holders (read with IsPresent).
      reply: sfn.JsonPath.objectAt('$.Payload'),
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
