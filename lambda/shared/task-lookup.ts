/**
 * Looking up the task of either kind of export in one shape: an image export task
 * (DescribeExportImageTasks) is seen as an instance export task (ExportTask) with its Status in
 * the instance vocabulary (IMAGE_STATUS_AS_STATE) and the object key it writes
 * (`<prefix><task id><extension>`, since an image task reports no key), so that the finish step,
 * the custom resource and its record decide the same way for both kinds.
 */
import { EC2Client, ExportImageTask, ExportTask } from '@aws-sdk/client-ec2';
import { TAG_CLIENT_TOKEN } from './contract';
import { findTaskById, findTaskByTag } from './export-task';
import { ExportKind, IMAGE_TASK_ID_PATTERN } from './image-contract';
import { findImageTaskById, findImageTaskByTag, imageObjectKeyFor, imageStateOf } from './image-task';

/** An export task of either kind, with an image task's Progress (a percentage string) when it has one. */
export type AnyExportTask = ExportTask & { readonly Progress?: string };

/** What says which kind a request, an input or a resource is. */
export interface KindHints {
  readonly kind?: string;
  readonly imageId?: unknown;
  readonly instanceId?: unknown;
  readonly adoptExportTaskId?: string;
}

/** The kind of a request or raw input: `image` when it says so or names an AMI and no instance. */
export function kindOf(hints: KindHints): ExportKind {
  if (hints.kind === 'image' || hints.kind === 'instance') {
    return hints.kind;
  }
  return hints.imageId !== undefined && hints.instanceId === undefined ? 'image' : 'instance';
}

/** The kind of a task id (`export-ami-...` is an image export task). */
export function kindOfTaskId(exportTaskId: string): ExportKind {
  return IMAGE_TASK_ID_PATTERN.test(exportTaskId) ? 'image' : 'instance';
}

/**
 * An image task as an ExportTask: the state mapped, the key computed from the task's own prefix
 * (or `s3Prefix`) and `extension` (unknown without it: an image task does not report its format).
 */
export function imageTaskAsExportTask(task: ExportImageTask, extension?: string, s3Prefix?: string): AnyExportTask {
  const id = task.ExportImageTaskId!;
  const prefix = task.S3ExportLocation?.S3Prefix ?? s3Prefix ?? '';
  return {
    ExportTaskId: id,
    State: imageStateOf(task) as never,
    ...(task.StatusMessage ? { StatusMessage: task.StatusMessage } : {}),
    ...(task.Description ? { Description: task.Description } : {}),
    Tags: task.Tags ?? [],
    ExportToS3Task: {
      S3Bucket: task.S3ExportLocation?.S3Bucket,
      ...(extension ? { S3Key: imageObjectKeyFor(prefix, id, extension) } : {}),
    },
    ...(typeof task.Progress === 'string' ? { Progress: task.Progress } : {}),
  };
}

/** The task with this id, either kind (the id tells which). */
export async function findAnyTaskById(ec2: EC2Client, exportTaskId: string, extension?: string): Promise<AnyExportTask | undefined> {
  if (kindOfTaskId(exportTaskId) === 'instance') {
    return findTaskById(ec2, exportTaskId);
  }
  const task = await findImageTaskById(ec2, exportTaskId);
  return task ? imageTaskAsExportTask(task, extension) : undefined;
}

/** The task of `kind` tagged `key` = `value` (completed first), limited to `states` (instance vocabulary). */
export async function findAnyTaskByTag(
  ec2: EC2Client,
  kind: ExportKind,
  key: string,
  value: string,
  options: { readonly states?: readonly string[]; readonly extension?: string } = {},
): Promise<AnyExportTask | undefined> {
  if (kind === 'instance') {
    return findTaskByTag(ec2, key, value, options.states);
  }
  const task = await findImageTaskByTag(ec2, key, value);
  const seen = task ? imageTaskAsExportTask(task, options.extension) : undefined;
  return seen && (!options.states || options.states.includes(seen.State ?? '')) ? seen : undefined;
}

/** The task of a request of either kind: the adopted id, else the one tagged with the client token. */
export async function findTaskForAnyRequest(
  ec2: EC2Client,
  request: KindHints & { readonly clientToken?: string; readonly objectExtension?: string },
): Promise<AnyExportTask | undefined> {
  if (request.adoptExportTaskId) {
    return findAnyTaskById(ec2, request.adoptExportTaskId, request.objectExtension);
  }
  if (request.clientToken) {
    return findAnyTaskByTag(ec2, kindOf(request), TAG_CLIENT_TOKEN, request.clientToken, { extension: request.objectExtension });
  }
  return undefined;
}
