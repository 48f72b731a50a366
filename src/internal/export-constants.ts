/**
 * Names shared by the constructs (src/), the custom resource handlers and the export workflow
 * (lambda/): tag keys, error names, property names. Plain data with no imports, so the
 * esbuild bundles and the jsii-compiled library read the same values.
 */

/** Tag key whose value is the client token of the export (idempotency: look up before create). */
export const TAG_CLIENT_TOKEN = 'vm-export:client-token';

/** Tag key whose value is a hash of the export-affecting properties (reuse on rollback). */
export const TAG_EXPORT_HASH = 'vm-export:export-hash';

/** Tag key that marks a task as started by this library (IAM: cancel only tasks with this tag). */
export const TAG_MANAGED = 'vm-export:managed-by';

/** The value of TAG_MANAGED. */
export const TAG_MANAGED_VALUE = 'cdk-vm-export';

export const ERROR_PREFLIGHT_FAILED = 'VmExport.PreflightFailed';

/** The service refused the export (AuthFailure, NotExportable, InvalidParameter, ...). */
export const ERROR_EXPORT_REJECTED = 'VmExport.ExportRejected';

/** The task ended `cancelled` (e.g. "Task expired and automatically canceled") or was cancelled. */
export const ERROR_EXPORT_FAILED = 'VmExport.ExportFailed';

/** The deadline passed while the task was active: the task was cancelled. */
export const ERROR_DEADLINE_PASSED = 'VmExport.DeadlinePassed';

/** The deadline passed before a conversion-task slot freed (the task never started). */
export const ERROR_QUOTA_NEVER_FREED = 'VmExport.QuotaNeverFreed';

/** Thrown by the start step when the conversion-task quota is full; the workflow retries it. */
export const ERROR_QUOTA_FULL = 'VmExport.QuotaFull';

/** Thrown by any step when EC2 throttles (RequestLimitExceeded); the workflow retries it. */
export const ERROR_THROTTLED = 'VmExport.Throttled';

/**
 * Thrown by any step for an error that is worth retrying and is not throttling (InternalError,
 * Unavailable, HTTP 5xx, a network error or a timed-out request); the workflow retries it.
 */
export const ERROR_TRANSIENT = 'VmExport.Transient';

/**
 * The workflow lost track of an active export: DescribeExportTasks failed on
 * WATCH_LOST_AFTER_FAILED_POLLS polls in a row. The task was NOT cancelled.
 */
export const ERROR_WATCH_LOST = 'VmExport.WatchLost';

/**
 * The finish step itself failed (after its retries), so it may not have signalled the wait
 * condition: the signal backstop sends the FAILURE signal for it.
 */
export const ERROR_FINISH_FAILED = 'VmExport.FinishFailed';

/** Input the workflow cannot use (missing instanceId, bad format combination, ...). */
export const ERROR_INVALID_INPUT = 'VmExport.InvalidInput';

/**
 * The UniqueId the workflow signals the wait condition with. A success signal's Data is the
 * task id and the object key the task reported, joined by SIGNAL_DATA_SEPARATOR.
 */
export const WAIT_CONDITION_UNIQUE_ID = 'export';

/**
 * Joins the task id and the object key in a success signal's Data. Task ids are letters, digits
 * and hyphens, and prefixes may not contain it, so the first piece is the task id and the
 * second the whole key.
 */
export const SIGNAL_DATA_SEPARATOR = '|';

/** The custom resource type of an export (served by the export provider). */
export const EXPORT_RESOURCE_TYPE = 'Custom::VmInstanceExport';

/** The CloudFormation type of the resource that grants the service access to an export bucket. */
export const BUCKET_GRANT_RESOURCE_TYPE = 'Custom::VmExportBucketGrant';

/**
 * The custom resource type that reads a completed export's attributes from its wait
 * condition's Data (served by the same export provider function; Delete does nothing).
 */
export const EXPORT_ATTRIBUTES_RESOURCE_TYPE = 'Custom::VmExportAttributes';

/**
 * Characters a prefix may not contain: the separator, and the quote and backslash that the
 * wait condition's Data attribute (a JSON document) would escape.
 */
export const PREFIX_FORBIDDEN_CHARACTERS = ['|', '"', '\\'];

/**
 * Failed DescribeExportTasks polls in a row after which the workflow stops watching
 * (VmExport.WatchLost) without cancelling the task.
 */
export const WATCH_LOST_AFTER_FAILED_POLLS = 10;

