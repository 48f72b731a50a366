/**
 * An export inside a CDK Pipelines stage: the pipeline deploys a stage whose stack creates an
 * export bucket and exports one instance. This is the pipeline pattern that waits for hours.
 *
 * CodePipeline times actions out: most action types (the Step Functions invoke action among
 * them) after 1 hour, a CloudFormation deployment action after 3 days (CodePipeline quotas,
 * https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html). The stage is deployed
 * by CloudFormation actions (create and execute a change set), and CloudFormation waits for the
 * export's wait condition, which may wait up to 12 hours: so the export below may take its full
 * `timeout` (10 hours here), far beyond the 1 hour a `StepFunctionInvokeAction` gets, and a later
 * stage or action can use the image.
 *
 * Synthesize it offline (no AWS account, no credentials; the GitHub source is a placeholder):
 *   npx cdk synth --app 'npx ts-node --transpile-only examples/pipeline-stage.ts'
 */
import { App, CfnOutput, Duration, Stack, StackProps, Stage, StageProps, pipelines } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { InstanceExport, TargetEnvironment, VmExportBucket } from '../src';

/** The environment of the pipeline and of the stage it deploys (placeholders). */
export const PIPELINE_ENV = { account: '111111111111', region: 'eu-west-1' };

/**
 * How long the stage's deployment waits for the export: more than the 1 hour a
 * StepFunctionInvokeAction would get, within the wait condition's 12 hours (and so within the
 * 3 days of the CloudFormation deployment action).
 */
export const STAGE_EXPORT_TIMEOUT = Duration.hours(10);

/** Properties of the stack that exports an instance. */
export interface VmExportStackProps extends StackProps {
  /** The instance to export. */
  readonly instanceId: string;
}

/** The stack a stage deploys: an export bucket and one export that the deployment waits for. */
export class VmExportStack extends Stack {
  /** The export. */
  public readonly vmExport: InstanceExport;

  constructor(scope: Construct, id: string, props: VmExportStackProps) {
    super(scope, id, props);
    const exportBucket = new VmExportBucket(this, 'ExportBucket', {
      expireExportsAfter: Duration.days(30),
    });
    this.vmExport = new InstanceExport(this, 'Export', {
      instanceId: props.instanceId,
      bucket: exportBucket,
      targetEnvironment: TargetEnvironment.VMWARE,
      prefix: 'pipeline/',
      timeout: STAGE_EXPORT_TIMEOUT,
    });
    new CfnOutput(this, 'ImageUri', { value: this.vmExport.exportObjectUri });
  }
}

/** Properties of the export stage. */
export interface VmExportStageProps extends StageProps {
  /** The instance to export. */
  readonly instanceId: string;
}

/** A CDK Pipelines stage holding the export stack. */
export class VmExportStage extends Stage {
  /** The stack that exports the instance. */
  public readonly exportStack: VmExportStack;

  constructor(scope: Construct, id: string, props: VmExportStageProps) {
    super(scope, id, props);
    this.exportStack = new VmExportStack(this, 'VmExport', { instanceId: props.instanceId });
  }
}

/** The pipeline: synthesize from the repository, then deploy the export stage. */
export class VmExportPipelineStack extends Stack {
  /** The pipeline. */
  public readonly pipeline: pipelines.CodePipeline;
  /** The stage the pipeline deploys. */
  public readonly exportStage: VmExportStage;

  constructor(scope: Construct, id: string, props: StackProps & { readonly instanceId: string }) {
    super(scope, id, props);
    this.pipeline = new pipelines.CodePipeline(this, 'Pipeline', {
      synth: new pipelines.ShellStep('Synth', {
        // A placeholder repository: synthesizing needs neither it nor its connection.
        input: pipelines.CodePipelineSource.gitHub('owner/repo', 'main'),
        commands: ['npm ci', 'npx cdk synth'],
      }),
    });
    this.exportStage = new VmExportStage(this, 'Export', { env: props.env, instanceId: props.instanceId });
    this.pipeline.addStage(this.exportStage);
  }
}

/** Builds the pipeline app; `outdir` is where the cloud assembly goes. */
export function buildPipelineApp(outdir?: string): { app: App; pipelineStack: VmExportPipelineStack } {
  const app = new App({ outdir });
  const pipelineStack = new VmExportPipelineStack(app, 'VmExportPipeline', {
    env: PIPELINE_ENV,
    instanceId: app.node.tryGetContext('instanceId') ?? 'i-0123456789abcdef0',
  });
  return { app, pipelineStack };
}

if (require.main === module) {
  buildPipelineApp().app.synth();
}
