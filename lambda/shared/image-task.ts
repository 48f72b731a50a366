/**
 * Image export tasks (ExportImage, `export-ami-...`): find one (by id or by tag), start one
 * idempotently, read its state and progress. The counterpart of export-task.ts; cancelling is
 * export-task.ts's cancelExport (CancelExportTask takes the ids of both kinds: "This is the ID
 * returned by the CreateInstanceExportTask and ExportImage operations", EC2 API Reference).
 *
 * Facts (EC2 API Reference, ExportImage / DescribeExportImageTasks / ExportImageTask):
 * - Status is `active` | `completed` | `deleting` | `deleted`; Progress is a string ("0".."100"),
 *   absent on completed tasks; a task has no S3 key and no disk image format.
 * - DescribeExportImageTasks pages with NextToken; MaxResults is 1..500.
 * - ClientToken: at most 64 ASCII characters; the same token with other parameters fails with
 *   IdempotentParameterMismatch (EC2 API Reference, "Ensuring idempotency").
 */
import {
  DescribeExportImageTasksCommand,
  DescribeExportImageTasksCommandInput,
  EC2Client,
  ExportImageCommand,
  ExportImageTask,
} from '@aws-sdk/client-ec2';
import { ERROR_EXPORT_REJECTED, ERROR_QUOTA_FULL, NormalizedRequest, StartResult, TAG_CLIENT_TOKEN } from './contract';
import {
  bareCode,
  errorCode,
  errorMessage,
  isNotFound,
  isQuotaFull,
  isRejection,
  isThrottling,
  isTransient,
  retryableOr,
  VmExportError,
} from './ec2-errors';
import { taskTags } from './export-task';
import { sha256Hex } from './hash';
import { DEFAULT_IMAGE_ROLE_NAME, IMAGE_STATUS_AS_STATE, NormalizedImageRequest } from './image-contract';

/** Preference when several tasks carry the same tag: the most useful status first. */
const STATUS_RANK: Record<string, number> = { completed: 0, active: 1, deleting: 2, deleted: 3 };

/** The most tasks one DescribeExportImageTasks page returns (the API's maximum). */
export const DESCRIBE_PAGE_SIZE = 500;

/** The consideration list every rejection points to. */
const GUIDE = 'VM Import/Export User Guide, "Considerations for image export" (https://docs.aws.amazon.com/vm-import/latest/userguide/limits-image-export.html)';

/**
 * ExportImage's ClientToken for a request: the SHA-256 (hex, 64 ASCII characters, the most
 * EC2 takes) of a fixed prefix and the request's clientToken. Deterministic, so a retried start
 * cannot create a second task.
 */
export function imageClientToken(request: { readonly clientToken: string }): string {
  return sha256Hex(`cdk-vm-export:export-image:${request.clientToken}`);
}

/** The object key of an image task: prefix + task id + extension (no slash inserted, the guide). */
export function imageObjectKeyFor(s3Prefix: string, exportImageTaskId: string, objectExtension: string): string {
  return s3Prefix + exportImageTaskId + objectExtension;
}

/** A task's Status in the instance export's vocabulary (IMAGE_STATUS_AS_STATE); unknown -> active. */
export function imageStateOf(task: Pick<ExportImageTask, 'Status'> | undefined): string {
  const status = typeof task?.Status === 'string' ? task.Status.toLowerCase() : '';
  return IMAGE_STATUS_AS_STATE[status] ?? 'active';
}

/** A task's Progress (a string) as a number in 0..100, or undefined when absent or not a number. */
export function progressOf(task: Pick<ExportImageTask, 'Progress'> | undefined): number | undefined {
  const raw = task?.Progress;
  if (typeof raw !== 'string' || !/^\s*-?\d+(\.\d+)?\s*$/.test(raw)) {
    return undefined;
  }
  return Math.min(100, Math.max(0, Number(raw)));
}

/** Every task DescribeExportImageTasks lists for the input, all pages. */
async function describeAll(ec2: EC2Client, input: DescribeExportImageTasksCommandInput): Promise<ExportImageTask[]> {
  const tasks: ExportImageTask[] = [];
  const seen = new Set<string>();
  let nextToken: string | undefined;
  do {
    try {
      const out = await ec2.send(new DescribeExportImageTasksCommand({ ...input, ...(nextToken ? { NextToken: nextToken } : {}) }));
      tasks.push(...(out.ExportImageTasks ?? []));
      nextToken = out.NextToken || undefined;
    } catch (err) {
      throw retryableOr(err, 'DescribeExportImageTasks');
    }
    // A token seen before would loop for ever: stop there.
    if (nextToken !== undefined && seen.has(nextToken)) {
      break;
    }
    if (nextToken !== undefined) {
      seen.add(nextToken);
    }
  } while (nextToken !== undefined);
  return tasks;
}

/** True for the error DescribeExportImageTasks answers for an id it does not know. */
function isUnknownTaskId(err: unknown): boolean {
  return /^InvalidExport(Image)?Task(ID|Id)/i.test(bareCode(err)) || isNotFound(err);
}

