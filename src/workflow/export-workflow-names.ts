/**
 * Names and timings of the export workflow (internal module, not part of the jsii API).
 *
 * The error names come from `export-constants.ts`, the src/ copy of `lambda/shared/contract.ts`
 * (a unit test checks that both agree).
 *
 * State names are part of the workflow's observable behaviour: tests, benchmarks and operators
 * refer to them (wait and retry overrides in aws-local-stepfunctions are keyed by state name,
 * and the console and execution history show them). Do not rename them casually.
 */
import * as C from '../internal/export-constants';

/** Error names the workflow ends with or matches on (see `lambda/shared/contract.ts`). */
export const WorkflowErrors = {
  PREFLIGHT_FAILED: C.ERROR_PREFLIGHT_FAILED,
  EXPORT_REJECTED: C.ERROR_EXPORT_REJECTED,
  EXPORT_FAILED: C.ERROR_EXPORT_FAILED,
  DEADLINE_PASSED: C.ERROR_DEADLINE_PASSED,
  QUOTA_NEVER_FREED: C.ERROR_QUOTA_NEVER_FREED,
  QUOTA_FULL: C.ERROR_QUOTA_FULL,
  THROTTLED: C.ERROR_THROTTLED,
  TRANSIENT: C.ERROR_TRANSIENT,
  WATCH_LOST: C.ERROR_WATCH_LOST,
  FINISH_FAILED: C.ERROR_FINISH_FAILED,
  INVALID_INPUT: C.ERROR_INVALID_INPUT,
  INTERNAL_COMPLETED: C.INTERNAL_COMPLETED,
  INTERNAL_CANCELLED: C.INTERNAL_CANCELLED,
  WORKFLOW_ERROR: C.ERROR_WORKFLOW_ERROR,
  TASK_NOT_LISTED: C.INTERNAL_TASK_NOT_LISTED,
} as const;

/** Tag key and value that mark an export task as started by this library. */
export const MANAGED_TAG = {
  KEY: C.TAG_MANAGED,
  VALUE: C.TAG_MANAGED_VALUE,
} as const;

