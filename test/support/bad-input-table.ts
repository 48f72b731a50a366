/**
 * The bad-input table: every input the library refuses, where it is refused (synth time or
 * deploy time), the error text, its cause and its fix. `test/bad-input.test.ts` runs every row;
 * `test/readme-troubleshooting.test.ts` checks that the README's Troubleshooting section lists
 * every row's error.
 */
import { CloudFormationClient, DescribeStackResourceCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateInstanceExportTaskCommand,
  DescribeExportTasksCommand,
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  EC2Client,
  Instance,
  Volume,
} from '@aws-sdk/client-ec2';
import {
  GetBucketAclCommand,
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  Grant,
  PutBucketAclCommand,
  PutBucketPolicyCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { App, Duration, RemovalPolicy, Stack, aws_ec2 as cdkEc2, aws_s3 as s3, aws_sns as sns } from 'aws-cdk-lib';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { onEvent as bucketGrantOnEvent } from '../../lambda/bucket-grant/index';
import { onEvent as exportProviderOnEvent } from '../../lambda/export-provider/index';
import { BUCKET_POLICY_SID, ExportResourceProperties } from '../../lambda/shared/contract';
import { normalizeRequest } from '../../lambda/shared/normalize';
import {
  ContainerFormat,
  DiskImageFormat,
  InstanceExport,
  InstanceExportProps,
  InstanceExportWorkflow,
  IVmExportBucket,
  TargetEnvironment,
  VmExportBucket,
  VmExportBucketImportOptions,
  VmExportBucketProps,
  VmExportCanonicalIds,
} from '../../src';

/** Where the input is refused. */
export type BadInputStage = 'synth' | 'deploy: bucket grant' | 'deploy: preflight' | 'run: workflow input';

/** One bad input. */
export interface BadInputRow {
  /** A unique label (the test name). */
  readonly name: string;
  /** The API the bad value goes into. */
  readonly surface: string;
  readonly stage: BadInputStage;
  /** A literal fragment of the error message; the README lists it. */
  readonly error: string;
  /** Why the input is refused. */
  readonly cause: string;
  /** What to do about it. */
  readonly fix: string;
  /** The message must match all of these: at least one naming the bad value, one the fix. */
  readonly expect: readonly RegExp[];
  /** Runs the input; throws (or rejects) with the error. */
  readonly trigger: () => unknown;
}

// ---------------------------------------------------------------------------------------------
// Synth time
// ---------------------------------------------------------------------------------------------

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const INSTANCE = 'i-0123456789abcdef0';

function newStack(env: { account: string; region: string } = { account: ACCOUNT, region: REGION }): Stack {
  return new Stack(new App(), 'BadInput', { env });
}

function bucketWith(props: VmExportBucketProps): () => unknown {
  return () => new VmExportBucket(newStack(), 'Exports', props);
}

function importWith(name: string, options: VmExportBucketImportOptions = {}): () => unknown {
  return () => VmExportBucket.fromBucketName(newStack(), 'Existing', name, options);
}

function exportWith(props: Partial<InstanceExportProps>): () => unknown {
  return () => {
    const stack = newStack();
    const bucket = new VmExportBucket(stack, 'Exports');
    return new InstanceExport(stack, 'Export', {
      instanceId: INSTANCE,
      bucket,
      targetEnvironment: TargetEnvironment.VMWARE,
      ...props,
    });
  };
}

/** An export whose bucket lives in another stack (another region or account). */
function exportToBucketIn(env: { account: string; region: string }): () => unknown {
  return () => {
    const app = new App();
    const bucketStack = new Stack(app, 'Buckets', { env });
    const bucket = new VmExportBucket(bucketStack, 'Exports');
    const stack = new Stack(app, 'Exports', { env: { account: ACCOUNT, region: REGION } });
    return new InstanceExport(stack, 'Export', { instanceId: INSTANCE, bucket, targetEnvironment: TargetEnvironment.VMWARE });
  };
}

function logsBucketNamed(name: string): () => unknown {
  return () => {
    const stack = newStack();
    const logs = s3.Bucket.fromBucketName(stack, 'Logs', name);
    return new VmExportBucket(stack, 'Exports', { bucketName: name, serverAccessLogsBucket: logs });
  };
}

// ---------------------------------------------------------------------------------------------
// Deploy time: canned AWS answers behind real SDK clients
// ---------------------------------------------------------------------------------------------

/** The mocked clients (every client of these classes answers from the mocks). */
export const mocks = {
  s3: mockClient(S3Client),
  ec2: mockClient(EC2Client),
  sfn: mockClient(SFNClient),
  cfn: mockClient(CloudFormationClient),
};

const clients = {
  s3: new S3Client({ region: REGION }),
  ec2: new EC2Client({ region: REGION }),
  sfn: new SFNClient({ region: REGION }),
  cfn: new CloudFormationClient({ region: REGION }),
};

/** The VM Import/Export canonical ID of eu-west-1 (the default row). */
export const SERVICE_ID = 'c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322';
const OWNER_ID = '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be';
const BUCKET = 'team-vm-exports';
const VOLUME = 'vol-0a1b2c3d4e5f60718';
const STATE_MACHINE = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:VmExportWorkflow`;
const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/BadInput/5b0a1d30-0000-11ef-9c2b-0a1b2c3d4e5f`;

function awsError(name: string, message = name, status = 400): Error {
  const error = new Error(message) as Error & { $metadata: object; $fault: string };
  error.name = name;
  error.$metadata = { httpStatusCode: status };
  error.$fault = 'client';
  return error;
}

/** What S3 answers about the bucket. */
export interface BucketWorld {
  readonly missing?: boolean;
  readonly location?: string | null;
  readonly ownership?: string;
  readonly encryption?: string;
  readonly grants?: Grant[];
}

/** What EC2 answers about the instance (null: it does not exist). */
export interface InstanceWorld {
  readonly instance?: Partial<Instance> | null;
  readonly volume?: Partial<Volume>;
}

const SERVICE_GRANTS: Grant[] = [
  { Grantee: { Type: 'CanonicalUser', ID: OWNER_ID }, Permission: 'FULL_CONTROL' },
  { Grantee: { Type: 'CanonicalUser', ID: SERVICE_ID }, Permission: 'READ_ACP' },
  { Grantee: { Type: 'CanonicalUser', ID: SERVICE_ID }, Permission: 'WRITE' },
];

/** Healthy answers first, then the row's changes. */
export function setWorld(bucket: BucketWorld = {}, ec2: InstanceWorld = {}): void {
  const { s3: s3Mock, ec2: ec2Mock, sfn: sfnMock, cfn: cfnMock } = mocks;
  s3Mock.reset();
  ec2Mock.reset();
  sfnMock.reset();
  cfnMock.reset();
  // The export's wait condition handle, as CloudFormation reports it (its physical id is its URL).
  cfnMock.on(DescribeStackResourceCommand).resolves({
    StackResourceDetail: { PhysicalResourceId: `https://cloudformation-waitcondition-${REGION}.s3.amazonaws.com/h?X-Amz-Signature=abc`, ResourceStatus: 'CREATE_COMPLETE' } as never,
  });
  if (bucket.missing) {
    s3Mock.onAnyCommand().rejects(awsError('NoSuchBucket', 'The specified bucket does not exist', 404));
  } else {
    s3Mock.on(GetBucketLocationCommand).resolves({ LocationConstraint: (bucket.location === undefined ? REGION : bucket.location) as never });
    s3Mock.on(GetBucketOwnershipControlsCommand).resolves({
      OwnershipControls: { Rules: [{ ObjectOwnership: (bucket.ownership ?? 'BucketOwnerPreferred') as never }] },
    });
    s3Mock.on(GetBucketEncryptionCommand).resolves({
      ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: (bucket.encryption ?? 'AES256') as never } }] },
    });
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: { ID: OWNER_ID }, Grants: bucket.grants ?? SERVICE_GRANTS });
    s3Mock.on(PutBucketAclCommand).resolves({});
    s3Mock.on(GetBucketPolicyCommand).rejects(awsError('NoSuchBucketPolicy', 'The bucket policy does not exist', 404));
    s3Mock.on(PutBucketPolicyCommand).resolves({});
  }

  const healthy: Instance = {
    InstanceId: INSTANCE,
    State: { Name: 'stopped', Code: 80 },
    RootDeviceType: 'ebs',
    BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: VOLUME } }],
    NetworkInterfaces: [{ NetworkInterfaceId: 'eni-0a1b2c3d4e5f60718' }],
    ProductCodes: [],
    PlatformDetails: 'Linux/UNIX',
    UsageOperation: 'RunInstances',
    ImageId: 'ami-0a1b2c3d4e5f60718',
  };
  if (ec2.instance === null) {
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound', `The instance ID '${INSTANCE}' does not exist`));
  } else {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ ...healthy, ...ec2.instance }] }] });
  }
  ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: VOLUME, Size: 8, Encrypted: false, ...ec2.volume }] });
  ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
  // Answered as if it worked: a row that reaches these calls shows up in the call counts.
  ec2Mock.on(CreateInstanceExportTaskCommand).resolves({ ExportTask: { ExportTaskId: 'export-i-0fedcba9876543210', State: 'active' } });
  sfnMock.on(StartExecutionCommand).resolves({ executionArn: `${STATE_MACHINE.replace(':stateMachine:', ':execution:')}:x`, startDate: new Date() });
}