/** The image task with this id, or undefined when EC2 does not know it. */
export async function findImageTaskById(ec2: EC2Client, exportImageTaskId: string): Promise<ExportImageTask | undefined> {
  try {
    const tasks = await describeAll(ec2, { ExportImageTaskIds: [exportImageTaskId] });
    return tasks.find((t) => t.ExportImageTaskId === exportImageTaskId);
  } catch (err) {
    if (!(err instanceof VmExportError) && isUnknownTaskId(err)) {
      return undefined;
    }
    throw err;
  }
}

/** Every image task of this account and region (DescribeExportImageTasks, all pages). */
export async function listImageTasks(ec2: EC2Client): Promise<ExportImageTask[]> {
  return describeAll(ec2, { MaxResults: DESCRIBE_PAGE_SIZE });
}

/** The image task tagged `key` = `value` (completed first, then active, deleting, deleted), or undefined. */
export async function findImageTaskByTag(ec2: EC2Client, key: string, value: string): Promise<ExportImageTask | undefined> {
  const rank = (t: ExportImageTask) => STATUS_RANK[(t.Status ?? '').toLowerCase()] ?? 9;
  return (await listImageTasks(ec2))
    .filter((t) => t.Tags?.some((tag) => tag.Key === key && tag.Value === value))
    .sort((a, b) => rank(a) - rank(b))[0];
}

function startResultOf(task: ExportImageTask): StartResult {
  return { exportTaskId: task.ExportImageTaskId!, state: imageStateOf(task) };
}

/** The adopted task: listed, or known to have completed although EC2 no longer lists it. */
async function adopt(ec2: EC2Client, request: NormalizedImageRequest): Promise<StartResult> {
  const id = request.adoptExportTaskId!;
  const adopted = await findImageTaskById(ec2, id);
  if (adopted) {
    return startResultOf(adopted);
  }
  if (request.completedExportS3Key) {
    // How long finished tasks stay listed is undocumented: what was recorded at completion counts.
    return { exportTaskId: id, state: 'completed' };
  }
  throw new VmExportError(ERROR_EXPORT_REJECTED,
    `Export image task ${id} (to adopt for ${request.imageId}) does not exist: pass the id of an existing image export task, or omit adoptExportTaskId to start one.`);
}

/**
 * A task tagged with the request's client token that exported something else (another AMI, or
 * to another bucket or prefix): the token was reused for a different export. ExportImage itself
 * would answer IdempotentParameterMismatch; the task is not adopted. (A task may leave ImageId
 * out: then only its location is compared.)
 */
function refuseOtherExport(task: ExportImageTask, request: NormalizedImageRequest): void {
  const location = task.S3ExportLocation;
  const differences = [
    task.ImageId && task.ImageId !== request.imageId ? `AMI ${task.ImageId}` : undefined,
    location?.S3Bucket && location.S3Bucket !== request.s3Bucket ? `bucket ${location.S3Bucket}` : undefined,
    location?.S3Prefix !== undefined && location.S3Prefix !== request.s3Prefix ? `prefix '${location.S3Prefix}'` : undefined,
  ].filter((d): d is string => d !== undefined);
  if (differences.length > 0) {
    throw new VmExportError(ERROR_EXPORT_REJECTED,
      `The client token ${request.clientToken} already started export image task ${task.ExportImageTaskId} with another ${differences.join(', ')}, ` +
      `not the export of ${request.imageId} to s3://${request.s3Bucket}/${request.s3Prefix} asked for: use a new clientToken for a different export (or omit it).`);
  }
}

async function create(ec2: EC2Client, request: NormalizedImageRequest): Promise<StartResult> {
  try {
    const out = await ec2.send(new ExportImageCommand({
      ImageId: request.imageId,
      DiskImageFormat: request.diskImageFormat as never,
      S3ExportLocation: { S3Bucket: request.s3Bucket, S3Prefix: request.s3Prefix },
      RoleName: request.roleName,
      ...(request.description ? { Description: request.description } : {}),
      ClientToken: imageClientToken(request),
      // taskTags reads only clientToken, exportHash and tags, which both kinds of request have.
      TagSpecifications: [{ ResourceType: 'export-image-task', Tags: taskTags(request as unknown as NormalizedRequest) }],
    }));
    if (typeof out.ExportImageTaskId === 'string' && out.ExportImageTaskId !== '') {
      return startResultOf(out);
    }
    // The task may exist all the same: find it by its client token before giving up.
    const created = await findImageTaskByTag(ec2, TAG_CLIENT_TOKEN, request.clientToken);
    if (created?.ExportImageTaskId) {
      return startResultOf(created);
    }
    throw new Error(`ExportImage for ${request.imageId} returned no task id`);
  } catch (err) {
    throw mapImageStartError(err, request.imageId, request.roleName);
  }
}

/**
 * Starts the export of an image request at most once: adopts `adoptExportTaskId`, else the
 * task tagged with the client token, else calls ExportImage (after `beforeCreate`, which may
 * throw to refuse) with a ClientToken derived from the client token. Throws VmExport.QuotaFull,
 * VmExport.Throttled, VmExport.Transient or VmExport.ExportRejected.
 */
