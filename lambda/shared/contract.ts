/**
 * The contracts between the constructs (src/), the custom resource handlers and the export
 * workflow. Constructs write these shapes into the template and the state machine; handlers
 * read them. The constants (tag keys, error names) live in src/internal/export-constants.ts, which
 * the jsii-compiled constructs import; the shapes below are for the handlers and tests.
 */

export * from '../../src/internal/export-constants';

// ---------------------------------------------------------------------------------------------
// The workflow's public input (documented in the README; what a CodePipeline action, an
// EventBridge Scheduler target or the custom resource passes to StartExecution).
// ---------------------------------------------------------------------------------------------
export interface ExportTag {
  readonly Key: string;
  readonly Value: string;
}

export interface WorkflowInput {
  /** Required. `i-` + 8 or 17 hex. */
  readonly instanceId: string;
  /** Required. `vmware` | `citrix` | `microsoft`. */
  readonly targetEnvironment: string;
  /** Optional. `VMDK` | `VHD`; default VMDK for vmware, VHD otherwise. */
  readonly diskImageFormat?: string;
  /** Optional. `ova` | `none`; default `ova` for vmware, `none` otherwise. */
  readonly containerFormat?: string;
  /** Required. The export bucket's name. */
  readonly s3Bucket: string;
  /** Optional. Default `exports/`. */
  readonly s3Prefix?: string;
  /** Optional. At most 255 characters. */
  readonly description?: string;
  /** Optional. Extra tags on the export task. */
  readonly tags?: ExportTag[];
  /** Optional. Seconds the workflow waits for the export before cancelling it. Default 21600 (6 h). */
  readonly deadlineSeconds?: number;
  /** Optional. Run the read-only preflight checks first. Default true. */
  readonly preflight?: boolean;
  /** Optional. Idempotency token (tag value). Default: a fresh UUID per execution. */
  readonly clientToken?: string;
  /** Optional. Hash of the export-affecting properties, tagged for reuse on rollback. */
  readonly exportHash?: string;
  /** Optional. Watch this existing task instead of starting one. */
  readonly adoptExportTaskId?: string;
  /**
   * Optional, with adoptExportTaskId only. The adopted task already completed and wrote this
   * object key (recorded when it completed): the workflow reports success with it even when
   * DescribeExportTasks no longer lists the task.
   */
  readonly completedExportS3Key?: string;
  /** Optional. The canonical ID the bucket must grant (preflight checks the ACL); default: the region's. */
  readonly canonicalId?: string;
  /**
   * Optional, with waitConditionHandleLogicalId. The ARN of the stack whose wait condition the
   * workflow signals at the end.
   */
  readonly waitConditionStackId?: string;
  /**
   * Optional, with waitConditionStackId. The logical id of the AWS::CloudFormation::WaitConditionHandle
   * to signal; the step that signals reads its URL (the handle's physical id) from CloudFormation.
   */
  readonly waitConditionHandleLogicalId?: string;
  /**
   * Optional, with waitConditionHandleLogicalId. The SHA-256 hash (hex) of the handle's URL: the
   * step that signals sends nothing unless the URL it reads has this hash (proof that whoever
   * started the execution could read the URL; see handle-url.ts).
   */
  readonly waitConditionHandleHash?: string;
}

/** What the workflow returns on success (and what the finish step returns inside `result`). */
export interface WorkflowOutput {
  readonly status: 'SUCCEEDED' | 'FAILED';
  /** `instance` or `image`: which kind of export this was. */
  readonly kind?: 'instance' | 'image';
  /** The exported instance (instance export). */
  readonly instanceId?: string;
  /** The exported AMI (image export). */
  readonly imageId?: string;
  /** Image export: the percentage DescribeExportImageTasks last reported (100 on success). */
  readonly progress?: number;
  readonly exportTaskId?: string;
  readonly s3Bucket: string;
  readonly s3Key?: string;
  readonly s3Uri?: string;
  /** The task's last state: active | cancelling | cancelled | completed, or 'none'. */
  readonly state: string;
  /** On failure: one of the ERROR_* names above. */
  readonly errorName?: string;
  /** On failure: the reason, the service's StatusMessage included, at most 1000 characters. */
  readonly cause?: string;
}

