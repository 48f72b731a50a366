/**
 * Pins every decision of lambda/shared/preflight.ts and lambda/shared/signal.ts: each condition,
 * boundary, literal message and numeric bound has a test here that fails when it changes.
 *
 * Expected values come from the documents, not from the code: EC2 shapes and billing codes from
 * SPEC sections 2, 3 and 5 and the EC2 API reference ("AMI billing information fields":
 * PlatformDetails / UsageOperation pairs; `Platform` is `windows` in DescribeInstances answers,
 * the SDK's enum spells it `Windows`), S3 error codes from the S3 API reference (NoSuchBucket 404,
 * AccessDenied 403, PermanentRedirect 301, SlowDown 503, InternalError 500; GetBucketLocation's
 * LocationConstraint null / '' for us-east-1 and 'EU' for old eu-west-1 buckets), the signal
 * rules from SPEC section 4 and the README ("each HTTP attempt is cut off after 10 s, 4 attempts
 * at most"). Fakes throw service exceptions as the SDK does: `name` = the error code,
 * `$metadata.httpStatusCode` = the status. Expected messages are literals.
 */
import {
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  EC2Client,
  EC2ServiceException,
  Instance,
  Volume,
} from '@aws-sdk/client-ec2';
import {
  GetBucketAclCommand,
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetBucketOwnershipControlsCommand,
  Grant,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { Errors } from './support/documented-names';
import { SPEC_DEFAULT_CANONICAL_ID, specCanonicalId } from './support/spec-canonical-ids';
import { checkBucket, checkInstance, runPreflight } from '../lambda/shared/preflight';
import { buildSignal, FetchLike, parseSuccessData, sendSignal, successData, WaitConditionSignal } from '../lambda/shared/signal';

const ec2Mock = mockClient(EC2Client);
const s3Mock = mockClient(S3Client);
const ec2 = new EC2Client({ region: 'eu-west-1' });
const s3 = new S3Client({ region: 'eu-west-1' });

const REGION = 'eu-west-1';
const INSTANCE = 'i-0123456789abcdef0';
const BUCKET = 'vm-exports-units';
const VOL_A = 'vol-0aaaaaaaaaaaaaaa1';
const VOL_B = 'vol-0bbbbbbbbbbbbbbb2';
/** SPEC section 1: eu-west-1 has no row of its own, so the default ID. */
const CANONICAL = specCanonicalId(REGION);

// ---------------------------------------------------------------------------------------------
// Fakes
// ---------------------------------------------------------------------------------------------

function ec2Error(code: string, message: string, status: number): EC2ServiceException {
  return new EC2ServiceException({ name: code, message, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

function s3Error(code: string, message: string, status: number): S3ServiceException {
  return new S3ServiceException({ name: code, message, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

/** A stopped EBS-backed Linux instance with one volume and one network interface. */
function instance(change: Partial<Instance> = {}): Instance {
  return {
    InstanceId: INSTANCE,
    State: { Name: 'stopped' },
    RootDeviceType: 'ebs',
    BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: VOL_A } }],
    NetworkInterfaces: [{ NetworkInterfaceId: 'eni-0123456789abcdef0' }],
    ProductCodes: [],
    PlatformDetails: 'Linux/UNIX',
    UsageOperation: 'RunInstances',
    ...change,
  };
}

function answerInstance(i: Instance): void {
  ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [i] }] });
}

function answerVolumes(volumes: Volume[]): void {
  ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: volumes });
}

const goodVolume = (id: string, change: Partial<Volume> = {}): Volume => ({ VolumeId: id, Encrypted: false, Size: 8, ...change });

function grant(permission: string, id = CANONICAL, type = 'CanonicalUser'): Grant {
  return { Grantee: { Type: type as never, ID: id }, Permission: permission as never };
}

/** A bucket in `location` with ACLs enabled, SSE-S3 and READ_ACP + WRITE for `canonicalId`. */
function goodBucket(location: string = REGION, canonicalId = CANONICAL): void {
  s3Mock.on(GetBucketLocationCommand).resolves({ LocationConstraint: location as never });
  s3Mock.on(GetBucketOwnershipControlsCommand).resolves({ OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] } });
  s3Mock.on(GetBucketEncryptionCommand).resolves({
    ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
  });
  s3Mock.on(GetBucketAclCommand).resolves({
    Owner: { ID: 'f'.repeat(64) },
    Grants: [grant('FULL_CONTROL', 'f'.repeat(64)), grant('READ_ACP', canonicalId), grant('WRITE', canonicalId)],
  });
}

async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

// ---------------------------------------------------------------------------------------------
// The expected problems, written out.
// ---------------------------------------------------------------------------------------------

const NO_INSTANCE = `instance ${INSTANCE} does not exist in this account and region: pass the id of an existing instance, and deploy the stack to the instance's account and region.`;
const badState = (state: string) => `the instance is ${state}: it must be running or stopped; wait until it is (or export another instance) and deploy again.`;
const INSTANCE_STORE = 'the root device is an instance store volume (RootDeviceType instance-store): only EBS-backed instances can be exported; move the workload to an instance with an EBS root volume and export that.';
const severalVolumes = (n: number) => `the instance has ${n} volumes in its block device mapping: exactly one is supported (the service refuses the export with Client.UnsupportedOperation "This instance has multiple volumes attached"); detach the others (or export an AMI of it instead).`;
const NO_VOLUMES = 'the instance has no volumes in its block device mapping: exactly one EBS volume is supported; export an instance with one EBS root volume.';
const severalNics = (n: number) => `the instance has ${n} network interfaces: only one is supported; detach the others.`;
const marketplace = (codes: string) => `the instance was launched from an AWS Marketplace AMI (product code ${codes}): such instances cannot be exported; export an instance launched from an AMI without product codes.`;
const windows = (what: string) => `the instance runs Windows (${what}): Windows instances launched from AWS AMIs cannot be exported; export an instance launched from an image you imported with VM Import (bring your own license).`;
const sqlServer = (what: string) => `the instance includes SQL Server (${what}): such instances cannot be exported; export an instance launched from an AMI without SQL Server license included.`;
const encrypted = (id: string) => `volume ${id} is encrypted: encrypted EBS volumes cannot be exported; copy the instance to an unencrypted volume first.`;
const tooBig = (id: string, gib: number) => `volume ${id} has ${gib} GiB: at most 1024 GiB (1 TiB) can be exported; move the data to a root volume of at most 1024 GiB and export again.`;
const volumeNotFound = (id: string) => `volume ${id} was not found: check the instance's block device mapping.`;
const volumesNotFound = (ids: string) => `volumes ${ids} were not found: check the instance's block device mapping.`;

const noBucket = (b: string) => `bucket ${b} does not exist: create it first (a VmExportBucket does) or fix the name.`;
const bucketDenied = (b: string) => `bucket ${b} cannot be read (AccessDenied): it must belong to this account, and the handler needs s3:GetBucketLocation on it.`;
const otherRegion = (b: string, is: string, want: string) =>
  `bucket ${b} is in ${is}, not in ${want}: the export bucket must be in the same region as the instance; use a bucket in ${want}.`;
const aclsOff = (b: string) => `bucket ${b} has object ownership BucketOwnerEnforced (ACLs disabled): set it to BucketOwnerPreferred.`;
const kmsProblem = (b: string, algorithm: string) =>
  `bucket ${b} uses default encryption ${algorithm}: VM Import/Export does not support SSE-KMS or DSSE-KMS; use SSE-S3 (AES256).`;
const noGrant = (b: string, what: string, id: string) =>
  `bucket ${b} does not grant ${what} to the VM Import/Export canonical ID ${id}: add the grant (a VmExportBucket, or VmExportBucket.fromBucketName for an existing bucket, adds it).`;

