import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { SIGNAL_DATA_SEPARATOR } from './export-constants';
import {
  FAILURE_STATES,
  WorkflowErrors,
  WorkflowEvents,
  WorkflowPaths,
  WorkflowStateNames as N,
  WorkflowTimings,
} from './export-workflow-names';

/**
 * Errors of the Lambda service itself (not of the handler) that are worth retrying.
 */
const LAMBDA_SERVICE_ERRORS = [
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
const TRANSIENT_STEP_ERRORS = [WorkflowErrors.THROTTLED, WorkflowErrors.TRANSIENT];

/** Options of the export workflow definition. */
export interface ExportWorkflowDefinitionOptions {
  /** The export-task function (`prepare`, `start`, `finish`). */
  readonly exportFunction: lambda.IFunction;
}

/**
 * Builds the export workflow (JSONPath only, so that aws-local-stepfunctions runs the very
 * definition that is deployed):
 *
 * ```
 * Prepare ──(catch)──► PrepareFailed ─┐
 *    │                                 ▼
 * Export (Parallel) ──(catch $.error)─► Finish ─► CheckOutcome ─► PublishSucceeded ─► Succeeded
 *                                                 └─► (otherwise) PublishFailed ─► CheckFailure ─► <one Fail per error> | UnexpectedOutcome
 *    ├─ StartExport ─► CheckStarted ─(adopted, completed)─► AdoptedTaskCompleted (Fail INTERNAL_COMPLETED)
 *    │     └─► CountShortPoll ─► WaitShortPoll ─► DescribeExportTask ─► CheckExportState
 *    │       completed ─► TaskCompleted (Fail INTERNAL_COMPLETED)
 *    │       cancelled ─► TaskCancelled (Fail INTERNAL_CANCELLED, cause = StatusMessage)
 *    │       not listed ─► TaskNotListed ─► CountFailedPoll (as a failed poll)
 *    │       polls < 15 ─► CountShortPoll      otherwise ─► WaitLongPoll ─► DescribeExportTask
 *    │     DescribeExportTask fails (any error, after 3 quick retries) ─► CountFailedPoll ─► CheckFailedPolls
 *    │       fewer than 10 in a row ─► WaitAfterFailedPoll (300 s) ─► DescribeExportTask
 *    │       10 in a row ─► WatchLost (Fail WATCH_LOST: Finish reports, never cancels)
 *    └─ Deadline (Wait request.deadlineSeconds) ─► DeadlineReached (Fail DEADLINE_PASSED)
 * ```
 *
 * Both branches always end in a Fail state, so the Parallel always fails and its Catch hands
 * `{ request, error }` to Finish; a failing Prepare hands Finish the same shape with the raw
 * input as `request`.
 */
export function buildExportWorkflowDefinition(scope: Construct, options: ExportWorkflowDefinitionOptions): sfn.IChainable {
  const fn = options.exportFunction;

  // ---------------------------------------------------------------------------------------------
  // Finish and the final outcome.
  // ---------------------------------------------------------------------------------------------
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

  // The outcome event is published once the outcome is known, before the execution ends:
  // SUCCEEDED ─► PublishSucceeded ─► Succeeded; anything else ─► PublishFailed ─► CheckFailure.
  // Its detail is the finish step's output as is ('$' always exists, so the publish state can
  // never fail on a missing path, which no Catch would handle).
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
  finish.next(checkOutcome);

  // ---------------------------------------------------------------------------------------------
  // Prepare.
  // ---------------------------------------------------------------------------------------------
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

  // ---------------------------------------------------------------------------------------------
  // Export branch: start, then poll with the AWS SDK integration (no Lambda while polling).
  // ---------------------------------------------------------------------------------------------
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

  const countShortPoll = sfn.Pass.jsonPath(scope, N.COUNT_SHORT_POLL, {
    comment: `Count the short polls (${WorkflowTimings.SHORT_POLL_COUNT} of ${WorkflowTimings.SHORT_POLL_SECONDS} s).`,
    parameters: {
      count: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt(`${WorkflowPaths.POLL}.count`), 1),
    },
    resultPath: WorkflowPaths.POLL,
  });
  const waitShortPoll = sfn.Wait.jsonPath(scope, N.WAIT_SHORT_POLL, {
    time: sfn.WaitTime.duration(Duration.seconds(WorkflowTimings.SHORT_POLL_SECONDS)),
  });
  const waitLongPoll = sfn.Wait.jsonPath(scope, N.WAIT_LONG_POLL, {
    time: sfn.WaitTime.duration(Duration.seconds(WorkflowTimings.LONG_POLL_SECONDS)),
  });

  const describe = tasks.CallAwsService.jsonPath(scope, N.DESCRIBE_EXPORT_TASK, {
    comment: 'Poll the export task (AWS SDK integration: state transitions, no Lambda).',
    service: 'ec2',
    action: 'describeExportTasks',
    parameters: {
      ExportTaskIds: sfn.JsonPath.array(sfn.JsonPath.stringAt(`${WorkflowPaths.START}.exportTaskId`)),
    },
    // DescribeExportTasks supports no resource-level permissions.
    iamResources: ['*'],
    iamAction: 'ec2:DescribeExportTasks',
    // A successful poll resets the run of failed polls.
    resultSelector: { ExportTasks: sfn.JsonPath.listAt('$.ExportTasks'), failedPolls: 0 },
    resultPath: WorkflowPaths.DESCRIBE,
  });
  // Every EC2 error reaches an AWS SDK integration as Ec2.Ec2Exception, with a Cause that holds
  // the message and the HTTP status but not the error code: a poll cannot tell throttling from
  // anything else. A poll only reads, so any failure is retried, then counted, never fatal.
  describe.addRetry({
    errors: [sfn.Errors.ALL],
    interval: Duration.seconds(5),
    backoffRate: 2,
    maxAttempts: WorkflowTimings.DESCRIBE_RETRY_MAX_ATTEMPTS,
    jitterStrategy: sfn.JitterType.FULL,
  });
  const countFailedPoll = buildFailedPollCounter(scope, describe);
  describe.addCatch(countFailedPoll, { errors: [sfn.Errors.ALL], resultPath: WorkflowPaths.DESCRIBE_ERROR });

  const taskState = `${WorkflowPaths.DESCRIBE}.ExportTasks[0].State`;
  const statusMessage = `${WorkflowPaths.DESCRIBE}.ExportTasks[0].StatusMessage`;
  const reportedKey = `${WorkflowPaths.DESCRIBE}.ExportTasks[0].ExportToS3Task.S3Key`;
  const checkExportState = sfn.Choice.jsonPath(scope, N.CHECK_EXPORT_STATE, {
    comment: 'completed / cancelled end the export branch; active / cancelling keep polling; an empty answer is a failed poll.',
  });
  const taskNotListed = sfn.Pass.jsonPath(scope, N.TASK_NOT_LISTED, {
    comment: 'DescribeExportTasks answered without the task (for example just after it was created): a failed poll.',
    parameters: {
      Error: WorkflowErrors.TASK_NOT_LISTED,
      Cause: 'DescribeExportTasks did not list the export task.',
    },
    resultPath: WorkflowPaths.DESCRIBE_ERROR,
  });
  taskNotListed.next(countFailedPoll);
  checkExportState
    .when(sfn.Condition.not(sfn.Condition.isPresent(taskState)), taskNotListed)
    .when(sfn.Condition.and(sfn.Condition.stringEquals(taskState, 'completed'), presentString(reportedKey)), recordCompletion(scope))
    .when(sfn.Condition.stringEquals(taskState, 'completed'), taskCompleted(scope))
    .when(
      sfn.Condition.and(sfn.Condition.stringEquals(taskState, 'cancelled'), presentString(statusMessage)),
      sfn.Fail.jsonPath(scope, N.TASK_CANCELLED, {
        error: WorkflowErrors.INTERNAL_CANCELLED,
        causePath: statusMessage,
      }),
    )
    .when(sfn.Condition.stringEquals(taskState, 'cancelled'), sfn.Fail.jsonPath(scope, N.TASK_CANCELLED_WITHOUT_MESSAGE, {
      error: WorkflowErrors.INTERNAL_CANCELLED,
      cause: 'The export task was cancelled.',
    }))
    .when(sfn.Condition.numberLessThan(`${WorkflowPaths.POLL}.count`, WorkflowTimings.SHORT_POLL_COUNT), countShortPoll)
    .otherwise(waitLongPoll);

  // An adopted task that is already completed (a new wait condition for a finished export)
  // needs no polling: it may no longer be listed at all.
  const checkStarted = sfn.Choice.jsonPath(scope, N.CHECK_STARTED, {
    comment: 'An adopted export that already completed goes straight to Finish.',
  });
  checkStarted
    .when(sfn.Condition.and(presentString(`${WorkflowPaths.START}.state`),
      sfn.Condition.stringEquals(`${WorkflowPaths.START}.state`, 'completed')), taskCompleted(scope, true))
    .otherwise(countShortPoll);

  startExport.next(checkStarted);
  countShortPoll.next(waitShortPoll);
  waitShortPoll.next(describe);
  waitLongPoll.next(describe);
  describe.next(checkExportState);

  // ---------------------------------------------------------------------------------------------
  // Deadline branch.
  // ---------------------------------------------------------------------------------------------
  const deadline = sfn.Wait.jsonPath(scope, N.DEADLINE, {
    comment: 'Wait for the request\'s deadline; failing ends the export branch too.',
    time: sfn.WaitTime.secondsPath(`${WorkflowPaths.REQUEST}.deadlineSeconds`),
  });
  deadline.next(sfn.Fail.jsonPath(scope, N.DEADLINE_REACHED, {
    error: WorkflowErrors.DEADLINE_PASSED,
    cause: 'The deadline passed before the export task finished.',
  }));

  // ---------------------------------------------------------------------------------------------
  // The Parallel: both branches end in Fail; the Catch hands { request, error } to Finish.
  // ---------------------------------------------------------------------------------------------
  const exportParallel = sfn.Parallel.jsonPath(scope, N.EXPORT, {
    comment: 'Race the export (start + poll) against the deadline.',
    parameters: {
      request: sfn.JsonPath.objectAt(WorkflowPaths.REQUEST),
      poll: { count: 0 },
      describe: { ExportTasks: [], failedPolls: 0 },
    },
  });
  exportParallel.branch(startExport);
  exportParallel.branch(deadline);
  exportParallel.addCatch(finish, { errors: [sfn.Errors.ALL], resultPath: WorkflowPaths.ERROR });

  return sfn.Chain.start(prepare).next(exportParallel);
}