/** The state names of the export workflow. */
export const WorkflowStateNames = {
  /** Lambda `prepare`: validate and normalize the input, run the preflight checks. */
  PREPARE: 'Prepare',
  /** Pass: reshape a failed Prepare into `{ request: <raw input>, error }` for Finish. */
  PREPARE_FAILED: 'PrepareFailed',
  /** Parallel: the export branch races the deadline branch. */
  EXPORT: 'Export',
  /** Lambda `start` (retried while the conversion-task quota is full or EC2 throttles). */
  START_EXPORT: 'StartExport',
  /** Pass: counts the short polls (60 s) before switching to long polls (300 s). */
  COUNT_SHORT_POLL: 'CountShortPoll',
  /** Wait: 60 s between polls during the first polls. */
  WAIT_SHORT_POLL: 'WaitShortPoll',
  /** Wait: 300 s between polls afterwards. */
  WAIT_LONG_POLL: 'WaitLongPoll',
  /** AWS SDK integration: ec2:DescribeExportTasks. */
  DESCRIBE_EXPORT_TASK: 'DescribeExportTask',
  /** Choice on the task's state. */
  CHECK_EXPORT_STATE: 'CheckExportState',
  /** Choice after StartExport: an adopted task that is already completed skips the polling; a full quota waits for a slot. */
  CHECK_STARTED: 'CheckStarted',
  /** Choice: which slot holders StartExport reported (instance export tasks first, else image export tasks). */
  CHECK_SLOT_HOLDERS: 'CheckSlotHolders',
  /** Pass: counts the looks at the slot holders (SLOT_SHORT_LOOKS of 60 s before the 300 s ones). */
  COUNT_SLOT_LOOK: 'CountSlotLook',
  /** Wait: 60 s between the first looks at the instance export tasks that hold the slots. */
  WAIT_FOR_SLOT: 'WaitForSlot',
  /** Wait: 300 s between later looks. */
  WAIT_LONG_FOR_SLOT: 'WaitLongForSlot',
  /** AWS SDK integration: ec2:DescribeExportTasks of the slot holders. */
  DESCRIBE_SLOT_HOLDERS: 'DescribeSlotHolders',
  /** Choice: a holder ended (or is no longer listed): StartExport again; otherwise wait. */
  CHECK_SLOT_FREED: 'CheckSlotFreed',
  /** The same three states for image export tasks that hold the slots. */
  COUNT_IMAGE_SLOT_LOOK: 'CountImageSlotLook',
  WAIT_FOR_IMAGE_SLOT: 'WaitForImageSlot',
  WAIT_LONG_FOR_IMAGE_SLOT: 'WaitLongForImageSlot',
  /** AWS SDK integration: ec2:DescribeExportImageTasks of the slot holders. */
  DESCRIBE_IMAGE_SLOT_HOLDERS: 'DescribeImageSlotHolders',
  /** Choice: an image holder ended (or is no longer listed): StartExport again; otherwise wait. */
  CHECK_IMAGE_SLOT_FREED: 'CheckImageSlotFreed',
  /** Pass: DescribeExportTasks returned no task; recorded as a failed poll. */
  TASK_NOT_LISTED: 'TaskNotListed',
  /** Pass: counts a failed poll (any error, after the quick retries) in `$.describe.failedPolls`. */
  COUNT_FAILED_POLL: 'CountFailedPoll',
  /** Choice: fewer than WATCH_LOST_AFTER_FAILED_POLLS failed polls in a row: wait and poll again. */
  CHECK_FAILED_POLLS: 'CheckFailedPolls',
  /** Wait: after a failed poll (`FAILED_POLL_WAIT_SECONDS`). */
  WAIT_AFTER_FAILED_POLL: 'WaitAfterFailedPoll',
  /** Fail (inside the Parallel) with WATCH_LOST: too many failed polls in a row; nothing is cancelled. */
  WATCH_LOST: 'WatchLost',
  /** The same when the last failed poll had no Cause. */
  WATCH_LOST_WITHOUT_CAUSE: 'WatchLostWithoutCause',
  /** Fail (inside the Parallel) with INTERNAL_COMPLETED: the adopted task had completed before. */
  ADOPTED_TASK_COMPLETED: 'AdoptedTaskCompleted',
  /** Pass: the task completed; keeps `<task id>|<reported key>` for Finish. */
  RECORD_COMPLETION: 'RecordCompletion',
  /** Fail (inside the Parallel) with INTERNAL_COMPLETED and `<task id>|<reported key>` as the cause. */
  TASK_COMPLETED_WITH_KEY: 'TaskCompletedWithKey',
  /** Fail (inside the Parallel) with INTERNAL_COMPLETED: the task completed (no key reported). */
  TASK_COMPLETED: 'TaskCompleted',
  /** Fail (inside the Parallel) with INTERNAL_CANCELLED and the task's StatusMessage. */
  TASK_CANCELLED: 'TaskCancelled',
  /** Fail (inside the Parallel) with INTERNAL_CANCELLED when the task has no StatusMessage. */
  TASK_CANCELLED_WITHOUT_MESSAGE: 'TaskCancelledWithoutMessage',
  /** Image export: Pass that counts the short polls. */
  COUNT_IMAGE_SHORT_POLL: 'CountImageShortPoll',
  /** Image export: Wait between the first polls. */
  WAIT_IMAGE_SHORT_POLL: 'WaitImageShortPoll',
  /** Image export: Wait between later polls. */
  WAIT_IMAGE_LONG_POLL: 'WaitImageLongPoll',
  /** Image export: AWS SDK integration ec2:DescribeExportImageTasks. */
  DESCRIBE_EXPORT_IMAGE_TASK: 'DescribeExportImageTask',
  /** Image export: Choice on the task's Status and Progress (publish a changed Progress, or poll again). */
  CHECK_EXPORT_IMAGE_STATE: 'CheckExportImageState',
  /** Image export: Pass: DescribeExportImageTasks returned no task; recorded as a failed poll. */
  IMAGE_TASK_NOT_LISTED: 'ImageTaskNotListed',
  /** Image export: the failed-poll states (as for instance export). */
  COUNT_FAILED_IMAGE_POLL: 'CountFailedImagePoll',
  CHECK_FAILED_IMAGE_POLLS: 'CheckFailedImagePolls',
  WAIT_AFTER_FAILED_IMAGE_POLL: 'WaitAfterFailedImagePoll',
  IMAGE_WATCH_LOST: 'ImageWatchLost',
  IMAGE_WATCH_LOST_WITHOUT_CAUSE: 'ImageWatchLostWithoutCause',
  /** Image export: Pass: keeps `<task id>|<prefix><task id><extension>` for Finish. */
  RECORD_IMAGE_COMPLETION: 'RecordImageCompletion',
  /** Image export: Fail (inside the Parallel) with INTERNAL_COMPLETED. */
  IMAGE_TASK_COMPLETED: 'ImageTaskCompleted',
  /** Image export: Fail (inside the Parallel) with INTERNAL_CANCELLED and the task's StatusMessage (Status `deleted`). */
  IMAGE_TASK_DELETED: 'ImageTaskDeleted',
  /** Image export: the same without a StatusMessage. */
  IMAGE_TASK_DELETED_WITHOUT_MESSAGE: 'ImageTaskDeletedWithoutMessage',
  /** Image export: EventBridge PutEvents `VM Export Progress`; a failure to publish is caught. */
  PUBLISH_PROGRESS: 'PublishProgress',
  /** Image export: Pass: remembers the Progress last published in `$.progress.last`. */
  RECORD_PROGRESS: 'RecordProgress',
  /** Image export: Choice after a published Progress: another short poll or a long one. */
  CHECK_IMAGE_POLL_COUNT: 'CheckImagePollCount',
  /** Wait (deadline branch): `request.deadlineSeconds`. */
  DEADLINE: 'Deadline',
  /** Fail (deadline branch) with DEADLINE_PASSED. */
  DEADLINE_REACHED: 'DeadlineReached',
  /** Lambda `finish`: decide the outcome, clean up, signal the wait condition. */
  FINISH: 'Finish',
  /** Fail with FINISH_FAILED: the finish step itself failed; the signal backstop signals for it. */
  FINISH_FAILED: 'FinishFailed',
  /** Choice on the finish step's `status` and `errorName`. */
  CHECK_OUTCOME: 'CheckOutcome',
  /** EventBridge PutEvents (default bus): `VM Export Succeeded`; a failure to publish is caught. */
  PUBLISH_SUCCEEDED: 'PublishSucceeded',
  /** EventBridge PutEvents (default bus): `VM Export Failed`; a failure to publish is caught. */
  PUBLISH_FAILED: 'PublishFailed',
  /** Choice on a failed outcome's `errorName`: the Fail state that ends the execution. */
  CHECK_FAILURE: 'CheckFailure',
  /** Succeed: the export completed. */
  SUCCEEDED: 'Succeeded',
  /** Fail: the finish step returned something the workflow does not understand. */
  UNEXPECTED_OUTCOME: 'UnexpectedOutcome',
  /** Fail states of a failed export, one per documented error name. */
  PREFLIGHT_FAILED: 'PreflightFailed',
  EXPORT_REJECTED: 'ExportRejected',
  EXPORT_FAILED: 'ExportFailed',
  DEADLINE_PASSED: 'DeadlinePassed',
  QUOTA_NEVER_FREED: 'QuotaNeverFreed',
  INVALID_INPUT: 'InvalidInput',
  WORKFLOW_ERROR: 'WorkflowError',
  WATCH_LOST_OUTCOME: 'WatchLostOutcome',
} as const;