const throttled = (what: string, code: string, message: string) =>
  `AWS throttled ${what} (${code}: ${message}). The workflow retries with backoff; if it persists, lower the API call rate in this account and region.`;
const transient = (what: string, code: string, message: string) =>
  `${what} failed with a transient error (${code}: ${message}). The workflow retries with backoff.`;

beforeEach(() => {
  ec2Mock.reset();
  s3Mock.reset();
});

// =============================================================================================
// preflight.ts: the instance
// =============================================================================================

describe('checkInstance: Windows (license-included is refused, BYOL is left to the service)', () => {
  beforeEach(() => answerVolumes([goodVolume(VOL_A)]));

  // [name, PlatformDetails, UsageOperation, Platform, expected problems]
  test.each<[string, string | undefined, string | undefined, string | undefined, string[]]>([
    // As DescribeInstances reports license-included Windows (the billing table's pairs).
    ['Windows / RunInstances:0002', 'Windows', 'RunInstances:0002', 'windows', [windows('Windows')]],
    ['Windows with SQL Server Standard / 0006', 'Windows with SQL Server Standard', 'RunInstances:0006', 'windows',
      [windows('Windows with SQL Server Standard'), sqlServer('Windows with SQL Server Standard')]],
    ['Windows with SQL Server Enterprise / 0102', 'Windows with SQL Server Enterprise', 'RunInstances:0102', 'windows',
      [windows('Windows with SQL Server Enterprise'), sqlServer('Windows with SQL Server Enterprise')]],
    ['Windows with SQL Server Web / 0202', 'Windows with SQL Server Web', 'RunInstances:0202', 'windows',
      [windows('Windows with SQL Server Web'), sqlServer('Windows with SQL Server Web')]],
    // The billing code alone decides (nothing else reported): the message names the code.
    ['only RunInstances:0002', undefined, 'RunInstances:0002', undefined, [windows('RunInstances:0002')]],
    ['only RunInstances:0006', undefined, 'RunInstances:0006', undefined, [windows('RunInstances:0006'), sqlServer('RunInstances:0006')]],
    ['only RunInstances:0102', undefined, 'RunInstances:0102', undefined, [windows('RunInstances:0102'), sqlServer('RunInstances:0102')]],
    ['only RunInstances:0202', undefined, 'RunInstances:0202', undefined, [windows('RunInstances:0202'), sqlServer('RunInstances:0202')]],
    // The license-included billing code wins over BYOL platform details.
    ['RunInstances:0002 with Windows BYOL details', 'Windows BYOL', 'RunInstances:0002', 'windows', [windows('Windows BYOL')]],
    // No billing code: the platform details decide.
    ['only the details Windows', 'Windows', undefined, undefined, [windows('Windows')]],
    ['details Windows, an unknown billing code', 'Windows', 'RunInstances:9999', undefined, [windows('Windows')]],
    ['only the details Windows with SQL Server Standard', 'Windows with SQL Server Standard', undefined, undefined,
      [windows('Windows with SQL Server Standard'), sqlServer('Windows with SQL Server Standard')]],
    ['details Windows, Platform windows, empty billing code', 'Windows', '', 'windows', [windows('Windows')]],
    // Neither billing code nor details: the Platform (either spelling) decides; the message names it.
    ['only Platform windows (fields absent)', undefined, undefined, 'windows', [windows('windows')]],
    ['only Platform windows (fields empty)', '', '', 'windows', [windows('windows')]],
    ['only Platform Windows (the SDK enum spelling)', undefined, undefined, 'Windows', [windows('Windows')]],
    ['only Platform WINDOWS', undefined, undefined, 'WINDOWS', [windows('WINDOWS')]],
  ])('refused: %s', async (_name, details, usage, platform, problems) => {
    answerInstance(instance({ PlatformDetails: details, UsageOperation: usage, Platform: platform as never }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual(problems);
  });

  test.each<[string, string | undefined, string | undefined, string | undefined]>([
    // Windows BYOL (SPEC section 3: not license-included, let the service decide).
    ['Windows BYOL as AWS reports it', 'Windows BYOL', 'RunInstances:0800', 'windows'],
    ['the BYOL billing code wins over Windows details', 'Windows', 'RunInstances:0800', 'windows'],
    ['the BYOL billing code alone, with Platform windows', undefined, 'RunInstances:0800', 'windows'],
    ['BYOL details, no billing code', 'Windows BYOL', undefined, 'windows'],
    ['BYOL details, empty billing code', 'Windows BYOL', '', 'windows'],
    ['BYOL details in lower case', 'windows byol', undefined, 'windows'],
    // Linux and other platforms of the billing table.
    ['Linux/UNIX', 'Linux/UNIX', 'RunInstances', undefined],
    ['Red Hat Enterprise Linux', 'Red Hat Enterprise Linux', 'RunInstances:0010', undefined],
    ['Red Hat BYOL Linux', 'Red Hat BYOL Linux', 'RunInstances:00g0', undefined],
    ['SUSE Linux', 'SUSE Linux', 'RunInstances:000g', undefined],
    ['Ubuntu Pro', 'Ubuntu Pro', 'RunInstances:0g00', undefined],
    ['nothing reported at all', undefined, undefined, undefined],
    ['empty fields', '', '', undefined],
    ['empty fields and another platform', '', '', 'linux'],
    // Platform windows counts only when neither details nor billing code is reported.
    ['Platform windows, but the details say Linux/UNIX', 'Linux/UNIX', undefined, 'windows'],
    ['Platform windows, but the billing code is Linux (RunInstances)', undefined, 'RunInstances', 'windows'],
    ['Platform windows, details Linux/UNIX and code RunInstances', 'Linux/UNIX', 'RunInstances', 'windows'],
  ])('not refused: %s', async (_name, details, usage, platform) => {
    answerInstance(instance({ PlatformDetails: details, UsageOperation: usage, Platform: platform as never }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([]);
  });
});

describe('checkInstance: SQL Server (by the details or by the billing code)', () => {
  beforeEach(() => answerVolumes([goodVolume(VOL_A)]));

  test.each<[string, string | undefined, string | undefined, string[]]>([
    ['Linux with SQL Server Standard / 0004', 'Linux with SQL Server Standard', 'RunInstances:0004', [sqlServer('Linux with SQL Server Standard')]],
    ['Linux with SQL Server Enterprise / 0100', 'Linux with SQL Server Enterprise', 'RunInstances:0100', [sqlServer('Linux with SQL Server Enterprise')]],
    ['Linux with SQL Server Web / 0200', 'Linux with SQL Server Web', 'RunInstances:0200', [sqlServer('Linux with SQL Server Web')]],
    ['only RunInstances:0004', undefined, 'RunInstances:0004', [sqlServer('RunInstances:0004')]],
    ['only RunInstances:0100', undefined, 'RunInstances:0100', [sqlServer('RunInstances:0100')]],
    ['only RunInstances:0200', undefined, 'RunInstances:0200', [sqlServer('RunInstances:0200')]],
    ['the code with Linux/UNIX details', 'Linux/UNIX', 'RunInstances:0100', [sqlServer('Linux/UNIX')]],
    // RHEL with SQL Server has its own codes (0014, 0110, 0210): the details decide.
    ['RHEL with SQL Server Standard / 0014', 'Red Hat Enterprise Linux with SQL Server Standard', 'RunInstances:0014',
      [sqlServer('Red Hat Enterprise Linux with SQL Server Standard')]],
    ['details only, no code', 'Linux with SQL Server Web', undefined, [sqlServer('Linux with SQL Server Web')]],
    ['details in lower case', 'linux with sql server web', 'RunInstances', [sqlServer('linux with sql server web')]],
  ])('refused: %s', async (_name, details, usage, problems) => {
    answerInstance(instance({ PlatformDetails: details, UsageOperation: usage }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual(problems);
  });

  test.each<[string, string | undefined, string | undefined]>([
    ['Linux/UNIX', 'Linux/UNIX', 'RunInstances'],
    ['Red Hat Enterprise Linux', 'Red Hat Enterprise Linux', 'RunInstances:0010'],
    ['SQL without "Server"', 'Linux with SQLServer', 'RunInstances'],
    ['nothing reported', undefined, undefined],
  ])('not refused: %s', async (_name, details, usage) => {
    answerInstance(instance({ PlatformDetails: details, UsageOperation: usage }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([]);
  });
});

describe('checkInstance: state, root device, mapping, network interfaces, product codes', () => {
  beforeEach(() => answerVolumes([goodVolume(VOL_A), goodVolume(VOL_B)]));

  test.each(['running', 'stopped'])('%s passes', async (state) => {
    answerInstance(instance({ State: { Name: state as never } }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([]);
  });

  test.each(['pending', 'stopping', 'shutting-down', 'terminated'])('%s is refused', async (state) => {
    answerInstance(instance({ State: { Name: state as never } }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([badState(state)]);
  });

  test('a state that is not reported is "unknown"', async () => {
    answerInstance(instance({ State: undefined }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([badState('unknown')]);
    answerInstance(instance({ State: {} }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([badState('unknown')]);
  });

  test('an instance-store root with no mapping is one problem (not "no volumes" too); DescribeVolumes is not called', async () => {
    answerInstance(instance({ RootDeviceType: 'instance-store', BlockDeviceMappings: [] }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([INSTANCE_STORE]);
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeVolumesCommand);
  });

  test('an instance-store root with an EBS mapping is refused as instance store', async () => {
    answerInstance(instance({ RootDeviceType: 'instance-store' }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([INSTANCE_STORE]);
  });

  test('an EBS root with no mapping (empty or absent): "no volumes"; DescribeVolumes is not called', async () => {
    answerInstance(instance({ BlockDeviceMappings: [] }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([NO_VOLUMES]);
    answerInstance(instance({ BlockDeviceMappings: undefined }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([NO_VOLUMES]);
    answerInstance(instance({ RootDeviceType: undefined, BlockDeviceMappings: [] }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([NO_VOLUMES]);
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeVolumesCommand);
  });

  test('one mapping passes; two and three are refused with their count', async () => {
    answerInstance(instance());
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([]);
    answerInstance(instance({ BlockDeviceMappings: [{ Ebs: { VolumeId: VOL_A } }, { Ebs: { VolumeId: VOL_B } }] }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([severalVolumes(2)]);
    answerVolumes([goodVolume(VOL_A), goodVolume(VOL_B), goodVolume('vol-0ccccccccccccccc3')]);
    answerInstance(instance({ BlockDeviceMappings: [VOL_A, VOL_B, 'vol-0ccccccccccccccc3'].map((id) => ({ Ebs: { VolumeId: id } })) }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([severalVolumes(3)]);
  });

  test('mapping entries without an EBS volume id are not sent to DescribeVolumes', async () => {
    answerInstance(instance({ BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: VOL_A } }, { DeviceName: '/dev/sdb' }] }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([severalVolumes(2)]);
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeVolumesCommand, 1);
    expect(ec2Mock.commandCalls(DescribeVolumesCommand)[0].args[0].input).toEqual({ VolumeIds: [VOL_A] });
  });

  test('zero or one network interface passes; two are refused with their count', async () => {
    for (const nics of [undefined, [], [{ NetworkInterfaceId: 'eni-1' }]]) {
      answerInstance(instance({ NetworkInterfaces: nics }));
      await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([]);
    }
    answerInstance(instance({ NetworkInterfaces: [{ NetworkInterfaceId: 'eni-1' }, { NetworkInterfaceId: 'eni-2' }] }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([severalNics(2)]);
  });

  test('product codes: none (empty or absent) passes; one or more are refused, each named', async () => {
    for (const codes of [undefined, []]) {
      answerInstance(instance({ ProductCodes: codes }));
      await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([]);
    }
    answerInstance(instance({ ProductCodes: [{ ProductCodeId: 'aw0evgkw8e5c1q413zgy5pjce', ProductCodeType: 'marketplace' }] }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([marketplace('aw0evgkw8e5c1q413zgy5pjce')]);
    answerInstance(instance({ ProductCodes: [{ ProductCodeId: 'code1' }, { ProductCodeId: 'code2' }] }));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([marketplace('code1, code2')]);
  });

  test('every broken rule is listed, in the order state, root, mapping, interfaces, product codes, Windows, SQL Server, volumes', async () => {
    answerInstance(instance({
      State: { Name: 'pending' },
      RootDeviceType: 'instance-store',
      BlockDeviceMappings: [{ Ebs: { VolumeId: VOL_A } }, { Ebs: { VolumeId: VOL_B } }],
      NetworkInterfaces: [{}, {}, {}],
      ProductCodes: [{ ProductCodeId: 'pc' }],
      PlatformDetails: 'Windows with SQL Server Web',
      UsageOperation: 'RunInstances:0202',
      Platform: 'windows' as never, // as DescribeInstances answers (the SDK's enum spells it Windows)
    }));
    answerVolumes([goodVolume(VOL_A, { Encrypted: true }), goodVolume(VOL_B)]);
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([
      badState('pending'), INSTANCE_STORE, severalVolumes(2), severalNics(3), marketplace('pc'),
      windows('Windows with SQL Server Web'), sqlServer('Windows with SQL Server Web'), encrypted(VOL_A),
    ]);
  });
});

describe('checkInstance: DescribeInstances answers and errors', () => {
  test.each<[string, object]>([
    ['no reservations', { Reservations: [] }],
    ['no Reservations field', {}],
    ['a reservation without Instances', { Reservations: [{}] }],
    ['only another instance', { Reservations: [{ Instances: [instance({ InstanceId: 'i-0fedcba9876543210' })] }] }],
  ])('%s: the instance does not exist; DescribeVolumes is not called', async (_name, answer) => {
    ec2Mock.on(DescribeInstancesCommand).resolves(answer);
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([NO_INSTANCE]);
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeVolumesCommand);
  });

  test('the instance is found among others, in any reservation; the request names only it', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [instance({ InstanceId: 'i-0fedcba9876543210', State: { Name: 'pending' } })] },
        { Instances: [instance({ InstanceId: 'i-0aaaaaaaaaaaaaaa0', State: { Name: 'terminated' } }), instance()] },
      ],
    });
    answerVolumes([goodVolume(VOL_A)]);
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([]);
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeInstancesCommand, { InstanceIds: [INSTANCE] });
  });

  test.each([
    ['InvalidInstanceID.NotFound', `The instance ID '${INSTANCE}' does not exist`],
    ['InvalidInstanceID.Malformed', `Invalid id: "${INSTANCE}"`],
  ])('%s: the instance does not exist', async (code, message) => {
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error(code, message, 400));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([NO_INSTANCE]);
  });

  test.each([
    ['UnauthorizedOperation', 'You are not authorized to perform this operation.', 403],
    ['AuthFailure', 'AWS was not able to validate the provided access credentials', 401],
    ['InvalidParameterValue', 'Value (x) for parameter instanceId is invalid.', 400],
    ['NotInvalidInstanceID', 'a code that only contains the prefix', 400],
  ])('%s is thrown as it is', async (code, message, status) => {
    const error = ec2Error(code, message, status);
    ec2Mock.on(DescribeInstancesCommand).rejects(error);
    await expect(checkInstance(ec2, INSTANCE)).rejects.toBe(error);
  });

  test('throttling is VmExport.Throttled naming DescribeInstances and the instance', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503));
    const err = await rejectionOf(checkInstance(ec2, INSTANCE));
    expect(err.name).toBe(Errors.THROTTLED);
    expect(err.message).toBe(throttled(`DescribeInstances for ${INSTANCE}`, 'RequestLimitExceeded', 'Request limit exceeded.'));
  });

  test('an internal error is VmExport.Transient naming DescribeInstances and the instance', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error('InternalError', 'An internal error has occurred.', 500));
    const err = await rejectionOf(checkInstance(ec2, INSTANCE));
    expect(err.name).toBe(Errors.TRANSIENT);
    expect(err.message).toBe(transient(`DescribeInstances for ${INSTANCE}`, 'InternalError', 'An internal error has occurred.'));
  });
});

describe('checkInstance: volumes (DescribeVolumes)', () => {
  const twoVolumes = () => answerInstance(instance({ BlockDeviceMappings: [{ Ebs: { VolumeId: VOL_A } }, { Ebs: { VolumeId: VOL_B } }] }));

  test('one call with every volume id, in mapping order', async () => {
    twoVolumes();
    answerVolumes([goodVolume(VOL_B), goodVolume(VOL_A)]);
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([severalVolumes(2)]);
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeVolumesCommand, 1);
    expect(ec2Mock.commandCalls(DescribeVolumesCommand)[0].args[0].input).toEqual({ VolumeIds: [VOL_A, VOL_B] });
  });

  test.each<[string, Partial<Volume>, string[]]>([
    ['unencrypted 8 GiB', {}, []],
    ['Encrypted absent', { Encrypted: undefined }, []],
    ['Size absent', { Size: undefined }, []],
    ['exactly 1024 GiB (1 TiB)', { Size: 1024 }, []],
    ['1025 GiB', { Size: 1025 }, [tooBig(VOL_A, 1025)]],
    ['16384 GiB', { Size: 16384 }, [tooBig(VOL_A, 16384)]],
    ['encrypted', { Encrypted: true }, [encrypted(VOL_A)]],
    ['encrypted and too big: both, encryption first', { Encrypted: true, Size: 2048 }, [encrypted(VOL_A), tooBig(VOL_A, 2048)]],
  ])('%s', async (_name, change, problems) => {
    answerInstance(instance());
    answerVolumes([goodVolume(VOL_A, change)]);
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual(problems);
  });

  test('each volume is judged by its own entry, not by another volume\'s', async () => {
    twoVolumes();
    answerVolumes([goodVolume(VOL_A), goodVolume(VOL_B, { Encrypted: true, Size: 1025 })]);
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([severalVolumes(2), encrypted(VOL_B), tooBig(VOL_B, 1025)]);
  });

  test('a volume missing from the answer is "not found", after the other volumes\' problems', async () => {
    twoVolumes();
    answerVolumes([goodVolume(VOL_B, { Encrypted: true })]);
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([severalVolumes(2), encrypted(VOL_B), volumeNotFound(VOL_A)]);
  });

  test('an answer with only an unrelated volume: ours is not found, the other is not judged', async () => {
    answerInstance(instance());
    answerVolumes([goodVolume('vol-0ddddddddddddddd4', { Encrypted: true, Size: 4096 })]);
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([volumeNotFound(VOL_A)]);
  });

  test('an empty answer (no Volumes, or an empty list) names every volume', async () => {
    twoVolumes();
    ec2Mock.on(DescribeVolumesCommand).resolves({});
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([severalVolumes(2), volumesNotFound(`${VOL_A}, ${VOL_B}`)]);
    answerInstance(instance());
    answerVolumes([]);
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([volumeNotFound(VOL_A)]);
  });

  test.each<[string, string, string, string[]]>([
    ['names the second volume', 'InvalidVolume.NotFound', `The volume '${VOL_B}' does not exist.`, [volumeNotFound(VOL_B)]],
    ['names both volumes', 'InvalidVolume.NotFound', `The volumes '${VOL_A}' and '${VOL_B}' do not exist.`, [volumesNotFound(`${VOL_A}, ${VOL_B}`)]],
    ['names no volume', 'InvalidVolume.NotFound', 'The volume does not exist.', [volumesNotFound(`${VOL_A}, ${VOL_B}`)]],
    ['a malformed id', 'InvalidVolumeID.Malformed', `Invalid id: "${VOL_A}"`, [volumeNotFound(VOL_A)]],
  ])('DescribeVolumes fails as a whole, the message %s', async (_name, code, message, volumeProblems) => {
    twoVolumes();
    ec2Mock.on(DescribeVolumesCommand).rejects(ec2Error(code, message, 400));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([severalVolumes(2), ...volumeProblems]);
  });

  test('one volume, DescribeVolumes says InvalidVolume.NotFound without naming it: singular', async () => {
    answerInstance(instance());
    ec2Mock.on(DescribeVolumesCommand).rejects(ec2Error('InvalidVolume.NotFound', 'The volume does not exist.', 400));
    await expect(checkInstance(ec2, INSTANCE)).resolves.toEqual([volumeNotFound(VOL_A)]);
  });

  test.each([
    ['UnauthorizedOperation', 'You are not authorized to perform this operation.', 403],
    ['InvalidParameterValue', 'bad', 400],
    ['NotInvalidVolume', 'a code that only contains the prefix', 400],
  ])('%s is thrown as it is', async (code, message, status) => {
    answerInstance(instance());
    const error = ec2Error(code, message, status);
    ec2Mock.on(DescribeVolumesCommand).rejects(error);
    await expect(checkInstance(ec2, INSTANCE)).rejects.toBe(error);
  });

  test('throttling is VmExport.Throttled naming DescribeVolumes and every volume id', async () => {
    twoVolumes();
    ec2Mock.on(DescribeVolumesCommand).rejects(ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503));
    const err = await rejectionOf(checkInstance(ec2, INSTANCE));
    expect(err.name).toBe(Errors.THROTTLED);
    expect(err.message).toBe(throttled(`DescribeVolumes for ${VOL_A}, ${VOL_B}`, 'RequestLimitExceeded', 'Request limit exceeded.'));
  });

  test('an unavailable service is VmExport.Transient naming DescribeVolumes', async () => {
    answerInstance(instance());
    ec2Mock.on(DescribeVolumesCommand).rejects(ec2Error('Unavailable', 'The service is unavailable.', 503));
    const err = await rejectionOf(checkInstance(ec2, INSTANCE));
    expect(err.name).toBe(Errors.TRANSIENT);
    expect(err.message).toBe(transient(`DescribeVolumes for ${VOL_A}`, 'Unavailable', 'The service is unavailable.'));
  });
});

// =============================================================================================
// preflight.ts: the bucket
// =============================================================================================

describe('checkBucket: the bucket\'s region (GetBucketLocation)', () => {
  test.each<[string, string | null | undefined, string]>([
    ['LocationConstraint absent is us-east-1', undefined, 'us-east-1'],
    ['LocationConstraint null is us-east-1', null, 'us-east-1'],
    ['LocationConstraint "" is us-east-1', '', 'us-east-1'],
    ['EU is eu-west-1', 'EU', 'eu-west-1'],
    ['eu-west-1 is eu-west-1', 'eu-west-1', 'eu-west-1'],
    ['ap-south-1 is ap-south-1', 'ap-south-1', 'ap-south-1'],
  ])('%s: no problem in that region', async (_name, location, region) => {
    goodBucket(REGION, specCanonicalId(region));
    s3Mock.on(GetBucketLocationCommand).resolves(location === undefined ? {} : { LocationConstraint: location as never });
    await expect(checkBucket(s3, BUCKET, region, specCanonicalId(region))).resolves.toEqual([]);
    expect(s3Mock).toHaveReceivedCommandWith(GetBucketLocationCommand, { Bucket: BUCKET });
  });

  test.each<[string, string | null | undefined, string, string]>([
    ['absent, instance in eu-west-1', undefined, 'eu-west-1', 'us-east-1'],
    ['null, instance in eu-west-1', null, 'eu-west-1', 'us-east-1'],
    ['EU, instance in eu-central-1', 'EU', 'eu-central-1', 'eu-west-1'],
    ['EU, instance in us-east-1', 'EU', 'us-east-1', 'eu-west-1'],
    ['us-west-2, instance in eu-west-1', 'us-west-2', 'eu-west-1', 'us-west-2'],
  ])('%s: the region problem only, and no further bucket call', async (_name, location, region, is) => {
    goodBucket();
    s3Mock.on(GetBucketLocationCommand).resolves(location === undefined ? {} : { LocationConstraint: location as never });
    await expect(checkBucket(s3, BUCKET, region, CANONICAL)).resolves.toEqual([otherRegion(BUCKET, is, region)]);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketOwnershipControlsCommand);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketEncryptionCommand);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketAclCommand);
  });

  test.each<[string, Error]>([
    ['NoSuchBucket 404', s3Error('NoSuchBucket', 'The specified bucket does not exist', 404)],
    ['NotFound 404 (no body)', s3Error('NotFound', 'NotFound', 404)],
    ['an unnamed 404', s3Error('UnknownError', 'Not Found', 404)],
    ['NoSuchBucket without a status', Object.assign(new Error('The specified bucket does not exist'), { name: 'NoSuchBucket' })],
  ])('%s: the bucket does not exist; no further bucket call', async (_name, error) => {
    goodBucket();
    s3Mock.on(GetBucketLocationCommand).rejects(error);
    await expect(checkBucket(s3, BUCKET, REGION, CANONICAL)).resolves.toEqual([noBucket(BUCKET)]);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketOwnershipControlsCommand);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketAclCommand);
  });

  test.each<[string, Error]>([
    ['AccessDenied 403', s3Error('AccessDenied', 'Access Denied', 403)],
    ['AccessDenied as Code (odd shape)', Object.assign(new Error('Access Denied'), { Code: 'AccessDenied', $metadata: { httpStatusCode: 403 } })],
  ])('%s: the bucket cannot be read; no further bucket call', async (_name, error) => {
    goodBucket();
    s3Mock.on(GetBucketLocationCommand).rejects(error);
    await expect(checkBucket(s3, BUCKET, REGION, CANONICAL)).resolves.toEqual([bucketDenied(BUCKET)]);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketOwnershipControlsCommand);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketAclCommand);
  });

  test.each<[string, string, number]>([
    ['PermanentRedirect', 'The bucket you are attempting to access must be addressed using the specified endpoint.', 301],
    ['AllAccessDisabled', 'All access to this object has been disabled', 403],
    ['InvalidBucketName', 'The specified bucket is not valid.', 400],
    ['AccessDeniedByPolicy', 'a code that only starts like AccessDenied', 403],
  ])('%s (%s) is thrown as it is', async (code, message, status) => {
    goodBucket();
    const error = s3Error(code, message, status);
    s3Mock.on(GetBucketLocationCommand).rejects(error);
    await expect(checkBucket(s3, BUCKET, REGION, CANONICAL)).rejects.toBe(error);
  });

  test('SlowDown 503 is VmExport.Throttled naming GetBucketLocation and the bucket (not "does not exist")', async () => {
    goodBucket();
    s3Mock.on(GetBucketLocationCommand).rejects(s3Error('SlowDown', 'Please reduce your request rate.', 503));
    const err = await rejectionOf(checkBucket(s3, BUCKET, REGION, CANONICAL));
    expect(err.name).toBe(Errors.THROTTLED);
    expect(err.message).toBe(throttled(`GetBucketLocation for ${BUCKET}`, 'SlowDown', 'Please reduce your request rate.'));
  });

  test.each<[string, Error, string]>([
    ['InternalError 500', s3Error('InternalError', 'We encountered an internal error. Please try again.', 500),
      transient(`GetBucketLocation for ${BUCKET}`, 'InternalError', 'We encountered an internal error. Please try again.')],
    ['ServiceUnavailable 503', s3Error('ServiceUnavailable', 'Reduce your request rate.', 503),
      transient(`GetBucketLocation for ${BUCKET}`, 'ServiceUnavailable', 'Reduce your request rate.')],
    ['a timed-out request', Object.assign(new Error('Connection timed out after 10000 ms'), { name: 'TimeoutError' }),
      transient(`GetBucketLocation for ${BUCKET}`, 'TimeoutError', 'Connection timed out after 10000 ms')],
  ])('%s is VmExport.Transient naming GetBucketLocation and the bucket', async (_name, error, message) => {
    goodBucket();
    s3Mock.on(GetBucketLocationCommand).rejects(error);
    const err = await rejectionOf(checkBucket(s3, BUCKET, REGION, CANONICAL));
    expect(err.name).toBe(Errors.TRANSIENT);
    expect(err.message).toBe(message);
  });
});

describe('checkBucket: ownership, encryption and the ACL grant', () => {
  test.each(['BucketOwnerPreferred', 'ObjectWriter'])('object ownership %s passes', async (ownership) => {
    goodBucket();
    s3Mock.on(GetBucketOwnershipControlsCommand).resolves({ OwnershipControls: { Rules: [{ ObjectOwnership: ownership as never }] } });
    await expect(checkBucket(s3, BUCKET, REGION, CANONICAL)).resolves.toEqual([]);
  });

  test('object ownership BucketOwnerEnforced is refused', async () => {
    goodBucket();
    s3Mock.on(GetBucketOwnershipControlsCommand).resolves({ OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } });
    await expect(checkBucket(s3, BUCKET, REGION, CANONICAL)).resolves.toEqual([aclsOff(BUCKET)]);
  });

  test.each(['aws:kms', 'aws:kms:dsse'])('default encryption %s is refused', async (algorithm) => {
    goodBucket();
    s3Mock.on(GetBucketEncryptionCommand).resolves({
      ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: algorithm as never } }] },
    });
    await expect(checkBucket(s3, BUCKET, REGION, CANONICAL)).resolves.toEqual([kmsProblem(BUCKET, algorithm)]);
  });

  test.each<[string, Grant[] | undefined, string[]]>([
    ['READ_ACP and WRITE', [grant('READ_ACP'), grant('WRITE')], []],
    ['FULL_CONTROL', [grant('FULL_CONTROL')], []],
    ['FULL_CONTROL and READ_ACP', [grant('READ_ACP'), grant('FULL_CONTROL')], []],
    ['only READ_ACP', [grant('READ_ACP')], [noGrant(BUCKET, 'WRITE', CANONICAL)]],
    ['only WRITE', [grant('WRITE')], [noGrant(BUCKET, 'READ_ACP', CANONICAL)]],
    ['READ and WRITE_ACP (the wrong pair)', [grant('READ'), grant('WRITE_ACP')], [noGrant(BUCKET, 'READ_ACP and WRITE', CANONICAL)]],
    ['no grant', [], [noGrant(BUCKET, 'READ_ACP and WRITE', CANONICAL)]],
    ['no Grants field', undefined, [noGrant(BUCKET, 'READ_ACP and WRITE', CANONICAL)]],
    ['the owner\'s FULL_CONTROL and grants to another canonical ID',
      [grant('FULL_CONTROL', 'f'.repeat(64)), grant('READ_ACP', 'e'.repeat(64)), grant('WRITE', 'e'.repeat(64))],
      [noGrant(BUCKET, 'READ_ACP and WRITE', CANONICAL)]],
    ['a group grantee (AllUsers) with WRITE',
      [grant('READ_ACP'), { Grantee: { Type: 'Group', URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'WRITE' }],
      [noGrant(BUCKET, 'WRITE', CANONICAL)]],
    ['a grant without a grantee', [grant('READ_ACP'), { Permission: 'WRITE' }], [noGrant(BUCKET, 'WRITE', CANONICAL)]],
    ['a grantee of another type carrying the ID', [grant('READ_ACP'), grant('FULL_CONTROL', CANONICAL, 'Group')], [noGrant(BUCKET, 'WRITE', CANONICAL)]],
  ])('ACL: %s', async (_name, grants, problems) => {
    goodBucket();
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: { ID: 'f'.repeat(64) }, Grants: grants });
    await expect(checkBucket(s3, BUCKET, REGION, CANONICAL)).resolves.toEqual(problems);
    expect(s3Mock).toHaveReceivedCommandWith(GetBucketAclCommand, { Bucket: BUCKET });
  });

  test('every bucket problem is listed, in the order ownership, encryption, grant', async () => {
    goodBucket();
    s3Mock.on(GetBucketOwnershipControlsCommand).resolves({ OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } });
    s3Mock.on(GetBucketEncryptionCommand).resolves({
      ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] },
    });
    s3Mock.on(GetBucketAclCommand).resolves({ Grants: [] });
    await expect(checkBucket(s3, BUCKET, REGION, CANONICAL)).resolves.toEqual([
      aclsOff(BUCKET), kmsProblem(BUCKET, 'aws:kms'), noGrant(BUCKET, 'READ_ACP and WRITE', CANONICAL),
    ]);
  });

  test.each<[string, () => void, string]>([
    ['GetBucketOwnershipControls', () => s3Mock.on(GetBucketOwnershipControlsCommand).rejects(s3Error('SlowDown', 'Please reduce your request rate.', 503)), 'GetBucketOwnershipControls'],
    ['GetBucketEncryption', () => s3Mock.on(GetBucketEncryptionCommand).rejects(s3Error('SlowDown', 'Please reduce your request rate.', 503)), 'GetBucketEncryption'],
    ['GetBucketAcl', () => s3Mock.on(GetBucketAclCommand).rejects(s3Error('SlowDown', 'Please reduce your request rate.', 503)), 'GetBucketAcl'],
  ])('throttled %s is VmExport.Throttled naming the call and the bucket', async (_name, fail, operation) => {
    goodBucket();
    fail();
    const err = await rejectionOf(checkBucket(s3, BUCKET, REGION, CANONICAL));
    expect(err.name).toBe(Errors.THROTTLED);
    expect(err.message).toBe(throttled(`${operation} for ${BUCKET}`, 'SlowDown', 'Please reduce your request rate.'));
  });
});

