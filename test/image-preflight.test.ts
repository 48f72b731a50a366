/**
 * The image export's preflight with aws-sdk-client-mock: every rule of the AMI, the service role
 * and the bucket both ways, every problem reported at once, and the errors the services answer
 * (EC2's and S3's through the fake's awsError, IAM's through the SDK's own exception classes).
 */
import { DescribeExportImageTasksCommand, DescribeImagesCommand, EC2Client, Image } from '@aws-sdk/client-ec2';
import {
  GetRoleCommand,
  IAMClient,
  IAMServiceException,
  NoSuchEntityException,
  SimulatePrincipalPolicyCommand,
  SimulatePrincipalPolicyCommandInput,
} from '@aws-sdk/client-iam';
import {
  GetBucketAclCommand,
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetBucketOwnershipControlsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { Errors } from './support/documented-names';
import { awsError, throttlingError } from './support/fake-aws/errors';
import { TAG_CLIENT_TOKEN } from '../lambda/shared/contract';
import { NormalizedImageRequest } from '../lambda/shared/image-contract';
import {
  checkImage,
  checkImageBucket,
  checkOtherImageExports,
  checkServiceRole,
  partitionOfRegion,
  runImagePreflight,
} from '../lambda/shared/image-preflight';

const ec2Mock = mockClient(EC2Client);
const s3Mock = mockClient(S3Client);
const iamMock = mockClient(IAMClient);
const ec2 = new EC2Client({ region: 'eu-west-1' });
const s3 = new S3Client({ region: 'eu-west-1' });
const iam = new IAMClient({ region: 'eu-west-1' });

const REGION = 'eu-west-1';
const ACCOUNT = '111122223333';
const IMAGE = 'ami-0123456789abcdef0';
const BUCKET = 'my-exports';
const ROLE = 'vmimport';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/${ROLE}`;

const request: NormalizedImageRequest = {
  kind: 'image',
  imageId: IMAGE,
  diskImageFormat: 'VMDK',
  roleName: ROLE,
  s3Bucket: BUCKET,
  s3Prefix: 'exports/',
  tags: [],
  deadlineSeconds: 21600,
  clientToken: 'token-1',
  objectExtension: '.vmdk',
};

/** An exportable AMI: available, ours, x86_64 Linux, one unencrypted 8 GiB EBS volume. */
function goodImage(extra: Partial<Image> = {}): Image {
  return {
    ImageId: IMAGE,
    State: 'available',
    OwnerId: ACCOUNT,
    Architecture: 'x86_64',
    RootDeviceType: 'ebs',
    PlatformDetails: 'Linux/UNIX',
    UsageOperation: 'RunInstances',
    BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-0000000000000000a', VolumeSize: 8, Encrypted: false } }],
    ...extra,
  };
}

/** The guide's trust policy ("Required service role"), as GetRole returns it: URL-encoded JSON. */
function trustDocument(statement: Record<string, unknown> | Array<Record<string, unknown>>): string {
  return encodeURIComponent(JSON.stringify({ Version: '2012-10-17', Statement: statement }));
}
const GUIDE_TRUST = {
  Effect: 'Allow',
  Principal: { Service: 'vmie.amazonaws.com' },
  Action: 'sts:AssumeRole',
  Condition: { StringEquals: { 'sts:Externalid': 'vmimport' } },
};

function iamError(code: string, message: string, httpStatusCode: number): Error {
  if (code === 'NoSuchEntity') {
    return new NoSuchEntityException({ message, $metadata: { httpStatusCode } });
  }
  return new IAMServiceException({ name: code, $fault: httpStatusCode >= 500 ? 'server' : 'client', message, $metadata: { httpStatusCode } });
}

function mockRole(trust: Record<string, unknown> | Array<Record<string, unknown>> = GUIDE_TRUST): void {
  iamMock.on(GetRoleCommand).resolves({
    Role: { RoleName: ROLE, Arn: ROLE_ARN, Path: '/', RoleId: 'AROAEXAMPLE', CreateDate: new Date(0), AssumeRolePolicyDocument: trustDocument(trust) },
  });
}

function mockSimulation(decisions: Record<string, string> = {}): void {
  iamMock.on(SimulatePrincipalPolicyCommand).callsFake((input: SimulatePrincipalPolicyCommandInput) => ({
    EvaluationResults: (input.ActionNames ?? []).map((a) => ({ EvalActionName: a, EvalResourceName: input.ResourceArns?.[0], EvalDecision: decisions[a] ?? 'allowed' })),
    IsTruncated: false,
  }));
}

function mockBucket(region = REGION, algorithm = 'AES256'): void {
  s3Mock.on(GetBucketLocationCommand).resolves({ LocationConstraint: region as never });
  s3Mock.on(GetBucketEncryptionCommand).resolves({
    ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: algorithm as never } }] },
  });
}

function mockAllGood(): void {
  ec2Mock.on(DescribeImagesCommand).resolves({ Images: [goodImage()] });
  ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [] });
  mockRole();
  mockSimulation();
  mockBucket();
}

async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** The numbered problems of a PreflightFailed message. */
function problemsOf(message: string): string[] {
  return message.split(/ \(\d+\) /).slice(1);
}

beforeEach(() => {
  ec2Mock.reset();
  s3Mock.reset();
  iamMock.reset();
});

describe('checkImage', () => {
  async function problemsFor(extra: Partial<Image>): Promise<string[]> {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [goodImage(extra)] });
    return checkImage(ec2, IMAGE, ACCOUNT);
  }

  test('an exportable AMI has no problem; DescribeImages is asked for its id', async () => {
    expect(await problemsFor({})).toEqual([]);
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeImagesCommand, { ImageIds: [IMAGE] });
  });

  test.each([
    ['InvalidAMIID.NotFound', `The image id '[${IMAGE}]' does not exist`],
    ['InvalidAMIID.Unavailable', `The image ID '${IMAGE}' is no longer available`],
  ])('%s: the AMI does not exist here or is not shared', async (code, message) => {
    ec2Mock.on(DescribeImagesCommand).rejects(awsError('ec2', code, message));
    expect(await checkImage(ec2, IMAGE, ACCOUNT)).toEqual([
      `image ${IMAGE} does not exist in this account and region or is not shared with it: pass the id of an AMI of this account in this region (AMI ids differ per region).`,
    ]);
  });

  test('an empty answer is the same problem', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] });
    expect((await checkImage(ec2, IMAGE, ACCOUNT))[0]).toContain('does not exist in this account and region');
  });

  test('throttling is VmExport.Throttled; other errors are thrown as they are', async () => {
    ec2Mock.on(DescribeImagesCommand).rejectsOnce(throttlingError('ec2'))
      .rejectsOnce(awsError('ec2', 'UnauthorizedOperation', 'You are not authorized to perform this operation.'));
    expect((await rejectionOf(checkImage(ec2, IMAGE, ACCOUNT))).name).toBe(Errors.THROTTLED);
    expect((await rejectionOf(checkImage(ec2, IMAGE, ACCOUNT))).name).toBe('UnauthorizedOperation');
  });

  test.each(['pending', 'failed', 'deregistered'])('state %s: only an available AMI', async (State) => {
    expect(await problemsFor({ State: State as never })).toEqual([
      `image ${IMAGE} is ${State}: only an available AMI can be exported; wait until it is available, or export another AMI.`,
    ]);
  });

  test('an AMI of another account (shared or public) cannot be exported', async () => {
    const [problem] = await problemsFor({ OwnerId: '099720109477' });
    expect(problem).toContain(`image ${IMAGE} belongs to account 099720109477, not to this account ${ACCOUNT}`);
    expect(problem).toContain('copy it into this account (CopyImage) and export the copy');
  });

  test('encrypted snapshots are named; unencrypted ones are not', async () => {
    const problems = await problemsFor({
      BlockDeviceMappings: [
        { DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-root', VolumeSize: 8, Encrypted: false } },
        { DeviceName: '/dev/xvdb', Ebs: { SnapshotId: 'snap-data', VolumeSize: 8, Encrypted: true } },
      ],
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('encrypted EBS snapshots: /dev/xvdb (snap-data).');
    expect(problems[0]).not.toContain('snap-root');
    expect(problems[0]).toContain('build the AMI from unencrypted volumes');
  });

  test('a volume of 1024 GiB is exportable, 1025 GiB is not', async () => {
    expect(await problemsFor({ BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-1', VolumeSize: 1024 } }] })).toEqual([]);
    const problems = await problemsFor({ BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-1', VolumeSize: 1025 } }] });
    expect(problems).toEqual([expect.stringContaining('volume /dev/xvda (snap-1) of the image has 1025 GiB: volumes larger than 1 TiB (1024 GiB) are not supported')]);
  });

  test('several volumes are fine (the image list has no one-volume rule)', async () => {
    expect(await problemsFor({
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-1', VolumeSize: 8 } }, { DeviceName: '/dev/xvdb', Ebs: { SnapshotId: 'snap-2', VolumeSize: 100 } }],
    })).toEqual([]);
  });

  test('no EBS volume (instance store) is a problem', async () => {
    const problems = await problemsFor({ RootDeviceType: 'instance-store', BlockDeviceMappings: [{ DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' }] });
    expect(problems).toEqual([expect.stringContaining('the image has no EBS volume in its block device mapping (RootDeviceType instance-store)')]);
  });

  test('Marketplace product codes are named', async () => {
    const [problem] = await problemsFor({ ProductCodes: [{ ProductCodeId: 'abc123', ProductCodeType: 'marketplace' }] });
    expect(problem).toContain('the image has product code abc123 (AWS Marketplace)');
  });

  test.each([
    [{ PlatformDetails: 'Windows', UsageOperation: 'RunInstances:0002', Platform: 'windows' }, 'Windows'],
    [{ PlatformDetails: undefined, UsageOperation: undefined, Platform: 'windows' }, 'windows'],
  ])('license-included Windows %p is refused', async (fields, shown) => {
    const [problem] = await problemsFor(fields as Partial<Image>);
    expect(problem).toContain(`the image runs Windows with an AWS-provided license (${shown})`);
  });

  test('Windows BYOL is left to the service', async () => {
    expect(await problemsFor({ PlatformDetails: 'Windows BYOL', UsageOperation: 'RunInstances:0800', Platform: 'windows' as never })).toEqual([]);
  });

  test('SQL Server is refused', async () => {
    expect(await problemsFor({ PlatformDetails: 'Linux with SQL Server Standard', UsageOperation: 'RunInstances:0004' }))
      .toEqual([expect.stringContaining('the image includes SQL Server (Linux with SQL Server Standard)')]);
  });

  test('arm64 is refused, x86_64 and i386 are not', async () => {
    expect(await problemsFor({ Architecture: 'arm64' })).toEqual([expect.stringContaining('the image\'s architecture is arm64: "VMs using ARM64 architecture are not currently supported"')]);
    expect(await problemsFor({ Architecture: 'i386' })).toEqual([]);
  });

  test('every broken rule of the AMI at once', async () => {
    const problems = await problemsFor({
      State: 'pending',
      OwnerId: '999988887777',
      Architecture: 'arm64',
      ProductCodes: [{ ProductCodeId: 'p1' }],
      PlatformDetails: 'Windows with SQL Server Enterprise',
      UsageOperation: 'RunInstances:0102',
      BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { SnapshotId: 'snap-1', VolumeSize: 2048, Encrypted: true } }],
    });
    expect(problems).toHaveLength(8);
  });
});

describe('checkServiceRole', () => {
  const check = (partition = 'aws') => checkServiceRole(iam, ROLE, BUCKET, 'exports/', partition);

  test('the guide\'s role with the permissions has no problem; both permissions are simulated on the role', async () => {
    mockRole();
    mockSimulation();
    expect(await check()).toEqual([]);
    expect(iamMock).toHaveReceivedCommandWith(GetRoleCommand, { RoleName: ROLE });
    expect(iamMock.commandCalls(SimulatePrincipalPolicyCommand).map((c) => c.args[0].input)).toEqual([
      { PolicySourceArn: ROLE_ARN, ActionNames: ['s3:PutObject'], ResourceArns: [`arn:aws:s3:::${BUCKET}/exports/export-ami-00000000000000000.vmdk`] },
      { PolicySourceArn: ROLE_ARN, ActionNames: ['s3:GetBucketLocation'], ResourceArns: [`arn:aws:s3:::${BUCKET}`] },
    ]);
  });

  test('the partition is in the simulated resources', async () => {
    mockRole();
    mockSimulation({ 's3:PutObject': 'implicitDeny' });
    const [problem] = await check('aws-cn');
    expect(problem).toContain(`service role ${ROLE} is not allowed s3:PutObject on arn:aws-cn:s3:::${BUCKET}/exports/export-ami-00000000000000000.vmdk by its own policies (simulated: implicitDeny)`);
  });

  test('a missing role (NoSuchEntity): create it or name another', async () => {
    iamMock.on(GetRoleCommand).rejects(iamError('NoSuchEntity', `The role with name ${ROLE} cannot be found.`, 404));
    expect(await check()).toEqual([
      `service role ${ROLE} does not exist in this account: create it (a VmImportServiceRole does, or follow the guide's "Required service role") or name an existing role in roleName.`,
    ]);
    expect(iamMock).not.toHaveReceivedCommand(SimulatePrincipalPolicyCommand);
  });

  test('AccessDenied on GetRole: the check cannot run, naming iam:GetRole', async () => {
    iamMock.on(GetRoleCommand).rejects(iamError('AccessDenied',
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/ExportTaskRole/fn is not authorized to perform: iam:GetRole on resource: role ${ROLE} because no identity-based policy allows the iam:GetRole action`, 403));
    expect(await check()).toEqual([`service role ${ROLE} cannot be checked: the export function lacks iam:GetRole on it (AccessDenied); grant it, or set preflight to false.`]);
  });

  test('throttling is VmExport.Throttled; other IAM errors are thrown', async () => {
    iamMock.on(GetRoleCommand).rejectsOnce(iamError('Throttling', 'Rate exceeded', 400)).rejectsOnce(iamError('ServiceFailure', 'boom', 500))
      .rejectsOnce(iamError('InvalidInput', 'bad', 400));
    expect((await rejectionOf(check())).name).toBe(Errors.THROTTLED);
    expect((await rejectionOf(check())).name).toBe(Errors.TRANSIENT);
    expect((await rejectionOf(check())).name).toBe('InvalidInput');
  });

  test('a trust policy without vmie.amazonaws.com is a problem with the guide\'s trust policy as the fix', async () => {
    mockRole({ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' });
    mockSimulation();
    expect(await check()).toEqual([
      `service role ${ROLE} does not trust vmie.amazonaws.com, so VM Import/Export cannot use it: in its trust policy, allow the service principal vmie.amazonaws.com sts:AssumeRole with the condition StringEquals sts:ExternalId = vmimport (VM Import/Export User Guide, "Required service role").`,
    ]);
  });

  test('a Deny statement or another action does not trust the service', async () => {
    mockRole([{ ...GUIDE_TRUST, Effect: 'Deny' }, { ...GUIDE_TRUST, Action: 'sts:TagSession' }]);
    mockSimulation();
    expect((await check())[0]).toContain('does not trust vmie.amazonaws.com');
  });

  test.each([
    ['no condition', { Effect: 'Allow', Principal: { Service: 'vmie.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    ['a list of principals and actions', { Effect: 'Allow', Principal: { Service: ['ec2.amazonaws.com', 'vmie.amazonaws.com'] }, Action: ['sts:TagSession', 'sts:AssumeRole'] }],
    ['sts:ExternalId spelt as IAM does', { ...GUIDE_TRUST, Condition: { StringEquals: { 'sts:ExternalId': 'vmimport' } } }],
    ['StringLike with a wildcard', { ...GUIDE_TRUST, Condition: { StringLike: { 'sts:ExternalId': 'vm*' } } }],
    ['a wildcard action', { ...GUIDE_TRUST, Action: 'sts:*' }],
    ['the guide\'s extra hardening', { ...GUIDE_TRUST, Condition: { StringEquals: { 'sts:Externalid': 'vmimport', 'aws:SourceAccount': ACCOUNT } } }],
  ])('trust with %s is accepted', async (_, statement) => {
    mockRole(statement);
    mockSimulation();
    expect(await check()).toEqual([]);
  });

  test('an ExternalId other than vmimport is a problem: the service could not assume the role', async () => {
    mockRole({ ...GUIDE_TRUST, Condition: { StringEquals: { 'sts:ExternalId': 'my-secret' } } });
    mockSimulation();
    expect(await check()).toEqual([expect.stringContaining(`service role ${ROLE} lets vmie.amazonaws.com assume it only with an sts:ExternalId other than 'vmimport'`)]);
  });

  test('a trust policy that is not JSON is a problem', async () => {
    iamMock.on(GetRoleCommand).resolves({ Role: { RoleName: ROLE, Arn: ROLE_ARN, Path: '/', RoleId: 'R', CreateDate: new Date(0), AssumeRolePolicyDocument: '%7Bnot' } });
    mockSimulation();
    expect((await check())[0]).toContain(`the trust policy of service role ${ROLE} cannot be read as JSON`);
  });

  test('each permission that is not allowed is named with its resource, and the trust problem too, at once', async () => {
    mockRole({ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' });
    mockSimulation({ 's3:PutObject': 'explicitDeny', 's3:GetBucketLocation': 'implicitDeny' });
    const problems = await check();
    expect(problems).toHaveLength(3);
    expect(problems[1]).toContain(`is not allowed s3:PutObject on arn:aws:s3:::${BUCKET}/exports/export-ami-00000000000000000.vmdk by its own policies (simulated: explicitDeny)`);
    expect(problems[2]).toContain(`is not allowed s3:GetBucketLocation on arn:aws:s3:::${BUCKET} by its own policies (simulated: implicitDeny)`);
    expect(problems[2]).toContain('add it to the role\'s policy');
  });

  test('a denial that depends on condition keys the simulation lacks is not a refusal (unverified, logged); an explicit deny still is', async () => {
    mockRole();
    iamMock.on(SimulatePrincipalPolicyCommand).resolves({ EvaluationResults: [{ EvalActionName: 's3:PutObject', EvalDecision: 'implicitDeny', MissingContextValues: ['s3:x-amz-acl'] }] });
    expect(await check()).toEqual([]);
    iamMock.on(SimulatePrincipalPolicyCommand).resolves({ EvaluationResults: [{ EvalActionName: 's3:PutObject', EvalDecision: 'explicitDeny', MissingContextValues: ['s3:x-amz-acl'] }] });
    expect((await check())[0]).toContain('(simulated: explicitDeny)');
  });

  test('a role scoped to <prefix>export-ami-* is allowed: the simulated object is a key the export would write', async () => {
    mockRole();
    mockSimulation({});
    await check();
    const simulated = iamMock.commandCalls(SimulatePrincipalPolicyCommand).flatMap((c) => c.args[0].input.ResourceArns ?? []);
    expect(simulated).toContain(`arn:aws:s3:::${BUCKET}/exports/export-ami-00000000000000000.vmdk`);
    expect(simulated.every((r) => !r.endsWith('*'))).toBe(true);
  });

  test('AccessDenied on SimulatePrincipalPolicy: one problem naming the permission', async () => {
    mockRole();
    iamMock.on(SimulatePrincipalPolicyCommand).rejects(iamError('AccessDenied', 'not authorized to perform: iam:SimulatePrincipalPolicy', 403));
    expect(await check()).toEqual([
      `the permissions of service role ${ROLE} cannot be checked: the export function lacks iam:SimulatePrincipalPolicy on ${ROLE_ARN} (AccessDenied); grant it, or set preflight to false.`,
    ]);
  });
});

describe('checkImageBucket', () => {
  test('a bucket in the region with SSE-S3 has no problem, and no ACL or ownership is read', async () => {
    mockBucket();
    expect(await checkImageBucket(s3, BUCKET, REGION)).toEqual([]);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketAclCommand);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketOwnershipControlsCommand);
  });

  test('no default encryption is fine', async () => {
    s3Mock.on(GetBucketLocationCommand).resolves({ LocationConstraint: REGION as never });
    s3Mock.on(GetBucketEncryptionCommand).rejects(awsError('s3', 'ServerSideEncryptionConfigurationNotFoundError', 'The server side encryption configuration was not found', 404));
    expect(await checkImageBucket(s3, BUCKET, REGION)).toEqual([]);
  });

  test('a bucket in another region', async () => {
    mockBucket('us-west-2');
    expect(await checkImageBucket(s3, BUCKET, REGION)).toEqual([
      `bucket ${BUCKET} is in us-west-2, not in ${REGION}: the export bucket must be in the region of the AMI; use a bucket in ${REGION}.`,
    ]);
  });

  test.each(['aws:kms', 'aws:kms:dsse'])('default encryption %s is refused', async (algorithm) => {
    mockBucket(REGION, algorithm);
    expect(await checkImageBucket(s3, BUCKET, REGION)).toEqual([expect.stringContaining(`bucket ${BUCKET} uses default encryption ${algorithm}`)]);
  });

  test('a missing bucket', async () => {
    s3Mock.on(GetBucketLocationCommand).rejects(awsError('s3', 'NoSuchBucket', 'The specified bucket does not exist', 404));
    expect(await checkImageBucket(s3, BUCKET, REGION)).toEqual([expect.stringContaining(`bucket ${BUCKET} does not exist`)]);
  });
});

describe('checkOtherImageExports', () => {
  test('an active task of the AMI that is not this request\'s is a problem; ours, finished or other AMIs are not', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({
      ExportImageTasks: [
        { ExportImageTaskId: 'export-ami-other', ImageId: IMAGE, Status: 'active' },
        { ExportImageTaskId: 'export-ami-ours', ImageId: IMAGE, Status: 'active', Tags: [{ Key: TAG_CLIENT_TOKEN, Value: 'token-1' }] },
        { ExportImageTaskId: 'export-ami-done', ImageId: IMAGE, Status: 'completed' },
        { ExportImageTaskId: 'export-ami-else', ImageId: 'ami-99999999', Status: 'active' },
      ],
    });
    expect(await checkOtherImageExports(ec2, request)).toEqual([
      `export image task export-ami-other of image ${IMAGE} is in progress: only one export image task per AMI may be in progress (the guide); wait until it ends (or cancel it) and export again.`,
    ]);
    expect(await checkOtherImageExports(ec2, { ...request, adoptExportTaskId: 'export-ami-other' })).toEqual([]);
  });
});

describe('runImagePreflight', () => {
  test('everything in order: resolves', async () => {
    mockAllGood();
    await expect(runImagePreflight({ ec2, s3, iam }, request, REGION, ACCOUNT)).resolves.toBeUndefined();
  });

  test('problems of the AMI, the role and the bucket in one numbered VmExport.PreflightFailed', async () => {
    mockAllGood();
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [goodImage({ Architecture: 'arm64' })] });
    iamMock.on(GetRoleCommand).rejects(iamError('NoSuchEntity', `The role with name ${ROLE} cannot be found.`, 404));
    mockBucket('us-east-2');
    const err = await rejectionOf(runImagePreflight({ ec2, s3, iam }, request, REGION, ACCOUNT));
    expect(err.name).toBe(Errors.PREFLIGHT_FAILED);
    expect(err.message.startsWith(`Preflight checks failed for the export of ${IMAGE} to bucket ${BUCKET}: (1) `)).toBe(true);
    const problems = problemsOf(err.message);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toContain('architecture is arm64');
    expect(problems[1]).toContain(`service role ${ROLE} does not exist`);
    expect(problems[2]).toContain('is in us-east-2');
  });

  test('the region\'s partition is simulated', async () => {
    mockAllGood();
    mockBucket('cn-north-1');
    await runImagePreflight({ ec2, s3, iam }, request, 'cn-north-1', ACCOUNT);
    expect(iamMock).toHaveReceivedCommandWith(SimulatePrincipalPolicyCommand, { ResourceArns: [`arn:aws-cn:s3:::${BUCKET}`] });
  });

  test('throttling is VmExport.Throttled, not a problem', async () => {
    mockAllGood();
    s3Mock.on(GetBucketEncryptionCommand).rejects(throttlingError('s3'));
    expect((await rejectionOf(runImagePreflight({ ec2, s3, iam }, request, REGION, ACCOUNT))).name).toBe(Errors.THROTTLED);
  });
});

test.each([['eu-west-1', 'aws'], ['cn-northwest-1', 'aws-cn'], ['us-gov-west-1', 'aws-us-gov'], ['us-iso-east-1', 'aws-iso'], ['us-isob-east-1', 'aws-iso-b'], ['eusc-de-east-1', 'aws-eusc']])(
  'partitionOfRegion(%s) is %s', (region, partition) => {
    expect(partitionOfRegion(region)).toBe(partition);
  });
