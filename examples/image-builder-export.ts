/**
 * A golden image built by EC2 Image Builder and exported as a VMware disk (VMDK) in the same
 * deployment. The stack builds an Amazon Linux 2023 image with one component (a web server),
 * `ImageExport` exports that AMI (EC2 ExportImage: no instance is launched for the export) to an
 * export bucket, and the file's S3 URI is handed on: a stack output, and an SSM parameter that a
 * downstream stack or pipeline reads.
 *
 * CloudFormation creates AWS::ImageBuilder::Image only once the build (and its tests) finished
 * and the AMI is available; the export refers to `image.attrImageId`, so it starts after that.
 * The AMI must be one VM Import/Export can export: owned by this account (Image Builder's output
 * is), x86_64, no encrypted EBS snapshot (an account with EBS encryption by default produces
 * encrypted snapshots), no Marketplace or license-included parent, volumes of at most 1 TiB.
 * The export's preflight checks the AMI and fails the deployment with what it found.
 *
 * Synthesize it offline (no AWS account, no credentials):
 *   npx cdk synth --app 'npx ts-node --transpile-only examples/image-builder-export.ts'
 */
import {
  App,
  Aws,
  CfnOutput,
  Duration,
  Stack,
  StackProps,
  aws_iam as iam,
  aws_imagebuilder as imagebuilder,
  aws_ssm as ssm,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DiskImageFormat, ImageExport, VmExportBucket } from '../src';

/** The key prefix the exported VMDK is written under. */
export const GOLDEN_EXPORT_PREFIX = 'golden/';

/** The SSM parameter that holds the exported file's S3 URI (what downstream stacks read). */
export const GOLDEN_IMAGE_URI_PARAMETER = '/golden/linux/vmdk-uri';

/** The recipe's version (Image Builder versions are major.minor.patch; raise it to build anew). */
export const GOLDEN_RECIPE_VERSION = '1.0.0';

/** What the image contains: an Image Builder component document (AWSTOE). */
const WEB_SERVER_COMPONENT = `name: WebServer
description: Installs and enables the Apache HTTP server.
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: InstallHttpd
        action: ExecuteBash
        inputs:
          commands:
            - dnf install -y httpd
            - systemctl enable httpd
  - name: validate
    steps:
      - name: HttpdInstalled
        action: ExecuteBash
        inputs:
          commands:
            - rpm -q httpd
`;

/** An Image Builder image of Amazon Linux 2023 with a web server, exported as a VMDK. */
export class ImageBuilderExportStack extends Stack {
  /** The Image Builder image (its AMI is what is exported). */
  public readonly image: imagebuilder.CfnImage;
  /** The export of the image's AMI. */
  public readonly vmExport: ImageExport;
  /** The SSM parameter with the exported file's S3 URI. */
  public readonly imageUriParameter: ssm.StringParameter;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const component = new imagebuilder.CfnComponent(this, 'WebServerComponent', {
      name: `${id}-web-server`,
      platform: 'Linux',
      version: GOLDEN_RECIPE_VERSION,
      data: WEB_SERVER_COMPONENT,
    });

    const recipe = new imagebuilder.CfnImageRecipe(this, 'Recipe', {
      name: `${id}-golden-linux`,
      version: GOLDEN_RECIPE_VERSION,
      // The newest Amazon Linux 2023 (x86_64) image Image Builder publishes.
      parentImage: `arn:${Aws.PARTITION}:imagebuilder:${Aws.REGION}:aws:image/amazon-linux-2023-x86/x.x.x`,
      components: [{ componentArn: component.attrArn }],
    });

    // The build instance's role: Systems Manager runs the build through it, Image Builder's
    // agent reports through it.
    const buildRole = new iam.Role(this, 'BuildInstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore'),
        iam.ManagedPolicy.fromAwsManagedPolicyName('EC2InstanceProfileForImageBuilder'),
      ],
    });
    const instanceProfile = new iam.CfnInstanceProfile(this, 'BuildInstanceProfile', { roles: [buildRole.roleName] });

    const infrastructure = new imagebuilder.CfnInfrastructureConfiguration(this, 'Infrastructure', {
      name: `${id}-build`,
      // Ref of an instance profile is its name.
      instanceProfileName: instanceProfile.ref,
      instanceTypes: ['t3.medium'],
      terminateInstanceOnFailure: true,
    });

    this.image = new imagebuilder.CfnImage(this, 'GoldenImage', {
      imageRecipeArn: recipe.attrArn,
      infrastructureConfigurationArn: infrastructure.attrArn,
    });

    const exportBucket = new VmExportBucket(this, 'ExportBucket', { expireExportsAfter: Duration.days(90) });
    // attrImageId is the AMI id of the built image: the export waits for the build, and the
    // workflow is granted exactly this AMI. A new recipe version builds a new AMI; the revision
    // (the recipe's version) gives that export a new wait condition, so it is exported again.
    this.vmExport = new ImageExport(this, 'GoldenImageExport', {
      imageId: this.image.attrImageId,
      revision: GOLDEN_RECIPE_VERSION,
      bucket: exportBucket,
      diskImageFormat: DiskImageFormat.VMDK,
      prefix: GOLDEN_EXPORT_PREFIX,
      description: 'golden Amazon Linux 2023 web server',
      timeout: Duration.hours(4),
    });

    // Handed on: s3://<bucket>/golden/export-ami-<id>.vmdk
    new CfnOutput(this, 'GoldenImageUri', { value: this.vmExport.exportObjectUri });
    this.imageUriParameter = new ssm.StringParameter(this, 'GoldenImageUriParameter', {
      parameterName: GOLDEN_IMAGE_URI_PARAMETER,
      description: 'S3 URI of the newest exported golden image (VMDK)',
      stringValue: this.vmExport.exportObjectUri,
    });
  }
}

/** Builds the example app; `outdir` is where the cloud assembly goes. */
export function buildImageBuilderExportApp(outdir?: string): { app: App; stack: ImageBuilderExportStack } {
  const app = new App({ outdir });
  const stack = new ImageBuilderExportStack(app, 'VmExportImageBuilder', {
    env: { account: '111111111111', region: 'eu-west-1' },
  });
  return { app, stack };
}

if (require.main === module) {
  buildImageBuilderExportApp().app.synth();
}