// ---------------------------------------------------------------------------------------------
// The custom resource (Custom::VmInstanceExport) properties, as the InstanceExport construct
// writes them. All values are strings in CloudFormation (booleans as 'true' / 'false').
// ---------------------------------------------------------------------------------------------
export interface ExportResourceProperties {
  readonly ServiceToken: string;
  readonly StateMachineArn: string;
  readonly InstanceId: string;
  readonly TargetEnvironment: string;
  readonly DiskImageFormat: string;
  /** `ova` or `none`. */
  readonly ContainerFormat: string;
  readonly S3Bucket: string;
  readonly S3Prefix: string;
  readonly Description?: string;
  readonly Tags?: ExportTag[];
  /** The workflow's deadline in seconds (the wait condition's timeout). */
  readonly DeadlineSeconds: string;
  /** 'true' | 'false'. */
  readonly WaitForCompletion: string;
  /** 'true' | 'false'. */
  readonly Preflight: string;
  /** 'true' | 'false': delete the exported object when the resource is deleted. */
  readonly DeleteObjectOnDelete: string;
  /** The canonical ID the bucket grants (preflight checks the bucket ACL against it). */
  readonly CanonicalId: string;
  /**
   * Present when WaitForCompletion is 'true': the logical id of the wait condition handle (never
   * its Ref, a presigned URL that would be in the template's resolved properties and the logs).
   */
  readonly WaitConditionHandle?: string;
  /** User-controlled revision; part of the wait condition's logical id. */
  readonly Revision?: string;
}

/** Attributes the custom resource returns (Fn::GetAtt). */
export interface ExportResourceData {
  readonly ExecutionArn: string;
  /** Only when WaitForCompletion is 'false' (the handler started the task itself). */
  readonly ExportTaskId?: string;
  readonly ExportObjectKey?: string;
  readonly ExportObjectUri?: string;
}

/**
 * The properties of a Custom::VmExportAttributes resource (one per export that waits): the
 * wait condition's Data once the export completed, and what the documented key is built from
 * (for a signal of an earlier version, which carried the task id only).
 */
export interface ExportAttributesProperties {
  readonly ServiceToken: string;
  /** `Fn::GetAtt <WaitCondition>.Data`: `{"export":"<task id>|<key>"}` (a JSON string or an object). */
  readonly WaitConditionData: unknown;
  readonly S3Bucket: string;
  readonly S3Prefix: string;
  /** `.ova`, `.vmdk` or `.vhd`. */
  readonly ObjectExtension: string;
}

/** The string attributes a Custom::VmExportAttributes resource returns (Fn::GetAtt). */
export interface ExportAttributesData {
  readonly ExportTaskId: string;
  readonly ExportObjectKey: string;
  readonly ExportObjectUri: string;
}

// ---------------------------------------------------------------------------------------------
// The workflow's Lambda step (one function, lambda/export-task, dispatching on `action`).
// ---------------------------------------------------------------------------------------------

/** A WorkflowInput with every default applied (what `prepare` returns). */
export interface NormalizedRequest {
  /** Set by `prepare` (absent in requests of executions started before image export existed). */
  readonly kind?: 'instance';
  readonly instanceId: string;
  readonly targetEnvironment: string;
  readonly diskImageFormat: string;
  /** `ova` or `none`. */
  readonly containerFormat: string;
  readonly s3Bucket: string;
  readonly s3Prefix: string;
  readonly description?: string;
  readonly tags: ExportTag[];
  readonly deadlineSeconds: number;
  readonly clientToken: string;
  readonly exportHash?: string;
  readonly adoptExportTaskId?: string;
  readonly completedExportS3Key?: string;
  readonly canonicalId?: string;
  readonly waitConditionStackId?: string;
  readonly waitConditionHandleLogicalId?: string;
  readonly waitConditionHandleHash?: string;
  /** `<prefix>` + `<task id>` + this extension makes the object key: `.ova`, `.vmdk` or `.vhd`. */
  readonly objectExtension: string;
  /** Set by `prepare`: epoch milliseconds after which `start` creates no task (the deadline). */
  readonly notAfter?: number;
}

