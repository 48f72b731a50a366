/**
 * A nightly export of the newest AMI of an image family. Something else keeps an SSM parameter
 * pointing at the family's newest AMI (here `/golden/linux/latest`; an EC2 Image Builder
 * distribution configuration writes one with `ssmParameterConfigurations`, data type
 * `aws:ec2:image`). Every night EventBridge Scheduler starts a small state machine that reads
 * the parameter and runs the export workflow for that AMI (StartExecution .sync: it waits for
 * the export and fails when the export fails), so the newest image lands in the export bucket
 * under `nightly/` as a VMDK.
 *
 * The AMI id is known only when the night's run reads it, so nothing here can grant one AMI:
 * the workflow is created with `allowAnyImage` (see the comment there).
 *
 * Synthesize it offline (no AWS account, no credentials):
 *   npx cdk synth --app 'npx ts-node --transpile-only examples/nightly-image-export.ts'
 */
import {
  App,
  Duration,
  Stack,
  StackProps,
  TimeZone,
  aws_scheduler as scheduler,
  aws_scheduler_targets as schedulerTargets,
  aws_ssm as ssm,
  aws_stepfunctions as sfn,
  aws_stepfunctions_tasks as tasks,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DiskImageFormat, InstanceExportWorkflow, VmExportBucket, VmImportServiceRole, WorkflowImageExportInputs } from '../src';

/** The SSM parameter holding the family's newest AMI id (written by the image pipeline). */
export const LATEST_IMAGE_PARAMETER = '/golden/linux/latest';

/** The key prefix of the nightly exports. */
export const NIGHTLY_IMAGE_PREFIX = 'nightly/';

/** How long the workflow lets one night's export run before it cancels it. */
export const NIGHTLY_IMAGE_DEADLINE = Duration.hours(6);

/** Properties of the example stack. */
export interface NightlyImageExportStackProps extends StackProps {
  /**
   * The SSM parameter with the newest AMI id of the family.
   *
   * @default LATEST_IMAGE_PARAMETER
   */
  readonly latestImageParameterName?: string;
}

/** A nightly schedule that exports the AMI an SSM parameter names. */
export class NightlyImageExportStack extends Stack {
  /** The export workflow (any AMI of the account and region). */
  public readonly workflow: InstanceExportWorkflow;
  /** The export bucket. */
  public readonly exportBucket: VmExportBucket;
  /** The service role VM Import/Export writes the images through. */
  public readonly serviceRole: VmImportServiceRole;
  /** The state machine the schedule starts: reads the parameter, runs the export workflow. */
  public readonly nightlyExport: sfn.StateMachine;
  /** The nightly schedule. */
  public readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: NightlyImageExportStackProps = {}) {
    super(scope, id, props);
    const latestImage = ssm.StringParameter.fromStringParameterName(this, 'LatestImage',
      props.latestImageParameterName ?? LATEST_IMAGE_PARAMETER);

    this.exportBucket = new VmExportBucket(this, 'ExportBucket', { expireExportsAfter: Duration.days(14) });
    // allowAnyImage: the AMI changes every night and is read from the parameter at run time, so
    // no AMI id exists at synth to grant (grantExportOfImage('ami-...') is the narrower choice
    // for a fixed AMI, and ImageExport grants its own). With it the workflow may export any AMI
    // of the account and region (ec2:ExportImage on image/*): whoever may start it can copy any
    // image into the bucket, so only the nightly state machine below is allowed to.
    this.workflow = new InstanceExportWorkflow(this, 'Workflow', { allowAnyImage: true });
    // The preflight reads the bucket (location, ownership, encryption).
    this.workflow.grantBucketAccess(this.exportBucket.bucket);
    // VM Import/Export writes the image through this role: it may write under nightly/ only,
    // and the workflow may pass it (and no other role) to ExportImage.
    this.serviceRole = VmImportServiceRole.of(this);
    this.serviceRole.grantExportTo(this.exportBucket.bucket, NIGHTLY_IMAGE_PREFIX);
    this.workflow.grantServiceRole(this.serviceRole);

    const readLatest = new tasks.CallAwsService(this, 'ReadLatestImage', {
      service: 'ssm',
      action: 'getParameter',
      iamAction: 'ssm:GetParameter',
      parameters: { Name: latestImage.parameterName },
      iamResources: [latestImage.parameterArn],
      resultSelector: { 'imageId.$': '$.Parameter.Value' },
      resultPath: '$.latest',
    });
    // The workflow's image input (the README's input table), checked at synth where the values
    // are known; the workflow checks the rest (the AMI id read at run time) when it runs.
    const exportImage = new tasks.StepFunctionsStartExecution(this, 'ExportImage', {
      stateMachine: this.workflow.stateMachine,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      input: WorkflowImageExportInputs.toTaskInput({
        imageId: sfn.JsonPath.stringAt('$.latest.imageId'),
        s3Bucket: this.exportBucket.bucketName,
        s3Prefix: NIGHTLY_IMAGE_PREFIX,
        diskImageFormat: DiskImageFormat.VMDK,
        roleName: this.serviceRole.roleName,
        deadline: NIGHTLY_IMAGE_DEADLINE,
        description: 'nightly export of the newest golden image',
        // A retried delivery of the same night's schedule adopts the export it already started.
        clientToken: sfn.JsonPath.format('nightly-{}', sfn.JsonPath.stringAt('$.scheduledTime')),
      }),
      // The workflow's output (s3Uri, exportTaskId, imageId, ...).
      resultSelector: { 'export.$': 'States.StringToJson($.Output)' },
    });
    this.nightlyExport = new sfn.StateMachine(this, 'NightlyExport', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(readLatest.next(exportImage)),
      // The export's deadline, and time for the workflow to cancel and finish after it.
      timeout: NIGHTLY_IMAGE_DEADLINE.plus(Duration.hours(1)),
    });

    this.schedule = new scheduler.Schedule(this, 'Nightly', {
      description: 'Export the newest golden image as a VMDK every night',
      schedule: scheduler.ScheduleExpression.cron({ minute: '0', hour: '3', timeZone: TimeZone.EUROPE_BERLIN }),
      target: new schedulerTargets.StepFunctionsStartExecution(this.nightlyExport, {
        input: scheduler.ScheduleTargetInput.fromObject({ scheduledTime: scheduler.ContextAttribute.scheduledTime }),
        retryAttempts: 2,
      }),
    });
  }
}

/** Builds the example app; `outdir` is where the cloud assembly goes. */
export function buildNightlyImageExportApp(outdir?: string): { app: App; stack: NightlyImageExportStack } {
  const app = new App({ outdir });
  const stack = new NightlyImageExportStack(app, 'VmExportNightlyImage', {
    env: { account: '111111111111', region: 'eu-west-1' },
    latestImageParameterName: app.node.tryGetContext('latestImageParameter'),
  });
  return { app, stack };
}

if (require.main === module) {
  buildNightlyImageExportApp().app.synth();
}
