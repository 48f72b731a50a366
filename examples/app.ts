/**
 * The example app a newcomer reads first: an export bucket, an export of one instance as a
 * VMware OVA that `cdk deploy` waits for, and the image's S3 URI handed to something downstream
 * (a stack output and an SSM parameter).
 *
 * Synthesize it offline (no AWS account, no credentials):
 *   npx projen synth:example
 * Choose the instance (and the environment) with context:
 *   npx cdk synth --app 'npx ts-node examples/app.ts' -c instanceId=i-0abc... -c region=eu-west-1
 */
import { App, CfnOutput, Duration, Stack, StackProps, aws_ssm as ssm } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { InstanceExport, TargetEnvironment, VmExportBucket } from '../src';

/** The instance the example exports unless `-c instanceId=...` names another. */
const EXAMPLE_INSTANCE_ID = 'i-0123456789abcdef0';

export class VmExportExampleStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const exportBucket = new VmExportBucket(this, 'ExportBucket', {
      expireExportsAfter: Duration.days(90),
    });

    const vm = new InstanceExport(this, 'WebServerExport', {
      instanceId: this.node.tryGetContext('instanceId') ?? EXAMPLE_INSTANCE_ID,
      bucket: exportBucket,
      targetEnvironment: TargetEnvironment.VMWARE,
      prefix: 'web-server/',
      timeout: Duration.hours(4),
    });

    // Anything built from the export's attributes is created after the image is in S3.
    new ssm.StringParameter(this, 'ImageUriParameter', {
      parameterName: '/vm-exports/web-server/latest',
      stringValue: vm.exportObjectUri,
    });
    new CfnOutput(this, 'ExportBucketName', { value: exportBucket.bucketName });
    new CfnOutput(this, 'ImageUri', { value: vm.exportObjectUri });
  }
}

/** Builds the example app; `outdir` is where the cloud assembly goes. */
export function buildExampleApp(outdir?: string): App {
  const app = new App({ outdir });
  const region = app.node.tryGetContext('region') as string | undefined;
  const account = app.node.tryGetContext('account') as string | undefined;
  new VmExportExampleStack(app, 'VmExportExample', {
    env: region || account ? { region, account } : undefined,
  });
  return app;
}

if (require.main === module) {
  buildExampleApp().synth();
}