// =============================================================================================
// preflight.ts: the whole preflight
// =============================================================================================

describe('runPreflight', () => {
  function goodWorld(location = REGION, canonicalId = CANONICAL): void {
    answerInstance(instance());
    answerVolumes([goodVolume(VOL_A)]);
    goodBucket(location, canonicalId);
  }

  test('nothing broken: resolves', async () => {
    goodWorld();
    await expect(runPreflight(ec2, s3, { instanceId: INSTANCE, s3Bucket: BUCKET }, REGION)).resolves.toBeUndefined();
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(s3Mock).toHaveReceivedCommandTimes(GetBucketAclCommand, 1);
  });

  test('one problem: VmExport.PreflightFailed, numbered from 1', async () => {
    goodWorld();
    answerInstance(instance({ State: { Name: 'pending' } }));
    const err = await rejectionOf(runPreflight(ec2, s3, { instanceId: INSTANCE, s3Bucket: BUCKET }, REGION));
    expect(err.name).toBe(Errors.PREFLIGHT_FAILED);
    expect(err.message).toBe(`Preflight checks failed for the export of ${INSTANCE} to bucket ${BUCKET}: (1) ${badState('pending')}`);
  });

  test('instance and bucket problems together: instance first, each numbered, joined by a space', async () => {
    goodWorld();
    answerInstance(instance({ NetworkInterfaces: [{}, {}] }));
    s3Mock.on(GetBucketOwnershipControlsCommand).resolves({ OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } });
    const err = await rejectionOf(runPreflight(ec2, s3, { instanceId: INSTANCE, s3Bucket: BUCKET }, REGION));
    expect(err.name).toBe(Errors.PREFLIGHT_FAILED);
    expect(err.message).toBe(`Preflight checks failed for the export of ${INSTANCE} to bucket ${BUCKET}: (1) ${severalNics(2)} (2) ${aclsOff(BUCKET)}`);
  });

  test('without canonicalId the region\'s ID (SPEC section 1) is required; an empty canonicalId counts as none', async () => {
    goodWorld('af-south-1', specCanonicalId('af-south-1'));
    await expect(runPreflight(ec2, s3, { instanceId: INSTANCE, s3Bucket: BUCKET }, 'af-south-1')).resolves.toBeUndefined();
    await expect(runPreflight(ec2, s3, { instanceId: INSTANCE, s3Bucket: BUCKET, canonicalId: '' }, 'af-south-1')).resolves.toBeUndefined();
    goodWorld(REGION, specCanonicalId('af-south-1'));
    const err = await rejectionOf(runPreflight(ec2, s3, { instanceId: INSTANCE, s3Bucket: BUCKET }, REGION));
    expect(err.message).toBe(`Preflight checks failed for the export of ${INSTANCE} to bucket ${BUCKET}: (1) ${noGrant(BUCKET, 'READ_ACP and WRITE', SPEC_DEFAULT_CANONICAL_ID)}`);
  });

  test('a given canonicalId replaces the region\'s', async () => {
    const custom = '0123456789abcdef'.repeat(4);
    goodWorld(REGION, custom);
    await expect(runPreflight(ec2, s3, { instanceId: INSTANCE, s3Bucket: BUCKET, canonicalId: custom }, REGION)).resolves.toBeUndefined();
    goodWorld(REGION, CANONICAL);
    const err = await rejectionOf(runPreflight(ec2, s3, { instanceId: INSTANCE, s3Bucket: BUCKET, canonicalId: custom }, REGION));
    expect(err.message).toBe(`Preflight checks failed for the export of ${INSTANCE} to bucket ${BUCKET}: (1) ${noGrant(BUCKET, 'READ_ACP and WRITE', custom)}`);
  });

  test.each<[string, string, string | undefined]>([
    ['eusc-de-east-1', 'aws-eusc', undefined],
    ['eusc-de-east-1', 'aws-eusc', ''],
    ['us-iso-east-1', 'aws-iso', undefined],
    ['us-isob-east-1', 'aws-iso-b', undefined],
  ])('in %s (partition %s) without a canonicalId (%j): VmExport.InvalidInput, and no AWS call', async (region, partition, canonicalId) => {
    goodWorld(region);
    const err = await rejectionOf(runPreflight(ec2, s3, { instanceId: INSTANCE, s3Bucket: BUCKET, canonicalId }, region));
    expect(err.name).toBe(Errors.INVALID_INPUT);
    expect(err.message).toBe(`canonicalId is required in region ${region}: AWS documents no VM Import/Export canonical ID for partition ${partition}, `
      + 'so the preflight cannot tell which grant the bucket needs. Pass the ID AWS gives for this partition as canonicalId in the input '
      + '(the one the bucket grants), or set preflight to false.');
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeInstancesCommand);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketLocationCommand);
  });

  test('in eusc-de-east-1 with a canonicalId the checks run against it', async () => {
    const custom = 'abcdef0123456789'.repeat(4);
    goodWorld('eusc-de-east-1', custom);
    await expect(runPreflight(ec2, s3, { instanceId: INSTANCE, s3Bucket: BUCKET, canonicalId: custom }, 'eusc-de-east-1')).resolves.toBeUndefined();
  });
});