/**
 * The failed-poll loop: count the failure, wait and poll again; after
 * WATCH_LOST_AFTER_FAILED_POLLS failures in a row, stop watching (WatchLost) without cancelling.
 * Returns the state a failed poll goes to.
 */
function buildFailedPollCounter(scope: Construct, describe: sfn.IChainable): sfn.IChainable {
  const failed = `${WorkflowPaths.DESCRIBE}.failedPolls`;
  const count = sfn.Pass.jsonPath(scope, N.COUNT_FAILED_POLL, {
    comment: 'One more failed poll in a row (a successful poll resets the count).',
    parameters: {
      ExportTasks: [],
      failedPolls: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt(failed), 1),
    },
    resultPath: WorkflowPaths.DESCRIBE,
  });
  const check = sfn.Choice.jsonPath(scope, N.CHECK_FAILED_POLLS, {
    comment: `After ${WorkflowTimings.WATCH_LOST_AFTER_FAILED_POLLS} failed polls in a row, stop watching; the task is not cancelled.`,
  });
  const wait = sfn.Wait.jsonPath(scope, N.WAIT_AFTER_FAILED_POLL, {
    time: sfn.WaitTime.duration(Duration.seconds(WorkflowTimings.FAILED_POLL_WAIT_SECONDS)),
  });
  const cause = `${WorkflowPaths.DESCRIBE_ERROR}.Cause`;
  const giveUp = sfn.Condition.numberGreaterThanEquals(failed, WorkflowTimings.WATCH_LOST_AFTER_FAILED_POLLS);
  count.next(check);
  check
    .when(sfn.Condition.and(giveUp, presentString(cause)), sfn.Fail.jsonPath(scope, N.WATCH_LOST, {
      comment: 'Finish reports the export as unknown and does not cancel it.',
      error: WorkflowErrors.WATCH_LOST,
      causePath: cause,
    }))
    .when(giveUp, sfn.Fail.jsonPath(scope, N.WATCH_LOST_WITHOUT_CAUSE, {
      comment: 'Finish reports the export as unknown and does not cancel it.',
      error: WorkflowErrors.WATCH_LOST,
      cause: 'DescribeExportTasks failed without a cause.',
    }))
    .otherwise(wait);
  wait.next(describe);
  return count;
}