export async function startImageExport(
  ec2: EC2Client,
  request: NormalizedImageRequest,
  beforeCreate: () => void = () => undefined,
): Promise<StartResult> {
  if (request.adoptExportTaskId) {
    return adopt(ec2, request);
  }
  const existing = await findImageTaskByTag(ec2, TAG_CLIENT_TOKEN, request.clientToken);
  if (existing?.ExportImageTaskId) {
    refuseOtherExport(existing, request);
    return startResultOf(existing);
  }
  beforeCreate();
  return create(ec2, request);
}

/** Codes ExportImage refuses with beyond isRejection's (the caller's permissions, the token, the AMI id). */
const IMAGE_REJECTION_CODES = ['UnauthorizedOperation', 'IdempotentParameterMismatch', 'InvalidAMIID'];

function isImageRejection(err: unknown): boolean {
  const code = bareCode(err);
  return isRejection(err) || IMAGE_REJECTION_CODES.some((c) => code === c || code.startsWith(c + '.'));
}

/** The fix for the service role: the guide's "Required service role" (required-permissions.html). */
function roleHint(roleName: string): string {
  return `The service role '${roleName}' must exist in this account (create it, e.g. with a VmImportServiceRole, or name an existing role in roleName), ` +
    'trust vmie.amazonaws.com (sts:AssumeRole with the condition sts:ExternalId = vmimport) and allow s3:GetBucketLocation on the bucket and s3:PutObject on arn:<partition>:s3:::<bucket>/<prefix>*; ' +
    'the caller needs iam:PassRole on it (VM Import/Export User Guide, "Required service role").';
}

/** What to do about an ExportImage rejection, by error code and message. */
export function imageRejectionHint(err: unknown, roleName: string = DEFAULT_IMAGE_ROLE_NAME): string {
  const code = bareCode(err);
  const msg = errorMessage(err).toLowerCase();
  if (code === 'IdempotentParameterMismatch') {
    return 'ExportImage\'s ClientToken is derived from clientToken, which an export with other parameters used before: pass a new clientToken (or omit it) for this export.';
  }
  if (code.startsWith('InvalidAMIID')) {
    return 'Check imageId: the AMI must exist in this region and be owned by this account.';
  }
  if (code === 'UnauthorizedOperation') {
    return 'The export function lacks a permission: ec2:ExportImage on image/<ami> and export-image-task/*, ec2:CreateTags on export-image-task/* and iam:PassRole on the service role (iam:PassedToService vmie.amazonaws.com).';
  }
  if (msg.includes('marketplace')) {
    return `AMIs created from an AWS Marketplace image cannot be exported (${GUIDE}): export an AMI built without Marketplace software.`;
  }
  if (msg.includes('encrypt')) {
    return `AMIs with encrypted EBS snapshots in the block device mapping cannot be exported (${GUIDE}); a copy of an encrypted snapshot stays encrypted (EC2 API Reference, CopyImage Encrypted): build the AMI from unencrypted volumes and export that.`;
  }
  if (msg.includes('role') || code === 'AuthFailure') {
    return roleHint(roleName);
  }
  if (msg.includes('not local to the region') || msg.includes('bucket')) {
    return 'The bucket must exist in the region of the AMI and belong to this account (VM Import/Export User Guide, "Prerequisites for image export").';
  }
  if (msg.includes('windows') || msg.includes('sql')) {
    return `Windows and SQL Server AMIs with an AWS-provided license cannot be exported (${GUIDE}).`;
  }
  if (msg.includes('in progress') || msg.includes('already')) {
    return `Only one export image task per AMI may be in progress (${GUIDE}): wait for the other task to end and export again.`;
  }
  return `See ${GUIDE}: no Windows, SQL Server or Marketplace AMIs, no encrypted snapshots, no AMIs shared from another account, no volumes over 1 TiB.`;
}

/** Maps an ExportImage error to the library's error names; unknown errors as-is. */
export function mapImageStartError(err: unknown, imageId: string, roleName: string = DEFAULT_IMAGE_ROLE_NAME): unknown {
  if (err instanceof VmExportError) {
    return err;
  }
  if (isThrottling(err) || isTransient(err)) {
    return retryableOr(err, `ExportImage for ${imageId}`);
  }
  if (isQuotaFull(err)) {
    // The quota's real error code is unpublished: keep the raw code and message in the logs.
    console.log(JSON.stringify({ message: 'conversion-task quota full', imageId, code: errorCode(err), error: errorMessage(err) }));
    return new VmExportError(ERROR_QUOTA_FULL,
      `The conversion-task quota of this region is full; the export of ${imageId} waits for a free slot (${errorCode(err)}: ${errorMessage(err)}). The default quota is 5 concurrent tasks per region, adjustable to 20 via Service Quotas.`);
  }
  if (isImageRejection(err)) {
    return new VmExportError(ERROR_EXPORT_REJECTED,
      `EC2 refused to export ${imageId}: ${errorCode(err)}: ${errorMessage(err)} ${imageRejectionHint(err, roleName)}`);
  }
  return err;
}
