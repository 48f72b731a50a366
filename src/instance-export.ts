import * as crypto from 'crypto';
import {
  CfnResource,
  CfnWaitCondition,
  CfnWaitConditionHandle,
  Duration,
  Fn,
  Stack,
  Token,
  Annotations,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EXPORT_AFFECTING_PROPERTIES, PREFIX_FORBIDDEN_CHARACTERS, SIGNAL_DATA_SEPARATOR } from './export-constants';
import { ContainerFormat, DiskImageFormat, TargetEnvironment } from './export-formats';
import { InstanceExportProvider } from './instance-export-provider';
import { InstanceExportWorkflow } from './instance-export-workflow';
import { IVmExportBucket } from './vm-export-bucket';

/** S3 object keys are at most 1024 bytes. */
const MAX_KEY_LENGTH = 1024;
/** The longest task id the service hands out: `export-i-` + 17 hex. */
const LONGEST_TASK_ID = 'export-i-' + '0'.repeat(17);
const MIN_TIMEOUT = Duration.minutes(10);
const MAX_TIMEOUT = Duration.hours(12);
/** The workflow gives up this long before CloudFormation stops waiting, to cancel and report. */
const DEADLINE_MARGIN = Duration.minutes(5);

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
   * The key prefix of the exported object. Must end with `/` and not start with `/`.
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
    this.containerFormat = props.containerFormat ?? (isVmware ? ContainerFormat.OVA : ContainerFormat.NONE);
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

    const timeoutSeconds = timeout.toSeconds();
    const affecting: Record<(typeof EXPORT_AFFECTING_PROPERTIES)[number], string> = {
      InstanceId: props.instanceId,
      TargetEnvironment: props.targetEnvironment,
      DiskImageFormat: this.diskImageFormat,
      ContainerFormat: this.containerFormat,
      S3Bucket: props.bucket.bucketName,
      S3Prefix: prefix,
      Revision: props.revision ?? '',
    };

    // The wait condition and its handle cannot be updated in place and a handle must never be
    // reused: both logical ids derive from what is exported and from the timeout, so a change
    // of either replaces both.
    let handle: CfnWaitConditionHandle | undefined;
    let waitCondition: CfnWaitCondition | undefined;
    if (waitForCompletion) {
      const suffix = hashOf(Stack.of(this).resolve({ ...affecting, Timeout: timeoutSeconds }));
      handle = new CfnWaitConditionHandle(this, `Handle${suffix}`);
      waitCondition = new CfnWaitCondition(this, `Completion${suffix}`, {
        handle: handle.ref,
        timeout: String(timeoutSeconds),
        count: 1,
      });
    }

    // A plain CfnResource (not the CustomResource wrapper): same logical id, less work per export.
    const resource = new CfnResource(this, 'Resource', {
      type: 'Custom::VmInstanceExport',
      properties: {
        ServiceToken: provider.serviceToken,
        StateMachineArn: this.workflow.stateMachine.stateMachineArn,
        ...affecting,
        Description: props.description,
        Tags: props.tags ? Object.entries(props.tags).map(([Key, Value]) => ({ Key, Value })) : undefined,
        DeadlineSeconds: String(timeoutSeconds - DEADLINE_MARGIN.toSeconds()),
        WaitForCompletion: String(waitForCompletion),
        Preflight: String(props.preflight ?? true),
        DeleteObjectOnDelete: String(props.deleteObjectOnDelete ?? false),
        CanonicalId: props.bucket.canonicalId,
        WaitConditionHandle: handle?.ref,
      },
    });
    // No export starts before the bucket can receive it. The workflow and the provider need no
    // explicit dependency: the resource references the state machine and the service token,
    // whose functions already depend on their roles and policies.
    resource.node.addDependency(props.bucket.grantsApplied);

    if (waitCondition) {
      waitCondition.addDependency(resource);
      const attributes = signalledAttributes(Token.asString(waitCondition.attrData), prefix, extension);
      this.exportTaskId = attributes.exportTaskId;
      this.exportObjectKey = attributes.exportObjectKey;
      this.exportObjectUri = Fn.join('', ['s3://', props.bucket.bucketName, '/', this.exportObjectKey]);
    } else {
      this.exportTaskId = Token.asString(resource.getAtt('ExportTaskId'));
      this.exportObjectKey = Token.asString(resource.getAtt('ExportObjectKey'));
      this.exportObjectUri = Token.asString(resource.getAtt('ExportObjectUri'));
    }
  }
}

