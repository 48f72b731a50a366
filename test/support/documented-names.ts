/**
 * TEST CODE ONLY: names the documents give the workflow's observable behaviour, written out here
 * as literals (each with the place it was copied from) and never imported from src/ or lambda/.
 * Tests and fakes take their expected error names, state names, tag and event names from here,
 * so a renamed constant in the library fails a test instead of moving the expectation with it.
 *
 * test/documented-names.test.ts is the one place where these literals meet the library's own
 * constants (src/workflow/export-workflow-names.ts, src/internal/export-constants.ts, lambda/shared/contract.ts).
 *
 * Names no document mentions (the workflow's internal `VmExport.Internal.*` errors, the
 * client-token tag) are not here: the tests that need them still import them from src/ or
 * lambda/ and say so.
 */

/**
 * The error names of the workflow. Source: README.md, "Running the workflow outside
 * CloudFormation": the error table ("A failed export fails the execution with one of these error
 * names") and the paragraph after it (QuotaFull, Throttled and Transient are retried inside the
 * workflow and never end an execution). Keys as in the library's `WorkflowErrors`.
 */
export const Errors = {
  INVALID_INPUT: 'VmExport.InvalidInput',
  PREFLIGHT_FAILED: 'VmExport.PreflightFailed',
  EXPORT_REJECTED: 'VmExport.ExportRejected',
  EXPORT_FAILED: 'VmExport.ExportFailed',
  DEADLINE_PASSED: 'VmExport.DeadlinePassed',
  QUOTA_NEVER_FREED: 'VmExport.QuotaNeverFreed',
  WATCH_LOST: 'VmExport.WatchLost',
  WORKFLOW_ERROR: 'VmExport.WorkflowError',
  FINISH_FAILED: 'VmExport.FinishFailed',
  // The paragraph after the table: retried, never the error of an execution.
  QUOTA_FULL: 'VmExport.QuotaFull',
  THROTTLED: 'VmExport.Throttled',
  TRANSIENT: 'VmExport.Transient',
} as const;

/**
 * The state names of the workflow, as the Step Functions console and the execution history show
 * them. Source: README.md, "Running the workflow outside CloudFormation" → "The workflow's
 * states" (the table, one or more state names per row). Keys as in the library's
 * `WorkflowStateNames`.
 */
export const StateNames = {
  PREPARE: 'Prepare',
  PREPARE_FAILED: 'PrepareFailed',
  EXPORT: 'Export',
  START_EXPORT: 'StartExport',
  CHECK_STARTED: 'CheckStarted',
  CHECK_SLOT_HOLDERS: 'CheckSlotHolders',
  COUNT_SLOT_LOOK: 'CountSlotLook',
  WAIT_FOR_SLOT: 'WaitForSlot',
  WAIT_LONG_FOR_SLOT: 'WaitLongForSlot',
  DESCRIBE_SLOT_HOLDERS: 'DescribeSlotHolders',
  CHECK_SLOT_FREED: 'CheckSlotFreed',
  COUNT_IMAGE_SLOT_LOOK: 'CountImageSlotLook',
  WAIT_FOR_IMAGE_SLOT: 'WaitForImageSlot',
  WAIT_LONG_FOR_IMAGE_SLOT: 'WaitLongForImageSlot',
  DESCRIBE_IMAGE_SLOT_HOLDERS: 'DescribeImageSlotHolders',
  CHECK_IMAGE_SLOT_FREED: 'CheckImageSlotFreed',
  COUNT_SHORT_POLL: 'CountShortPoll',
  WAIT_SHORT_POLL: 'WaitShortPoll',
  WAIT_LONG_POLL: 'WaitLongPoll',
  DESCRIBE_EXPORT_TASK: 'DescribeExportTask',
  CHECK_EXPORT_STATE: 'CheckExportState',
  TASK_NOT_LISTED: 'TaskNotListed',
  COUNT_FAILED_POLL: 'CountFailedPoll',
  CHECK_FAILED_POLLS: 'CheckFailedPolls',
  WAIT_AFTER_FAILED_POLL: 'WaitAfterFailedPoll',
  WATCH_LOST: 'WatchLost',
  WATCH_LOST_WITHOUT_CAUSE: 'WatchLostWithoutCause',
  RECORD_COMPLETION: 'RecordCompletion',
  TASK_COMPLETED_WITH_KEY: 'TaskCompletedWithKey',
  TASK_COMPLETED: 'TaskCompleted',
  ADOPTED_TASK_COMPLETED: 'AdoptedTaskCompleted',
  TASK_CANCELLED: 'TaskCancelled',
  TASK_CANCELLED_WITHOUT_MESSAGE: 'TaskCancelledWithoutMessage',
  // Image export's poll loop: the rows of the same table that start with "image export:".
  COUNT_IMAGE_SHORT_POLL: 'CountImageShortPoll',
  WAIT_IMAGE_SHORT_POLL: 'WaitImageShortPoll',
  WAIT_IMAGE_LONG_POLL: 'WaitImageLongPoll',
  DESCRIBE_EXPORT_IMAGE_TASK: 'DescribeExportImageTask',
  CHECK_EXPORT_IMAGE_STATE: 'CheckExportImageState',
  IMAGE_TASK_NOT_LISTED: 'ImageTaskNotListed',
  COUNT_FAILED_IMAGE_POLL: 'CountFailedImagePoll',
  CHECK_FAILED_IMAGE_POLLS: 'CheckFailedImagePolls',
  WAIT_AFTER_FAILED_IMAGE_POLL: 'WaitAfterFailedImagePoll',
  IMAGE_WATCH_LOST: 'ImageWatchLost',
  IMAGE_WATCH_LOST_WITHOUT_CAUSE: 'ImageWatchLostWithoutCause',
  RECORD_IMAGE_COMPLETION: 'RecordImageCompletion',
  IMAGE_TASK_COMPLETED: 'ImageTaskCompleted',
  IMAGE_TASK_DELETED: 'ImageTaskDeleted',
  IMAGE_TASK_DELETED_WITHOUT_MESSAGE: 'ImageTaskDeletedWithoutMessage',
  PUBLISH_PROGRESS: 'PublishProgress',
  RECORD_PROGRESS: 'RecordProgress',
  CHECK_IMAGE_POLL_COUNT: 'CheckImagePollCount',
  DEADLINE: 'Deadline',
  DEADLINE_REACHED: 'DeadlineReached',
  FINISH: 'Finish',
  FINISH_FAILED: 'FinishFailed',
  CHECK_OUTCOME: 'CheckOutcome',
  PUBLISH_SUCCEEDED: 'PublishSucceeded',
  PUBLISH_FAILED: 'PublishFailed',
  SUCCEEDED: 'Succeeded',
  CHECK_FAILURE: 'CheckFailure',
  PREFLIGHT_FAILED: 'PreflightFailed',
  EXPORT_REJECTED: 'ExportRejected',
  EXPORT_FAILED: 'ExportFailed',
  DEADLINE_PASSED: 'DeadlinePassed',
  QUOTA_NEVER_FREED: 'QuotaNeverFreed',
  INVALID_INPUT: 'InvalidInput',
  WORKFLOW_ERROR: 'WorkflowError',
  WATCH_LOST_OUTCOME: 'WatchLostOutcome',
  UNEXPECTED_OUTCOME: 'UnexpectedOutcome',
} as const;

