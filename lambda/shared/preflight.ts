/**
 * Read-only checks run before an export starts: the instance, its volumes and the bucket.
 * Every broken rule is collected and reported in one VmExport.PreflightFailed error.
 */
import {
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  EC2Client,
  Instance,
  Volume,
} from '@aws-sdk/client-ec2';
import {
  GetBucketAclCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { aclsDisabled, bucketRegion, unsupportedEncryption } from './bucket-settings';
import { ERROR_INVALID_INPUT, ERROR_PREFLIGHT_FAILED } from './contract';
import { errorCode, errorMessage, isNotFound, retryableOr, VmExportError } from './ec2-errors';
import { canonicalIdForRegion, partitionWithoutCanonicalId } from '../../src/bucket/canonical-id-table';

/** The largest volume VM Import/Export exports, in GiB. */
export const MAX_VOLUME_GIB = 1024;

/** What the preflight needs to know. */
export interface PreflightTarget {
  readonly instanceId: string;
  readonly s3Bucket: string;
  /** The canonical ID the bucket must grant; default: the region's. */
  readonly canonicalId?: string;
}

/** UsageOperation codes of license-included Windows instances (with or without SQL Server). */
const WINDOWS_USAGE = new Set(['RunInstances:0002', 'RunInstances:0006', 'RunInstances:0102', 'RunInstances:0202']);
/**
 * UsageOperation of Windows BYOL (PlatformDetails `Windows BYOL`, Platform `windows`). It is not
 * license-included: the guide excludes only Windows provided by AWS, so the preflight lets the
 * service decide (SPEC section 3).
 */
const WINDOWS_BYOL_USAGE = 'RunInstances:0800';
/** The service's own words when it refuses an instance with several volumes (the guide's "VM export errors"). */
const MULTIPLE_VOLUMES_REFUSAL = 'This instance has multiple volumes attached';
/** UsageOperation codes that include SQL Server. */
export const SQL_USAGE = new Set(['RunInstances:0004', 'RunInstances:0100', 'RunInstances:0200', 'RunInstances:0006', 'RunInstances:0102', 'RunInstances:0202']);

export async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw retryableOr(err, what);
  }
}

/**
 * True for Windows whose license AWS provides (the guide excludes it). The billing code
 * (UsageOperation) decides when it is known; else PlatformDetails (`Windows` yes, `Windows BYOL`
 * no); Platform `windows` alone (BYOL instances have it too) only when neither is reported.
 */
export function isLicenseIncludedWindows(instance: Instance): boolean {
  const usage = instance.UsageOperation ?? '';
  if (WINDOWS_USAGE.has(usage)) {
    return true;
  }
  if (usage === WINDOWS_BYOL_USAGE) {
    return false;
  }
  const details = instance.PlatformDetails ?? '';
  if (/windows/i.test(details)) {
    return !/\bbyol\b/i.test(details);
  }
  return details === '' && usage === '' && (instance.Platform ?? '').toLowerCase() === 'windows';
}

/** Encryption and size of every EBS volume of the instance, in one DescribeVolumes call; returns the broken rules. */
async function checkVolumes(ec2: EC2Client, volumeIds: string[]): Promise<string[]> {
  if (volumeIds.length === 0) {
    return [];
  }
  const notFound = (ids: string[]) => (ids.length === 1
    ? `volume ${ids[0]} was not found: check the instance's block device mapping.`
    : `volumes ${ids.join(', ')} were not found: check the instance's block device mapping.`);
  let volumes: Volume[];
  try {
    const out = await call(`DescribeVolumes for ${volumeIds.join(', ')}`,
      () => ec2.send(new DescribeVolumesCommand({ VolumeIds: volumeIds })));
    volumes = out.Volumes ?? [];
  } catch (err) {
    if (!errorCode(err).startsWith('InvalidVolume')) {
      throw err;
    }
    // The call fails as a whole: name the volumes the message names, else all of them.
    const named = volumeIds.filter((id) => errorMessage(err).includes(id));
    return [notFound(named.length > 0 ? named : volumeIds)];
  }
  const problems: string[] = [];
  const missing: string[] = [];
  for (const volumeId of volumeIds) {
    const volume = volumes.find((v) => v.VolumeId === volumeId);
    if (!volume) {
      missing.push(volumeId);
      continue;
    }
    if (volume.Encrypted) {
      problems.push(`volume ${volumeId} is encrypted: encrypted EBS volumes cannot be exported; copy the instance to an unencrypted volume first.`);
    }
    if ((volume.Size ?? 0) > MAX_VOLUME_GIB) {
      problems.push(`volume ${volumeId} has ${volume.Size} GiB: at most ${MAX_VOLUME_GIB} GiB (1 TiB) can be exported; move the data to a root volume of at most ${MAX_VOLUME_GIB} GiB and export again.`);
    }
  }
  if (missing.length > 0) {
    problems.push(notFound(missing));
  }
  return problems;
}

