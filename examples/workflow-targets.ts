/**
 * The export workflow used on its own, without a wait condition: a CodePipeline action and a
 * nightly EventBridge Scheduler schedule start executions with the documented JSON input (see
 * the README, "Running the workflow outside CloudFormation"). The execution's outcome is
 * published as an EventBridge event; failures raise an alarm and reach an SNS topic.
 *
 * CodePipeline ends a Step Functions invoke action after 1 hour (CodePipeline quotas,
 * https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html) while the execution
 * runs on. So the pipeline action passes a deadline under that hour: a longer export is
 * cancelled by the workflow and the action fails with the workflow's reason, instead of timing
 * out while the export continues. Exports that take hours are started by the schedule (no such
 * limit, a deadline of up to 7 days), and their `VM Export Succeeded` event starts the pipeline
 * that uses the image.
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
  aws_events_targets as eventTargets,
  aws_s3 as s3,
  aws_scheduler as scheduler,
  aws_scheduler_targets as schedulerTargets,
  aws_sns as sns,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ExportEventType, InstanceExportWorkflow, VmExportBucket } from '../src';

/** The instance both starters export (a placeholder). */
export const TARGETS_INSTANCE_ID = 'i-0123456789abcdef0';

/** CodePipeline's timeout for a Step Functions invoke action (CodePipeline quotas). */
export const PIPELINE_ACTION_TIMEOUT_SECONDS = 3600;

/**
 * The deadline the pipeline action passes: 50 minutes, so that the workflow cancels the export,
 * runs its finish step and ends the execution well inside the action's hour.
 */
export const PIPELINE_ACTION_DEADLINE_SECONDS = 50 * 60;

/** The deadline of the nightly export, which no pipeline action has to wait for. */
export const NIGHTLY_DEADLINE_SECONDS = 8 * 3600;

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
  /** The pipeline that a successful export starts (through its `VM Export Succeeded` event). */
  public readonly imagePipeline: codepipeline.Pipeline;

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
    // CodePipeline: an Invoke action that starts the workflow and waits for the execution, for
    // exports that finish within the action's hour (the deadline cancels any that do not).
    // ---------------------------------------------------------------------------------------
    const releases = new s3.Bucket(this, 'Releases', { versioned: true, enforceSSL: true });
    const sourceOutput = new codepipeline.Artifact('Source');
    this.pipeline = new codepipeline.Pipeline(this, 'Pipeline', {
      pipelineType: codepipeline.PipelineType.V2,
      stages: [
        releaseSourceStage(releases, sourceOutput),
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
              deadlineSeconds: PIPELINE_ACTION_DEADLINE_SECONDS,
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
          // Hours are fine here: nothing waits for the execution but its event.
          deadlineSeconds: NIGHTLY_DEADLINE_SECONDS,
          // A retried delivery of the same night's run adopts the export it already started.
          clientToken: `nightly-${scheduler.ContextAttribute.scheduledTime}`,
        }),
        retryAttempts: 2,
      }),
    });

    // ---------------------------------------------------------------------------------------
    // Exports that take hours: a pipeline that starts when an export of this workflow succeeded
    // (the "VM Export Succeeded" event; the event's detail carries s3Uri). It has no trigger of
    // its own and no action that waits for the export.
    // ---------------------------------------------------------------------------------------
    const imageSource = new codepipeline.Artifact('ImageSource');
    this.imagePipeline = new codepipeline.Pipeline(this, 'ImagePipeline', {
      pipelineType: codepipeline.PipelineType.V2,
      stages: [
        releaseSourceStage(releases, imageSource, codepipelineActions.S3Trigger.NONE),
        {
          stageName: 'ReleaseImage',
          actions: [new codepipelineActions.ManualApprovalAction({
            actionName: 'ApproveNewImage',
            additionalInformation: 'A new VM image was exported (see the VM Export Succeeded event for its s3Uri).',
          })],
        },
      ],
    });
    this.workflow.onExportEvent('StartImagePipeline', {
      eventTypes: [ExportEventType.SUCCEEDED],
      target: new eventTargets.CodePipeline(this.imagePipeline),
    });
  }
}

/** The source stage both pipelines start with: release.zip from the versioned releases bucket. */
function releaseSourceStage(releases: s3.IBucket, output: codepipeline.Artifact, trigger?: codepipelineActions.S3Trigger): codepipeline.StageProps {
  return {
    stageName: 'Source',
    actions: [new codepipelineActions.S3SourceAction({ actionName: 'Release', bucket: releases, bucketKey: 'release.zip', output, trigger })],
  };
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
