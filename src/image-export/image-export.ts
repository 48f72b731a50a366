import { Annotations, Duration, Stack, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { IVmImportServiceRole, VmImportServiceRole } from './vm-import-service-role';
import { IVmExportBucket } from '../bucket/vm-export-bucket';
import {
  bucketEnvironmentProblems,
  createExportResources,
  crossStackProblems,
  deadlineSecondsOf,
  descriptionProblems,
  ExportSubject,
  prefixProblems,
  requireVmExportBucket,
  tagProblems,
  timeoutProblems,
} from '../export-resource';
import { InstanceExportProvider } from '../instance-export/instance-export-provider';
import { IMAGE_EXPORT_AFFECTING_PROPERTIES, IMAGE_EXPORT_RESOURCE_TYPE } from '../internal';
import { DiskImageFormat } from '../workflow/export-formats';
import { InstanceExportWorkflow } from '../workflow/instance-export-workflow';

/** The longest export image task id seen: `export-ami-` + 17 hex. */
const LONGEST_IMAGE_TASK_ID = 'export-ami-' + '0'.repeat(17);
/** `ami-` followed by 8 or 17 lowercase hexadecimal characters. */
const IMAGE_ID_PATTERN = /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/;

/**
 * Properties of an `ImageExport`.
 */
export interface ImageExportProps {
  /**
   * The AMI to export: `ami-` followed by 8 or 17 hexadecimal characters, or a token (for
   * example an EC2 Image Builder image's `attrImageId`).
   *
   * The AMI must be available and owned by the account (not shared from another account), with
   * no encrypted EBS snapshot, no AWS Marketplace product code, no license-included Windows or
   * SQL Server, and volumes of at most 1 TiB.
   */
  readonly imageId: string;

  /** The export bucket the image is written to. */
  readonly bucket: IVmExportBucket;

  /**
   * The disk image format: VMDK (stream-optimized, for VMware), VHD (Citrix Xen, Microsoft
   * Hyper-V) or RAW.
   *
   * @default DiskImageFormat.VMDK
   */
  readonly diskImageFormat?: DiskImageFormat;

  /**
   * The key prefix of the exported object. Must end with `/` and not start with `/`; `''`
   * writes the image to the bucket's root.
   *
   * @default 'exports/'
   */
  readonly prefix?: string;

  /**
   * A description of the export image task (at most 255 characters).
   *
   * @default - no description
   */
  readonly description?: string;

  /**
   * How long `cdk deploy` waits for the export to finish: 10 minutes to 12 hours. The
   * workflow cancels the export and fails the deployment 5 minutes before this runs out.
   *
   * @default Duration.hours(6)
   */
  readonly timeout?: Duration;

  /**
   * Wait for the export to finish before the deployment goes on.
   *
   * With `false` the deployment returns as soon as the export image task exists; the
   * attributes then resolve at once and the object may not be in S3 yet. The workflow still
   * cancels the task at the deadline.
   *
   * @default true
   */
  readonly waitForCompletion?: boolean;

  /**
   * Check the AMI, the bucket and the service role with read-only calls before the export
   * starts, and fail the deployment with every problem found.
   *
   * @default true
   */
  readonly preflight?: boolean;

  /**
   * Tags for the export image task.
   *
   * @default - only the tags the library uses for lookups
   */
  readonly tags?: { [key: string]: string };

  /**
   * Delete the exported object when this export is removed from the stack.
   *
   * @default false - exported images are retained
   */
  readonly deleteObjectOnDelete?: boolean;

  /**
   * Change this value to export again with otherwise unchanged properties. Set it when `imageId`
   * is a reference whose AMI changes (an Image Builder image's `attrImageId`: use the recipe's
   * version), so that a new AMI gets a new wait condition; without it, synth warns.
   *
   * @default - no revision
   */
  readonly revision?: string;

  /**
   * The VM Import/Export service role the service writes the image through. The export grants
   * it the bucket's objects under `prefix` (unless it is an existing role imported with
   * `addGrants: false`) and lets the workflow pass it.
   *
   * @default - the stack's service role (`VmImportServiceRole.of(this)`)
   */
  readonly serviceRole?: IVmImportServiceRole;

  /**
   * The workflow that runs the export. The export grants its AMI and service role to the
   * workflow (`grantExportOfImage`, `grantServiceRole`).
   *
   * @default - the stack's shared workflow (`InstanceExportWorkflow.of(this)`)
   */
  readonly workflow?: InstanceExportWorkflow;
}

/**
 * Exports an AMI as a VMDK, VHD or RAW disk image to an export bucket during `cdk deploy`
 * (EC2 `ExportImage`): no running instance, no reboot.
 *
 * It works as `InstanceExport` does: a custom resource checks the AMI, the bucket and the
 * service role, then starts one execution of the stack's export workflow, which starts the
 * export image task, polls it (publishing its progress), cancels it at the deadline and
 * signals a CloudFormation wait condition. The deployment waits up to `timeout` (at most 12
 * hours) and fails with the service's own reason when the export fails. Deleting the resource
 * (or a rollback) cancels an active export; a completed image is retained unless
 * `deleteObjectOnDelete` is set.
 *
 * @example
 * const exportBucket = new VmExportBucket(this, 'ExportBucket');
 * const vm = new ImageExport(this, 'GoldenImage', {
 *   imageId: 'ami-0123456789abcdef0',
 *   bucket: exportBucket,
 *   diskImageFormat: DiskImageFormat.VMDK,
 * });
 * new CfnOutput(this, 'ImageUri', { value: vm.exportObjectUri });
 */
export class ImageExport extends Construct {
  /** The export image task id, e.g. `export-ami-0123456789abcdef0`. Resolves once the export finished. */
  public readonly exportImageTaskId: string;
  /** The object key: prefix + task id + `.vmdk`, `.vhd` or `.raw`. Resolves once the export finished. */
  public readonly exportObjectKey: string;
  /** `s3://<bucket>/<key>`. Resolves once the export finished. */
  public readonly exportObjectUri: string;
  /** The workflow that runs the export. */
  public readonly workflow: InstanceExportWorkflow;
  /** The service role the image is written through. */
  public readonly serviceRole: IVmImportServiceRole;
  /** The disk image format used. */
  public readonly diskImageFormat: DiskImageFormat;

  /**
   * @param scope the scope to create the export in
   * @param id the construct id (part of the logical ids: renaming it replaces the export)
   * @param props what to export and where
   */
  constructor(scope: Construct, id: string, props: ImageExportProps) {
    super(scope, id);
    const prefix = props.prefix ?? 'exports/';
    const timeout = props.timeout ?? Duration.hours(6);
    const waitForCompletion = props.waitForCompletion ?? true;
    this.diskImageFormat = props.diskImageFormat ?? DiskImageFormat.VMDK;
    const extension = `.${this.diskImageFormat.toLowerCase()}`;
    validate(this, props, prefix, extension, timeout);
    if (Token.isUnresolved(props.imageId) && props.revision === undefined && waitForCompletion) {
      // The wait condition's logical id is hashed from the props at synth time, where a reference
      // is only its token: a new AMI behind the same reference would be the same wait condition,
      // which CloudFormation cannot wait on again, and the update is refused.
      Annotations.of(this).addWarningV2('cdk-vm-export:imageIdReferenceWithoutRevision',
        'imageId is a reference (e.g. an Image Builder image\'s attrImageId) and revision is not set: when a new AMI replaces ' +
        'it (a new image build), the update of this export is refused, because its wait condition cannot be waited on again. ' +
        'Set revision to a value that changes with the AMI (e.g. the image recipe\'s version).');
    }
    if (props.preflight === false) {
      Annotations.of(this).addWarningV2('cdk-vm-export:preflightDisabled',
        'preflight is false: an AMI, bucket or service role the service cannot use (an encrypted snapshot, a KMS-encrypted ' +
        'bucket, a role that may not write to the bucket, ...) is only reported once the export image task fails.');
    }

    this.serviceRole = props.serviceRole ?? VmImportServiceRole.of(this);
    this.serviceRole.grantExportTo(props.bucket.bucket, prefix);
    this.workflow = props.workflow ?? InstanceExportWorkflow.of(this);
    this.workflow.grantBucketAccess(props.bucket.bucket);
    // The workflow exports only the AMIs it was granted, through the roles it may pass.
    this.workflow.grantExportOfImage(props.imageId);
    this.workflow.grantServiceRole(this.serviceRole);
    const provider = InstanceExportProvider.of(this, this.workflow);
    provider.grantBucket(props.bucket.bucketArn, props.deleteObjectOnDelete ? prefix : undefined);
    provider.grantImageExports(this.serviceRole);
    if (!waitForCompletion) {
      provider.grantStartImageExport(props.imageId, this.serviceRole);
    }

    const affecting: Record<(typeof IMAGE_EXPORT_AFFECTING_PROPERTIES)[number], string> = {
      ImageId: props.imageId,
      DiskImageFormat: this.diskImageFormat,
      S3Bucket: props.bucket.bucketName,
      S3Prefix: prefix,
      RoleName: this.serviceRole.roleName,
      Revision: props.revision ?? '',
    };
    const exported = createExportResources(this, {
      resourceType: IMAGE_EXPORT_RESOURCE_TYPE,
      serviceToken: provider.serviceToken,
      stateMachineArn: this.workflow.stateMachine.stateMachineArn,
      affecting,
      properties: {
        Description: props.description,
        Tags: props.tags ? Object.entries(props.tags).map(([Key, Value]) => ({ Key, Value })) : undefined,
        DeadlineSeconds: deadlineSecondsOf(timeout),
        WaitForCompletion: String(waitForCompletion),
        Preflight: String(props.preflight ?? true),
        DeleteObjectOnDelete: String(props.deleteObjectOnDelete ?? false),
      },
      timeout,
      waitForCompletion,
      bucket: props.bucket,
      prefix,
      objectExtension: extension,
    });
    // The role's grants (its policy) exist before the service is asked to write through it.
    exported.resource.node.addDependency(this.serviceRole);
    if (exported.handle) {
      this.workflow.grantWaitConditionSignals(Stack.of(this));
      provider.grantWaitConditionReads();
    }
    this.exportImageTaskId = exported.exportTaskId;
    this.exportObjectKey = exported.exportObjectKey;
    this.exportObjectUri = exported.exportObjectUri;
  }
}

function validate(scope: Construct, props: ImageExportProps, prefix: string, extension: string, timeout: Duration): void {
  requireVmExportBucket(scope, props.bucket);
  const errors: string[] = [];
  if (!Token.isUnresolved(props.imageId) && !IMAGE_ID_PATTERN.test(props.imageId)) {
    errors.push(`imageId '${props.imageId}' is not an AMI id: use 'ami-' followed by 8 or 17 lowercase hexadecimal characters (e.g. ami-0123456789abcdef0), or a reference such as image.attrImageId.`);
  }
  const subject: ExportSubject = { prop: 'imageId', value: props.imageId, noun: 'AMI', construct: 'ImageExport' };
  errors.push(
    ...descriptionProblems(props.description),
    ...prefixProblems(prefix, LONGEST_IMAGE_TASK_ID, extension),
    ...timeoutProblems(timeout),
    ...tagProblems(props.tags),
    ...bucketEnvironmentProblems(scope, props.bucket, subject),
    ...crossStackProblems(scope, props.workflow, props.bucket, subject),
  );
  if (errors.length > 0) {
    throw new Error(`${scope.node.path}: invalid properties:\n- ${errors.join('\n- ')}`);
  }
}
