import { Duration } from 'aws-cdk-lib';
import * as cpactions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { commonInputProblems, known, withoutUndefined } from './input-checks';
import { CANONICAL_ID_PATTERN, INSTANCE_ID_PATTERN } from '../internal';
import { ContainerFormat, DiskImageFormat, TargetEnvironment } from './export-formats';

/**
 * What an instance export writes and how: the settings a single export (`WorkflowExportInput`)
 * and a fleet of exports (`FleetExportInput`) share. Any value may be a token or a placeholder
 * of the service that starts the execution (a Step Functions JSON path, an EventBridge
 * Scheduler context attribute such as `<aws.scheduler.execution-id>`, a CodePipeline variable
 * `#{...}`); those are checked by the workflow when it runs.
 */
export interface InstanceExportSettings {
  /** The virtualization environment the image is for. */
  readonly targetEnvironment: TargetEnvironment;

  /** The name of the export bucket (not its ARN). */
  readonly s3Bucket: string;

  /**
   * The disk image format.
   *
   * @default - VMDK for VMware, VHD for Citrix and Microsoft
   */
  readonly diskImageFormat?: DiskImageFormat;

  /**
   * The container format.
   *
   * @default - OVA for VMware with VMDK, NONE (the bare disk image) otherwise
   */
  readonly containerFormat?: ContainerFormat;

  /**
   * The key prefix of the exported object: ends with `/`, does not start with `/`; `''` writes
   * to the bucket's root.
   *
   * @default 'exports/'
   */
  readonly s3Prefix?: string;

  /**
   * A description of the export task (at most 255 characters).
   *
   * @default - no description
   */
  readonly description?: string;

  /**
   * Tags for the export task (keys starting with `aws:` or `vm-export:` are reserved).
   *
   * @default - only the tags the library uses for lookups
   */
  readonly tags?: { [key: string]: string };

  /**
   * How long the workflow waits for the export before it cancels it: whole seconds, 1 minute
   * to 7 days.
   *
   * @default Duration.hours(6)
   */
  readonly deadline?: Duration;

  /**
   * Run the read-only preflight checks before the export starts.
   *
   * @default true
   */
  readonly preflight?: boolean;

  /**
   * The canonical ID the bucket must grant (the preflight checks the bucket ACL against it).
   *
   * @default - the ID of the workflow's region
   */
  readonly canonicalId?: string;
}

/**
 * The input of one execution of the export workflow (`InstanceExportWorkflow`), as a pipeline,
 * a schedule or another state machine starts it. `WorkflowExportInputs` turns it into the JSON the
 * workflow reads.
 */
export interface WorkflowExportInput extends InstanceExportSettings {
  /** The instance to export: `i-` followed by 8 or 17 lowercase hexadecimal characters. */
  readonly instanceId: string;

  /**
   * An idempotency token: an execution with a token that already started an export watches
   * that export instead of starting another (for example `<aws.scheduler.execution-id>`).
   *
   * @default - a fresh token per execution
   */
  readonly clientToken?: string;
}


/**
 * Turns a `WorkflowExportInput` into the input of the export workflow for the ways it is
 * started: a Step Functions task (`sfn.TaskInput`), an EventBridge Scheduler target
 * (`ScheduleTargetInput`), a CodePipeline `StepFunctionInvokeAction` (`StateMachineInput`), or a
 * plain object. Each checks the values known at synth and throws with every problem found.
 */
export class WorkflowExportInputs {
  /**
   * The workflow input as a JSON object (the keys of the README's input table).
   *
   * @param input the export to start
   */
  public static toObject(input: WorkflowExportInput): { [key: string]: any } {
    validate(input);
    const deadlineSeconds = input.deadline?.toSeconds();
    const out: { [key: string]: any } = {
      instanceId: input.instanceId,
      targetEnvironment: input.targetEnvironment,
      s3Bucket: input.s3Bucket,
      diskImageFormat: input.diskImageFormat,
      containerFormat: input.containerFormat,
      s3Prefix: input.s3Prefix,
      description: input.description,
      tags: input.tags ? Object.entries(input.tags).map(([Key, Value]) => ({ Key, Value })) : undefined,
      deadlineSeconds,
      preflight: input.preflight,
      clientToken: input.clientToken,
      canonicalId: input.canonicalId,
    };
    return withoutUndefined(out);
  }

