import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';

/**
 * The `detail-type` of the events the export workflow publishes on the account's default
 * event bus (source `cdk-vm-export`) when an export ends.
 *
 * The event's `detail` is the workflow's outcome: `status`, `instanceId`, `s3Bucket`, `state`,
 * and when known `exportTaskId`, `s3Key`, `s3Uri`; on failure also `errorName` and `cause`.
 * Its `resources` hold the state machine ARN and the execution ARN.
 */
export enum ExportEventType {
  /** `VM Export Succeeded`: the export task completed and the image is in S3. */
  SUCCEEDED = 'VM Export Succeeded',
  /**
   * `VM Export Failed`: the export failed, was cancelled, passed its deadline, or its input or
   * preflight checks were rejected (`errorName` says which).
   */
  FAILED = 'VM Export Failed',
}

/**
 * Options of `InstanceExportWorkflow.onExportEvent()`.
 */
export interface ExportEventRuleOptions {
  /**
   * The events the rule matches.
   *
   * @default - both `ExportEventType.SUCCEEDED` and `ExportEventType.FAILED`
   */
  readonly eventTypes?: ExportEventType[];

  /**
   * The target of the rule.
   *
   * @default - no target (add one with `rule.addTarget()`)
   */
  readonly target?: events.IRuleTarget;

  /**
   * The name of the rule.
   *
   * @default - a name CloudFormation generates
   */
  readonly ruleName?: string;

  /**
   * The description of the rule.
   *
   * @default - a description naming the matched events
   */
  readonly description?: string;
}

/**
 * Options of `InstanceExportWorkflow.addFailureAlarm()`.
 */
export interface FailureAlarmOptions {
  /**
   * The name of the alarm.
   *
   * @default - a name CloudFormation generates
   */
  readonly alarmName?: string;

  /**
   * The description of the alarm.
   *
   * @default - a description saying that a VM export failed
   */
  readonly alarmDescription?: string;

  /**
   * The period over which failed executions are counted.
   *
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;

  /**
   * Whether the alarm's actions run when its state changes.
   *
   * @default true
   */
  readonly actionsEnabled?: boolean;
}