/** Instance and volume rules; returns the broken ones. */
export async function checkInstance(ec2: EC2Client, instanceId: string): Promise<string[]> {
  let instance: Instance | undefined;
  try {
    const out = await call(`DescribeInstances for ${instanceId}`,
      () => ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })));
    instance = out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
  } catch (err) {
    if (!errorCode(err).startsWith('InvalidInstanceID')) {
      throw err;
    }
  }
  if (!instance) {
    return [`instance ${instanceId} does not exist in this account and region: pass the id of an existing instance, and deploy the stack to the instance's account and region.`];
  }

  const problems: string[] = [];
  const state = instance.State?.Name ?? 'unknown';
  if (state !== 'running' && state !== 'stopped') {
    problems.push(`the instance is ${state}: it must be running or stopped; wait until it is (or export another instance) and deploy again.`);
  }
  if (instance.RootDeviceType === 'instance-store') {
    problems.push('the root device is an instance store volume (RootDeviceType instance-store): only EBS-backed instances can be exported; move the workload to an instance with an EBS root volume and export that.');
  }
  const mappings = instance.BlockDeviceMappings ?? [];
  if (mappings.length > 1) {
    problems.push(`the instance has ${mappings.length} volumes in its block device mapping: exactly one is supported (the service refuses the export with Client.UnsupportedOperation "${MULTIPLE_VOLUMES_REFUSAL}"); detach the others (or export an AMI of it instead).`);
  } else if (mappings.length === 0 && instance.RootDeviceType !== 'instance-store') {
    problems.push('the instance has no volumes in its block device mapping: exactly one EBS volume is supported; export an instance with one EBS root volume.');
  }
  const nics = instance.NetworkInterfaces ?? [];
  if (nics.length > 1) {
    problems.push(`the instance has ${nics.length} network interfaces: only one is supported; detach the others.`);
  }
  if ((instance.ProductCodes ?? []).length > 0) {
    problems.push(`the instance was launched from an AWS Marketplace AMI (product code ${(instance.ProductCodes ?? []).map((c) => c.ProductCodeId).join(', ')}): such instances cannot be exported; export an instance launched from an AMI without product codes.`);
  }
  const details = instance.PlatformDetails ?? '';
  const usage = instance.UsageOperation ?? '';
  if (isLicenseIncludedWindows(instance)) {
    problems.push(`the instance runs Windows (${details || instance.Platform || usage}): Windows instances launched from AWS AMIs cannot be exported; export an instance launched from an image you imported with VM Import (bring your own license).`);
  }
  if (/sql server/i.test(details) || SQL_USAGE.has(usage)) {
    problems.push(`the instance includes SQL Server (${details || usage}): such instances cannot be exported; export an instance launched from an AMI without SQL Server license included.`);
  }

  const volumeIds = mappings.map((m) => m.Ebs?.VolumeId).filter((id): id is string => !!id);
  problems.push(...await checkVolumes(ec2, volumeIds));
  return problems;
}

/** The bucket's region, or the problem that keeps it from being read. */
export async function regionOf(s3: S3Client, bucket: string): Promise<{ region?: string; problem?: string }> {
  try {
    return { region: await call(`GetBucketLocation for ${bucket}`, () => bucketRegion(s3, bucket)) };
  } catch (err) {
    if (err instanceof VmExportError) {
      throw err;
    }
    if (isNotFound(err)) {
      return { problem: `bucket ${bucket} does not exist: create it first (a VmExportBucket does) or fix the name.` };
    }
    if (errorCode(err) === 'AccessDenied') {
      return { problem: `bucket ${bucket} cannot be read (AccessDenied): it must belong to this account, and the handler needs s3:GetBucketLocation on it.` };
    }
    throw err;
  }
}

