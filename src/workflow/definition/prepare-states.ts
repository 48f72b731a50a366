import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { WorkflowStateNames as N } from '../export-workflow-names';
import { addLambdaRetries, TRANSIENT_STEP_ERRORS } from './state-helpers';

/**
 * Prepare (validation, normalization, read-only preflight). A failing Prepare goes to Finish
 * with the same shape as after the export: `{ request: <raw input>, error }`.
 */
export function buildPrepare(scope: Construct, fn: lambda.IFunction, finish: sfn.IChainable): tasks.LambdaInvoke {
  const prepare = tasks.LambdaInvoke.jsonPath(scope, N.PREPARE, {
    comment: 'Validate and normalize the input; run the read-only preflight checks.',
    lambdaFunction: fn,
    payload: sfn.TaskInput.fromObject({
      action: 'prepare',
      input: sfn.JsonPath.entirePayload,
    }),
    retryOnServiceExceptions: false,
    // ResultPath left at its default ($): the output is { request }. (An explicit '$' is also
    // misread by aws-local-stepfunctions as a key named '$'.)
    resultSelector: { request: sfn.JsonPath.objectAt('$.Payload') },
  });
  addLambdaRetries(prepare);
  prepare.addRetry({
    errors: TRANSIENT_STEP_ERRORS,
    interval: Duration.seconds(5),
    backoffRate: 2,
    maxAttempts: 6,
    maxDelay: Duration.seconds(60),
    jitterStrategy: sfn.JitterType.FULL,
  });
  const prepareFailed = sfn.Pass.jsonPath(scope, N.PREPARE_FAILED, {
    comment: 'Give Finish the same shape as after the export: { request: <raw input>, error }.',
    parameters: {
      request: sfn.JsonPath.objectAt('$$.Execution.Input'),
      error: sfn.JsonPath.objectAt('$'),
    },
  });
  prepare.addCatch(prepareFailed, { errors: [sfn.Errors.ALL] });
  prepareFailed.next(finish);
  return prepare;
}