/** Calls that change something: none may happen for a refused input. */
export function writeCalls(): { createExportTask: number; startExecution: number; putBucketAcl: number; putBucketPolicy: number } {
  return {
    createExportTask: mocks.ec2.commandCalls(CreateInstanceExportTaskCommand).length,
    startExecution: mocks.sfn.commandCalls(StartExecutionCommand).length,
    putBucketAcl: mocks.s3.commandCalls(PutBucketAclCommand).length,
    putBucketPolicy: mocks.s3.commandCalls(PutBucketPolicyCommand).length,
  };
}

/**
 * Create of `VmExportBucket.fromBucketName`'s grant resource (checks the bucket first);
 * `overrides` replaces resource properties.
 */
export function grantCreate(overrides: Record<string, string> = {}): Promise<unknown> {
  const event: CloudFormationCustomResourceEvent = {
    RequestType: 'Create',
    ServiceToken: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:VmExportCustomResourcesHandler`,
    ResponseURL: 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/x',
    StackId: STACK_ID,
    RequestId: '6f9619ff-8b86-d011-b42d-00c04fc964ff',
    LogicalResourceId: 'ExistingServiceGrant',
    ResourceType: 'Custom::VmExportBucketGrant',
    ResourceProperties: {
      ServiceToken: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:VmExportCustomResourcesHandler`,
      BucketName: BUCKET,
      CanonicalId: SERVICE_ID,
      Partition: 'aws',
      VerifyBucket: 'true',
      ExpectedRegion: REGION,
      ManagePolicy: 'true',
      PolicySid: BUCKET_POLICY_SID,
      ...overrides,
    },
  };
  return bucketGrantOnEvent(event, clients.s3);
}