// =============================================================================================
// signal.ts
// =============================================================================================

const HANDLE = 'https://cloudformation-waitcondition-eu-west-1.s3.eu-west-1.amazonaws.com/arn%3Aaws%3Acloudformation/handle?X-Amz-Signature=SECRETSIG';
const SIG: WaitConditionSignal = { Status: 'SUCCESS', UniqueId: 'export', Data: 'export-i-0123456789abcdef0|vms/export-i-0123456789abcdef0.ova', Reason: 'done' };
const FAILED = (last: string, signal: WaitConditionSignal = SIG) =>
  `Could not signal the wait condition handle (${signal.Status} ${signal.Data}): ${last}.`;

type Answer = { ok: boolean; status: number };
const answer = (status: number): Answer => ({ ok: status >= 200 && status < 300, status });

/** A fetch that answers each call from the list (the last one again when the list runs out). */
function fetchOf(...outcomes: Array<number | Error | unknown>): jest.Mock<Promise<Answer>, Parameters<FetchLike>> {
  let i = 0;
  return jest.fn<Promise<Answer>, Parameters<FetchLike>>(async () => {
    const next = outcomes[Math.min(i++, outcomes.length - 1)];
    if (typeof next === 'number') {
      return answer(next);
    }
    throw next;
  });
}

