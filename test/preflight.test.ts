/**
 * The preflight against the local EC2 / S3 stand-in: every volume of the instance is checked and
 * every broken rule is reported at once; Windows BYOL is left to the service. Also the service's
 * own multiple-volume refusal (when the preflight is skipped), its error code with and without
 * the `Client.` prefix, and the task ids adoptExportTaskId accepts.
 */
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { Errors } from './support/documented-names';
import { awsError, createFakeAws, FakeAws, FakeInstanceSpec } from './support/fake-aws';
import { specCanonicalId } from './support/spec-canonical-ids';
import { WorkflowInput } from '../lambda/shared/contract';
import { isRejection, mapStartError } from '../lambda/shared/ec2-errors';
import { startExport } from '../lambda/shared/export-task';
import { normalizeRequest } from '../lambda/shared/normalize';
import { checkInstance, runPreflight } from '../lambda/shared/preflight';

/** Expected error names: the README's, copied in test/support/documented-names.ts. */
const { EXPORT_REJECTED: ERROR_EXPORT_REJECTED, INVALID_INPUT: ERROR_INVALID_INPUT, PREFLIGHT_FAILED: ERROR_PREFLIGHT_FAILED } = Errors;
const REGION = 'eu-west-1';
const INSTANCE = 'i-0123456789abcdef0';
const BUCKET = 'vm-exports';
const CALLER = 'preflight-test';
/** The fake's volume ids of INSTANCE, in block device mapping order. */
const VOL0 = 'vol-0123456789abc0000';
const VOL1 = 'vol-0123456789abc0001';
const VOL2 = 'vol-0123456789abc0002';

function world(spec: Omit<FakeInstanceSpec, 'instanceId'> = {}): FakeAws {
  const fake = createFakeAws({ region: REGION });
  const service = specCanonicalId(REGION);
  fake.s3.createBucket(BUCKET, {
    grants: [
      { Grantee: { Type: 'CanonicalUser', ID: service }, Permission: 'READ_ACP' },
      { Grantee: { Type: 'CanonicalUser', ID: service }, Permission: 'WRITE' },
    ],
  });
  fake.ec2.addInstance({ instanceId: INSTANCE, ...spec });
  return fake;
}

