/**
 * Read-only checks run before an image export (ExportImage) starts: the AMI, the service role,
 * the bucket and the AMI's other export tasks. Every broken rule is collected and reported in one
 * VmExport.PreflightFailed error, as preflight.ts does for instance export.
 *
 * The rules come from the VM Import/Export User Guide, "Considerations for image export"
 * (https://docs.aws.amazon.com/vm-import/latest/userguide/limits-image-export.html, quoted as
 * "the guide" below), its "Required service role" (required-permissions.html) and "Operating
 * systems" (ARM64 is not supported).
 */
import { DescribeImagesCommand, EC2Client, Image } from '@aws-sdk/client-ec2';
import { GetRoleCommand, IAMClient, Role, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { unsupportedEncryption } from './bucket-settings';
import { ERROR_PREFLIGHT_FAILED, TAG_CLIENT_TOKEN } from './contract';
import { errorCode, isNotFound, VmExportError } from './ec2-errors';
import { NormalizedImageRequest } from './image-contract';
import { listImageTasks } from './image-task';
import { call, isLicenseIncludedWindows, MAX_VOLUME_GIB, regionOf, SQL_USAGE } from './preflight';
import { partitionWithoutCanonicalId } from '../../src/bucket/canonical-id-table';

/** The service principal and external id of the guide's trust policy ("Required service role"). */
export const VMIE_SERVICE_PRINCIPAL = 'vmie.amazonaws.com';
export const VMIE_EXTERNAL_ID = 'vmimport';

/** The clients the image preflight reads with. */
export interface ImagePreflightClients {
  readonly ec2: EC2Client;
  readonly s3: S3Client;
  readonly iam: IAMClient;
}

/** The partition of a region code: aws-cn, aws-us-gov, the ISO and EUSC partitions, else aws. */
export function partitionOfRegion(region: string): string {
  if (region.startsWith('cn-')) {
    return 'aws-cn';
  }
  if (region.startsWith('us-gov-')) {
    return 'aws-us-gov';
  }
  return partitionWithoutCanonicalId(region) ?? 'aws';
}

function isAccessDenied(err: unknown): boolean {
  return /^AccessDenied(Exception)?$/.test(errorCode(err));
}

/** The image's EBS volumes that break the encryption and size rules. */
function volumeProblems(image: Image): string[] {
  const problems: string[] = [];
  const ebs = (image.BlockDeviceMappings ?? []).filter((m) => m.Ebs);
  const name = (m: (typeof ebs)[number]) => `${m.DeviceName ?? '?'} (${m.Ebs?.SnapshotId ?? 'no snapshot id'})`;
  const encrypted = ebs.filter((m) => m.Ebs?.Encrypted);
  if (encrypted.length > 0) {
    problems.push(`the block device mapping of the image has encrypted EBS snapshots: ${encrypted.map(name).join(', ')}. The guide: "You can't export an image with encrypted EBS snapshots in the block device mapping"; an encrypted snapshot cannot be copied unencrypted, so build the AMI from unencrypted volumes and export that.`);
  }
  for (const m of ebs.filter((v) => (v.Ebs?.VolumeSize ?? 0) > MAX_VOLUME_GIB)) {
    problems.push(`volume ${name(m)} of the image has ${m.Ebs!.VolumeSize} GiB: volumes larger than 1 TiB (${MAX_VOLUME_GIB} GiB) are not supported (the guide); export an AMI whose volumes are at most ${MAX_VOLUME_GIB} GiB.`);
  }
  if (ebs.length === 0) {
    problems.push(`the image has no EBS volume in its block device mapping (RootDeviceType ${image.RootDeviceType ?? 'unknown'}): ExportImage exports the EBS volumes of the block device mapping; export an EBS-backed AMI.`);
  }
  return problems;
}

/** The image's licence, Marketplace and architecture rules. */
function softwareProblems(image: Image): string[] {
  const problems: string[] = [];
  const codes = (image.ProductCodes ?? []).map((c) => c.ProductCodeId ?? '?');
  if (codes.length > 0) {
    problems.push(`the image has product code${codes.length > 1 ? 's' : ''} ${codes.join(', ')} (AWS Marketplace): "VM Export cannot export ... any image created from an image in the AWS Marketplace" (the guide); export an AMI built without Marketplace software.`);
  }
  const details = image.PlatformDetails ?? '';
  const usage = image.UsageOperation ?? '';
  if (isLicenseIncludedWindows({ UsageOperation: image.UsageOperation, PlatformDetails: image.PlatformDetails, Platform: image.Platform })) {
    problems.push(`the image runs Windows with an AWS-provided license (${details || image.Platform || usage}): "VM Export cannot export Windows or SQL Server images" (the guide); export an AMI of an image you imported with your own license (BYOL).`);
  }
  if (/sql server/i.test(details) || SQL_USAGE.has(usage)) {
    problems.push(`the image includes SQL Server (${details || usage}): "VM Export cannot export Windows or SQL Server images" (the guide); export an AMI without SQL Server license included.`);
  }
  if (/^arm64/i.test(image.Architecture ?? '')) {
    problems.push(`the image's architecture is ${image.Architecture}: "VMs using ARM64 architecture are not currently supported" (VM Import/Export User Guide, "Operating systems"); export an x86_64 AMI.`);
  }
  return problems;
}

/** AMI rules (DescribeImages); returns the broken ones. */
export async function checkImage(ec2: EC2Client, imageId: string, accountId: string): Promise<string[]> {
  let image: Image | undefined;
  try {
    const out = await call(`DescribeImages for ${imageId}`, () => ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] })));
    image = out.Images?.find((i) => i.ImageId === imageId);
  } catch (err) {
    if (!errorCode(err).startsWith('InvalidAMIID')) {
      throw err;
    }
  }
  if (!image) {
    return [`image ${imageId} does not exist in this account and region or is not shared with it: pass the id of an AMI of this account in this region (AMI ids differ per region).`];
  }
  const problems: string[] = [];
  if (image.State !== 'available') {
    problems.push(`image ${imageId} is ${image.State ?? 'in an unknown state'}: only an available AMI can be exported; wait until it is available, or export another AMI.`);
  }
  if (image.OwnerId !== accountId) {
    problems.push(`image ${imageId} belongs to account ${image.OwnerId ?? 'unknown'}, not to this account ${accountId}: "You can't export an image from Amazon EC2 if you've shared it from another AWS account" (the guide); copy it into this account (CopyImage) and export the copy.`);
  }
  problems.push(...softwareProblems(image), ...volumeProblems(image));
  return problems;
}