function sleepRecorder(): { sleep: (ms: number) => Promise<void>; slept: number[] } {
  const slept: number[] = [];
  return { slept, sleep: async (ms: number) => { slept.push(ms); } };
}

describe('signal data and document', () => {
  test('successData joins the task id and the key with "|"', () => {
    expect(successData('export-i-0123456789abcdef0', 'vms/export-i-0123456789abcdef0.ova'))
      .toBe('export-i-0123456789abcdef0|vms/export-i-0123456789abcdef0.ova');
  });

  test.each<[string, { exportTaskId: string; s3Key: string }]>([
    ['export-i-0123456789abcdef0|vms/export-i-0123456789abcdef0.ova', { exportTaskId: 'export-i-0123456789abcdef0', s3Key: 'vms/export-i-0123456789abcdef0.ova' }],
    ['export-i-0123456789abcdef0', { exportTaskId: 'export-i-0123456789abcdef0', s3Key: '' }],
    ['export-i-fh8sjjsq', { exportTaskId: 'export-i-fh8sjjsq', s3Key: '' }],
    ['export-i-ABCDEF0|k', { exportTaskId: 'export-i-ABCDEF0', s3Key: 'k' }],
    ['export-0|k', { exportTaskId: 'export-0', s3Key: 'k' }],
    ['export-i-1|', { exportTaskId: 'export-i-1', s3Key: '' }],
    ['export-i-1|a|b', { exportTaskId: 'export-i-1', s3Key: 'a|b' }],
    ['export-i-1|vms/x y.ova', { exportTaskId: 'export-i-1', s3Key: 'vms/x y.ova' }],
  ])('parseSuccessData(%j)', (text, parts) => {
    expect(parseSuccessData(text)).toEqual(parts);
  });

  test.each([
    '',
    '|vms/x.ova',
    'export-',
    'export-|k',
    'xexport-i-1',
    'xexport-i-1|k',
    'export-i-1 |k',
    'export-i-1 x',
    'export-i-1\n',
    'export-i-1_2|k',
    'export-i-é|k',
    'EXPORT-i-1|k',
    'export_i-1|k',
    'VmExport.ExportFailed',
  ])('parseSuccessData(%j) is undefined', (text) => {
    expect(parseSuccessData(text)).toBeUndefined();
  });

  test('buildSignal: SUCCESS / FAILURE, UniqueId "export", Data and Reason as given', () => {
    expect(buildSignal(true, 'export-i-1|k', 'done')).toEqual({ Status: 'SUCCESS', UniqueId: 'export', Data: 'export-i-1|k', Reason: 'done' });
    expect(buildSignal(false, 'VmExport.ExportFailed', 'cancelled')).toEqual({ Status: 'FAILURE', UniqueId: 'export', Data: 'VmExport.ExportFailed', Reason: 'cancelled' });
  });

  test('buildSignal: a Reason of 1000 characters is kept; 1001 are cut to 1000 ending with " [...]"', () => {
    expect(buildSignal(false, 'd', 'r'.repeat(1000)).Reason).toBe('r'.repeat(1000));
    expect(buildSignal(false, 'd', 'r'.repeat(1001)).Reason).toBe('r'.repeat(994) + ' [...]');
  });
});

