/**
 * The example app a newcomer reads first: an export bucket, ready for VM Import/Export.
 *
 * Synthesize it offline (no AWS account, no credentials):
 *   npx projen synth:example
 */
import { App, CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { VmExportBucket } from '../src';

export class VmExportExampleStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const exportBucket = new VmExportBucket(this, 'ExportBucket', {
      expireExportsAfter: Duration.days(90),
    });

    new CfnOutput(this, 'ExportBucketName', { value: exportBucket.bucketName });
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