async function preflight(fake: FakeAws): Promise<void> {
  const { ec2, s3 } = fake.clients(CALLER);
  return runPreflight(ec2, s3, { instanceId: INSTANCE, s3Bucket: BUCKET }, REGION);
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

describe('preflight: every volume', () => {
  test('two volumes, the second encrypted: the several-volumes problem AND the encrypted volume, in one error', async () => {
    const fake = world({ volumes: [{}, { encrypted: true }] });
    const err = await rejectionOf(preflight(fake));
    expect(err.name).toBe(ERROR_PREFLIGHT_FAILED);
    const problems = problemsOf(err.message);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('the instance has 2 volumes in its block device mapping: exactly one is supported');
    expect(problems[1]).toContain(`volume ${VOL1} is encrypted: encrypted EBS volumes cannot be exported`);
    expect(err.message).not.toContain(`volume ${VOL0} is encrypted`);
  });

  test('the several-volumes problem quotes the service\'s own refusal', async () => {
    const err = await rejectionOf(preflight(world({ volumeCount: 2 })));
    expect(err.message).toContain('Client.UnsupportedOperation "This instance has multiple volumes attached"');
    expect(err.message).toContain('detach the others (or export an AMI of it instead)');
  });

  test('one DescribeVolumes call with every volume id of the block device mapping', async () => {
    const fake = world({ volumes: [{}, {}, {}] });
    await rejectionOf(preflight(fake));
    const calls = fake.world.callsOf({ service: 'ec2', operation: 'DescribeVolumes' });
    expect(calls).toHaveLength(1);
    expect(calls[0].input.VolumeIds).toEqual([VOL0, VOL1, VOL2]);
  });

  test('each volume is judged by its own size and encryption', async () => {
    const fake = world({ volumes: [{ sizeGiB: 8 }, { sizeGiB: 2048 }, { sizeGiB: 16, encrypted: true }] });
    const err = await rejectionOf(preflight(fake));
    const problems = problemsOf(err.message);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toContain('the instance has 3 volumes');
    expect(problems[1]).toContain(`volume ${VOL1} has 2048 GiB: at most 1024 GiB (1 TiB) can be exported`);
    expect(problems[2]).toContain(`volume ${VOL2} is encrypted`);
    expect(err.message).not.toContain(VOL0);
  });

  test('the old spec fields still apply to every volume (volumeCount, volumeSizeGiB, encrypted)', async () => {
    const fake = world({ volumeCount: 2, volumeSizeGiB: 1500, encrypted: true });
    const problems = problemsOf((await rejectionOf(preflight(fake))).message);
    expect(problems).toHaveLength(5);
    for (const volume of [VOL0, VOL1]) {
      expect(problems.filter((p) => p.startsWith(`volume ${volume} is encrypted`))).toHaveLength(1);
      expect(problems.filter((p) => p.startsWith(`volume ${volume} has 1500 GiB`))).toHaveLength(1);
    }
  });

  test('no volume at all is reported as such (not as "0 volumes ... detach the others"), and DescribeVolumes is not called', async () => {
    const fake = world({ volumes: [] });
    const problems = problemsOf((await rejectionOf(preflight(fake))).message);
    expect(problems).toEqual([expect.stringContaining('the instance has no volumes in its block device mapping: exactly one EBS volume is supported')]);
    expect(fake.world.callsOf({ operation: 'DescribeVolumes' })).toHaveLength(0);
  });

  test('one good volume passes; one encrypted volume is still refused', async () => {
    await expect(preflight(world())).resolves.toBeUndefined();
    await expect(preflight(world({ volumes: [{ sizeGiB: 1024 }] }))).resolves.toBeUndefined();
    const err = await rejectionOf(preflight(world({ volumes: [{ encrypted: true }] })));
    expect(problemsOf(err.message)).toEqual([expect.stringContaining(`volume ${VOL0} is encrypted`)]);
  });

  test('a volume DescribeVolumes does not know is reported with the others', async () => {
    const fake = world({ volumes: [{}, { encrypted: true }] });
    fake.world.interceptor = async (call, proceed) => {
      const out = await proceed();
      // The second volume was deleted between the two calls: only the first is listed.
      return call.operation === 'DescribeVolumes' ? { Volumes: out.Volumes.slice(0, 1) } : out;
    };
    const problems = problemsOf((await rejectionOf(preflight(fake))).message);
    expect(problems).toEqual([
      expect.stringContaining('the instance has 2 volumes'),
      expect.stringContaining(`volume ${VOL1} was not found`),
    ]);
  });

  test('DescribeVolumes failing with InvalidVolume.NotFound names the missing volume and keeps the other problems', async () => {
    const fake = world({ volumeCount: 2 });
    fake.world.fail({ operation: 'DescribeVolumes' }, 1, () => awsError('ec2', 'InvalidVolume.NotFound', `The volume '${VOL1}' does not exist.`));
    const problems = problemsOf((await rejectionOf(preflight(fake))).message);
    expect(problems).toEqual([
      expect.stringContaining('the instance has 2 volumes'),
      expect.stringMatching(new RegExp(`^volume ${VOL1} was not found`)),
    ]);
  });
});

describe('preflight: Windows', () => {
  test.each<[string, Omit<FakeInstanceSpec, 'instanceId'>]>([
    ['as AWS reports it (RunInstances:0800, Windows BYOL, windows)', { usageOperation: 'RunInstances:0800', platformDetails: 'Windows BYOL', platform: 'windows' }],
    ['by the billing code alone', { usageOperation: 'RunInstances:0800', platformDetails: 'Windows', platform: 'windows' }],
    ['by the platform details alone', { usageOperation: '', platformDetails: 'Windows BYOL', platform: 'windows' }],
  ])('Windows BYOL is not refused: %s', async (_name, spec) => {
    await expect(preflight(world(spec))).resolves.toBeUndefined();
  });

  test.each<[string, Omit<FakeInstanceSpec, 'instanceId'>, string]>([
    ['Windows (RunInstances:0002)', { usageOperation: 'RunInstances:0002', platformDetails: 'Windows', platform: 'windows' }, 'the instance runs Windows (Windows)'],
    ['the license-included billing code wins over the details', { usageOperation: 'RunInstances:0002', platformDetails: 'Windows BYOL', platform: 'windows' }, 'the instance runs Windows'],
    ['Windows details without a billing code', { usageOperation: '', platformDetails: 'Windows', platform: 'windows' }, 'the instance runs Windows (Windows)'],
    ['only the platform is reported', { usageOperation: '', platformDetails: '', platform: 'windows' }, 'the instance runs Windows (windows)'],
  ])('license-included Windows is refused: %s', async (_name, spec, fragment) => {
    const err = await rejectionOf(preflight(world(spec)));
    expect(err.name).toBe(ERROR_PREFLIGHT_FAILED);
    expect(err.message).toContain(fragment);
    expect(err.message).toContain('Windows instances launched from AWS AMIs cannot be exported');
  });

  test('Windows with SQL Server (RunInstances:0006) reports Windows and SQL Server', async () => {
    const err = await rejectionOf(preflight(world({ usageOperation: 'RunInstances:0006', platformDetails: 'Windows with SQL Server Standard', platform: 'windows' })));
    expect(err.message).toContain('the instance runs Windows (Windows with SQL Server Standard)');
    expect(err.message).toContain('the instance includes SQL Server (Windows with SQL Server Standard)');
  });

  test('the fake reports Platform, PlatformDetails and UsageOperation as given (Platform omitted by default)', async () => {
    const fake = world({ usageOperation: 'RunInstances:0800', platformDetails: 'Windows BYOL', platform: 'windows' });
    fake.ec2.addInstance({ instanceId: 'i-00000000000000abc' });
    const out = await fake.clients(CALLER).ec2.send(new DescribeInstancesCommand({ InstanceIds: [INSTANCE, 'i-00000000000000abc'] }));
    const [byol, linux] = out.Reservations![0].Instances!;
    expect([byol.Platform, byol.PlatformDetails, byol.UsageOperation]).toEqual(['windows', 'Windows BYOL', 'RunInstances:0800']);
    expect(linux.Platform).toBeUndefined();
    expect([linux.PlatformDetails, linux.UsageOperation]).toEqual(['Linux/UNIX', 'RunInstances']);
  });

  test('checkInstance lists no problem for a BYOL instance', async () => {
    const fake = world({ usageOperation: 'RunInstances:0800', platformDetails: 'Windows BYOL', platform: 'windows' });
    await expect(checkInstance(fake.clients(CALLER).ec2, INSTANCE)).resolves.toEqual([]);
  });
});

describe('the service\'s multiple-volume refusal', () => {
  const input: WorkflowInput = { instanceId: INSTANCE, targetEnvironment: 'vmware', s3Bucket: BUCKET, clientToken: 'tok-1' };

  test('without the preflight, the fake refuses two volumes with UnsupportedOperation; the library names it ExportRejected with the one-volume hint', async () => {
    const fake = world({ volumeCount: 2 });
    const err = await rejectionOf(startExport(fake.clients(CALLER).ec2, normalizeRequest(input)));
    expect(err.name).toBe(ERROR_EXPORT_REJECTED);
    expect(err.message).toContain('UnsupportedOperation: This instance has multiple volumes attached. Please remove additional volumes.');
    expect(err.message).toContain('Only instances with exactly one volume can be exported');
    const create = fake.world.callsOf({ operation: 'CreateInstanceExportTask' });
    expect(create.map((c) => c.error)).toEqual(['UnsupportedOperation']);
    expect(fake.ec2.tasks.size).toBe(0);
  });

  test.each(['Client.UnsupportedOperation', 'UnsupportedOperation'])('%s is a rejection with the one-volume hint', (code) => {
    const error = awsError('ec2', code, 'This instance has multiple volumes attached. Please remove additional volumes.');
    expect(isRejection(error)).toBe(true);
    const mapped = mapStartError(error, INSTANCE) as Error;
    expect(mapped.name).toBe(ERROR_EXPORT_REJECTED);
    expect(mapped.message).toContain(`EC2 refused to export ${INSTANCE}: ${code}: This instance has multiple volumes attached.`);
    expect(mapped.message).toContain('Only instances with exactly one volume can be exported');
  });

  test('other prefixed client codes are rejections too; unknown codes stay unknown', () => {
    expect(isRejection(awsError('ec2', 'Client.AuthFailure', 'x'))).toBe(true);
    expect(isRejection(awsError('ec2', 'Client.InvalidInstanceID.NotFound', 'x'))).toBe(true);
    expect(isRejection(awsError('ec2', 'Client.SomethingNew', 'x'))).toBe(false);
    expect(isRejection(awsError('ec2', 'ClientUnsupportedOperation', 'x'))).toBe(false);
  });
});

describe('adoptExportTaskId', () => {
  const base: WorkflowInput = { instanceId: INSTANCE, targetEnvironment: 'vmware', s3Bucket: BUCKET };

  test.each([
    'export-i-0123abcd',
    'export-i-0123456789abcdef0',
    'export-i-0123456789ABCDEF0',
    'export-i-a',
    'export-i-Z9',
    'export-i-fh8sjjsq',
    'export-i-' + 'aB3'.repeat(21) + 'x',
  ])('accepts %s', (id) => {
    expect(normalizeRequest({ ...base, adoptExportTaskId: id }).adoptExportTaskId).toBe(id);
  });

  test.each([
    'export-i-',
    'export-i-' + 'a'.repeat(65),
    'export-i-abc-def',
    'export-i-abc_def',
    'export-i-abc def',
    'export-i-abc/def',
    'export-i-é1',
    'export-ami-0123456789abcdef0',
    'EXPORT-I-0123456789abcdef0',
    'i-0123456789abcdef0',
    ' export-i-0123456789abcdef0',
  ])('refuses %j', (id) => {
    let err: Error | undefined;
    try {
      normalizeRequest({ ...base, adoptExportTaskId: id });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.name).toBe(ERROR_INVALID_INPUT);
    expect(err?.message).toContain(`adoptExportTaskId '${id}' is not an instance export task id: use export-i- followed by 1 to 64 letters or digits`);
  });
});