/** Create of an `InstanceExport`'s custom resource with preflight on (the construct's default). */
export function exportCreate(): Promise<unknown> {
  const properties: ExportResourceProperties = {
    ServiceToken: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:VmExportCustomResourcesHandler`,
    StateMachineArn: STATE_MACHINE,
    InstanceId: INSTANCE,
    TargetEnvironment: 'vmware',
    DiskImageFormat: 'VMDK',
    ContainerFormat: 'ova',
    S3Bucket: BUCKET,
    S3Prefix: 'exports/',
    DeadlineSeconds: '21300',
    WaitForCompletion: 'true',
    Preflight: 'true',
    DeleteObjectOnDelete: 'false',
    CanonicalId: SERVICE_ID,
    WaitConditionHandle: 'ExportHandle0a1b2c3d',
  };
  const event: CloudFormationCustomResourceEvent = {
    RequestType: 'Create',
    ServiceToken: properties.ServiceToken,
    ResponseURL: 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/y',
    StackId: STACK_ID,
    RequestId: 'b1c2d3e4-0000-4000-8000-000000000001',
    LogicalResourceId: 'ExportResource',
    ResourceType: 'Custom::VmInstanceExport',
    ResourceProperties: properties as never,
  };
  return exportProviderOnEvent(event, clients);
}

function grantWith(bucket: BucketWorld): () => Promise<unknown> {
  return () => {
    setWorld(bucket);
    return grantCreate();
  };
}

function preflightWith(bucket: BucketWorld, ec2: InstanceWorld = {}): () => Promise<unknown> {
  return () => {
    setWorld(bucket, ec2);
    return exportCreate();
  };
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

const BUCKET_PROPS = 'VmExportBucket props';
const IMPORT = 'VmExportBucket.fromBucketName';
const EXPORT_PROPS = 'InstanceExport props';
const PREFLIGHT = 'InstanceExport (deploy-time preflight)';
const WORKFLOW = 'InstanceExportWorkflow grants';

export const BAD_INPUTS: readonly BadInputRow[] = [
  // VmExportBucket props ------------------------------------------------------------------------
  {
    name: 'bucket: canonicalId not hex',
    surface: BUCKET_PROPS,
    stage: 'synth',
    error: 'is not a canonical user ID',
    cause: 'canonicalId is not 64 lowercase hexadecimal characters',
    fix: 'omit canonicalId (the region\'s ID is used) or copy the ID from the VM Import/Export guide',
    expect: [/canonicalId 'C4D8-not-an-id'/, /64 lowercase hexadecimal characters/, /Omit it to use the VM Import\/Export ID/],
    trigger: bucketWith({ canonicalId: 'C4D8-not-an-id' }),
  },
  {
    name: 'bucket: no canonicalId in an ISO region',
    surface: BUCKET_PROPS,
    stage: 'synth',
    error: 'for which AWS documents no VM Import/Export canonical ID',
    cause: 'the stack\'s region is in aws-eusc or aws-iso*, where the commercial default ID is almost certainly wrong',
    fix: 'ask AWS for the partition\'s VM Import/Export canonical ID and pass it as canonicalId',
    expect: [/canonicalId is not set and region us-iso-east-1 is in partition aws-iso/, /Ask AWS for the VM Import\/Export canonical ID of aws-iso and pass it as canonicalId/],
    trigger: () => new VmExportBucket(newStack({ account: ACCOUNT, region: 'us-iso-east-1' }), 'Exports'),
  },
  {
    name: 'bucket: bucketName with capitals and underscores',
    surface: BUCKET_PROPS,
    stage: 'synth',
    error: 'may only contain lowercase letters, digits, dots and hyphens',
    cause: 'S3 bucket names are lowercase letters, digits, dots and hyphens',
    fix: 'choose a name such as `my-vm-exports`',
    expect: [/bucketName 'Team_Exports'/, /Choose a name such as 'my-vm-exports'/],
    trigger: bucketWith({ bucketName: 'Team_Exports' }),
  },
  {
    name: 'bucket: bucketName too short',
    surface: BUCKET_PROPS,
    stage: 'synth',
    error: 'characters long (3 to 63 allowed)',
    cause: 'S3 bucket names are 3 to 63 characters long',
    fix: 'choose a name of 3 to 63 characters',
    expect: [/bucketName 'vm'/, /is 2 characters long \(3 to 63 allowed\)/, /Choose a name such as/],
    trigger: bucketWith({ bucketName: 'vm' }),
  },
  {
    name: 'bucket: bucketName looks like an IP address',
    surface: BUCKET_PROPS,
    stage: 'synth',
    error: 'must not look like an IP address',
    cause: 'S3 refuses bucket names formatted as IP addresses',
    fix: 'choose a name such as `my-vm-exports`',
    expect: [/bucketName '192\.168\.5\.4'/, /Choose a name such as 'my-vm-exports'/],
    trigger: bucketWith({ bucketName: '192.168.5.4' }),
  },
  {
    name: 'bucket: bucketName with a reserved prefix',
    surface: BUCKET_PROPS,
    stage: 'synth',
    error: 'uses a prefix or suffix S3 reserves',
    cause: 'S3 reserves prefixes such as `xn--` and `sthree-` and suffixes such as `-s3alias`',
    fix: 'choose a name without the reserved prefix or suffix',
    expect: [/bucketName 'xn--vm-exports'/, /Choose a name such as 'my-vm-exports'/],
    trigger: bucketWith({ bucketName: 'xn--vm-exports' }),
  },
  {
    name: 'bucket: bucketName with adjacent dots',
    surface: BUCKET_PROPS,
    stage: 'synth',
    error: 'must not contain two adjacent dots',
    cause: 'S3 bucket names cannot contain `..`',
    fix: 'choose a name such as `my-vm-exports`',
    expect: [/bucketName 'vm\.\.exports'/, /Choose a name such as 'my-vm-exports'/],
    trigger: bucketWith({ bucketName: 'vm..exports' }),
  },
  {
    name: 'bucket: expireExportsAfter in hours',
    surface: BUCKET_PROPS,
    stage: 'synth',
    error: 'S3 lifecycle rules count whole days',
    cause: 'expireExportsAfter or abortIncompleteUploadsAfter is not a whole number of days (at least one)',
    fix: 'use `Duration.days(n)` with n at least 1',
    expect: [/expireExportsAfter is 12 hours/, /Use Duration\.days\(n\) with n at least 1/],
    trigger: bucketWith({ expireExportsAfter: Duration.hours(12) }),
  },
  {
    name: 'bucket: abortIncompleteUploadsAfter of 36 hours',
    surface: BUCKET_PROPS,
    stage: 'synth',
    error: 'S3 lifecycle rules count whole days',
    cause: 'abortIncompleteUploadsAfter is not a whole number of days',
    fix: 'use `Duration.days(n)` with n at least 1',
    expect: [/abortIncompleteUploadsAfter is 1 day 12 hours/, /Use Duration\.days\(n\)/],
    trigger: bucketWith({ abortIncompleteUploadsAfter: Duration.hours(36) }),
  },
  {
    name: 'bucket: autoDeleteObjects on a retained bucket',
    surface: BUCKET_PROPS,
    stage: 'synth',
    error: 'autoDeleteObjects is true but removalPolicy is',
    cause: 'objects can only be deleted with a bucket that is destroyed',
    fix: 'set `removalPolicy: RemovalPolicy.DESTROY`, or drop `autoDeleteObjects`',
    expect: [/removalPolicy is RETAIN \(the default\)/, /Set removalPolicy: RemovalPolicy\.DESTROY/],
    trigger: bucketWith({ autoDeleteObjects: true }),
  },
  {
    name: 'bucket: autoDeleteObjects with SNAPSHOT',
    surface: BUCKET_PROPS,
    stage: 'synth',
    error: 'autoDeleteObjects is true but removalPolicy is',
    cause: 'objects can only be deleted with a bucket that is destroyed',
    fix: 'set `removalPolicy: RemovalPolicy.DESTROY`, or drop `autoDeleteObjects`',
    expect: [/removalPolicy is snapshot/i, /Set removalPolicy: RemovalPolicy\.DESTROY/],
    trigger: bucketWith({ autoDeleteObjects: true, removalPolicy: RemovalPolicy.SNAPSHOT }),
  },
  {
    name: 'bucket: serverAccessLogsPrefix without a logs bucket',
    surface: BUCKET_PROPS,
    stage: 'synth',
    error: 'but no serverAccessLogsBucket is set',
    cause: 'a log prefix without a bucket to write the logs to',
    fix: 'set `serverAccessLogsBucket`, or drop the prefix',
    expect: [/serverAccessLogsPrefix is 'access-logs\/'/, /set serverAccessLogsBucket to the bucket that receives the logs/],
    trigger: bucketWith({ serverAccessLogsPrefix: 'access-logs/' }),
  },
  {
    name: 'bucket: access logs into the bucket itself',
    surface: BUCKET_PROPS,
    stage: 'synth',
    error: 'is the export bucket itself',
    cause: 'logging a bucket into itself writes a log object for every log delivery, forever',
    fix: 'use a separate bucket for access logs',
    expect: [/serverAccessLogsBucket is the export bucket itself \('team-vm-exports'\)/, /Use a separate bucket for access logs/],
    trigger: logsBucketNamed('team-vm-exports'),
  },

  // VmExportBucket.fromBucketName, synth time --------------------------------------------------
  {
    name: 'import: invalid bucket name',
    surface: IMPORT,
    stage: 'synth',
    error: 'is not a valid bucket name',
    cause: 'the name breaks the S3 bucket naming rules (an ARN or URL instead of a name, capitals, ...)',
    fix: 'pass the bucket\'s name, e.g. `my-vm-exports`',
    expect: [/bucketName 'arn:aws:s3:::team-vm-exports'/, /Choose a name such as 'my-vm-exports'/],
    trigger: importWith('arn:aws:s3:::team-vm-exports'),
  },
  {
    name: 'import: canonicalId in upper case',
    surface: IMPORT,
    stage: 'synth',
    error: 'is not a canonical user ID',
    cause: 'canonicalId is not 64 lowercase hexadecimal characters',
    fix: 'omit canonicalId or copy the lowercase ID from the VM Import/Export guide',
    expect: [new RegExp(`canonicalId '${SERVICE_ID.toUpperCase()}'`), /64 lowercase hexadecimal characters/, /copy the ID from the VM Import\/Export guide/],
    trigger: importWith(BUCKET, { canonicalId: SERVICE_ID.toUpperCase() }),
  },
  {
    name: 'import: no canonicalId in the AWS European Sovereign Cloud',
    surface: IMPORT,
    stage: 'synth',
    error: 'for which AWS documents no VM Import/Export canonical ID',
    cause: 'the stack\'s region is in aws-eusc or aws-iso*, where the commercial default ID is almost certainly wrong',
    fix: 'ask AWS for the partition\'s VM Import/Export canonical ID and pass it as canonicalId',
    expect: [/region eusc-de-east-1 is in partition aws-eusc/, /pass it as canonicalId/],
    trigger: () => VmExportBucket.fromBucketName(newStack({ account: ACCOUNT, region: 'eusc-de-east-1' }), 'Existing', BUCKET),
  },
  {
    name: 'import: defaulted canonicalId of an environment-agnostic stack deployed to aws-iso-b',
    surface: IMPORT,
    stage: 'deploy: bucket grant',
    error: 'Refusing to grant the default VM Import/Export canonical ID',
    cause: 'an environment-agnostic stack without canonicalId was deployed to aws-eusc or aws-iso*',
    fix: 'ask AWS for the partition\'s VM Import/Export canonical ID and pass it as canonicalId',
    expect: [/deployed to partition aws-iso-b/, /pass it as canonicalId to VmExportBucket/],
    trigger: () => {
      setWorld();
      return grantCreate({ Partition: 'aws-iso-b', ExpectedRegion: 'us-isob-east-1', CanonicalIdDefaulted: 'true' });
    },
  },
  {
    name: 'workflow: grantExportOf with a volume id',
    surface: WORKFLOW,
    stage: 'synth',
    error: 'is not an instance id',
    cause: 'grantExportOf takes `i-` followed by 8 or 17 lowercase hexadecimal characters, or a token',
    fix: 'pass the instance id (e.g. `i-0123456789abcdef0`) or a reference such as `instance.instanceId`',
    expect: [/grantExportOf\('vol-0a1b2c3d4e5f60718'\)/, /or a reference such as instance.instanceId/],
    trigger: () => InstanceExportWorkflow.of(newStack()).grantExportOf(VOLUME),
  },
  {
    name: 'workflow: allowInstancesTagged with an aws: key',
    surface: WORKFLOW,
    stage: 'synth',
    error: 'which AWS reserves for its own tags',
    cause: 'tag keys starting with `aws:` belong to AWS (and a token key cannot become an IAM condition key)',
    fix: 'grant a tag key of your own, e.g. `allowInstancesTagged(\'vm-export\', \'allowed\')`',
    expect: [/key 'aws:cloudformation:stack-name'/, /use a tag key of your own/],
    trigger: () => InstanceExportWorkflow.of(newStack()).allowInstancesTagged('aws:cloudformation:stack-name', 'BadInput'),
  },

  // VmExportBucket.fromBucketName, deploy time (bucket grant handler) -------------------------
  {
    name: 'import: bucket in another region',
    surface: IMPORT,
    stage: 'deploy: bucket grant',
    error: 'but the stack is in',
    cause: 'VM Import/Export only writes to a bucket in the instance\'s region',
    fix: 'use a bucket in the stack\'s region',
    expect: [/Bucket 'team-vm-exports'/, /it is in us-west-2 but the stack is in eu-west-1/, /use a bucket in eu-west-1/],
    trigger: grantWith({ location: 'us-west-2' }),
  },
  {
    name: 'import: old us-east-1 bucket (null location)',
    surface: IMPORT,
    stage: 'deploy: bucket grant',
    error: 'but the stack is in',
    cause: 'GetBucketLocation answers null for us-east-1: the bucket is not in the stack\'s region',
    fix: 'use a bucket in the stack\'s region',
    expect: [/it is in us-east-1 but the stack is in eu-west-1/, /use a bucket in eu-west-1/],
    trigger: grantWith({ location: null }),
  },
  {
    name: 'import: BucketOwnerEnforced',
    surface: IMPORT,
    stage: 'deploy: bucket grant',
    error: 'its object ownership is BucketOwnerEnforced',
    cause: 'BucketOwnerEnforced (the S3 default) disables ACLs, so the service cannot be granted access',
    fix: '`aws s3api put-bucket-ownership-controls --bucket <name> --ownership-controls \'Rules=[{ObjectOwnership=BucketOwnerPreferred}]\'`',
    expect: [/Bucket 'team-vm-exports'/, /BucketOwnerEnforced/, /put-bucket-ownership-controls --bucket team-vm-exports .*ObjectOwnership=BucketOwnerPreferred/],
    trigger: grantWith({ ownership: 'BucketOwnerEnforced' }),
  },
  {
    name: 'import: SSE-KMS default encryption',
    surface: IMPORT,
    stage: 'deploy: bucket grant',
    error: 'which VM Import/Export does not support',
    cause: 'the bucket\'s default encryption is SSE-KMS or DSSE-KMS',
    fix: 'switch the bucket to SSE-S3: `aws s3api put-bucket-encryption ... "SSEAlgorithm":"AES256"`',
    expect: [/its default encryption is aws:kms,/, /use SSE-S3, aws s3api put-bucket-encryption --bucket team-vm-exports .*AES256/],
    trigger: grantWith({ encryption: 'aws:kms' }),
  },
  {
    name: 'import: DSSE-KMS default encryption',
    surface: IMPORT,
    stage: 'deploy: bucket grant',
    error: 'which VM Import/Export does not support',
    cause: 'the bucket\'s default encryption is SSE-KMS or DSSE-KMS',
    fix: 'switch the bucket to SSE-S3 (AES256)',
    expect: [/its default encryption is aws:kms:dsse,/, /use SSE-S3, aws s3api put-bucket-encryption .*AES256/],
    trigger: grantWith({ encryption: 'aws:kms:dsse' }),
  },
  {
    name: 'import: bucket does not exist',
    surface: IMPORT,
    stage: 'deploy: bucket grant',
    error: 'does not exist (NoSuchBucket)',
    cause: 'no bucket of that name in the account',
    fix: 'create it in the stack\'s account and region, or pass the name of an existing bucket',
    expect: [/Bucket 'team-vm-exports' does not exist/, /Create it in this account and region, or pass the name of an existing bucket/],
    trigger: grantWith({ missing: true }),
  },

  // InstanceExport props --------------------------------------------------------------------------
  {
    name: 'export: instanceId too short',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'is not an instance id',
    cause: 'instanceId is not `i-` followed by 8 or 17 lowercase hexadecimal characters',
    fix: 'pass the instance id (e.g. `i-0123456789abcdef0`) or a reference such as `instance.instanceId`',
    expect: [/instanceId 'i-123'/, /i-0123456789abcdef0/, /or a reference such as instance\.instanceId/],
    trigger: exportWith({ instanceId: 'i-123' }),
  },
  {
    name: 'export: instanceId is a name tag',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'is not an instance id',
    cause: 'instanceId is an instance name, not its id',
    fix: 'pass the instance id or `instance.instanceId`',
    expect: [/instanceId 'web-server-1'/, /use 'i-' followed by 8 or 17 lowercase hexadecimal characters/],
    trigger: exportWith({ instanceId: 'web-server-1' }),
  },
  {
    name: 'export: RAW disk image',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'is not supported for instance export',
    cause: 'RAW is only for exporting an AMI (ExportImage)',
    fix: 'use VMDK for VMware, VHD for Citrix and Microsoft (or omit diskImageFormat)',
    expect: [/diskImageFormat RAW/, /use VHD for targetEnvironment 'citrix'/],
    trigger: exportWith({ targetEnvironment: TargetEnvironment.CITRIX, diskImageFormat: DiskImageFormat.RAW }),
  },
  {
    name: 'export: VMDK for Microsoft',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'does not work with targetEnvironment',
    cause: 'Citrix and Microsoft take VHD; VMware takes VMDK',
    fix: 'use the format of the target (or omit diskImageFormat)',
    expect: [/diskImageFormat VMDK does not work with targetEnvironment 'microsoft'/, /use DiskImageFormat\.VHD \(or omit it\)/],
    trigger: exportWith({ targetEnvironment: TargetEnvironment.MICROSOFT, diskImageFormat: DiskImageFormat.VMDK }),
  },
  {
    name: 'export: VHD for VMware',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'does not work with targetEnvironment',
    cause: 'VMware takes VMDK',
    fix: 'use `DiskImageFormat.VMDK` (or omit diskImageFormat)',
    expect: [/diskImageFormat VHD does not work with targetEnvironment 'vmware'/, /use DiskImageFormat\.VMDK \(or omit it\)/],
    trigger: exportWith({ diskImageFormat: DiskImageFormat.VHD, containerFormat: ContainerFormat.NONE }),
  },
  {
    name: 'export: OVA around VHD',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'containerFormat OVA only wraps VMDK images',
    cause: 'an OVA container holds VMDK disks only',
    fix: 'use `ContainerFormat.NONE` (or omit containerFormat)',
    expect: [/containerFormat OVA only wraps VMDK images, not VHD/, /use ContainerFormat\.NONE/],
    trigger: exportWith({ targetEnvironment: TargetEnvironment.CITRIX, containerFormat: ContainerFormat.OVA }),
  },
  {
    name: 'export: description over 255 characters',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'the service takes at most 255',
    cause: 'CreateInstanceExportTask takes a description of at most 255 characters',
    fix: 'shorten the description',
    expect: [/description is 300 characters long/, /Shorten it/],
    trigger: exportWith({ description: 'x'.repeat(300) }),
  },
  {
    name: 'export: prefix with a leading slash',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'S3 keys have no leading slash',
    cause: 'the prefix starts with `/`',
    fix: 'drop the leading slash',
    expect: [/prefix '\/vms\/' starts with '\/'/, /Use 'vms\/'/],
    trigger: exportWith({ prefix: '/vms/' }),
  },
  {
    name: 'export: prefix with a character the wait condition cannot carry',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'the object key is reported through a CloudFormation wait condition',
    cause: 'the prefix contains `|`, `"` or a backslash, which the wait condition\'s Data cannot carry intact',
    fix: 'choose a prefix without them',
    expect: [/prefix 'vms\|2024\/' contains '\|'/, /Choose a prefix without them/],
    trigger: exportWith({ prefix: 'vms|2024/' }),
  },
  {
    name: 'export: prefix without a trailing slash',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'the service appends the task id directly',
    cause: 'the prefix does not end with `/` (no slash is inserted before the task id)',
    fix: 'end the prefix with `/`',
    expect: [/prefix 'vms' does not end with '\/'/, /Use 'vms\/'/],
    trigger: exportWith({ prefix: 'vms' }),
  },
  {
    name: 'export: prefix too long for an S3 key',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'bytes S3 allows',
    cause: 'prefix + task id + extension would be longer than the 1024 bytes of an S3 key',
    fix: 'shorten the prefix',
    expect: [/prefix is 1020 bytes long/, /1050 bytes, over the 1024 bytes S3 allows/, /Shorten the prefix/],
    trigger: exportWith({ prefix: 'p'.repeat(1019) + '/' }),
  },
  {
    name: 'export: timeout under 10 minutes',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'use a value from 10 minutes to 12 hours',
    cause: 'the wait condition waits 10 minutes to 12 hours',
    fix: 'use a timeout from 10 minutes to 12 hours',
    expect: [/timeout is 5 minutes/, /use a value from 10 minutes to 12 hours/],
    trigger: exportWith({ timeout: Duration.minutes(5) }),
  },
  {
    name: 'export: timeout over 12 hours',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'use a value from 10 minutes to 12 hours',
    cause: 'a CloudFormation wait condition waits at most 12 hours',
    fix: 'use at most 12 hours, or start the InstanceExportWorkflow directly (deadlineSeconds up to 7 days) for longer exports',
    expect: [/timeout is 1 day/, /start the InstanceExportWorkflow directly with deadlineSeconds up to 7 days/],
    trigger: exportWith({ timeout: Duration.hours(24) }),
  },
  {
    name: 'export: reserved tag key',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'are reserved. Rename the tag',
    cause: 'tag keys starting with `aws:` or `vm-export:` are reserved',
    fix: 'rename the tag',
    expect: [/tags has the key 'vm-export:owner'/, /Rename the tag/],
    trigger: exportWith({ tags: { 'vm-export:owner': 'ops' } }),
  },
  {
    name: 'export: bucket in another region',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'VM Import/Export writes only to a bucket in the instance\'s region',
    cause: 'the VmExportBucket is in a stack of another region',
    fix: 'create the VmExportBucket in the same stack or region',
    expect: [/bucket is in region us-west-2 but the export runs in eu-west-1/, /Create the VmExportBucket in the same stack or region/],
    trigger: exportToBucketIn({ account: ACCOUNT, region: 'us-west-2' }),
  },
  {
    name: 'export: bucket in another account',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'the export bucket must belong to the exporting account',
    cause: 'the VmExportBucket is in a stack of another account',
    fix: 'create the VmExportBucket in the exporting account',
    expect: [/bucket is in account 210987654321 but the export runs in 123456789012/, /Create the VmExportBucket in the exporting account/],
    trigger: exportToBucketIn({ account: '210987654321', region: REGION }),
  },

  // InstanceExport, deploy-time preflight ------------------------------------------------------
  {
    name: 'preflight: instance with two volumes',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'volumes in its block device mapping',
    cause: 'VM Import/Export exports instances with exactly one volume',
    fix: 'detach the other volumes (or export an AMI of the instance instead)',
    expect: [/the instance has 2 volumes/, /detach the others \(or export an AMI of it instead\)/],
    trigger: preflightWith({}, {
      instance: {
        BlockDeviceMappings: [
          { DeviceName: '/dev/xvda', Ebs: { VolumeId: VOLUME } },
          { DeviceName: '/dev/xvdb', Ebs: { VolumeId: 'vol-0fedcba9876543210' } },
        ],
      },
    }),
  },
  {
    name: 'preflight: encrypted volume',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'encrypted EBS volumes cannot be exported',
    cause: 'the instance\'s volume is encrypted',
    fix: 'copy the instance to an unencrypted volume first',
    expect: [new RegExp(`volume ${VOLUME} is encrypted`), /copy the instance to an unencrypted volume first/],
    trigger: preflightWith({}, { volume: { Encrypted: true } }),
  },
  {
    name: 'preflight: volume over 1 TiB',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'GiB (1 TiB) can be exported',
    cause: 'VM Import/Export exports volumes of at most 1 TiB',
    fix: 'move the data to a root volume of at most 1024 GiB and export that',
    expect: [new RegExp(`volume ${VOLUME} has 2048 GiB`), /move the data to a root volume of at most 1024 GiB/],
    trigger: preflightWith({}, { volume: { Size: 2048 } }),
  },
  {
    name: 'preflight: instance-store root device',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'the root device is an instance store volume',
    cause: 'instance store volumes cannot be exported',
    fix: 'move the workload to an instance with an EBS root volume and export that',
    expect: [/RootDeviceType instance-store/, /move the workload to an instance with an EBS root volume/],
    trigger: preflightWith({}, { instance: { RootDeviceType: 'instance-store', BlockDeviceMappings: [] } }),
  },
  {
    name: 'preflight: Marketplace product code',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'was launched from an AWS Marketplace AMI',
    cause: 'instances with Marketplace product codes cannot be exported',
    fix: 'export an instance launched from an AMI without product codes',
    expect: [/product code aw0evgkw8e5c1q413zgy5pjce/, /export an instance launched from an AMI without product codes/],
    trigger: preflightWith({}, { instance: { ProductCodes: [{ ProductCodeId: 'aw0evgkw8e5c1q413zgy5pjce', ProductCodeType: 'marketplace' }] } }),
  },
  {
    name: 'preflight: Windows instance',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'Windows instances launched from AWS AMIs cannot be exported',
    cause: 'the instance runs Windows from an AWS-provided AMI',
    fix: 'export an instance launched from an image you imported with VM Import (bring your own license)',
    expect: [/the instance runs Windows \(Windows\)/, /imported with VM Import \(bring your own license\)/],
    trigger: preflightWith({}, { instance: { Platform: 'windows' as 'Windows' /* the API answers lower case; the SDK type says 'Windows' */, PlatformDetails: 'Windows', UsageOperation: 'RunInstances:0002' } }),
  },
  {
    name: 'preflight: SQL Server license included',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'the instance includes SQL Server',
    cause: 'instances with SQL Server license included cannot be exported',
    fix: 'export an instance launched from an AMI without SQL Server license included',
    expect: [/includes SQL Server \(Linux with SQL Server Standard\)/, /AMI without SQL Server license included/],
    trigger: preflightWith({}, { instance: { PlatformDetails: 'Linux with SQL Server Standard', UsageOperation: 'RunInstances:0004' } }),
  },
  {
    name: 'preflight: instance not found',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'does not exist in this account and region',
    cause: 'no instance with that id in the stack\'s account and region',
    fix: 'pass the id of an existing instance, and deploy to the instance\'s account and region',
    expect: [new RegExp(`instance ${INSTANCE} does not exist`), /pass the id of an existing instance/],
    trigger: preflightWith({}, { instance: null }),
  },
  {
    name: 'preflight: instance pending',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'it must be running or stopped',
    cause: 'the instance is pending, stopping, shutting-down or terminated',
    fix: 'wait until it is running or stopped (a terminated instance cannot be exported) and deploy again',
    expect: [/the instance is pending/, /wait until it is .*and deploy again/],
    trigger: preflightWith({}, { instance: { State: { Name: 'pending', Code: 0 } } }),
  },
  {
    name: 'preflight: instance terminated',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'it must be running or stopped',
    cause: 'a terminated instance cannot be exported',
    fix: 'export another instance',
    expect: [/the instance is terminated/, /or export another instance/],
    trigger: preflightWith({}, { instance: { State: { Name: 'terminated', Code: 48 } } }),
  },
  {
    name: 'preflight: two network interfaces',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'network interfaces: only one is supported',
    cause: 'VM Import/Export exports instances with one network interface',
    fix: 'detach the other network interfaces',
    expect: [/the instance has 2 network interfaces/, /detach the others/],
    trigger: preflightWith({}, { instance: { NetworkInterfaces: [{ NetworkInterfaceId: 'eni-1' }, { NetworkInterfaceId: 'eni-2' }] } }),
  },
  {
    name: 'preflight: bucket missing',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'does not exist: create it first',
    cause: 'the export bucket does not exist',
    fix: 'create it (a `VmExportBucket` does) or fix the name',
    expect: [/bucket team-vm-exports does not exist/, /create it first \(a VmExportBucket does\) or fix the name/],
    trigger: preflightWith({ missing: true }),
  },
  {
    name: 'preflight: bucket ACL lacks the service grant',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'to the VM Import/Export canonical ID',
    cause: 'the bucket ACL does not grant READ_ACP and WRITE to the service',
    fix: 'use a `VmExportBucket` or `VmExportBucket.fromBucketName`, which add the grant',
    expect: [new RegExp(`does not grant READ_ACP and WRITE to the VM Import/Export canonical ID ${SERVICE_ID}`), /VmExportBucket\.fromBucketName for an existing bucket, adds it/],
    trigger: preflightWith({ grants: [SERVICE_GRANTS[0]] }),
  },
  {
    name: 'preflight: bucket ACL grants WRITE only',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'to the VM Import/Export canonical ID',
    cause: 'the bucket ACL does not grant READ_ACP to the service',
    fix: 'use a `VmExportBucket` or `VmExportBucket.fromBucketName`, which add the grant',
    expect: [/does not grant READ_ACP to the VM Import\/Export canonical ID/, /adds it/],
    trigger: preflightWith({ grants: [SERVICE_GRANTS[0], SERVICE_GRANTS[2]] }),
  },
  {
    name: 'preflight: KMS bucket',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'VM Import/Export does not support SSE-KMS or DSSE-KMS',
    cause: 'the bucket\'s default encryption is SSE-KMS',
    fix: 'use SSE-S3 (AES256) default encryption',
    expect: [/uses default encryption aws:kms/, /use SSE-S3 \(AES256\)/],
    trigger: preflightWith({ encryption: 'aws:kms' }),
  },
  {
    name: 'preflight: bucket with BucketOwnerEnforced',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'has object ownership BucketOwnerEnforced',
    cause: 'ACLs are disabled, so the service grant cannot work',
    fix: 'set object ownership to BucketOwnerPreferred',
    expect: [/bucket team-vm-exports has object ownership BucketOwnerEnforced/, /set it to BucketOwnerPreferred/],
    trigger: preflightWith({ ownership: 'BucketOwnerEnforced' }),
  },
  {
    name: 'preflight: bucket in another region',
    surface: PREFLIGHT,
    stage: 'deploy: preflight',
    error: 'the export bucket must be in the same region as the instance',
    cause: 'the bucket is in another region than the stack and the instance',
    fix: 'use a bucket in the instance\'s region',
    expect: [/bucket team-vm-exports is in ap-south-1, not in eu-west-1/, /use a bucket in eu-west-1/],
    trigger: preflightWith({ location: 'ap-south-1' }),
  },

  // Buckets of the app, stacks that share things (issue 10) ------------------------------------
  {
    name: 'fromBucket: KMS-encrypted bucket of the app',
    surface: 'VmExportBucket.fromBucket',
    stage: 'synth',
    error: 'VM Import/Export cannot write to a KMS-encrypted bucket',
    cause: 'the app\'s bucket has SSE-KMS or DSSE-KMS default encryption',
    fix: 'use `encryption: s3.BucketEncryption.S3_MANAGED`',
    expect: [/bucket 'BadInput\/Mine' has default encryption aws:kms/, /Use encryption: s3\.BucketEncryption\.S3_MANAGED/],
    trigger: () => {
      const stack = newStack();
      const bucket = new s3.Bucket(stack, 'Mine', { encryption: s3.BucketEncryption.KMS_MANAGED, objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED });
      return VmExportBucket.fromBucket(stack, 'Exports', bucket);
    },
  },
  {
    name: 'fromBucket: BucketOwnerEnforced bucket of the app',
    surface: 'VmExportBucket.fromBucket',
    stage: 'synth',
    error: 'which disables ACLs: VM Import/Export needs an ACL grant',
    cause: 'the app\'s bucket (or the bucket of the same name given to fromBucketName) has object ownership BucketOwnerEnforced',
    fix: 'set `objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED`',
    expect: [/bucket 'BadInput\/Mine' has object ownership BucketOwnerEnforced/, /Set objectOwnership: s3\.ObjectOwnership\.BUCKET_OWNER_PREFERRED/],
    trigger: () => {
      const stack = newStack();
      return VmExportBucket.fromBucket(stack, 'Exports', new s3.Bucket(stack, 'Mine', { objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED }));
    },
  },
  {
    name: 'fromBucket: bucket of a stack in another region',
    surface: 'VmExportBucket.fromBucket',
    stage: 'synth',
    error: 'VM Import/Export writes only to a bucket in the exporting region',
    cause: 'the bucket belongs to a stack of another region (or account)',
    fix: 'use a bucket of the exporting stack\'s region and account',
    expect: [/bucket 'Other\/Mine' is in region us-west-2 but this stack is in eu-west-1/, /Use a bucket of eu-west-1/],
    trigger: () => {
      const app = new App();
      const bucket = new s3.Bucket(new Stack(app, 'Other', { env: { account: ACCOUNT, region: 'us-west-2' } }), 'Mine');
      return VmExportBucket.fromBucket(new Stack(app, 'BadInput', { env: { account: ACCOUNT, region: REGION } }), 'Exports', bucket);
    },
  },
  {
    name: 'fromBucketName: KMS-encrypted bucket of the same app',
    surface: IMPORT,
    stage: 'synth',
    error: 'VM Import/Export cannot write to a KMS-encrypted bucket',
    cause: 'the app creates a bucket of that name with SSE-KMS default encryption',
    fix: 'use `encryption: s3.BucketEncryption.S3_MANAGED` on that bucket',
    expect: [/bucket 'team-vm-exports' \(created by 'BadInput\/Mine\/Resource'\) has default encryption aws:kms/, /S3_MANAGED/],
    trigger: () => {
      const app = new App();
      const stack = new Stack(app, 'BadInput', { env: { account: ACCOUNT, region: REGION } });
      new s3.Bucket(stack, 'Mine', { bucketName: BUCKET, encryption: s3.BucketEncryption.KMS_MANAGED, objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED });
      VmExportBucket.fromBucketName(stack, 'Existing', BUCKET);
      return app.synth();
    },
  },
  {
    name: 'fromBucketName: bucket policy managed by CloudFormation',
    surface: IMPORT,
    stage: 'synth',
    error: 'is managed by CloudFormation (AWS::S3::BucketPolicy',
    cause: 'the app has an AWS::S3::BucketPolicy for the bucket: a statement merged at deploy time would race it and be removed by its next update',
    fix: 'pass the app\'s bucket with `VmExportBucket.fromBucket(bucket)`, or stop managing the bucket\'s policy in the app',
    expect: [/the policy of bucket 'team-vm-exports' is managed by CloudFormation/, /VmExportBucket\.fromBucket\(bucket\)/],
    trigger: () => {
      const app = new App();
      const stack = new Stack(app, 'BadInput', { env: { account: ACCOUNT, region: REGION } });
      VmExportBucket.fromBucketName(stack, 'Existing', BUCKET);
      new s3.BucketPolicy(stack, 'TheirPolicy', { bucket: s3.Bucket.fromBucketName(stack, 'Theirs', BUCKET) });
      return app.synth();
    },
  },
  {
    name: 'export: a plain s3.Bucket as the bucket',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'not an IVmExportBucket',
    cause: 'an `s3.Bucket` was passed where an `IVmExportBucket` belongs (JavaScript has no type check)',
    fix: 'wrap it with `VmExportBucket.fromBucket(this, id, bucket)`, or create a `VmExportBucket`',
    expect: [/bucket is the S3 bucket 'BadInput\/Plain'/, /wrap an existing bucket with VmExportBucket\.fromBucket\(this, id, bucket\)/],
    trigger: () => {
      const stack = newStack();
      const bucket = new s3.Bucket(stack, 'Plain') as unknown as IVmExportBucket;
      return new InstanceExport(stack, 'Export', { instanceId: INSTANCE, bucket, targetEnvironment: TargetEnvironment.VMWARE });
    },
  },
  {
    name: 'export: workflow of another stack',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'so the two stacks would depend on each other',
    cause: 'the `workflow` belongs to another stack',
    fix: 'use the workflow of the export\'s own stack (omit `workflow`)',
    expect: [/workflow 'Workflows\/Workflow' is in stack Workflows but the export is in BadInput/, /Use the workflow of the export's own stack/],
    trigger: () => {
      const app = new App();
      const env = { account: ACCOUNT, region: REGION };
      const workflow = new InstanceExportWorkflow(new Stack(app, 'Workflows', { env }), 'Workflow');
      const stack = new Stack(app, 'BadInput', { env });
      return new InstanceExport(stack, 'Export', { instanceId: INSTANCE, bucket: new VmExportBucket(stack, 'Exports'), targetEnvironment: TargetEnvironment.VMWARE, workflow });
    },
  },
  {
    name: 'export: instance of a stack in another region',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'VM Import/Export exports an instance only in its own region',
    cause: 'instanceId refers to an instance of a stack in another region (or account)',
    fix: 'create the InstanceExport and its bucket in a stack of the instance\'s region and account',
    expect: [/instanceId refers to 'Instances\/Vm', which is in stack Instances of region us-west-2 but the export runs in eu-west-1/, /in a stack of the instance's region/],
    trigger: () => {
      const app = new App();
      const instanceId = new cdkEc2.CfnInstance(new Stack(app, 'Instances', { env: { account: ACCOUNT, region: 'us-west-2' } }), 'Vm', { imageId: 'ami-0123456789abcdef0' }).ref;
      const stack = new Stack(app, 'BadInput', { env: { account: ACCOUNT, region: REGION } });
      return new InstanceExport(stack, 'Export', { instanceId, bucket: new VmExportBucket(stack, 'Exports'), targetEnvironment: TargetEnvironment.VMWARE });
    },
  },
  {
    name: 'export: environment-agnostic bucket, export in a stack with an env',
    surface: EXPORT_PROPS,
    stage: 'synth',
    error: 'an environment-agnostic stack and a stack with an env cannot share resources',
    cause: 'the bucket (or instance) is in an environment-agnostic stack and the export in a stack with an env, or the other way round',
    fix: 'give both stacks the same env, or neither',
    expect: [/bucket 'Buckets\/Exports' is in environment-agnostic stack Buckets but the export is in stack BadInput of region eu-west-1/, /Give both stacks the same env, or neither/],
    trigger: () => {
      const app = new App();
      const bucket = new VmExportBucket(new Stack(app, 'Buckets'), 'Exports');
      const stack = new Stack(app, 'BadInput', { env: { account: ACCOUNT, region: REGION } });
      return new InstanceExport(stack, 'Export', { instanceId: INSTANCE, bucket, targetEnvironment: TargetEnvironment.VMWARE });
    },
  },
  {
    name: 'workflow: notificationTopic after the first export',
    surface: 'InstanceExportWorkflow props',
    stage: 'synth',
    error: 'is created after the first InstanceExport of the stack',
    cause: 'the stack\'s exports already run on the default workflow, which the first InstanceExport created without the topic',
    fix: 'create the InstanceExportWorkflow before the first InstanceExport of the stack',
    expect: [/InstanceExportWorkflow 'Notifying' with a notificationTopic/, /Create the InstanceExportWorkflow first/],
    trigger: () => {
      const stack = newStack();
      new InstanceExport(stack, 'Export', { instanceId: INSTANCE, bucket: new VmExportBucket(stack, 'Exports'), targetEnvironment: TargetEnvironment.VMWARE });
      return new InstanceExportWorkflow(stack, 'Notifying', { notificationTopic: new sns.Topic(stack, 'Topic') });
    },
  },
  {
    name: 'canonical IDs: forRegion with a malformed region',
    surface: 'VmExportCanonicalIds.forRegion',
    stage: 'synth',
    error: 'not a region code',
    cause: 'the string is not a region code (a name, an availability zone, underscores, empty); upper case and blanks are normalised',
    fix: 'pass a code such as `eu-south-1`',
    expect: [/forRegion\("eu_south_1"\)/, /Pass a code such as 'eu-south-1'/],
    trigger: () => VmExportCanonicalIds.forRegion('eu_south_1'),
  },
  {
    name: 'workflow input: unknown key',
    surface: 'InstanceExportWorkflow input',
    stage: 'run: workflow input',
    error: 'the workflow would ignore',
    cause: 'the execution input has a key the workflow does not know (e.g. `s3prefix`, `deadline`), which would otherwise be ignored',
    fix: 'use the documented keys (`WorkflowExportInputs` builds them)',
    expect: [/unknown input field 's3prefix' \(did you mean 's3Prefix'\?\)/, /The valid fields are instanceId, targetEnvironment, s3Bucket/],
    trigger: () => normalizeRequest({ instanceId: INSTANCE, targetEnvironment: 'vmware', s3Bucket: BUCKET, s3prefix: 'vms/' } as any),
  },
];