/** A policy element (string or list) as a list. */
function listOf(v: unknown): string[] {
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string');
}

/** IAM's wildcard match (`*`, `?`), case-insensitive. */
function wildcardMatch(pattern: string, value: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(value);
}

interface Statement {
  readonly Effect?: string;
  readonly Principal?: unknown;
  readonly Action?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** True when an Allow statement lets vmie.amazonaws.com call sts:AssumeRole. */
function trustsService(s: Statement): boolean {
  const principal = s.Principal as { Service?: unknown } | string | undefined;
  const services = principal === '*' ? ['*'] : listOf((principal as { Service?: unknown } | undefined)?.Service);
  return s.Effect === 'Allow'
    && services.some((p) => wildcardMatch(p, VMIE_SERVICE_PRINCIPAL))
    && listOf(s.Action).some((a) => wildcardMatch(a, 'sts:AssumeRole'));
}

/**
 * True unless the statement's sts:ExternalId condition (key case-insensitive: the guide writes
 * `sts:Externalid`) excludes `vmimport`. Operators other than StringEquals(IgnoreCase) and
 * StringLike are not judged.
 */
function admitsExternalId(s: Statement): boolean {
  for (const [operator, keys] of Object.entries(s.Condition ?? {})) {
    const key = Object.keys(keys ?? {}).find((k) => k.toLowerCase() === 'sts:externalid');
    if (key === undefined) {
      continue;
    }
    const values = listOf(keys[key]);
    const op = operator.replace(/^ForAnyValue:/, '');
    const admits = op === 'StringEquals' ? values.includes(VMIE_EXTERNAL_ID)
      : op === 'StringEqualsIgnoreCase' ? values.some((v) => v.toLowerCase() === VMIE_EXTERNAL_ID)
        : op === 'StringLike' ? values.some((v) => wildcardMatch(v, VMIE_EXTERNAL_ID)) : true;
    if (!admits) {
      return false;
    }
  }
  return true;
}

/**
 * The trust policy's problems. The condition sts:ExternalId = vmimport is the guide's; a policy
 * without it still lets the service in (it only hardens the role), so only a condition that
 * excludes `vmimport` is a problem: the service could not assume the role.
 */
function trustProblems(role: Role, roleName: string): string[] {
  const fix = `allow the service principal ${VMIE_SERVICE_PRINCIPAL} sts:AssumeRole with the condition StringEquals sts:ExternalId = ${VMIE_EXTERNAL_ID} (VM Import/Export User Guide, "Required service role")`;
  let statements: Statement[];
  try {
    const doc = JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument ?? '')) as { Statement?: Statement | Statement[] };
    statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
  } catch {
    return [`the trust policy of service role ${roleName} cannot be read as JSON: ${fix}.`];
  }
  const trusting = statements.filter(trustsService);
  if (trusting.length === 0) {
    return [`service role ${roleName} does not trust ${VMIE_SERVICE_PRINCIPAL}, so VM Import/Export cannot use it: in its trust policy, ${fix}.`];
  }
  if (!trusting.some(admitsExternalId)) {
    return [`service role ${roleName} lets ${VMIE_SERVICE_PRINCIPAL} assume it only with an sts:ExternalId other than '${VMIE_EXTERNAL_ID}', the one the service passes: in its trust policy, ${fix}.`];
  }
  return [];
}