/** The documented failure error names and the Fail state that ends the execution with each. */
export const FAILURE_STATES: ReadonlyArray<{ readonly error: string; readonly stateName: string }> = [
  { error: WorkflowErrors.PREFLIGHT_FAILED, stateName: WorkflowStateNames.PREFLIGHT_FAILED },
  { error: WorkflowErrors.EXPORT_REJECTED, stateName: WorkflowStateNames.EXPORT_REJECTED },
  { error: WorkflowErrors.EXPORT_FAILED, stateName: WorkflowStateNames.EXPORT_FAILED },
  { error: WorkflowErrors.DEADLINE_PASSED, stateName: WorkflowStateNames.DEADLINE_PASSED },
  { error: WorkflowErrors.QUOTA_NEVER_FREED, stateName: WorkflowStateNames.QUOTA_NEVER_FREED },
  { error: WorkflowErrors.INVALID_INPUT, stateName: WorkflowStateNames.INVALID_INPUT },
  { error: WorkflowErrors.WORKFLOW_ERROR, stateName: WorkflowStateNames.WORKFLOW_ERROR },
  { error: WorkflowErrors.WATCH_LOST, stateName: WorkflowStateNames.WATCH_LOST_OUTCOME },
];

/** The events the workflow publishes on the default event bus when an export ends. */
export const WorkflowEvents = {
  /** The `source` of every event. */
  SOURCE: 'cdk-vm-export',
  /** `detail-type` of a completed export. */
  SUCCEEDED: 'VM Export Succeeded',
  /** `detail-type` of a failed export (failure, deadline, cancellation, rejected input). */
  FAILED: 'VM Export Failed',
  /** `detail-type` of an image export's progress (each time the percentage DescribeExportImageTasks reports changes). */
  PROGRESS: 'VM Export Progress',
} as const;

