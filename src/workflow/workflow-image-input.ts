import { Duration } from 'aws-cdk-lib';
import * as cpactions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { DiskImageFormat } from './export-formats';
import { commonInputProblems, known, withoutUndefined } from './input-checks';

/**
 * The input of one execution of the export workflow that exports an AMI (`ExportImage`), as a
 * pipeline, a schedule or another state machine starts it. `WorkflowImageExportInputs` turns it
 * into the JSON the workflow reads (an input with `imageId` is an image export). Any value may be
 * a token or a placeholder of the service that starts the execution; those are checked by the
 * workflow when it runs.
 */
export interface WorkflowImageExportInput {
  /** The AMI to export: `ami-` followed by 8 or 17 lowercase hexadecimal characters. */
  readonly imageId: string;

  /** The name of the export bucket (not its ARN). */
  readonly s3Bucket: string;

  /**
   * The disk image format.
   *
   * @default DiskImageFormat.VMDK
   */
  readonly diskImageFormat?: DiskImageFormat;

  /**
   * The NAME of the VM Import/Export service role the service writes through (the workflow must
   * be allowed to pass it: `grantServiceRole`).
   *
   * @default 'vmimport'
   */
  readonly roleName?: string;

  /**
   * The key prefix of the exported object: ends with `/`, does not start with `/`; `''` writes
   * to the bucket's root.
   *
   * @default 'exports/'
   */
  readonly s3Prefix?: string;

  /**
   * A description of the export image task (at most 255 characters).
   *
   * @default - no description
   */
  readonly description?: string;

  /**
   * Tags for the export image task (keys starting with `aws:` or `vm-export:` are reserved).
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
   * Run the read-only preflight checks (AMI, bucket, service role) before the export starts.
   *
   * @default true
   */
  readonly preflight?: boolean;

  /**
   * An idempotency token: an execution with a token that already started an export watches
   * that export instead of starting another (for example `<aws.scheduler.execution-id>`).
   *
   * @default - a fresh token per execution
   */
  readonly clientToken?: string;
}

const IMAGE_ID = /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/;
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

/**
 * Turns a `WorkflowImageExportInput` into the input of the export workflow for the ways it is
 * started: a Step Functions task, an EventBridge Scheduler target, a CodePipeline
 * `StepFunctionInvokeAction`, or a plain object. Each checks the values known at synth and throws
 * with every problem found.
 */
export class WorkflowImageExportInputs {
  /**
   * The workflow input as a JSON object (the image keys of the README's input table).
   *
   * @param input the export to start
   */
  public static toObject(input: WorkflowImageExportInput): { [key: string]: any } {
    validate(input);
    const out: { [key: string]: any } = {
      imageId: input.imageId,
      s3Bucket: input.s3Bucket,
      diskImageFormat: input.diskImageFormat,
      roleName: input.roleName,
      s3Prefix: input.s3Prefix,
      description: input.description,
      tags: input.tags ? Object.entries(input.tags).map(([Key, Value]) => ({ Key, Value })) : undefined,
      deadlineSeconds: input.deadline?.toSeconds(),
      preflight: input.preflight,
      clientToken: input.clientToken,
    };
    return withoutUndefined(out);
  }

  /**
   * The input of a Step Functions task that starts the workflow (`StepFunctionsStartExecution`).
   *
   * @param input the export to start
   */
  public static toTaskInput(input: WorkflowImageExportInput): sfn.TaskInput {
    return sfn.TaskInput.fromObject(WorkflowImageExportInputs.toObject(input));
  }

  /**
   * The input of an EventBridge Scheduler target that starts the workflow.
   *
   * @param input the export to start
   */
  public static toScheduleTargetInput(input: WorkflowImageExportInput): scheduler.ScheduleTargetInput {
    return scheduler.ScheduleTargetInput.fromObject(WorkflowImageExportInputs.toObject(input));
  }

  /**
   * The input of a CodePipeline `StepFunctionInvokeAction` (a pipeline action waits at most one
   * hour: give the export a deadline that fits, or do not wait for it there).
   *
   * @param input the export to start
   */
  public static toStateMachineInput(input: WorkflowImageExportInput): cpactions.StateMachineInput {
    return cpactions.StateMachineInput.literal(WorkflowImageExportInputs.toObject(input));
  }

  private constructor() {}
}

function validate(input: WorkflowImageExportInput): void {
  if (input === undefined || input === null || typeof input !== 'object') {
    throw new Error('WorkflowImageExportInputs: invalid input:\n- the input is missing: pass { imageId, s3Bucket, ... }.');
  }
  const errors: string[] = [];
  const missing = (['imageId', 's3Bucket'] as const).filter((k) => input[k] === undefined);
  if (missing.length > 0) {
    errors.push(`${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} required: pass the AMI and the export bucket's name.`);
  }
  if (known(input.imageId) && !IMAGE_ID.test(input.imageId)) {
    errors.push(`imageId '${input.imageId}' is not an AMI id: use 'ami-' followed by 8 or 17 lowercase hexadecimal characters (e.g. ami-0123456789abcdef0).`);
  }
  if (known(input.roleName) && !ROLE_NAME.test(input.roleName)) {
    errors.push(`roleName '${input.roleName}' is not an IAM role name: ExportImage takes the role's NAME (1 to 64 letters, digits and +=,.@_-; no path, not an ARN), e.g. 'vmimport'.`);
  }
  errors.push(...commonInputProblems(input));
  if (errors.length > 0) {
    throw new Error(`WorkflowImageExportInputs: invalid input:\n- ${errors.join('\n- ')}`);
  }
}