describe('sendSignal: the request', () => {
  test('one PUT of the JSON document with an empty Content-Type and an abort signal', async () => {
    const fetch = fetchOf(200);
    await sendSignal(HANDLE, SIG, { fetch, sleep: sleepRecorder().sleep });
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(fetch.mock.calls[0][0]).toBe(HANDLE);
    const init = fetch.mock.calls[0][1];
    expect(init.method).toBe('PUT');
    expect(init.headers).toEqual({ 'Content-Type': '' });
    expect(JSON.parse(init.body)).toEqual({ Status: 'SUCCESS', UniqueId: 'export', Data: SIG.Data, Reason: 'done' });
    expect(init.body).toBe(JSON.stringify(SIG));
    expect(init.signal).toBeInstanceOf(AbortSignal);
    expect(init.signal?.aborted).toBe(false);
  });

  test('the global fetch is used when none is given', async () => {
    const spy = jest.spyOn(globalThis, 'fetch').mockResolvedValue(new Response(null, { status: 200 }));
    try {
      await sendSignal(HANDLE, SIG, { sleep: sleepRecorder().sleep });
      expect(spy).toHaveBeenCalledTimes(1);
      expect(spy).toHaveBeenCalledWith(HANDLE, expect.objectContaining({ method: 'PUT', headers: { 'Content-Type': '' }, body: JSON.stringify(SIG) }));
    } finally {
      spy.mockRestore();
    }
  });

  test.each([200, 201, 204])('HTTP %i is success: no retry, no sleep', async (status) => {
    const fetch = fetchOf(status);
    const { sleep, slept } = sleepRecorder();
    await expect(sendSignal(HANDLE, SIG, { fetch, sleep })).resolves.toBeUndefined();
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(slept).toEqual([]);
  });
});

