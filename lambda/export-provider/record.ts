/**
 * What the custom resource knows about its export, rebuilt for every Update and Delete without
 * depending on DescribeExportTasks remembering old tasks (how long it lists finished tasks is
 * undocumented):
 *
 * 1. the task itself, when EC2 still lists it (by the id in the physical id, else by the client
 *    token tag);
 * 2. else the execution's output (Step Functions keeps a closed execution for 90 days): the task
 *    id and the object key the task reported when it completed;
 * 3. else the task id carried by the physical id (exports that did not wait), with the documented
 *    key `<prefix><task id><extension>`.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { TAG_CLIENT_TOKEN, WorkflowOutput } from '../shared/contract';
import { errorCode } from '../shared/ec2-errors';
import { clientTokenOfExecutionName, exportTaskIdOfExecutionName } from '../shared/hash';
import { ExportKind } from '../shared/image-contract';
import { AnyExportTask, findAnyTaskById, findAnyTaskByTag } from '../shared/task-lookup';

/** Where the record came from. */
export type RecordSource = 'task' | 'execution' | 'physical-id' | 'none';

/** The export of a custom resource, as far as it can be known. */
export interface ExportRecord {
  readonly source: RecordSource;
  /** The task, when EC2 still lists it. */
  readonly task?: AnyExportTask;
  readonly exportTaskId?: string;
  /** The key the task reported (from the task or the execution's output). */
  readonly s3Key?: string;
  /** The task's state: listed, or 'completed' from a succeeded execution; undefined when unknown. */
  readonly state?: string;
  /** The status of the execution behind the physical id, when it was looked up and exists. */
  readonly executionStatus?: string;
}

const EXECUTION_ARN = /^arn:[^:]+:states:[^:]+:[^:]*:execution:[^:]+:([^:]+)$/;

/** The execution name of a physical id (an execution ARN), or undefined. */
export function executionNameOf(physicalId: string): string | undefined {
  return EXECUTION_ARN.exec(physicalId ?? '')?.[1];
}

async function listedTask(ec2: EC2Client, name: string, kind: ExportKind, extension?: string): Promise<AnyExportTask | undefined> {
  const taskId = exportTaskIdOfExecutionName(name);
  if (taskId) {
    return findAnyTaskById(ec2, taskId, extension);
  }
  const token = clientTokenOfExecutionName(name);
  return token ? findAnyTaskByTag(ec2, kind, TAG_CLIENT_TOKEN, token, { extension }) : undefined;
}

/** The execution's status and, when it succeeded, its output; undefined when it is gone. */
async function executionOf(sfn: SFNClient, executionArn: string): Promise<{ status?: string; output?: Partial<WorkflowOutput> } | undefined> {
  try {
    const out = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    return { status: out.status, output: out.status === 'SUCCEEDED' && out.output ? parseOutput(out.output) : undefined };
  } catch (err) {
    if (errorCode(err) === 'ExecutionDoesNotExist') {
      return undefined;
    }
    throw err;
  }
}

function parseOutput(text: string): Partial<WorkflowOutput> | undefined {
  try {
    return JSON.parse(text) as Partial<WorkflowOutput>;
  } catch {
    return undefined;
  }
}

/** The record of the export behind a physical id (see the module comment for the order). */
export async function exportRecordOf(
  clients: { readonly ec2: EC2Client; readonly sfn: SFNClient },
  physicalId: string,
  kind: ExportKind = 'instance',
  extension?: string,
): Promise<ExportRecord> {
  const name = executionNameOf(physicalId);
  if (!name) {
    return { source: 'none' };
  }
  const task = await listedTask(clients.ec2, name, kind, extension);
  if (task?.ExportTaskId) {
    return { source: 'task', task, exportTaskId: task.ExportTaskId, s3Key: task.ExportToS3Task?.S3Key || undefined, state: task.State };
  }
  const execution = await executionOf(clients.sfn, physicalId);
  const output = execution?.output;
  const executionStatus = execution?.status;
  if (output?.exportTaskId && output.status === 'SUCCEEDED') {
    return { source: 'execution', exportTaskId: output.exportTaskId, s3Key: output.s3Key, state: 'completed', executionStatus };
  }
  const taskId = exportTaskIdOfExecutionName(name);
  return taskId ? { source: 'physical-id', exportTaskId: taskId, executionStatus } : { source: 'none', executionStatus };
}
