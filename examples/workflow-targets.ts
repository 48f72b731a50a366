/**
 * The export workflow used on its own, without a wait condition: a CodePipeline action and a
 * nightly EventBridge Scheduler schedule start executions with the documented JSON input (see
 * the README, "Running the workflow outside CloudFormation"). The execution's outcome is
 * published as an EventBridge event; failures raise an alarm and reach an SNS topic.
 *
 * Synthesize it offline (no AWS account, no credentials):
 *   npx cdk synth --app 'npx ts-node --transpile-only examples/workflow-targets.ts'
 */
import {
  App,
  Duration,
  Stack,
  StackProps,
  TimeZone,
  aws_cloudwatch_actions as cloudwatchActions,
  aws_codepipeline as codepipeline,
  aws_codepipeline_actions as codepipelineActions,
  aws_s3 as s3,
  aws_scheduler as scheduler,
  aws_scheduler_targets as schedulerTargets,
  aws_sns as sns,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { InstanceExportWorkflow, VmExportBucket } from '../src';

/** The instance both starters export (a placeholder). */
export const TARGETS_INSTANCE_ID = 'i-0123456789abcdef0';

/** Properties of the example stack. */
export interface WorkflowTargetsStackProps extends StackProps {
  /**
   * The instance to export.
   *
   * @default TARGETS_INSTANCE_ID
   */
  readonly instanceId?: string;
}

/** A workflow started by a pipeline action and by a nightly schedule. */
export class WorkflowTargetsStack extends Stack {
  /** The export workflow. */
  public readonly workflow: InstanceExportWorkflow;
  /** The export bucket. */
  public readonly exportBucket: VmExportBucket;
  /** The pipeline with the export action. */
  public readonly pipeline: codepipeline.Pipeline;
  /** The nightly schedule. */
  public readonly nightly: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: WorkflowTargetsStackProps = {}) {
    super(scope, id, props);
    const instanceId = props.instanceId ?? TARGETS_INSTANCE_ID;

    this.exportBucket = new VmExportBucket(this, 'ExportBucket', { expireExportsAfter: Duration.days(14) });
    const alerts = new sns.Topic(this, 'ExportAlerts');
    this.workflow = new InstanceExportWorkflow(this, 'Workflow', { notificationTopic: alerts });
    // InstanceExport grants this for its bucket; a workflow started directly needs it for the
    // preflight checks (bucket location, ownership, encryption, ACL).
    this.workflow.grantBucketAccess(this.exportBucket.bucket);
    // The workflow exports only the instances it was granted (an InstanceExport grants its own;
    // allowInstancesTagged(key, value) grants every instance carrying a tag).
    this.workflow.grantExportOf(instanceId);
    this.workflow.addFailureAlarm('ExportFailedAlarm').addAlarmAction(new cloudwatchActions.SnsAction(alerts));

    // ---------------------------------------------------------------------------------------
    // CodePipeline: an Invoke action that starts the workflow and waits for the execution.
    // ---------------------------------------------------------------------------------------
    const releases = new s3.Bucket(this, 'Releases', { versioned: true, enforceSSL: true });
    const sourceOutput = new codepipeline.Artifact('Source');
    this.pipeline = new codepipeline.Pipeline(this, 'Pipeline', {
      pipelineType: codepipeline.PipelineType.V2,
      stages: [
        {
          stageName: 'Source',
          actions: [new codepipelineActions.S3SourceAction({
            actionName: 'Release',
            bucket: releases,
            bucketKey: 'release.zip',
            output: sourceOutput,
          })],
        },
        {
          stageName: 'ExportVm',
          actions: [new codepipelineActions.StepFunctionInvokeAction({
            actionName: 'ExportWebServer',
            stateMachine: this.workflow.stateMachine,
            executionNamePrefix: 'pipeline',
            stateMachineInput: codepipelineActions.StateMachineInput.literal({
              instanceId,
              targetEnvironment: 'vmware',
              s3Bucket: this.exportBucket.bucketName,
              s3Prefix: 'pipeline/',
              deadlineSeconds: 3 * 3600,
              tags: [{ Key: 'started-by', Value: 'codepipeline' }],
            }),
          })],
        },
      ],
    });

    // ---------------------------------------------------------------------------------------
    // EventBridge Scheduler: every night at 02:00 (Europe/Berlin).
    // ---------------------------------------------------------------------------------------
    this.nightly = new scheduler.Schedule(this, 'NightlyExport', {
      description: 'Export the web server as a VMware OVA every night',
      schedule: scheduler.ScheduleExpression.cron({ minute: '0', hour: '2', timeZone: TimeZone.EUROPE_BERLIN }),
      target: new schedulerTargets.StepFunctionsStartExecution(this.workflow.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject({
          instanceId,
          targetEnvironment: 'vmware',
          s3Bucket: this.exportBucket.bucketName,
          s3Prefix: 'nightly/',
          description: 'nightly export',
          // A retried delivery of the same night's run adopts the export it already started.
          clientToken: `nightly-${scheduler.ContextAttribute.scheduledTime}`,
        }),
        retryAttempts: 2,
      }),
    });
  }
}

/** Builds the example app; `outdir` is where the cloud assembly goes. */
export function buildWorkflowTargetsApp(outdir?: string): { app: App; stack: WorkflowTargetsStack } {
  const app = new App({ outdir });
  const stack = new WorkflowTargetsStack(app, 'VmExportWorkflowTargets', {
    env: { account: '111111111111', region: 'eu-west-1' },
    instanceId: app.node.tryGetContext('instanceId'),
  });
  return { app, stack };
}

if (require.main === module) {
  buildWorkflowTargetsApp().app.synth();
}