/**
 * What the role must be allowed: s3:PutObject on an object the export would write (a concrete
 * key `<prefix>export-ami-<17 zeros>.<ext>`, so that a role scoped to `<prefix>export-ami-*` is
 * judged right), s3:GetBucketLocation on the bucket.
 */
function requiredPermissions(bucket: string, prefix: string, partition: string, extension: string): Array<[string, string]> {
  return [
    ['s3:PutObject', `arn:${partition}:s3:::${bucket}/${prefix}export-ami-${'0'.repeat(17)}${extension}`],
    ['s3:GetBucketLocation', `arn:${partition}:s3:::${bucket}`],
  ];
}

/** The role's identity policies, simulated for each required permission; returns the missing ones. */
async function permissionProblems(
  iam: IAMClient, role: Role, roleName: string, bucket: string, prefix: string, partition: string, extension: string,
): Promise<string[]> {
  const problems: string[] = [];
  for (const [action, resource] of requiredPermissions(bucket, prefix, partition, extension)) {
    let out;
    try {
      out = await call(`SimulatePrincipalPolicy for ${roleName}`, () => iam.send(new SimulatePrincipalPolicyCommand({
        PolicySourceArn: role.Arn, ActionNames: [action], ResourceArns: [resource],
      })));
    } catch (err) {
      if (isAccessDenied(err)) {
        return [`the permissions of service role ${roleName} cannot be checked: the export function lacks iam:SimulatePrincipalPolicy on ${role.Arn} (${errorCode(err)}); grant it, or set preflight to false.`];
      }
      throw err;
    }
    const result = out.EvaluationResults?.find((r) => r.EvalActionName === action) ?? out.EvaluationResults?.[0];
    const decision = result?.EvalDecision ?? 'no result';
    if (decision === 'implicitDeny' && result?.MissingContextValues?.length) {
      // The role's statements depend on condition keys the simulation cannot know (the service's
      // own request context): unverified, not refused. The export task reports a real denial.
      console.log(JSON.stringify({ message: 'service role permission not verified', roleName, action, missingContextValues: result.MissingContextValues }));
      continue;
    }
    if (decision !== 'allowed') {
      problems.push(`service role ${roleName} is not allowed ${action} on ${resource} by its own policies (simulated: ${decision}): add it to the role's policy (the guide's role policy allows s3:GetBucketLocation, s3:GetObject, s3:ListBucket, s3:PutObject and s3:GetBucketAcl on the bucket and its objects). A grant in the bucket policy alone is not seen by this check: set preflight to false if that is how the role is allowed.`);
    }
  }
  return problems;
}

