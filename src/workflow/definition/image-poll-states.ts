import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { SIGNAL_DATA_SEPARATOR } from '../../internal/export-constants';
import { WorkflowErrors, WorkflowEvents, WorkflowPaths, WorkflowStateNames as N, WorkflowTimings } from '../export-workflow-names';
import { addPollRetry, buildFailedPollCounter, buildPollTimers, FailedPollNames } from './failed-polls';
import { presentString } from './state-helpers';

/** The image loop's failed-poll states. */
const IMAGE_FAILED_POLLS: FailedPollNames = {
  count: N.COUNT_FAILED_IMAGE_POLL,
  check: N.CHECK_FAILED_IMAGE_POLLS,
  wait: N.WAIT_AFTER_FAILED_IMAGE_POLL,
  watchLost: N.IMAGE_WATCH_LOST,
  watchLostWithoutCause: N.IMAGE_WATCH_LOST_WITHOUT_CAUSE,
  listKey: 'ExportImageTasks',
  operation: 'DescribeExportImageTasks',
};

const TASK = `${WorkflowPaths.DESCRIBE}.ExportImageTasks[0]`;
const STATUS = `${TASK}.Status`;
const STATUS_MESSAGE = `${TASK}.StatusMessage`;
const PROGRESS = `${TASK}.Progress`;
const LAST_PROGRESS = `${WorkflowPaths.PROGRESS}.last`;

/**
 * The image export's poll loop (AWS SDK integration, no Lambda), the same timings and
 * failed-poll handling as the instance loop, and the same state transitions per poll. Status
 * `completed` and `deleted` end the export branch; `active` and `deleting` keep polling (an
 * undocumented Status too). Each time the Progress changes, a `VM Export Progress` event is
 * published (EventBridge, no Lambda) and the value kept in `$.progress.last`, so the percentage
 * is in the execution's history while the export runs. Returns the loop's entry
 * (CountImageShortPoll).
 */
export function buildImagePollLoop(scope: Construct): sfn.IChainable {
  const { countShortPoll, waitShortPoll, waitLongPoll } = buildPollTimers(scope, {
    countShortPoll: N.COUNT_IMAGE_SHORT_POLL,
    waitShortPoll: N.WAIT_IMAGE_SHORT_POLL,
    waitLongPoll: N.WAIT_IMAGE_LONG_POLL,
  });
  const describe = buildDescribeImageTask(scope);
  const failedPoll = buildFailedPollCounter(scope, describe, IMAGE_FAILED_POLLS);
  describe.addCatch(failedPoll, { errors: [sfn.Errors.ALL], resultPath: WorkflowPaths.DESCRIBE_ERROR });

  const shortPoll = sfn.Condition.numberLessThan(`${WorkflowPaths.POLL}.count`, WorkflowTimings.SHORT_POLL_COUNT);
  const nextPoll = sfn.Choice.jsonPath(scope, N.CHECK_IMAGE_POLL_COUNT, { comment: 'After a published Progress: another short poll, or a long one.' })
    .when(shortPoll, countShortPoll)
    .otherwise(waitLongPoll);
  const publish = buildPublishProgress(scope, nextPoll);
  countShortPoll.next(waitShortPoll);
  waitShortPoll.next(describe);
  waitLongPoll.next(describe);
  describe.next(buildCheckImageState(scope, failedPoll, { publish, shortPoll, countShortPoll, waitLongPoll }));
  return countShortPoll;
}

/** DescribeExportImageTask: retried on any error, then handed to the failed-poll loop. */
function buildDescribeImageTask(scope: Construct): tasks.CallAwsService {
  const describe = tasks.CallAwsService.jsonPath(scope, N.DESCRIBE_EXPORT_IMAGE_TASK, {
    comment: 'Poll the export image task (AWS SDK integration: state transitions, no Lambda).',
    service: 'ec2',
    action: 'describeExportImageTasks',
    parameters: {
      ExportImageTaskIds: sfn.JsonPath.array(sfn.JsonPath.stringAt(`${WorkflowPaths.START}.exportTaskId`)),
    },
    // DescribeExportImageTasks supports no resource-level permissions.
    iamResources: ['*'],
    iamAction: 'ec2:DescribeExportImageTasks',
    resultSelector: { ExportImageTasks: sfn.JsonPath.listAt('$.ExportImageTasks'), failedPolls: 0 },
    resultPath: WorkflowPaths.DESCRIBE,
  });
  // As for DescribeExportTasks: a poll only reads, so any failure is retried, then counted.
  addPollRetry(describe);
  return describe;
}

/** Where CheckExportImageState sends a task that is still running. */
interface StillActive {
  /** PublishProgress, when the Progress changed. */
  readonly publish: sfn.IChainable;
  /** True while the short polls last. */
  readonly shortPoll: sfn.Condition;
  readonly countShortPoll: sfn.IChainable;
  readonly waitLongPoll: sfn.IChainable;
}

/**
 * CheckExportImageState: the decision after a successful poll, in one Choice (so that a poll
 * costs the same state transitions as an instance export's): an empty answer is a failed poll;
 * completed and deleted end the export branch; a changed Progress is published; otherwise the
 * next short or long poll.
 */
