import { Annotations, Duration, Stack, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { InstanceExportProvider } from './instance-export-provider';
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
import { EXPORT_AFFECTING_PROPERTIES, EXPORT_RESOURCE_TYPE, INSTANCE_ID_PATTERN } from '../internal';
import { ContainerFormat, DiskImageFormat, TargetEnvironment } from '../workflow/export-formats';
import { InstanceExportWorkflow } from '../workflow/instance-export-workflow';

/** The longest task id the service hands out: `export-i-` + 17 hex. */
const LONGEST_TASK_ID = 'export-i-' + '0'.repeat(17);

/**
 * Properties of an `InstanceExport`.
 */
export interface InstanceExportProps {
  /**
   * The instance to export: `i-` followed by 8 or 17 hexadecimal characters, or a token
   * (for example `instance.instanceId`).
   *
   * The instance must be running or stopped, have one volume and one network interface, no
   * encrypted volume, and no Marketplace product code.
   */
  readonly instanceId: string;

  /** The export bucket the image is written to. */
  readonly bucket: IVmExportBucket;

  /** The virtualization environment the image is for. */
  readonly targetEnvironment: TargetEnvironment;

  /**
   * The disk image format.
   *
   * @default - VMDK for VMware, VHD for Citrix and Microsoft
   */
  readonly diskImageFormat?: DiskImageFormat;

  /**
   * The container format.
   *
   * @default - OVA for VMware, NONE (the bare disk image) for Citrix and Microsoft
   */
  readonly containerFormat?: ContainerFormat;

  /**
   * The key prefix of the exported object. Must end with `/` and not start with `/`; `''`
   * writes the image to the bucket's root.
   *
   * @default 'exports/'
   */
  readonly prefix?: string;

  /**
   * A description of the export task (at most 255 characters).
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
   * With `false` the deployment returns as soon as the export task exists; the attributes then
   * resolve at once and the object may not be in S3 yet. The workflow still cancels the task
   * at the deadline.
   *
   * @default true
   */
  readonly waitForCompletion?: boolean;

  /**
   * Check the instance and the bucket with read-only calls before the export starts, and fail
   * the deployment with every problem found.
   *
   * @default true
   */
  readonly preflight?: boolean;

  /**
   * Tags for the export task.
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
   * Change this value to export again with otherwise unchanged properties, for example when
   * the instance behind a reference was replaced.
   *
   * @default - no revision
   */
  readonly revision?: string;

  /**
   * The workflow that runs the export. The export grants its instance to the workflow
   * (`grantExportOf`).
   *
   * @default - the stack's shared workflow (`InstanceExportWorkflow.of(this)`)
   */
  readonly workflow?: InstanceExportWorkflow;
}

/**
 * Exports an EC2 instance as a VM image to an export bucket during `cdk deploy`.
 *
 * A custom resource checks the instance and the bucket, then starts one execution of the
 * export workflow (Step Functions), which starts the export task, polls it, cancels it at the
 * deadline and signals a CloudFormation wait condition. The deployment waits on that wait
 * condition for up to `timeout` (at most 12 hours) and fails with the service's own reason when
 * the export fails. Deleting the resource (or a rollback) cancels an active export; a
 * completed image is retained unless `deleteObjectOnDelete` is set.
 *
 * @example
 * const exportBucket = new VmExportBucket(this, 'ExportBucket');
 * const vm = new InstanceExport(this, 'Export', {
 *   instanceId: 'i-0123456789abcdef0',
 *   bucket: exportBucket,
 *   targetEnvironment: TargetEnvironment.VMWARE,
 * });
 * new CfnOutput(this, 'ImageUri', { value: vm.exportObjectUri });
 */
export class InstanceExport extends Construct {
  /** The export task id, e.g. `export-i-0123456789abcdef0`. Resolves once the export finished. */
  public readonly exportTaskId: string;
  /** The object key: prefix + task id + `.ova`, `.vmdk` or `.vhd`. Resolves once the export finished. */
  public readonly exportObjectKey: string;
  /** `s3://<bucket>/<key>`. Resolves once the export finished. */
  public readonly exportObjectUri: string;
  /** The workflow that runs the export. */
  public readonly workflow: InstanceExportWorkflow;
  /** The disk image format used. */
  public readonly diskImageFormat: DiskImageFormat;
  /** The container format used. */
  public readonly containerFormat: ContainerFormat;

  /**
   * @param scope the scope to create the export in
   * @param id the construct id (part of the logical ids: renaming it replaces the export)
   * @param props what to export and where
   */
  constructor(scope: Construct, id: string, props: InstanceExportProps) {
    super(scope, id);
    const prefix = props.prefix ?? 'exports/';
    const timeout = props.timeout ?? Duration.hours(6);
    const waitForCompletion = props.waitForCompletion ?? true;
    const isVmware = props.targetEnvironment === TargetEnvironment.VMWARE;
    this.diskImageFormat = props.diskImageFormat ?? (isVmware ? DiskImageFormat.VMDK : DiskImageFormat.VHD);
    // OVA only wraps VMDK: an explicit VHD or RAW for VMware gets no container by default, so that
    // the only error is about what the user set.
    this.containerFormat = props.containerFormat
      ?? (isVmware && this.diskImageFormat === DiskImageFormat.VMDK ? ContainerFormat.OVA : ContainerFormat.NONE);
    const extension = this.containerFormat === ContainerFormat.OVA ? '.ova' : `.${this.diskImageFormat.toLowerCase()}`;
    validate(this, props, this.diskImageFormat, this.containerFormat, prefix, extension, timeout);
    if (props.preflight === false) {
      Annotations.of(this).addWarningV2('cdk-vm-export:preflightDisabled',
        'preflight is false: an instance or bucket the service cannot export (several volumes, an encrypted ' +
        'volume, a KMS-encrypted bucket, ...) is only reported once the export task fails.');
    }

    this.workflow = props.workflow ?? InstanceExportWorkflow.of(this);
    this.workflow.grantBucketAccess(props.bucket.bucket);
    // The workflow exports only the instances it was granted.
    this.workflow.grantExportOf(props.instanceId);
    const provider = InstanceExportProvider.of(this, this.workflow);
    provider.grantBucket(props.bucket.bucketArn, props.deleteObjectOnDelete ? prefix : undefined);
    if (!waitForCompletion) {
      provider.grantStartExport(props.instanceId);
    }

    const affecting: Record<(typeof EXPORT_AFFECTING_PROPERTIES)[number], string> = {
      InstanceId: props.instanceId,
      TargetEnvironment: props.targetEnvironment,
      DiskImageFormat: this.diskImageFormat,
      ContainerFormat: this.containerFormat,
      S3Bucket: props.bucket.bucketName,
      S3Prefix: prefix,
      Revision: props.revision ?? '',
    };
    const exported = createExportResources(this, {
      resourceType: EXPORT_RESOURCE_TYPE,
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
        CanonicalId: props.bucket.canonicalId,
      },
      timeout,
      waitForCompletion,
      bucket: props.bucket,
      prefix,
      objectExtension: extension,
    });
    if (exported.handle) {
      this.workflow.grantWaitConditionSignals(Stack.of(this));
      provider.grantWaitConditionReads();
    }
    this.exportTaskId = exported.exportTaskId;
    this.exportObjectKey = exported.exportObjectKey;
    this.exportObjectUri = exported.exportObjectUri;
  }
}