/**
 * The task id and the object key from the wait condition's Data, `{"export":"<signal data>"}`.
 * The signal data is `<task id>|<key the task reported>` (a signal of an earlier version of the
 * library carried the task id only): the fourth piece split on quotes is the signal data, its
 * first piece split on `|` the task id. The key is its second piece; appending `|` and the
 * documented key `<prefix><task id><extension>` makes that piece exist for an older signal too.
 */
function signalledAttributes(data: string, prefix: string, extension: string): { exportTaskId: string; exportObjectKey: string } {
  const signalData = Fn.select(3, Fn.split('"', data));
  const exportTaskId = Fn.select(0, Fn.split(SIGNAL_DATA_SEPARATOR, signalData));
  const documentedKey = Fn.join('', [prefix, exportTaskId, extension]);
  const pieces = Fn.split(SIGNAL_DATA_SEPARATOR, Fn.join(SIGNAL_DATA_SEPARATOR, [signalData, documentedKey]));
  return { exportTaskId, exportObjectKey: Fn.select(1, pieces) };
}

function hashOf(value: unknown): string {
  return crypto.createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 8).toUpperCase();
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
  const errors: string[] = [];
  const target = props.targetEnvironment;
  if (!Token.isUnresolved(props.instanceId) && !/^i-([0-9a-f]{8}|[0-9a-f]{17})$/.test(props.instanceId)) {
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
  if (props.description !== undefined && !Token.isUnresolved(props.description) && props.description.length > 255) {
    errors.push(`description is ${props.description.length} characters long: the service takes at most 255. Shorten it.`);
  }
  if (!Token.isUnresolved(prefix)) {
    const forbidden = PREFIX_FORBIDDEN_CHARACTERS.filter((c) => prefix.includes(c));
    if (forbidden.length > 0) {
      errors.push(`prefix '${prefix}' contains ${forbidden.map((c) => `'${c}'`).join(', ')}: the object key is reported through a CloudFormation wait condition, which cannot carry ${PREFIX_FORBIDDEN_CHARACTERS.map((c) => `'${c}'`).join(', ')}. Choose a prefix without them.`);
    }
    if (prefix.startsWith('/')) {
      errors.push(`prefix '${prefix}' starts with '/': S3 keys have no leading slash. Use '${prefix.replace(/^\/+/, '')}'.`);
    }
    if (!prefix.endsWith('/')) {
      errors.push(`prefix '${prefix}' does not end with '/': the service appends the task id directly. Use '${prefix}/'.`);
    }
    const longestKey = Buffer.byteLength(prefix + LONGEST_TASK_ID + extension);
    if (longestKey > MAX_KEY_LENGTH) {
      errors.push(`prefix is ${Buffer.byteLength(prefix)} bytes long: with the task id and '${extension}' the object key would be ${longestKey} bytes, over the ${MAX_KEY_LENGTH} bytes S3 allows. Shorten the prefix.`);
    }
  }
  if (!timeout.isUnresolved()) {
    const seconds = timeout.toSeconds();
    if (seconds < MIN_TIMEOUT.toSeconds() || seconds > MAX_TIMEOUT.toSeconds()) {
      errors.push(`timeout is ${timeout.toHumanString()}: use a value from 10 minutes to 12 hours (a CloudFormation wait condition waits at most 12 hours). For longer exports, start the InstanceExportWorkflow directly with deadlineSeconds up to 7 days.`);
    }
  }
  if (props.tags) {
    for (const key of Object.keys(props.tags)) {
      if (key.startsWith('aws:') || key.startsWith('vm-export:')) {
        errors.push(`tags has the key '${key}': keys starting with 'aws:' or 'vm-export:' are reserved. Rename the tag.`);
      }
    }
  }
  const here = Stack.of(scope);
  const bucketEnv = props.bucket.bucket.env;
  if (!Token.isUnresolved(bucketEnv.region) && !Token.isUnresolved(here.region) && bucketEnv.region !== here.region) {
    errors.push(`bucket is in region ${bucketEnv.region} but the export runs in ${here.region}: VM Import/Export writes only to a bucket in the instance's region. Create the VmExportBucket in the same stack or region.`);
  }
  if (!Token.isUnresolved(bucketEnv.account) && !Token.isUnresolved(here.account) && bucketEnv.account !== here.account) {
    errors.push(`bucket is in account ${bucketEnv.account} but the export runs in ${here.account}: the export bucket must belong to the exporting account. Create the VmExportBucket in the exporting account.`);
  }
  if (errors.length > 0) {
    throw new Error(`${scope.node.path}: invalid properties:\n- ${errors.join('\n- ')}`);
  }
}