function buildCheckImageState(scope: Construct, failedPoll: sfn.IChainable, next: StillActive): sfn.IChainable {
  const notListed = sfn.Pass.jsonPath(scope, N.IMAGE_TASK_NOT_LISTED, {
    comment: 'DescribeExportImageTasks answered without the task: a failed poll.',
    parameters: {
      Error: WorkflowErrors.TASK_NOT_LISTED,
      Cause: 'DescribeExportImageTasks did not list the export image task.',
    },
    resultPath: WorkflowPaths.DESCRIBE_ERROR,
  });
  notListed.next(failedPoll);
  return sfn.Choice.jsonPath(scope, N.CHECK_EXPORT_IMAGE_STATE, {
    comment: 'completed / deleted end the export branch; active / deleting (or an undocumented Status) keep polling; an empty answer is a failed poll.',
  })
    .when(sfn.Condition.not(presentString(STATUS)), notListed)
    .when(sfn.Condition.stringEquals(STATUS, 'completed'), recordImageCompletion(scope))
    .when(sfn.Condition.and(sfn.Condition.stringEquals(STATUS, 'deleted'), presentString(STATUS_MESSAGE)),
      sfn.Fail.jsonPath(scope, N.IMAGE_TASK_DELETED, {
        comment: 'The service gave up the task (the guide documents no failed status; AWS\'s own export tooling reads deleted as failed).',
        error: WorkflowErrors.INTERNAL_CANCELLED,
        causePath: STATUS_MESSAGE,
      }))
    .when(sfn.Condition.stringEquals(STATUS, 'deleted'), sfn.Fail.jsonPath(scope, N.IMAGE_TASK_DELETED_WITHOUT_MESSAGE, {
      error: WorkflowErrors.INTERNAL_CANCELLED,
      cause: 'The export image task was deleted.',
    }))
    .when(sfn.Condition.and(presentString(PROGRESS), sfn.Condition.not(sfn.Condition.stringEqualsJsonPath(PROGRESS, LAST_PROGRESS))), next.publish)
    .when(next.shortPoll, next.countShortPoll)
    .otherwise(next.waitLongPoll);
}

/**
 * The task completed: the object key is `<prefix><task id><extension>` (a task reports no key),
 * handed to Finish as `<task id>|<key>` like a completed instance export's.
 */
function recordImageCompletion(scope: Construct): sfn.IChainable {
  const taskId = sfn.JsonPath.stringAt(`${WorkflowPaths.START}.exportTaskId`);
  const record = sfn.Pass.jsonPath(scope, N.RECORD_IMAGE_COMPLETION, {
    comment: 'Keep the task id and the object key for Finish.',
    parameters: {
      completed: sfn.JsonPath.format(`{}${SIGNAL_DATA_SEPARATOR}{}{}{}`, taskId,
        sfn.JsonPath.stringAt(`${WorkflowPaths.REQUEST}.s3Prefix`), taskId,
        sfn.JsonPath.stringAt(`${WorkflowPaths.REQUEST}.objectExtension`)),
    },
    resultPath: WorkflowPaths.COMPLETION,
  });
  return record.next(sfn.Fail.jsonPath(scope, N.IMAGE_TASK_COMPLETED, {
    comment: 'Ends the Parallel (and so the deadline branch); Finish turns it into success.',
    error: WorkflowErrors.INTERNAL_COMPLETED,
    causePath: `${WorkflowPaths.COMPLETION}.completed`,
  }));
}

/**
 * PublishProgress: a Progress that differs from the last one published is published
 * (`VM Export Progress`, failures ignored) and remembered (RecordProgress); then `next`.
 */
function buildPublishProgress(scope: Construct, next: sfn.IChainable): sfn.IChainable {
  const record = sfn.Pass.jsonPath(scope, N.RECORD_PROGRESS, {
    parameters: { last: sfn.JsonPath.stringAt(PROGRESS) },
    resultPath: WorkflowPaths.PROGRESS,
  });
  record.next(next);
  const publish = tasks.EventBridgePutEvents.jsonPath(scope, N.PUBLISH_PROGRESS, {
    comment: `Publish '${WorkflowEvents.PROGRESS}' (source ${WorkflowEvents.SOURCE}) on the default event bus; failures are ignored.`,
    entries: [{
      source: WorkflowEvents.SOURCE,
      detailType: WorkflowEvents.PROGRESS,
      // Every path exists here (the Choice checked Progress; the request and the start always
      // hold these): a missing path would be a States.Runtime error, which no Catch handles.
      // Step Functions adds the execution's ARN to the event's resources itself.
      detail: sfn.TaskInput.fromObject({
        kind: 'image',
        status: 'RUNNING',
        imageId: sfn.JsonPath.stringAt(`${WorkflowPaths.REQUEST}.imageId`),
        exportTaskId: sfn.JsonPath.stringAt(`${WorkflowPaths.START}.exportTaskId`),
        progress: sfn.JsonPath.stringAt(PROGRESS),
      }),
    }],
    resultPath: sfn.JsonPath.DISCARD,
  });
  publish.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 1, jitterStrategy: sfn.JitterType.FULL });
  publish.addCatch(record, { errors: [sfn.Errors.ALL], resultPath: sfn.JsonPath.DISCARD });
  publish.next(record);
  return publish;
}
