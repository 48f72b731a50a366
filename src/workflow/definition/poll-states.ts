import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { SIGNAL_DATA_SEPARATOR } from '../../internal/export-constants';
import { WorkflowErrors, WorkflowPaths, WorkflowStateNames as N, WorkflowTimings } from '../export-workflow-names';
import { addPollRetry, buildFailedPollCounter, buildPollTimers, FailedPollNames } from './failed-polls';
import { presentString } from './state-helpers';

/** The instance loop's failed-poll states. */
const INSTANCE_FAILED_POLLS: FailedPollNames = {
  count: N.COUNT_FAILED_POLL,
  check: N.CHECK_FAILED_POLLS,
  wait: N.WAIT_AFTER_FAILED_POLL,
  watchLost: N.WATCH_LOST,
  watchLostWithoutCause: N.WATCH_LOST_WITHOUT_CAUSE,
  listKey: 'ExportTasks',
  operation: 'DescribeExportTasks',
};

/**
 * The poll loop (AWS SDK integration, no Lambda): count the short polls, wait, describe the
 * task, decide. `completed` and `cancelled` end the export branch in a Fail state that Finish
 * reads; a failed poll goes to the failed-poll loop. Returns the loop's entry (CountShortPoll).
 */
export function buildPollLoop(scope: Construct): sfn.IChainable {
  const { countShortPoll, waitShortPoll, waitLongPoll } = buildPollTimers(scope, {
    countShortPoll: N.COUNT_SHORT_POLL,
    waitShortPoll: N.WAIT_SHORT_POLL,
    waitLongPoll: N.WAIT_LONG_POLL,
  });
  const describe = buildDescribe(scope);
  const failedPoll = buildFailedPollCounter(scope, describe, INSTANCE_FAILED_POLLS);
  describe.addCatch(failedPoll, { errors: [sfn.Errors.ALL], resultPath: WorkflowPaths.DESCRIBE_ERROR });
  const checkExportState = buildCheckExportState(scope, { shortPoll: countShortPoll, longPoll: waitLongPoll, failedPoll });
  countShortPoll.next(waitShortPoll);
  waitShortPoll.next(describe);
  waitLongPoll.next(describe);
  describe.next(checkExportState);
  return countShortPoll;
}

/** DescribeExportTask: retried on any error, then handed to the failed-poll loop (see buildPollLoop). */
function buildDescribe(scope: Construct): tasks.CallAwsService {
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
  addPollRetry(describe);
  return describe;
}

/** Where CheckExportState goes besides the end states. */
interface PollTargets {
  /** Another short poll (fewer than SHORT_POLL_COUNT so far). */
  readonly shortPoll: sfn.IChainable;
  /** A long poll. */
  readonly longPoll: sfn.IChainable;
  /** The failed-poll loop (an answer without the task counts as a failed poll). */
  readonly failedPoll: sfn.IChainable;
}

/** CheckExportState: the decision after a successful poll. */
function buildCheckExportState(scope: Construct, next: PollTargets): sfn.IChainable {
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
  taskNotListed.next(next.failedPoll);
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
    .when(sfn.Condition.numberLessThan(`${WorkflowPaths.POLL}.count`, WorkflowTimings.SHORT_POLL_COUNT), next.shortPoll)
    .otherwise(next.longPoll);
  return checkExportState;
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
export function taskCompleted(scope: Construct, adopted = false): sfn.IChainable {
  return sfn.Fail.jsonPath(scope, adopted ? N.ADOPTED_TASK_COMPLETED : N.TASK_COMPLETED, {
    comment: 'Ends the Parallel (and so the deadline branch); Finish turns it into success.',
    error: WorkflowErrors.INTERNAL_COMPLETED,
    cause: adopted ? 'The adopted export task had already completed.' : 'The export task completed.',
  });
}
