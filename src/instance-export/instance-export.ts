import * as crypto from 'crypto';
import {
  CfnResource,
  CfnWaitCondition,
  CfnWaitConditionHandle,
  Duration,
  Reference,
  Stack,
  Token,
  Tokenization,
  Annotations,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import {
  EXPORT_AFFECTING_PROPERTIES,
  EXPORT_ATTRIBUTES_RESOURCE_TYPE,
  EXPORT_RESOURCE_TYPE,
  PREFIX_FORBIDDEN_CHARACTERS,
} from '../internal';
import { InstanceExportProvider } from './instance-export-provider';
import { IVmExportBucket } from '../bucket/vm-export-bucket';
import { isVmExportBucket } from '../bucket/vm-export-bucket-checks';
import { ContainerFormat, DiskImageFormat, TargetEnvironment } from '../workflow/export-formats';
import { InstanceExportWorkflow } from '../workflow/instance-export-workflow';

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
      type: EXPORT_RESOURCE_TYPE,
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
        // The handle's logical id, never its Ref (a presigned URL anyone could signal with): the
        // step that signals reads the URL from CloudFormation.
        WaitConditionHandle: handle?.logicalId,
      },
    });
    // No export starts before the bucket can receive it. The workflow and the provider need no
    // explicit dependency: the resource references the state machine and the service token,
    // whose functions already depend on their roles and policies.
    resource.node.addDependency(props.bucket.grantsApplied);
    if (handle) {
      // Nothing else orders the handle before the export that will signal it.
      resource.node.addDependency(handle);
      this.workflow.grantWaitConditionSignals(Stack.of(this));
      provider.grantWaitConditionReads();
    }

    if (waitCondition) {
      // The signal can only come from the execution the resource starts.
      waitCondition.node.addDependency(resource);
      // The attributes are read by a small resource that takes the wait condition's Data as a
      // property, so CloudFormation creates it (and anything that uses an attribute) only after
      // the export completed. Its attributes are strings; the Data itself is typed as an object.
      const attributes = new CfnResource(this, 'Attributes', {
        type: EXPORT_ATTRIBUTES_RESOURCE_TYPE,
        properties: {
          ServiceToken: provider.serviceToken,
          WaitConditionData: waitCondition.attrData,
          S3Bucket: props.bucket.bucketName,
          S3Prefix: prefix,
          ObjectExtension: extension,
        },
      });
      this.exportTaskId = Token.asString(attributes.getAtt('ExportTaskId'));
      this.exportObjectKey = Token.asString(attributes.getAtt('ExportObjectKey'));
      this.exportObjectUri = Token.asString(attributes.getAtt('ExportObjectUri'));
    } else {
      this.exportTaskId = Token.asString(resource.getAtt('ExportTaskId'));
      this.exportObjectKey = Token.asString(resource.getAtt('ExportObjectKey'));
      this.exportObjectUri = Token.asString(resource.getAtt('ExportObjectUri'));
    }
  }
}

/** A plain s3.Bucket (or anything else) where an IVmExportBucket belongs: refused before it is used. */
function requireVmExportBucket(scope: Construct, bucket: unknown): void {
  if (isVmExportBucket(bucket)) {
    return;
  }
  const path = (bucket as { node?: { path?: string } } | undefined)?.node?.path;
  const what = bucket === undefined || bucket === null
    ? String(bucket)
    : path !== undefined && typeof (bucket as { bucketName?: unknown }).bucketName === 'string'
      ? `the S3 bucket '${path}'`
      : typeof bucket;
  throw new Error(`${scope.node.path}: invalid properties:\n- bucket is ${what}, not an IVmExportBucket: ` +
    'wrap an existing bucket with VmExportBucket.fromBucket(this, id, bucket) (or VmExportBucket.fromBucketName for a name), ' +
    'or create a new VmExportBucket.');
}

/** How a stack's environment reads in an error. */
function describeStack(s: Stack): string {
  return Token.isUnresolved(s.region) ? `environment-agnostic stack ${s.stackName}` : `stack ${s.stackName} of region ${s.region}`;
}

/**
 * The stacks an export's inputs come from: the workflow must be the export's stack's own (it is
 * granted the export's bucket and instance, which would make the two stacks depend on each
 * other); an instance referenced from another stack must be in the same account and region; a
 * bucket or instance of an environment-agnostic stack cannot be used from a stack with an
 * environment (or the other way round).
 */
function crossStackProblems(scope: Construct, props: InstanceExportProps): string[] {
  const errors: string[] = [];
  const here = Stack.of(scope);
  const workflow = props.workflow;
  if (workflow && Stack.of(workflow) !== here) {
    errors.push(`workflow '${workflow.node.path}' is in stack ${Stack.of(workflow).stackName} but the export is in ${here.stackName}: ` +
      'a workflow is granted the bucket and instance of each of its exports, so the two stacks would depend on each other. ' +
      'Use the workflow of the export\'s own stack (omit workflow, or create an InstanceExportWorkflow in the same stack).');
  }
  const agnostic = (s: Stack) => Token.isUnresolved(s.region);
  const mixed = (what: string, other: Stack) =>
    `${what} is in ${describeStack(other)} but the export is in ${describeStack(here)}: ` +
    'an environment-agnostic stack and a stack with an env cannot share resources (neither knows whether the other deploys to the same account and region). ' +
    'Give both stacks the same env, or neither.';
  const bucketStack = Stack.of(props.bucket);
  if (bucketStack !== here && agnostic(bucketStack) !== agnostic(here)) {
    errors.push(mixed(`bucket '${props.bucket.node.path}'`, bucketStack));
  }
  if (Token.isUnresolved(props.instanceId)) {
    for (const token of Tokenization.reverseString(props.instanceId).tokens) {
      if (!Reference.isReference(token)) {
        continue;
      }
      const owner = Stack.of(token.target);
      if (owner === here) {
        continue;
      }
      const what = `instanceId refers to '${token.target.node.path}', which`;
      if (agnostic(owner) !== agnostic(here)) {
        errors.push(mixed(what, owner));
        continue;
      }
      if (!agnostic(owner) && owner.region !== here.region) {
        errors.push(`${what} is in ${describeStack(owner)} but the export runs in ${here.region}: ` +
          'VM Import/Export exports an instance only in its own region. Create the InstanceExport (and its bucket) in a stack of the instance\'s region.');
      }
      if (!Token.isUnresolved(owner.account) && !Token.isUnresolved(here.account) && owner.account !== here.account) {
        errors.push(`${what} is in stack ${owner.stackName} of account ${owner.account} but the export runs in ${here.account}: ` +
          'an instance is exported by its own account. Create the InstanceExport (and its bucket) in a stack of the instance\'s account.');
      }
    }
  }
  return errors;
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
  requireVmExportBucket(scope, props.bucket);
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
      const fixed = prefix.replace(/^\/+/, '');
      errors.push(`prefix '${prefix}' starts with '/': S3 keys have no leading slash. Use '${fixed}'${fixed === '' ? ' (the bucket\'s root)' : ''}.`);
    }
    if (prefix !== '' && !prefix.endsWith('/')) {
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
  errors.push(...crossStackProblems(scope, props));
  if (errors.length > 0) {
    throw new Error(`${scope.node.path}: invalid properties:\n- ${errors.join('\n- ')}`);
  }
}
