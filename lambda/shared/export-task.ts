/**
 * Export tasks: find one (by id or by tag), start one idempotently, cancel one.
 */
import {
  CancelExportTaskCommand,
  CreateInstanceExportTaskCommand,
  DescribeExportTasksCommand,
  EC2Client,
  ExportTask,
  Tag,
} from '@aws-sdk/client-ec2';
import {
  ERROR_EXPORT_REJECTED,
  NormalizedRequest,
  StartResult,
  TAG_CLIENT_TOKEN,
  TAG_EXPORT_HASH,
  TAG_MANAGED,
  TAG_MANAGED_VALUE,
} from './contract';
import { errorCode, errorMessage, isThrottling, isTransient, mapStartError, retryableOr, VmExportError } from './ec2-errors';

/** Preference when several tasks carry the same tag: the most useful state first. */
const STATE_RANK: Record<string, number> = { completed: 0, active: 1, cancelling: 2, cancelled: 3 };

/** The value of a tag on a task. */
export function tagValue(task: ExportTask, key: string): string | undefined {
  return task.Tags?.find((t) => t.Key === key)?.Value;
}

async function describe(ec2: EC2Client, ids: string[] | undefined): Promise<ExportTask[]> {
  try {
    const out = await ec2.send(new DescribeExportTasksCommand(ids ? { ExportTaskIds: ids } : {}));
    return out.ExportTasks ?? [];
  } catch (err) {
    throw retryableOr(err, 'DescribeExportTasks');
  }
}

/** The task with this id, or undefined when EC2 does not know it. */
export async function findTaskById(ec2: EC2Client, exportTaskId: string): Promise<ExportTask | undefined> {
  try {
    const tasks = await describe(ec2, [exportTaskId]);
    return tasks.find((t) => t.ExportTaskId === exportTaskId);
  } catch (err) {
    if (errorCode(err).startsWith('InvalidExportTaskID')) {
      return undefined;
    }
    throw err;
  }
}

/**
 * The task tagged `key` = `value` (completed first, then active, cancelling, cancelled), or
 * undefined. `states` limits the states considered.
 */
export async function findTaskByTag(
  ec2: EC2Client,
  key: string,
  value: string,
  states?: readonly string[],
): Promise<ExportTask | undefined> {
  const tasks = (await describe(ec2, undefined))
    .filter((t) => tagValue(t, key) === value)
    .filter((t) => !states || states.includes(t.State ?? ''))
    .sort((a, b) => (STATE_RANK[a.State ?? ''] ?? 9) - (STATE_RANK[b.State ?? ''] ?? 9));
  return tasks[0];
}

/** The task of a request: the adopted id, else the one tagged with the client token. */
export async function findTaskForRequest(
  ec2: EC2Client,
  request: { readonly adoptExportTaskId?: string; readonly clientToken?: string },
): Promise<ExportTask | undefined> {
  if (request.adoptExportTaskId) {
    return findTaskById(ec2, request.adoptExportTaskId);
  }
  if (request.clientToken) {
    return findTaskByTag(ec2, TAG_CLIENT_TOKEN, request.clientToken);
  }
  return undefined;
}

/** The tags put on a new task. */
export function taskTags(request: NormalizedRequest): Tag[] {
  return [
    { Key: TAG_MANAGED, Value: TAG_MANAGED_VALUE },
    { Key: TAG_CLIENT_TOKEN, Value: request.clientToken },
    ...(request.exportHash ? [{ Key: TAG_EXPORT_HASH, Value: request.exportHash }] : []),
    ...request.tags.map((t) => ({ Key: t.Key, Value: t.Value })),
  ];
}

/** The adopted task: listed, or known to have completed although EC2 no longer lists it. */
async function adopt(ec2: EC2Client, request: NormalizedRequest): Promise<StartResult> {
  const id = request.adoptExportTaskId!;
  const adopted = await findTaskById(ec2, id);
  if (adopted) {
    return { exportTaskId: adopted.ExportTaskId!, state: adopted.State ?? 'active' };
  }
  if (request.completedExportS3Key) {
    // How long finished tasks stay listed is undocumented: what was recorded at completion counts.
    return { exportTaskId: id, state: 'completed' };
  }
  throw new VmExportError(ERROR_EXPORT_REJECTED,
    `Export task ${id} (to adopt for ${request.instanceId}) does not exist: pass the id of an existing instance export task, or omit adoptExportTaskId to start one.`);
}