/**
 * The tag that marks an export task as started by this library. Source: README.md, "Watching a
 * running export" (the `describe-export-tasks` command and its comment: "tag
 * vm-export:managed-by = cdk-vm-export").
 */
export const ManagedTag = {
  KEY: 'vm-export:managed-by',
  VALUE: 'cdk-vm-export',
} as const;

/**
 * The events the workflow publishes. Source: README.md, "Events and alarms": the field table
 * (`source`, `detail-type`) for the outcome events, and the paragraph after it ("the workflow also
 * publishes `VM Export Progress`", an image export's progress). Keys as in the library's
 * `WorkflowEvents`.
 */
export const Events = {
  SOURCE: 'cdk-vm-export',
  SUCCEEDED: 'VM Export Succeeded',
  FAILED: 'VM Export Failed',
  // The paragraph after the field table: image export only, while the task runs.
  PROGRESS: 'VM Export Progress',
} as const;

/**
 * The environment variable through which the export grants reach the export-task function.
 * Source: README.md, "Running the workflow outside CloudFormation" ("The grants reach the function
 * as the environment variable `VM_EXPORT_GRANTS`").
 */
export const EXPORT_GRANTS_VARIABLE = 'VM_EXPORT_GRANTS';

/**
 * The fleet's own error names. Source: README.md, "Exporting a fleet (InstanceExportFleet)": the
 * error table after the output example (its `VmExport.InvalidInput` and `VmExport.WorkflowError`
 * rows are the export workflow's names, in `Errors`).
 */
export const FleetErrors = {
  FLEET_FAILED: 'VmExport.FleetFailed',
  LISTING_FAILED: 'VmExport.ListingFailed',
} as const;

/**
 * The fleet's states. Source: README.md, "Exporting a fleet (InstanceExportFleet)" → the table
 * after "The fleet's states:". Keys as in the library's `FleetStateNames`.
 */
export const FleetStateNames = {
  PREPARE_FLEET: 'PrepareFleet',
  CHECK_LISTING: 'CheckListing',
  LIST_INSTANCES: 'ListInstances',
  LIST_MORE_INSTANCES: 'ListMoreInstances',
  COLLECT_PAGE: 'CollectPage',
  CHECK_MORE_PAGES: 'CheckMorePages',
  GATHER_INSTANCES: 'GatherInstances',
  UNIQUE_INSTANCES: 'UniqueInstances',
  TOO_MANY_INSTANCES: 'TooManyInstances',
  EXPORT_INSTANCES: 'ExportInstances',
  EXPORT_INSTANCE: 'ExportInstance',
  RECORD_FAILURE: 'RecordFailure',
  FAILURE_NOT_READ: 'FailureNotRead',
  FINISH_FLEET: 'FinishFleet',
  CHECK_FINISH_FLEET_ERROR: 'CheckFinishFleetError',
  FINISH_FLEET_FAILED: 'FinishFleetFailed',
  FINISH_FLEET_FAILED_WITHOUT_CAUSE: 'FinishFleetFailedWithoutCause',
  PUBLISH_FLEET_FINISHED: 'PublishFleetFinished',
  CHECK_FLEET_OUTCOME: 'CheckFleetOutcome',
  FLEET_SUCCEEDED: 'FleetSucceeded',
  FLEET_FAILED: 'FleetFailed',
  UNEXPECTED_FLEET_OUTCOME: 'UnexpectedFleetOutcome',
} as const;

/** The fleet's closing event. Source: README.md, "Exporting a fleet": the paragraph before the output example. */
export const FLEET_FINISHED = 'VM Export Fleet Finished';
