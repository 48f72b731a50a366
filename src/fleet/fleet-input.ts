import { Token } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import {
  DEFAULT_CONCURRENT_EXPORTS,
  INSTANCE_ID_PATTERN,
  MAX_CONCURRENT_EXPORTS,
  MAX_FLEET_INSTANCES,
  MAX_FLEET_PREFIX,
  MAX_FLEET_TOKEN,
} from '../internal/export-constants';
import { isPlaceholder, known, withoutUndefined } from '../workflow/input-checks';
import { InstanceExportSettings, WorkflowExportInputs } from '../workflow/workflow-input';

/**
 * The input of one execution of the fleet workflow (`InstanceExportFleet`): which instances,
 * how many at once, and the settings every instance's export uses. `FleetExportInputs` turns it
 * into the JSON the fleet reads.
 */
export interface FleetExportInput extends InstanceExportSettings {
  /**
   * The instances to export (at most 100). Give this or `instanceTags`.
   *
   * @default - the instances that carry `instanceTags`
   */
  readonly instanceIds?: string[];

  /**
   * Export every instance that carries all these tags (key and exact value) when the fleet
   * starts, in the states `pending`, `running`, `stopping` or `stopped` (DescribeInstances
   * filters `tag:<key>`), at most 100. Give this or `instanceIds`. The export workflow must
   * be allowed to export them: `workflow.allowInstancesTagged(key, value)` with the same tag.
   *
   * @default - the instances of `instanceIds`
   */
  readonly instanceTags?: { [key: string]: string };

  /**
   * How many exports run at once: 1 to 20. More than the region's conversion-task quota (5
   * unless raised) only makes the extra exports wait for a slot.
   *
   * @default 5
   */
  readonly maxConcurrentExports?: number;

  /**
   * An idempotency token for the fleet (at most 200 characters): each instance's export uses
   * `<clientToken>-<instance id>`, so a second fleet execution with the same token watches the
   * exports the first one started instead of starting them again (for example
   * `<aws.scheduler.execution-id>`).
   *
   * @default - a token per fleet execution
   */
  readonly clientToken?: string;
}

/** Stands in for the instance while the shared settings are checked (never reaches a message). */
const PLACEHOLDER_INSTANCE = 'i-00000000';

/**
 * Turns a `FleetExportInput` into the input of the fleet workflow for the ways it is started:
 * a Step Functions task (`sfn.TaskInput`), an EventBridge Scheduler target
 * (`ScheduleTargetInput`), or a plain object. Each checks the values known at synth and throws
 * with every problem found.
 */
export class FleetExportInputs {
  /**
   * The fleet input as a JSON object (the keys of the README's fleet input table).
   *
   * @param input the fleet to export
   */
  public static toObject(input: FleetExportInput): { [key: string]: any } {
    const errors = fleetProblems(input);
    let settings: { [key: string]: any } = {};
    try {
      settings = WorkflowExportInputs.toObject({ ...input, instanceId: PLACEHOLDER_INSTANCE });
    } catch (err) {
      errors.push(...String((err as Error).message).split('\n- ').slice(1));
    }
    if (errors.length > 0) {
      throw new Error(`FleetExportInputs: invalid input:\n- ${errors.join('\n- ')}`);
    }
    const { instanceId: _instanceId, ...shared } = settings;
    return withoutUndefined({
      instanceIds: input.instanceIds,
      instanceFilters: input.instanceTags
        ? Object.entries(input.instanceTags).map(([key, value]) => ({ Name: `tag:${key}`, Values: [value] }))
        : undefined,
      maxConcurrentExports: input.maxConcurrentExports,
      ...shared,
      clientToken: input.clientToken,
    });
  }

  /**
   * The input of a Step Functions task that starts the fleet (`StepFunctionsStartExecution`).
   *
   * @param input the fleet to export
   */
  public static toTaskInput(input: FleetExportInput): sfn.TaskInput {
    return sfn.TaskInput.fromObject(FleetExportInputs.toObject(input));
  }

  /**
   * The input of an EventBridge Scheduler target that starts the fleet
   * (`targets.StepFunctionsStartExecution` of `aws-scheduler-targets`).
   *
   * @param input the fleet to export
   */
  public static toScheduleTargetInput(input: FleetExportInput): scheduler.ScheduleTargetInput {
    return scheduler.ScheduleTargetInput.fromObject(FleetExportInputs.toObject(input));
  }

  private constructor() {}
}

function fleetProblems(input: FleetExportInput): string[] {
  if (input === undefined || input === null || typeof input !== 'object') {
    return ['the input is missing: pass { instanceIds or instanceTags, targetEnvironment, s3Bucket, ... }.'];
  }
  const errors: string[] = [];
  const ids = input.instanceIds;
  const tags = input.instanceTags;
  if ((ids === undefined) === (tags === undefined)) {
    errors.push(ids === undefined
      ? 'name the instances: instanceIds (a list) or instanceTags (e.g. { \'vm-export\': \'nightly\' }).'
      : 'instanceIds and instanceTags exclude each other: pass one of them.');
  }
  if (ids !== undefined && !Token.isUnresolved(ids)) {
    const bad = ids.filter((id) => known(id) && !INSTANCE_ID_PATTERN.test(id));
    if (bad.length > 0) {
      errors.push(`instanceIds holds ${bad.map((id) => `'${id}'`).join(', ')}: use 'i-' followed by 8 or 17 lowercase hexadecimal characters.`);
    }
    if (ids.length === 0 || new Set(ids).size > MAX_FLEET_INSTANCES) {
      errors.push(`instanceIds names ${new Set(ids).size} instances: a fleet exports 1 to ${MAX_FLEET_INSTANCES}. Split it into several fleets.`);
    }
  }
  if (tags !== undefined) {
    errors.push(...tagProblems(tags));
  }
  const n = input.maxConcurrentExports;
  if (n !== undefined && !Token.isUnresolved(n) && (!Number.isInteger(n) || n < 1 || n > MAX_CONCURRENT_EXPORTS)) {
    errors.push(`maxConcurrentExports is ${n}: use a whole number from 1 to ${MAX_CONCURRENT_EXPORTS} (the conversion-task quota is ${DEFAULT_CONCURRENT_EXPORTS} per region by default, at most ${MAX_CONCURRENT_EXPORTS}).`);
  }
  if (known(input.s3Prefix) && input.s3Prefix.length > MAX_FLEET_PREFIX) {
    errors.push(`s3Prefix is ${input.s3Prefix.length} characters long: a fleet's prefix has at most ${MAX_FLEET_PREFIX} (every instance's outcome carries its key, and 100 of them must fit Step Functions' 256 KiB). Shorten it.`);
  }
  if (known(input.clientToken) && input.clientToken.length > MAX_FLEET_TOKEN) {
    errors.push(`clientToken is ${input.clientToken.length} characters long: use at most ${MAX_FLEET_TOKEN} (each export's token is '<clientToken>-<instance id>', a tag value).`);
  }
  return errors;
}

function tagProblems(tags: { [key: string]: string }): string[] {
  const entries = Object.entries(tags);
  if (entries.length === 0) {
    return ['instanceTags is empty: name at least one tag, e.g. { \'vm-export\': \'nightly\' } (an empty filter would export every instance).'];
  }
  return entries
    .filter(([key, value]) => key.trim() === '' || key.length > 128 || (!isPlaceholder(value) && value.length > 256))
    .map(([key]) => `instanceTags has the key '${key}': EC2 tag keys are 1 to 128 characters, values at most 256.`);
}