  /**
   * The input of a Step Functions task that starts the workflow (`StepFunctionsStartExecution`).
   *
   * @param input the export to start
   */
  public static toTaskInput(input: WorkflowExportInput): sfn.TaskInput {
    return sfn.TaskInput.fromObject(WorkflowExportInputs.toObject(input));
  }

  /**
   * The input of an EventBridge Scheduler target that starts the workflow
   * (`targets.StepFunctionsStartExecution` of `aws-scheduler-targets`).
   *
   * @param input the export to start
   */
  public static toScheduleTargetInput(input: WorkflowExportInput): scheduler.ScheduleTargetInput {
    return scheduler.ScheduleTargetInput.fromObject(WorkflowExportInputs.toObject(input));
  }

  /**
   * The input of a CodePipeline `StepFunctionInvokeAction` (a pipeline action waits at most one
   * hour: give the export a deadline that fits, or do not wait for it there).
   *
   * @param input the export to start
   */
  public static toStateMachineInput(input: WorkflowExportInput): cpactions.StateMachineInput {
    return cpactions.StateMachineInput.literal(WorkflowExportInputs.toObject(input));
  }

  private constructor() {}
}

function validate(input: WorkflowExportInput): void {
  const errors: string[] = [];
  if (input === undefined || input === null || typeof input !== 'object') {
    throw new Error('WorkflowExportInputs: invalid input:\n- the input is missing: pass { instanceId, targetEnvironment, s3Bucket, ... }.');
  }
  if (known(input.instanceId) && !INSTANCE_ID_PATTERN.test(input.instanceId)) {
    errors.push(`instanceId '${input.instanceId}' is not an instance id: use 'i-' followed by 8 or 17 lowercase hexadecimal characters (e.g. i-0123456789abcdef0).`);
  }
  if (input.instanceId === undefined || input.s3Bucket === undefined || input.targetEnvironment === undefined) {
    const missing = (['instanceId', 'targetEnvironment', 's3Bucket'] as const).filter((k) => input[k] === undefined);
    errors.push(`${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} required: pass the instance, its target environment and the export bucket's name.`);
  }
  const target = input.targetEnvironment;
  const disk = input.diskImageFormat;
  if (disk === DiskImageFormat.RAW) {
    errors.push(`diskImageFormat RAW is not supported for instance export (it is only for exporting an AMI with ExportImage): use ${target === TargetEnvironment.VMWARE ? 'VMDK' : 'VHD'}.`);
  } else if (disk === DiskImageFormat.VMDK && target !== undefined && target !== TargetEnvironment.VMWARE) {
    errors.push(`diskImageFormat VMDK does not work with targetEnvironment '${target}': use DiskImageFormat.VHD (or omit it).`);
  } else if (disk === DiskImageFormat.VHD && target === TargetEnvironment.VMWARE) {
    errors.push('diskImageFormat VHD does not work with targetEnvironment \'vmware\': use DiskImageFormat.VMDK (or omit it).');
  }
  const effectiveDisk = disk ?? (target === TargetEnvironment.VMWARE ? DiskImageFormat.VMDK : DiskImageFormat.VHD);
  if (input.containerFormat === ContainerFormat.OVA && effectiveDisk !== DiskImageFormat.VMDK) {
    errors.push('containerFormat OVA only wraps VMDK images: use ContainerFormat.NONE (or omit it).');
  }
  errors.push(...commonInputProblems(input));
  if (known(input.canonicalId) && !CANONICAL_ID_PATTERN.test(input.canonicalId)) {
    errors.push(`canonicalId '${input.canonicalId}' is not a canonical user ID: use 64 lowercase hexadecimal characters, or omit it.`);
  }
  if (errors.length > 0) {
    throw new Error(`WorkflowExportInputs: invalid input:\n- ${errors.join('\n- ')}`);
  }
}