async function create(ec2: EC2Client, request: NormalizedRequest): Promise<StartResult> {
  try {
    const out = await ec2.send(new CreateInstanceExportTaskCommand({
      InstanceId: request.instanceId,
      TargetEnvironment: request.targetEnvironment as never,
      ...(request.description ? { Description: request.description } : {}),
      ExportToS3Task: {
        DiskImageFormat: request.diskImageFormat as never,
        ...(request.containerFormat !== 'none' ? { ContainerFormat: request.containerFormat as never } : {}),
        S3Bucket: request.s3Bucket,
        S3Prefix: request.s3Prefix,
      },
      TagSpecifications: [{ ResourceType: 'export-instance-task', Tags: taskTags(request) }],
    }));
    const task = out.ExportTask;
    if (typeof task?.ExportTaskId !== 'string' || task.ExportTaskId === '') {
      // The task may exist all the same: find it by its client token before giving up.
      const created = await findTaskByTag(ec2, TAG_CLIENT_TOKEN, request.clientToken);
      if (created?.ExportTaskId) {
        return startResultOf(created);
      }
      throw new Error(`CreateInstanceExportTask for ${request.instanceId} returned no task id`);
    }
    return startResultOf(task);
  } catch (err) {
    throw mapStartError(err, request.instanceId);
  }
}

function startResultOf(task: ExportTask): StartResult {
  const s3Key = task.ExportToS3Task?.S3Key;
  return {
    exportTaskId: task.ExportTaskId!,
    state: typeof task.State === 'string' ? task.State : 'active',
    ...(typeof s3Key === 'string' && s3Key !== '' ? { s3Key } : {}),
  };
}

/**
 * Starts the export of a request at most once: adopts `adoptExportTaskId`, else the task
 * tagged with the client token, else calls CreateInstanceExportTask (after `beforeCreate`,
 * which may throw to refuse). Throws VmExport.QuotaFull, VmExport.Throttled,
 * VmExport.Transient or VmExport.ExportRejected.
 */
export async function startExport(ec2: EC2Client, request: NormalizedRequest, beforeCreate: () => void = () => undefined): Promise<StartResult> {
  if (request.adoptExportTaskId) {
    return adopt(ec2, request);
  }
  const existing = await findTaskByTag(ec2, TAG_CLIENT_TOKEN, request.clientToken);
  if (existing) {
    return startResultOf(existing);
  }
  beforeCreate();
  return create(ec2, request);
}

/** True when CancelExportTask failed because there is nothing left to cancel. */
export function isNothingToCancel(err: unknown): boolean {
  const code = errorCode(err);
  // Instance tasks: InvalidExportTaskID.NotFound; image tasks (undocumented): the same, or an
  // InvalidExportImageTaskId code.
  if (/^InvalidExport(Image)?Task(ID|Id)/.test(code) && code.endsWith('NotFound')) {
    return true;
  }
  if (code === 'IncorrectState') {
    return true;
  }
  const msg = errorMessage(err).toLowerCase();
  return msg.includes('completed') || msg.includes('final') || msg.includes('already cancel') || msg.includes('already deleted')
    || msg.includes('already been cancel') || msg.includes('does not exist') || msg.includes('not found');
}

/**
 * Cancels a task. Returns 'cancelled', or 'nothing-to-cancel' when the task is gone,
 * completed or transferring its final image. Throttling throws VmExport.Throttled.
 */
export async function cancelExport(ec2: EC2Client, exportTaskId: string): Promise<'cancelled' | 'nothing-to-cancel'> {
  try {
    await ec2.send(new CancelExportTaskCommand({ ExportTaskId: exportTaskId }));
    return 'cancelled';
  } catch (err) {
    if (isThrottling(err) || isTransient(err)) {
      throw retryableOr(err, `CancelExportTask ${exportTaskId}`);
    }
    if (isNothingToCancel(err)) {
      return 'nothing-to-cancel';
    }
    throw err;
  }
}

/**
 * True for the states in which a task can still be cancelled: an instance task `active` or
 * `cancelling`; an image task (`export-ami-`) only `active` (`deleting`, seen here as
 * cancelling, is already going away, and what CancelExportTask answers for it is undocumented).
 */
export function isCancellable(task: ExportTask | undefined): boolean {
  const image = task?.ExportTaskId?.startsWith('export-ami-') ?? false;
  return task?.State === 'active' || (task?.State === 'cancelling' && !image);
}