describe('sendSignal: which answers are retried', () => {
  // SPEC section 4 / the README: a 4xx means the presigned URL is bad or expired: retrying cannot help.
  test.each([301, 400, 403, 404, 499])('HTTP %i: no retry; VmExport.WorkflowError "HTTP %i"', async (status) => {
    const fetch = fetchOf(status, 200);
    const { sleep, slept } = sleepRecorder();
    const err = await rejectionOf(sendSignal(HANDLE, SIG, { fetch, sleep }));
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(slept).toEqual([]);
    expect(err.name).toBe(Errors.WORKFLOW_ERROR);
    expect(err.message).toBe(FAILED(`HTTP ${status}`));
  });

  test.each([500, 502, 503, 504])('HTTP %i is retried, and a later success ends it', async (status) => {
    const fetch = fetchOf(status, 200);
    const { sleep, slept } = sleepRecorder();
    await expect(sendSignal(HANDLE, SIG, { fetch, sleep })).resolves.toBeUndefined();
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(slept).toEqual([500]);
  });

  test.each<[string, unknown, string]>([
    ['a TypeError (fetch failed)', new TypeError(`fetch failed: ${HANDLE}`), 'network error (TypeError)'],
    ['an AbortError', Object.assign(new Error(`aborted ${HANDLE}`), { name: 'AbortError' }), 'network error (AbortError)'],
    ['a TimeoutError', Object.assign(new Error('timeout'), { name: 'TimeoutError' }), 'network error (TimeoutError)'],
    ['an object without a name', { message: HANDLE }, 'network error (Error)'],
    ['a string', `failed ${HANDLE}`, 'network error (Error)'],
    ['undefined', undefined, 'network error (Error)'],
    ['null', null, 'network error (Error)'],
  ])('%s is retried; after the last attempt it is reported by name only', async (_name, thrown, last) => {
    const fetch = fetchOf(thrown);
    const { sleep, slept } = sleepRecorder();
    const err = await rejectionOf(sendSignal(HANDLE, SIG, { fetch, sleep, attempts: 2 }));
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(slept).toEqual([500]);
    expect(err.name).toBe(Errors.WORKFLOW_ERROR);
    expect(err.message).toBe(FAILED(last));
    expect(err.message).not.toContain('SECRETSIG');
  });

  test('the last failure is the one reported: a network error, then a 403', async () => {
    const fetch = fetchOf(new TypeError('fetch failed'), 403);
    const err = await rejectionOf(sendSignal(HANDLE, SIG, { fetch, sleep: sleepRecorder().sleep }));
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(err.message).toBe(FAILED('HTTP 403'));
  });

  test('the last failure is the one reported: a 503, then a network error', async () => {
    const fetch = fetchOf(503, new TypeError('fetch failed'));
    const err = await rejectionOf(sendSignal(HANDLE, SIG, { fetch, sleep: sleepRecorder().sleep, attempts: 2 }));
    expect(err.message).toBe(FAILED('network error (TypeError)'));
  });

  test('a FAILURE signal is named with its status and data', async () => {
    const failure = buildSignal(false, 'VmExport.ExportFailed', 'the task was cancelled');
    const err = await rejectionOf(sendSignal(HANDLE, failure, { fetch: fetchOf(404), sleep: sleepRecorder().sleep }));
    expect(err.message).toBe('Could not signal the wait condition handle (FAILURE VmExport.ExportFailed): HTTP 404.');
  });
});