function validate(
  scope: Construct,
  props: InstanceExportProps,
  disk: DiskImageFormat,
  container: ContainerFormat,
  prefix: string,
  extension: string,
  timeout: Duration,
): void {
  requireVmExportBucket(scope, props.bucket);
  const errors: string[] = [];
  const target = props.targetEnvironment;
  if (!Token.isUnresolved(props.instanceId) && !INSTANCE_ID_PATTERN.test(props.instanceId)) {
    errors.push(`instanceId '${props.instanceId}' is not an instance id: use 'i-' followed by 8 or 17 lowercase hexadecimal characters (e.g. i-0123456789abcdef0), or a reference such as instance.instanceId.`);
  }
  if (disk === DiskImageFormat.RAW) {
    errors.push(`diskImageFormat RAW is not supported for instance export (it is only for exporting an AMI with ExportImage): use ${target === TargetEnvironment.VMWARE ? 'VMDK' : 'VHD'} for targetEnvironment '${target}'.`);
  } else if (disk === DiskImageFormat.VMDK && target !== TargetEnvironment.VMWARE) {
    errors.push(`diskImageFormat VMDK does not work with targetEnvironment '${target}': use DiskImageFormat.VHD (or omit it).`);
  } else if (disk === DiskImageFormat.VHD && target === TargetEnvironment.VMWARE) {
    errors.push('diskImageFormat VHD does not work with targetEnvironment \'vmware\': use DiskImageFormat.VMDK (or omit it).');
  }
  if (container === ContainerFormat.OVA && disk !== DiskImageFormat.VMDK) {
    errors.push(`containerFormat OVA only wraps VMDK images, not ${disk}: use ContainerFormat.NONE (or omit it).`);
  }
  errors.push(
    ...descriptionProblems(props.description),
    ...prefixProblems(prefix, LONGEST_TASK_ID, extension),
    ...timeoutProblems(timeout),
    ...tagProblems(props.tags),
    ...bucketEnvironmentProblems(scope, props.bucket, SUBJECT(props.instanceId)),
    ...crossStackProblems(scope, props.workflow, props.bucket, SUBJECT(props.instanceId)),
  );
  if (errors.length > 0) {
    throw new Error(`${scope.node.path}: invalid properties:\n- ${errors.join('\n- ')}`);
  }
}

/** What an InstanceExport exports, as the shared checks name it. */
function SUBJECT(instanceId: string): ExportSubject {
  return { prop: 'instanceId', value: instanceId, noun: 'instance', construct: 'InstanceExport' };
}
