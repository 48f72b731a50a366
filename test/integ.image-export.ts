/**
 * Integration test: exports an AMI the test builds itself with EC2 Image Builder, as a VMDK, and
 * checks that the image is in S3.
 *
 * The AMI must be owned by the account (the VM Import/Export guide: an image shared from another
 * account, such as a public Amazon Linux AMI, cannot be exported), so the stack builds one: an
 * Image Builder image from Amazon Linux 2023 with AWS's `update-linux` component and one
 * unencrypted 8 GiB gp3 volume, built in a VPC with one public subnet and no NAT gateway. The
 * ImageExport then exports it through the stack's VM Import/Export service role; the deployment
 * waits for the export. The assertions check the export image task (completed) and the object
 * (HeadObject on the exported key).
 *
 * Not known before a real run: Amazon Linux 2023 AMIs boot in `uefi-preferred` mode, and the
 * guide refuses "hybrid configurations" (GRUB2 enabled for both BIOS and UEFI) without saying
 * whether such an AMI is one; if the export task ends `deleted` for that reason, build the image
 * from an AMI that boots in one mode.
 *
 * Snapshot (offline, no deployment): `npx projen integ:snapshot`; verify: `npx projen integ:verify`.
 * Deploy for real (an AWS account, 40-90 minutes: the image build, then the export):
 *   npx integ-runner --language typescript --directory test --update-on-failed --force
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Aws, CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as imagebuilder from 'aws-cdk-lib/aws-imagebuilder';
import { Construct } from 'constructs';
import { DiskImageFormat, ImageExport, VmExportBucket } from '../src';

class ExportableImageStack extends Stack {
  public readonly vmExport: ImageExport;
  public readonly exportBucket: VmExportBucket;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 1,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
    });
    const securityGroup = new ec2.SecurityGroup(this, 'BuildSecurityGroup', { vpc, description: 'Image Builder build instance (egress only)' });

    // The build instance's role: what Image Builder's own documentation asks for.
    const buildRole = new iam.Role(this, 'BuildRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore'),
        iam.ManagedPolicy.fromAwsManagedPolicyName('EC2InstanceProfileForImageBuilder'),
      ],
    });
    const profile = new iam.CfnInstanceProfile(this, 'BuildProfile', { roles: [buildRole.roleName] });

    const recipe = new imagebuilder.CfnImageRecipe(this, 'Recipe', {
      name: `${this.stackName}-recipe`,
      version: '1.0.0',
      parentImage: `arn:${Aws.PARTITION}:imagebuilder:${Aws.REGION}:aws:image/amazon-linux-2023-x86/x.x.x`,
      components: [{ componentArn: `arn:${Aws.PARTITION}:imagebuilder:${Aws.REGION}:aws:component/update-linux/x.x.x` }],
      // What image export can export: one unencrypted EBS volume of at most 1 TiB.
      blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { volumeSize: 8, volumeType: 'gp3', encrypted: false, deleteOnTermination: true } }],
    });
    const infrastructure = new imagebuilder.CfnInfrastructureConfiguration(this, 'Infrastructure', {
      name: `${this.stackName}-infrastructure`,
      instanceProfileName: profile.ref,
      instanceTypes: ['t3.small'],
      subnetId: vpc.publicSubnets[0].subnetId,
      securityGroupIds: [securityGroup.securityGroupId],
      terminateInstanceOnFailure: true,
    });
    const image = new imagebuilder.CfnImage(this, 'Image', {
      imageRecipeArn: recipe.attrArn,
      infrastructureConfigurationArn: infrastructure.attrArn,
    });

    this.exportBucket = new VmExportBucket(this, 'ExportBucket', {
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    this.vmExport = new ImageExport(this, 'Export', {
      imageId: image.attrImageId,
      // A new recipe version builds a new AMI: a new revision gives it a new wait condition.
      revision: '1.0.0',
      bucket: this.exportBucket,
      diskImageFormat: DiskImageFormat.VMDK,
      prefix: 'integ-images/',
      timeout: Duration.hours(3),
      deleteObjectOnDelete: true,
      tags: { purpose: 'cdk-vm-export-integ' },
    });

    new CfnOutput(this, 'ImageUri', { value: this.vmExport.exportObjectUri });
  }
}

const app = new App();
const stack = new ExportableImageStack(app, 'VmImageExportInteg');

const integ = new IntegTest(app, 'ImageExportInteg', {
  testCases: [stack],
  // The previous snapshot would export an image too: deploy only the current version.
  stackUpdateWorkflow: false,
  // Asset hashes (the bundled handlers) are left out of the snapshot comparison.
  diffAssets: false,
});

// The export image task completed ...
integ.assertions.awsApiCall('EC2', 'describeExportImageTasks', {
  ExportImageTaskIds: [stack.vmExport.exportImageTaskId],
}).expect(ExpectedResult.objectLike({
  ExportImageTasks: [{ ExportImageTaskId: stack.vmExport.exportImageTaskId, Status: 'completed' }],
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