/**
 * The properties whose change means "a different export" (a new task, a new wait condition).
 * The construct hashes these (plus the deadline) into the wait condition's logical id; the
 * provider handler compares them between old and new properties on Update.
 */
export const EXPORT_AFFECTING_PROPERTIES = [
  'InstanceId',
  'TargetEnvironment',
  'DiskImageFormat',
  'ContainerFormat',
  'S3Bucket',
  'S3Prefix',
  'Revision',
] as const;

/** The CloudFormation type of an image export (ImageExport), served by the same handler. */
export const IMAGE_EXPORT_RESOURCE_TYPE = 'Custom::VmImageExport';

/** The properties of an image export whose change means "a different export" (see EXPORT_AFFECTING_PROPERTIES). */
export const IMAGE_EXPORT_AFFECTING_PROPERTIES = [
  'ImageId',
  'DiskImageFormat',
  'S3Bucket',
  'S3Prefix',
  'RoleName',
  'Revision',
] as const;

/** Error name the poll branch ends with when the task completed (stops the deadline branch). */
export const INTERNAL_COMPLETED = 'VmExport.Internal.Completed';

/** Error name the poll branch ends with when the task ended cancelled. */
export const INTERNAL_CANCELLED = 'VmExport.Internal.Cancelled';

/** Error name of a poll whose answer did not list the task (counted as a failed poll). */
export const INTERNAL_TASK_NOT_LISTED = 'VmExport.Internal.TaskNotListed';

/** The error the export resource's handler stops an execution with (delete or replacement). */
export const EXECUTION_STOPPED_BY_PROVIDER = 'VmExport.Stopped';

/** An unexpected error inside the workflow (after cleanup). */
export const ERROR_WORKFLOW_ERROR = 'VmExport.WorkflowError';

/** The Sid of the statement merged into an imported bucket's policy. */
export const BUCKET_POLICY_SID = 'VmExportServiceAccess';

/** A canonical user ID: 64 lowercase hexadecimal characters. */
export const CANONICAL_ID_PATTERN = /^[0-9a-f]{64}$/;

/** An instance id: `i-` followed by 8 or 17 lowercase hexadecimal characters. */
export const INSTANCE_ID_PATTERN = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;

/**
 * The export-task function's environment variable that lists the instances its workflow may
 * export, as JSON: `{ "anyInstance": boolean, "instances": ["i-..."], "tags": [{ "key": "...",
 * "value": "..." }] }` (ExportGrants in lambda/shared/export-grants.ts). The construct always
 * sets it; `prepare` refuses an instance it does not cover.
 */
export const ENV_EXPORT_GRANTS = 'VM_EXPORT_GRANTS';

/**
 * The `state` the start step answers with when the conversion-task quota is full: the workflow
 * then waits for one of the tasks that hold the slots (`holders`, `imageHolders`) to end,
 * polling through the AWS SDK integration, before it calls the start step again.
 */
export const START_STATE_QUOTA_FULL = 'quota-full';

/**
 * The most slot holders the start step reports (the workflow's slot Choice checks this many
 * list positions). The quota is 5 by default and at most 20 (SPEC section 3).
 */
export const MAX_SLOT_HOLDERS = 20;

/** A fleet in which at least one export failed (after every instance was tried). */
export const ERROR_FLEET_FAILED = 'VmExport.FleetFailed';

/** The fleet's DescribeInstances listing failed (a bad filter, or EC2 kept failing). */
export const ERROR_LISTING_FAILED = 'VmExport.ListingFailed';

/** The most instances one fleet execution exports (its results must fit Step Functions' 256 KiB state). */
export const MAX_FLEET_INSTANCES = 100;

/** The conversion-task quota's documented maximum: the most exports a fleet runs at once. */
export const MAX_CONCURRENT_EXPORTS = 20;

/** The conversion-task quota's documented default: the exports a fleet runs at once unless told otherwise. */
export const DEFAULT_CONCURRENT_EXPORTS = 5;

/** The longest fleet client token: each export's `<token>-<instance id>` must fit a tag value (256). */
export const MAX_FLEET_TOKEN = 200;

/**
 * The longest prefix of a fleet's exports: each instance's outcome carries its object key twice
 * (key and URI), and the outcomes of MAX_FLEET_INSTANCES instances must fit Step Functions'
 * 256 KiB state.
 */
export const MAX_FLEET_PREFIX = 200;

/** The prefix of a fleet's child execution names and client tokens: `fleet-<16 hex>-<instance id>`. */
export const FLEET_CHILD_PREFIX = 'fleet-';