/**
 * Completion seen with the key the task reported: hand Finish `<task id>|<key>` as the Cause,
 * so that the outcome does not depend on DescribeExportTasks still listing the task when Finish
 * looks it up.
 */
function recordCompletion(scope: Construct): sfn.IChainable {
  const record = sfn.Pass.jsonPath(scope, N.RECORD_COMPLETION, {
    comment: 'Keep the task id and the key the completed task reported for Finish.',
    parameters: {
      completed: sfn.JsonPath.format(`{}${SIGNAL_DATA_SEPARATOR}{}`,
        sfn.JsonPath.stringAt(`${WorkflowPaths.START}.exportTaskId`),
        sfn.JsonPath.stringAt(`${WorkflowPaths.DESCRIBE}.ExportTasks[0].ExportToS3Task.S3Key`)),
    },
    resultPath: WorkflowPaths.COMPLETION,
  });
  return record.next(sfn.Fail.jsonPath(scope, N.TASK_COMPLETED_WITH_KEY, {
    comment: 'Ends the Parallel (and so the deadline branch); Finish turns it into success.',
    error: WorkflowErrors.INTERNAL_COMPLETED,
    causePath: `${WorkflowPaths.COMPLETION}.completed`,
  }));
}

/** The Fail state that ends the export branch when the task completed (Finish turns it into success). */
function taskCompleted(scope: Construct, adopted = false): sfn.IChainable {
  return sfn.Fail.jsonPath(scope, adopted ? N.ADOPTED_TASK_COMPLETED : N.TASK_COMPLETED, {
    comment: 'Ends the Parallel (and so the deadline branch); Finish turns it into success.',
    error: WorkflowErrors.INTERNAL_COMPLETED,
    cause: adopted ? 'The adopted export task had already completed.' : 'The export task completed.',
  });
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

/**
 * A type test that is safe on a missing field: IsPresent first (And stops at the first false
 * rule), so that neither Step Functions nor the local interpreter evaluates a missing path.
 */
function presentString(jsonPath: string): sfn.Condition {
  return sfn.Condition.and(sfn.Condition.isPresent(jsonPath), sfn.Condition.isString(jsonPath));
}

function addLambdaRetries(task: tasks.LambdaInvoke): void {
  task.addRetry({
    errors: LAMBDA_SERVICE_ERRORS,
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 6,
    jitterStrategy: sfn.JitterType.FULL,
  });
}
