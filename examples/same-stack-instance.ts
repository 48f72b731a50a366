/**
 * Exporting an instance that the same stack creates. CloudFormation starts the export as soon as
 * it reports the instance created; without a creation policy that is when EC2 says the instance
 * is running, long before its user data has installed anything. Here the instance is configured
 * with CloudFormation Init (`init`): its user data runs cfn-init and then cfn-signal, the
 * instance carries a CreationPolicy, and CloudFormation reports it created only after that
 * signal. The export (which refers to `instance.instanceId`) therefore starts after the setup
 * finished, and a failed setup fails the deployment before anything is exported.
 *
 * Synthesize it offline (no AWS account, no credentials):
 *   npx cdk synth --app 'npx ts-node --transpile-only examples/same-stack-instance.ts'
 */
import { App, CfnOutput, Duration, Stack, StackProps, aws_ec2 as ec2 } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { InstanceExport, TargetEnvironment, VmExportBucket } from '../src';

/** How long CloudFormation waits for the instance's setup to signal (the creation policy). */
export const SETUP_TIMEOUT = Duration.minutes(30);

/** A stack with a VPC, an instance set up by cfn-init, and an export of that instance. */
export class SameStackInstanceStack extends Stack {
  /** The instance that is exported. */
  public readonly instance: ec2.Instance;
  /** The export. */
  public readonly vmExport: InstanceExport;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    // One public subnet: cfn-init and cfn-signal must reach the package repository and
    // CloudFormation's endpoint (a NAT gateway or VPC endpoints work as well).
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 1,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
    });

    this.instance = new ec2.Instance(this, 'WebServer', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T3, ec2.InstanceSize.MEDIUM),
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      requireImdsv2: true,
      // What the image should contain. cfn-init applies it at first boot, then cfn-signal reports
      // success (or failure) to CloudFormation.
      init: ec2.CloudFormationInit.fromElements(
        ec2.InitPackage.yum('httpd'),
        ec2.InitFile.fromString('/var/www/html/index.html', '<h1>exported by cdk-vm-export</h1>\n'),
        ec2.InitService.enable('httpd'),
      ),
      // The instance counts as created only after the signal; no signal within this time fails
      // the deployment (and no export starts).
      initOptions: { timeout: SETUP_TIMEOUT },
    });

    const exportBucket = new VmExportBucket(this, 'ExportBucket', { expireExportsAfter: Duration.days(30) });
    // instance.instanceId is a reference to the instance: CloudFormation creates the export after
    // the instance, i.e. after the signal.
    this.vmExport = new InstanceExport(this, 'WebServerExport', {
      instanceId: this.instance.instanceId,
      bucket: exportBucket,
      targetEnvironment: TargetEnvironment.VMWARE,
      prefix: 'web-server/',
      timeout: Duration.hours(4),
    });
    new CfnOutput(this, 'ImageUri', { value: this.vmExport.exportObjectUri });
  }
}

/** Builds the example app; `outdir` is where the cloud assembly goes. */
export function buildSameStackInstanceApp(outdir?: string): { app: App; stack: SameStackInstanceStack } {
  const app = new App({ outdir });
  const stack = new SameStackInstanceStack(app, 'VmExportSameStackInstance', {
    env: { account: '111111111111', region: 'eu-west-1' },
  });
  return { app, stack };
}

if (require.main === module) {
  buildSameStackInstanceApp().app.synth();
}