/**
 * `prepare`: validate and normalize the raw input and (unless `preflight` is false) run the
 * read-only preflight checks. Returns a NormalizedRequest. Throws ERROR_INVALID_INPUT,
 * ERROR_PREFLIGHT_FAILED or ERROR_THROTTLED.
 */
export interface PrepareEvent {
  readonly action: 'prepare';
  /** A WorkflowInput, or an ImageWorkflowInput (image-contract.ts) for an image export. */
  readonly input: WorkflowInput | import('./image-contract').ImageWorkflowInput;
}

/**
 * `start`: adopt `adoptExportTaskId`, or the task tagged with this client token, or else call
 * CreateInstanceExportTask once (never after `notAfter`). Returns StartResult. Throws
 * ERROR_QUOTA_FULL, ERROR_THROTTLED, ERROR_TRANSIENT (retried by the workflow with backoff),
 * ERROR_EXPORT_REJECTED or ERROR_DEADLINE_PASSED.
 */
export interface StartEvent {
  readonly action: 'start';
  /** A NormalizedRequest, or a NormalizedImageRequest (image-contract.ts) for an image export. */
  readonly request: NormalizedRequest | import('./image-contract').NormalizedImageRequest;
}

export interface StartResult {
  readonly exportTaskId: string;
  readonly state: string;
  /** The object key the task reported, when the answer had one. */
  readonly s3Key?: string;
}

/**
 * `finish`: decide the outcome from the caught error and the task's state, cancel an active
 * task when the workflow gives up (deadline or unexpected error), signal the wait condition
 * handle when there is one, and return a WorkflowOutput. `request` is a NormalizedRequest when
 * `prepare` succeeded, else the raw WorkflowInput. Never throws for an expected outcome.
 */
export interface FinishEvent {
  readonly action: 'finish';
  readonly request: NormalizedRequest | WorkflowInput;
  /** The error the Parallel (or prepare) state caught: `{ Error, Cause }`. */
  readonly error?: { readonly Error: string; readonly Cause?: string };
}

export type ExportTaskEvent = PrepareEvent | StartEvent | FinishEvent | import('./fleet-contract').FleetEvent;

// ---------------------------------------------------------------------------------------------
// The bucket grant custom resource (Custom::VmExportBucketGrant), lambda/bucket-grant.
// ---------------------------------------------------------------------------------------------
export interface BucketGrantProperties {
  readonly ServiceToken: string;
  readonly BucketName: string;
  /** 64 lowercase hex. */
  readonly CanonicalId: string;
  /** The partition of the bucket's ARN (`aws`, `aws-cn`, `aws-us-gov`, ...). */
  readonly Partition: string;
  /** 'true' for an imported bucket: check location, ownership and encryption first. */
  readonly VerifyBucket: string;
  /** The stack's region; with VerifyBucket the bucket must be in it. */
  readonly ExpectedRegion: string;
  /** 'true' for an imported bucket: merge a policy statement under PolicySid (and remove it on delete). */
  readonly ManagePolicy: string;
  readonly PolicySid: string;
  /**
   * 'true' when the stack is environment-agnostic and CanonicalId is the library's default (the
   * AWS::Region conditions), not the user's: Create and Update refuse it in a partition without
   * a documented canonical ID (aws-eusc, aws-iso*). Absent otherwise.
   */
  readonly CanonicalIdDefaulted?: string;
}

