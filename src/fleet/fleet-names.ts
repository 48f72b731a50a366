/**
 * Names of the fleet workflow (internal module, not part of the jsii API). State names are
 * observable behaviour (execution history, tests, benchmarks): do not rename them casually.
 */

/** The state names of the fleet workflow. */
export const FleetStateNames = {
  /** Lambda `fleet-prepare`: validate the fleet input, plan the children. */
  PREPARE_FLEET: 'PrepareFleet',
  /** Choice: instanceFilters are listed with DescribeInstances; instanceIds are used as they are. */
  CHECK_LISTING: 'CheckListing',
  /** AWS SDK integration ec2:DescribeInstances, first page. */
  LIST_INSTANCES: 'ListInstances',
  /** AWS SDK integration ec2:DescribeInstances, the next pages (NextToken). */
  LIST_MORE_INSTANCES: 'ListMoreInstances',
  /** Pass: keeps the page's instance ids (nested under the earlier pages'). */
  COLLECT_PAGE: 'CollectPage',
  /** Choice: more instances than one fleet exports so far (stop), another page, or the last one? */
  CHECK_MORE_PAGES: 'CheckMorePages',
  /** Pass: every page's instance ids in one list. */
  GATHER_INSTANCES: 'GatherInstances',
  /** Pass: the listed instances without duplicates. */
  UNIQUE_INSTANCES: 'UniqueInstances',
  /** Pass: the filters matched too many instances (VmExport.InvalidInput for FinishFleet). */
  TOO_MANY_INSTANCES: 'TooManyInstances',
  /** Map (inline): one child export per instance, at most maxConcurrentExports at once. */
  EXPORT_INSTANCES: 'ExportInstances',
  /** Step Functions startExecution.sync:2 of the export workflow for one instance. */
  EXPORT_INSTANCE: 'ExportInstance',
  /** Lambda `fleet-record`: one failed child's error name and reason. */
  RECORD_FAILURE: 'RecordFailure',
  /** Pass: a failure the record step could not read (kept with VmExport.WorkflowError). */
  FAILURE_NOT_READ: 'FailureNotRead',
  /** Lambda `fleet-finish`: the outcome of every instance, and the fleet's status. */
  FINISH_FLEET: 'FinishFleet',
  /** Choice: the finish step's error, with or without a Cause. */
  CHECK_FINISH_FLEET_ERROR: 'CheckFinishFleetError',
  /** Fail with VmExport.WorkflowError: the finish step itself failed. */
  FINISH_FLEET_FAILED: 'FinishFleetFailed',
  /** The same when the error has no Cause. */
  FINISH_FLEET_FAILED_WITHOUT_CAUSE: 'FinishFleetFailedWithoutCause',
  /** EventBridge PutEvents `VM Export Fleet Finished` (a failure to publish is caught). */
  PUBLISH_FLEET_FINISHED: 'PublishFleetFinished',
  /** Choice on the summary's status. */
  CHECK_FLEET_OUTCOME: 'CheckFleetOutcome',
  /** Succeed: every instance was exported (the output is the summary). */
  FLEET_SUCCEEDED: 'FleetSucceeded',
  /** Fail with the summary's errorName and cause. */
  FLEET_FAILED: 'FleetFailed',
  /** Fail: the finish step returned something the workflow does not know. */
  UNEXPECTED_FLEET_OUTCOME: 'UnexpectedFleetOutcome',
} as const;

/** The event the fleet publishes when it ends (source `cdk-vm-export`, like the export events). */
export const FLEET_FINISHED_EVENT = 'VM Export Fleet Finished';