describe('sendSignal: attempts and backoff', () => {
  test('4 attempts by default, sleeping 500, 1000, 2000 ms between them (none after the last)', async () => {
    const fetch = fetchOf(503);
    const { sleep, slept } = sleepRecorder();
    const err = await rejectionOf(sendSignal(HANDLE, SIG, { fetch, sleep }));
    expect(fetch).toHaveBeenCalledTimes(4);
    expect(slept).toEqual([500, 1000, 2000]);
    expect(err.message).toBe(FAILED('HTTP 503'));
  });

  test('success on the 4th (last) default attempt', async () => {
    const fetch = fetchOf(503, 503, 503, 200);
    const { sleep, slept } = sleepRecorder();
    await expect(sendSignal(HANDLE, SIG, { fetch, sleep })).resolves.toBeUndefined();
    expect(fetch).toHaveBeenCalledTimes(4);
    expect(slept).toEqual([500, 1000, 2000]);
  });

  test('the backoff doubles up to 8000 ms and stays there', async () => {
    const fetch = fetchOf(500);
    const { sleep, slept } = sleepRecorder();
    await rejectionOf(sendSignal(HANDLE, SIG, { fetch, sleep, attempts: 8 }));
    expect(fetch).toHaveBeenCalledTimes(8);
    expect(slept).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
  });

  test.each<[number, number, number[]]>([
    [1, 1, []],
    [2, 2, [500]],
    [3, 3, [500, 1000]],
  ])('attempts: %i → %i PUTs, sleeps %j', async (attempts, calls, sleeps) => {
    const fetch = fetchOf(new TypeError('fetch failed'));
    const { sleep, slept } = sleepRecorder();
    const err = await rejectionOf(sendSignal(HANDLE, SIG, { fetch, sleep, attempts }));
    expect(fetch).toHaveBeenCalledTimes(calls);
    expect(slept).toEqual(sleeps);
    expect(err.message).toBe(FAILED('network error (TypeError)'));
  });
});

describe('sendSignal: timers (jest fake timers)', () => {
  afterEach(() => jest.useRealTimers());

  test('without a sleep function it really waits 500, 1000, 2000 ms between the 4 attempts', async () => {
    jest.useFakeTimers();
    const fetch = fetchOf(503);
    const outcome = sendSignal(HANDLE, SIG, { fetch }).then(() => undefined, (e: Error) => e);
    await jest.advanceTimersByTimeAsync(0);
    expect(fetch).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(499);
    expect(fetch).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(fetch).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(999);
    expect(fetch).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(fetch).toHaveBeenCalledTimes(3);
    await jest.advanceTimersByTimeAsync(1999);
    expect(fetch).toHaveBeenCalledTimes(3);
    await jest.advanceTimersByTimeAsync(1);
    expect(fetch).toHaveBeenCalledTimes(4);
    const err = await outcome;
    expect(err?.message).toBe(FAILED('HTTP 503'));
    expect(jest.getTimerCount()).toBe(0);
  }, 10_000);

  test('each attempt is abandoned after 10 s by default (README): aborted at 10000 ms, not at 9999', async () => {
    jest.useFakeTimers();
    const signals: AbortSignal[] = [];
    const fetch = jest.fn((_url: string, init: { signal?: AbortSignal }) => {
      signals.push(init.signal!);
      return new Promise<Answer>(() => undefined);
    });
    const outcome = sendSignal(HANDLE, SIG, { fetch, attempts: 1 }).then(() => undefined, (e: Error) => e);
    await jest.advanceTimersByTimeAsync(9_999);
    expect(signals).toHaveLength(1);
    expect(signals[0].aborted).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(signals[0].aborted).toBe(true);
    const err = await outcome;
    expect(err?.name).toBe(Errors.WORKFLOW_ERROR);
    expect(err?.message).toBe(FAILED('network error (TimeoutError)'));
  }, 10_000);

  test('attemptTimeoutMs replaces the default: 250 ms → aborted at 250, not at 249; the next attempt gets a fresh signal', async () => {
    jest.useFakeTimers();
    const signals: AbortSignal[] = [];
    let calls = 0;
    const fetch = jest.fn((_url: string, init: { signal?: AbortSignal }) => {
      signals.push(init.signal!);
      return ++calls === 1 ? new Promise<Answer>(() => undefined) : Promise.resolve(answer(200));
    });
    const { sleep, slept } = sleepRecorder();
    const outcome = sendSignal(HANDLE, SIG, { fetch, sleep, attemptTimeoutMs: 250 }).then(() => 'ok', (e: Error) => e);
    await jest.advanceTimersByTimeAsync(249);
    expect(signals[0].aborted).toBe(false);
    expect(fetch).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    await expect(outcome).resolves.toBe('ok');
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(slept).toEqual([500]);
    expect(signals[0].aborted).toBe(true);
    expect(signals[1]).not.toBe(signals[0]);
    expect(signals[1].aborted).toBe(false);
  }, 10_000);

  test('an answered PUT clears its timer: the signal is never aborted afterwards', async () => {
    jest.useFakeTimers();
    const fetch = fetchOf(200);
    await sendSignal(HANDLE, SIG, { fetch, sleep: sleepRecorder().sleep });
    expect(jest.getTimerCount()).toBe(0);
    await jest.advanceTimersByTimeAsync(20_000);
    expect(fetch.mock.calls[0][1].signal?.aborted).toBe(false);
  }, 10_000);

  test('a PUT answered with an error status also clears its timer', async () => {
    jest.useFakeTimers();
    const fetch = fetchOf(403);
    await rejectionOf(sendSignal(HANDLE, SIG, { fetch, sleep: sleepRecorder().sleep }));
    expect(jest.getTimerCount()).toBe(0);
    await jest.advanceTimersByTimeAsync(20_000);
    expect(fetch.mock.calls[0][1].signal?.aborted).toBe(false);
  }, 10_000);
});