/**
 * Service role rules: it exists (GetRole), trusts vmie.amazonaws.com, and may write the bucket
 * (SimulatePrincipalPolicy). Returns the broken ones; AccessDenied is a problem that names the
 * permission the export function lacks.
 */
export async function checkServiceRole(
  iam: IAMClient, roleName: string, bucket: string, prefix: string, partition: string, extension = '.vmdk',
): Promise<string[]> {
  let role: Role | undefined;
  try {
    role = (await call(`GetRole for ${roleName}`, () => iam.send(new GetRoleCommand({ RoleName: roleName })))).Role;
  } catch (err) {
    if (isAccessDenied(err)) {
      return [`service role ${roleName} cannot be checked: the export function lacks iam:GetRole on it (${errorCode(err)}); grant it, or set preflight to false.`];
    }
    if (!isNotFound(err)) {
      throw err;
    }
  }
  if (!role) {
    return [`service role ${roleName} does not exist in this account: create it (a VmImportServiceRole does, or follow the guide's "Required service role") or name an existing role in roleName.`];
  }
  return [...trustProblems(role, roleName), ...await permissionProblems(iam, role, roleName, bucket, prefix, partition, extension)];
}

/**
 * Bucket rules of image export: the region and the default encryption, as checkBucket does. No
 * ACL, ownership or canonical ID check: ExportImage writes through the service role.
 */
export async function checkImageBucket(s3: S3Client, bucket: string, region: string): Promise<string[]> {
  const location = await regionOf(s3, bucket);
  if (location.problem) {
    return [location.problem];
  }
  if (location.region !== region) {
    return [`bucket ${bucket} is in ${location.region}, not in ${region}: the export bucket must be in the region of the AMI; use a bucket in ${region}.`];
  }
  const kms = await call(`GetBucketEncryption for ${bucket}`, () => unsupportedEncryption(s3, bucket));
  return kms
    ? [`bucket ${bucket} uses default encryption ${kms}: "You cannot export to an S3 bucket encrypted using SSE-KMS encryption" (the guide); use SSE-S3 (AES256).`]
    : [];
}

/**
 * "You can't have multiple export image tasks in progress for the same AMI at the same time" (the
 * guide): an active task of the AMI that is not this request's own (its client token tag or
 * adopted id). Active tasks may not report their ImageId: this finds only those that do.
 */
export async function checkOtherImageExports(ec2: EC2Client, request: NormalizedImageRequest): Promise<string[]> {
  const others = (await listImageTasks(ec2))
    .filter((t) => t.Status === 'active' && t.ImageId === request.imageId)
    .filter((t) => t.ExportImageTaskId !== request.adoptExportTaskId
      && !t.Tags?.some((tag) => tag.Key === TAG_CLIENT_TOKEN && tag.Value === request.clientToken));
  return others.map((t) => `export image task ${t.ExportImageTaskId} of image ${request.imageId} is in progress: only one export image task per AMI may be in progress (the guide); wait until it ends (or cancel it) and export again.`);
}

/**
 * Runs every check of an image export and throws one VmExport.PreflightFailed error listing all
 * broken rules. Throttling throws VmExport.Throttled (other passing errors VmExport.Transient);
 * other unexpected errors are rethrown.
 */
export async function runImagePreflight(
  clients: ImagePreflightClients, request: NormalizedImageRequest, region: string, accountId: string,
): Promise<void> {
  const all = [
    ...await checkImage(clients.ec2, request.imageId, accountId),
    ...await checkOtherImageExports(clients.ec2, request),
    ...await checkServiceRole(clients.iam, request.roleName, request.s3Bucket, request.s3Prefix, partitionOfRegion(region), request.objectExtension),
    ...await checkImageBucket(clients.s3, request.s3Bucket, region),
  ];
  if (all.length > 0) {
    const list = all.map((p, i) => `(${i + 1}) ${p}`).join(' ');
    throw new VmExportError(ERROR_PREFLIGHT_FAILED,
      `Preflight checks failed for the export of ${request.imageId} to bucket ${request.s3Bucket}: ${list}`);
  }
}
