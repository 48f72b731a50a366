/**
 * Integration test: exports a small instance the test creates itself and checks that the image
 * is in S3.
 *
 * The stack launches an Amazon Linux 2023 instance (one unencrypted gp3 root volume, one network
 * interface) in a VPC with one public subnet and no NAT gateway, creates an export bucket, and
 * exports the instance as a VMware OVA; the deployment waits for the export. The assertions
 * then check the export task (completed) and the object (HeadObject on the exported key).
 *
 * Snapshot (offline, no deployment):
 *   npx projen bundle   # the handler assets are part of the snapshot
 *   TS_NODE_TRANSPILE_ONLY=true npx integ-runner --language typescript --directory test \
 *     --update-on-failed --dry-run
 * Verify the snapshot is current (offline):
 *   TS_NODE_TRANSPILE_ONLY=true npx integ-runner --language typescript --directory test
 * Deploy for real (an AWS account, 20-60 minutes):
 *   npx integ-runner --language typescript --directory test --update-on-failed --force
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { InstanceExport, TargetEnvironment, VmExportBucket } from '../src';

class ExportableInstanceStack extends Stack {
  public readonly vmExport: InstanceExport;
  public readonly exportBucket: VmExportBucket;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    // One public subnet, no NAT gateway: the instance needs no network access to be exported.
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 1,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
    });

    // What the service can export: one unencrypted volume, one network interface, an AMI that
    // is neither Windows nor from the Marketplace.
    const instance = new ec2.Instance(this, 'Instance', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T3, ec2.InstanceSize.MICRO),
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      requireImdsv2: true,
      blockDevices: [{
        deviceName: '/dev/xvda',
        volume: ec2.BlockDeviceVolume.ebs(8, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: false }),
      }],
    });

    this.exportBucket = new VmExportBucket(this, 'ExportBucket', {
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    this.vmExport = new InstanceExport(this, 'Export', {
      instanceId: instance.instanceId,
      bucket: this.exportBucket,
      targetEnvironment: TargetEnvironment.VMWARE,
      prefix: 'integ/',
      timeout: Duration.hours(2),
      deleteObjectOnDelete: true,
      tags: { purpose: 'cdk-vm-export-integ' },
    });

    new CfnOutput(this, 'ImageUri', { value: this.vmExport.exportObjectUri });
  }
}

const app = new App();
const stack = new ExportableInstanceStack(app, 'VmExportInteg');

const integ = new IntegTest(app, 'InstanceExportInteg', {
  testCases: [stack],
  // The previous snapshot would export an instance too: deploy only the current version.
  stackUpdateWorkflow: false,
  // Asset hashes (the bundled handlers) are left out of the snapshot comparison: a handler
  // change is covered by the unit tests and does not need a snapshot update.
  diffAssets: false,
});

// The export task completed ...
integ.assertions.awsApiCall('EC2', 'describeExportTasks', {
  ExportTaskIds: [stack.vmExport.exportTaskId],
}).expect(ExpectedResult.objectLike({
  ExportTasks: [{ ExportTaskId: stack.vmExport.exportTaskId, State: 'completed' }],
}));

// ... and its image is in the bucket under the key the construct reports.
const head = integ.assertions.awsApiCall('S3', 'headObject', {
  Bucket: stack.exportBucket.bucketName,
  Key: stack.vmExport.exportObjectKey,
});
// HeadObject is authorized by s3:GetObject (there is no s3:HeadObject action).
head.provider.addToRolePolicy({
  Effect: 'Allow',
  Action: ['s3:GetObject'],
  Resource: [`${stack.exportBucket.bucketArn}/*`],
});