/** Poll timings of the export branch. */
export const WorkflowTimings = {
  /** Seconds between polls in the short phase. */
  SHORT_POLL_SECONDS: 60,
  /** Number of short polls before the long phase. */
  SHORT_POLL_COUNT: 15,
  /** Seconds between polls in the long phase. */
  LONG_POLL_SECONDS: 300,
  /**
   * Looks 60 s apart at the tasks that hold the conversion-task slots while the quota is full
   * (3 h), before they are 300 s apart: a wait as long as the longest deadline (7 days) stays
   * inside Step Functions' 25,000 history events (180 looks of about 11 events, then 1,980 of
   * about 9: about 20,000).
   */
  SLOT_SHORT_LOOKS: 180,
  /** First retry interval of StartExport while the quota is full or EC2 throttles. */
  START_RETRY_INTERVAL_SECONDS: 30,
  /** Maximum retry interval of StartExport. */
  START_RETRY_MAX_DELAY_SECONDS: 300,
  /**
   * Quick retries of one DescribeExportTasks poll (any error) before it counts as failed:
   * attempts after the first, 5 s then 10 s then 20 s (at most, full jitter).
   */
  DESCRIBE_RETRY_MAX_ATTEMPTS: 3,
  /** Seconds to wait after a failed poll before polling again. */
  FAILED_POLL_WAIT_SECONDS: 300,
  /**
   * Failed polls in a row after which the workflow stops watching (VmExport.WatchLost, the task
   * is not cancelled): 10 runs of at least 300 s each, so at least 50 minutes of failures.
   */
  WATCH_LOST_AFTER_FAILED_POLLS: C.WATCH_LOST_AFTER_FAILED_POLLS,
  /**
   * Retry attempts of StartExport: effectively unbounded (the Step Functions maximum); the
   * deadline branch bounds the time spent waiting for a free conversion-task slot.
   */
  START_RETRY_MAX_ATTEMPTS: 99999999,
} as const;

/** Where the workflow keeps its data in the state (JSONPath). */
export const WorkflowPaths = {
  /** The NormalizedRequest (or the raw input when Prepare failed). */
  REQUEST: '$.request',
  /** The caught `{ Error, Cause }` that Finish receives. */
  ERROR: '$.error',
  /** StartExport's result: `{ exportTaskId, state }`. */
  START: '$.start',
  /** The short-poll counter: `{ count }`. */
  POLL: '$.poll',
  /** DescribeExportTasks' result: `{ ExportTasks, failedPolls }` (failedPolls: failed polls in a row). */
  DESCRIBE: '$.describe',
  /** A caught DescribeExportTasks error. */
  DESCRIBE_ERROR: '$.describeError',
  /** `{ completed: '<task id>|<key>' }` once the task was seen completed. */
  COMPLETION: '$.completion',
  /** `{ last }`: the Progress of the image export task last published (`''` before the first). */
  PROGRESS: '$.progress',
  /** The answer of the last look at the slot holders (DescribeExportTasks / DescribeExportImageTasks). */
  SLOTS: '$.slots',
  /** The look counter of the slot loop: `{ count }`. */
  SLOT_LOOKS: '$.slotLooks',
  /** A caught Finish error. */
  FINISH_ERROR: '$.finishError',
} as const;