/** Bucket rules; returns the broken ones. */
export async function checkBucket(s3: S3Client, bucket: string, region: string, canonicalId: string): Promise<string[]> {
  const location = await regionOf(s3, bucket);
  if (location.problem) {
    return [location.problem];
  }
  if (location.region !== region) {
    return [`bucket ${bucket} is in ${location.region}, not in ${region}: the export bucket must be in the same region as the instance; use a bucket in ${region}.`];
  }

  const problems: string[] = [];
  if (await call(`GetBucketOwnershipControls for ${bucket}`, () => aclsDisabled(s3, bucket))) {
    problems.push(`bucket ${bucket} has object ownership BucketOwnerEnforced (ACLs disabled): set it to BucketOwnerPreferred.`);
  }
  const kms = await call(`GetBucketEncryption for ${bucket}`, () => unsupportedEncryption(s3, bucket));
  if (kms) {
    problems.push(`bucket ${bucket} uses default encryption ${kms}: VM Import/Export does not support SSE-KMS or DSSE-KMS; use SSE-S3 (AES256).`);
  }

  const acl = await call(`GetBucketAcl for ${bucket}`, () => s3.send(new GetBucketAclCommand({ Bucket: bucket })));
  const granted = new Set((acl.Grants ?? [])
    .filter((g) => g.Grantee?.Type === 'CanonicalUser' && g.Grantee.ID === canonicalId)
    .map((g) => g.Permission));
  const missing = ['READ_ACP', 'WRITE'].filter((p) => !granted.has(p as never) && !granted.has('FULL_CONTROL'));
  if (missing.length > 0) {
    problems.push(`bucket ${bucket} does not grant ${missing.join(' and ')} to the VM Import/Export canonical ID ${canonicalId}: add the grant (a VmExportBucket, or VmExportBucket.fromBucketName for an existing bucket, adds it).`);
  }
  return problems;
}

/**
 * Runs every check against the given canonical ID and throws one VmExport.PreflightFailed
 * error listing all broken rules. Throttling throws VmExport.Throttled; other unexpected
 * errors are rethrown.
 */
export async function runPreflightWithCanonicalId(
  ec2: EC2Client,
  s3: S3Client,
  target: PreflightTarget,
  region: string,
  canonicalId: string,
): Promise<void> {
  const instanceProblems = await checkInstance(ec2, target.instanceId);
  const bucketProblems = await checkBucket(s3, target.s3Bucket, region, canonicalId);
  const all = [...instanceProblems, ...bucketProblems];
  if (all.length > 0) {
    const list = all.map((p, i) => `(${i + 1}) ${p}`).join(' ');
    throw new VmExportError(ERROR_PREFLIGHT_FAILED,
      `Preflight checks failed for the export of ${target.instanceId} to bucket ${target.s3Bucket}: ${list}`);
  }
}

/**
 * runPreflightWithCanonicalId with `target.canonicalId`, else the region's canonical ID. In a
 * region of a partition without a documented ID (aws-eusc, aws-iso*) there is no region's ID:
 * without `target.canonicalId` that is VmExport.InvalidInput.
 */
export async function runPreflight(ec2: EC2Client, s3: S3Client, target: PreflightTarget, region: string): Promise<void> {
  const partition = target.canonicalId ? undefined : partitionWithoutCanonicalId(region);
  if (partition !== undefined) {
    throw new VmExportError(ERROR_INVALID_INPUT,
      `canonicalId is required in region ${region}: AWS documents no VM Import/Export canonical ID for partition ${partition}, ` +
      'so the preflight cannot tell which grant the bucket needs. Pass the ID AWS gives for this partition as canonicalId in the input ' +
      '(the one the bucket grants), or set preflight to false.');
  }
  return runPreflightWithCanonicalId(ec2, s3, target, region, target.canonicalId || canonicalIdForRegion(region));
}
