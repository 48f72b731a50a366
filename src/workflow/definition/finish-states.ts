import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  FAILURE_STATES,
  WorkflowErrors,
  WorkflowEvents,
  WorkflowPaths,
  WorkflowStateNames as N,
} from '../export-workflow-names';
import { addLambdaRetries, presentString, TRANSIENT_STEP_ERRORS } from './state-helpers';

/**
 * Finish (outcome, cleanup, signal) and what follows it: the outcome event, then Succeed or the
 * Fail state named after the documented error. Returns the Finish state, which every path of
 * the workflow ends in.
 */
export function buildFinish(scope: Construct, fn: lambda.IFunction): tasks.LambdaInvoke {
  const finish = tasks.LambdaInvoke.jsonPath(scope, N.FINISH, {
    comment: 'Decide the outcome, cancel a task that is still active, signal the wait condition.',
    lambdaFunction: fn,
    payload: sfn.TaskInput.fromObject({
      action: 'finish',
      request: sfn.JsonPath.objectAt(WorkflowPaths.REQUEST),
      error: sfn.JsonPath.objectAt(WorkflowPaths.ERROR),
    }),
    retryOnServiceExceptions: false,
    outputPath: '$.Payload',
  });
  addLambdaRetries(finish);
  finish.addRetry({
    errors: TRANSIENT_STEP_ERRORS,
    interval: Duration.seconds(5),
    backoffRate: 2,
    maxAttempts: 8,
    maxDelay: Duration.seconds(60),
    jitterStrategy: sfn.JitterType.FULL,
  });

  const finishFailed = sfn.Fail.jsonPath(scope, N.FINISH_FAILED, {
    comment: 'The finish step failed: the outcome is unknown and the wait condition may not be signalled (the signal backstop does it).',
    error: WorkflowErrors.FINISH_FAILED,
    causePath: `${WorkflowPaths.FINISH_ERROR}.Cause`,
  });
  finish.addCatch(finishFailed, { errors: [sfn.Errors.ALL], resultPath: WorkflowPaths.FINISH_ERROR });

  finish.next(buildOutcome(scope));
  return finish;
}

/**
 * The outcome event is published once the outcome is known, before the execution ends:
 * SUCCEEDED ─► PublishSucceeded ─► Succeeded; anything else ─► PublishFailed ─► CheckFailure.
 * Its detail is the finish step's output as is ('$' always exists, so the publish state can
 * never fail on a missing path, which no Catch would handle).
 */
function buildOutcome(scope: Construct): sfn.IChainable {
  const checkOutcome = sfn.Choice.jsonPath(scope, N.CHECK_OUTCOME, {
    comment: 'Publish the outcome event, then end in Succeed or in a Fail state named after the documented error.',
  });
  const checkFailure = sfn.Choice.jsonPath(scope, N.CHECK_FAILURE, {
    comment: 'End in the Fail state named after the documented error.',
  });
  checkOutcome.when(
    sfn.Condition.and(presentString('$.status'), sfn.Condition.stringEquals('$.status', 'SUCCEEDED')),
    publishOutcome(scope, N.PUBLISH_SUCCEEDED, WorkflowEvents.SUCCEEDED,
      sfn.Succeed.jsonPath(scope, N.SUCCEEDED, { comment: 'The export completed; the output is the WorkflowOutput.' })),
  );
  checkOutcome.otherwise(publishOutcome(scope, N.PUBLISH_FAILED, WorkflowEvents.FAILED, checkFailure));
  for (const failure of FAILURE_STATES) {
    checkFailure.when(
      sfn.Condition.and(
        presentString('$.status'),
        sfn.Condition.stringEquals('$.status', 'FAILED'),
        presentString('$.errorName'),
        sfn.Condition.stringEquals('$.errorName', failure.error),
        presentString('$.cause'),
      ),
      sfn.Fail.jsonPath(scope, failure.stateName, {
        error: failure.error,
        causePath: '$.cause',
      }),
    );
  }
  checkFailure.otherwise(sfn.Fail.jsonPath(scope, N.UNEXPECTED_OUTCOME, {
    comment: 'The finish step returned an outcome the workflow does not know.',
    error: WorkflowErrors.WORKFLOW_ERROR,
    cause: 'The finish step returned an unexpected result (no known status, errorName and cause).',
  }));
  return checkOutcome;
}


/**
 * An EventBridge PutEvents state (default bus, no Lambda) that publishes the state's input (the
 * finish step's output) as the event detail and passes its input on unchanged. A failure to
 * publish is retried once and then caught: it never changes the outcome of the export.
 */
function publishOutcome(scope: Construct, stateName: string, detailType: string, next: sfn.IChainable): sfn.IChainable {
  const publish = tasks.EventBridgePutEvents.jsonPath(scope, stateName, {
    comment: `Publish '${detailType}' (source ${WorkflowEvents.SOURCE}) on the default event bus; failures are ignored.`,
    entries: [{
      source: WorkflowEvents.SOURCE,
      detailType,
      detail: sfn.TaskInput.fromJsonPathAt('$'),
    }],
    resultPath: sfn.JsonPath.DISCARD,
  });
  publish.addRetry({
    errors: [sfn.Errors.ALL],
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 1,
    jitterStrategy: sfn.JitterType.FULL,
  });
  publish.addCatch(next, { errors: [sfn.Errors.ALL], resultPath: sfn.JsonPath.DISCARD });
  return publish.next(next);
}
