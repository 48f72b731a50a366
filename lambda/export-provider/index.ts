/**
 * The logic of the Custom::VmInstanceExport resource, and of the
 * Custom::VmExportAttributes resource that reads a completed export's attributes (./attributes).
 *
 * Create starts one execution of the export workflow under a deterministic name and answers
 * at once; the deployment waits on a wait condition the workflow signals. Update decides
 * between a new export, a new execution watching the same task, and nothing. Delete stops
 * the execution, cancels an unfinished task and optionally deletes the exported object.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type {
  CloudFormationCustomResourceCreateEvent,
  CloudFormationCustomResourceDeleteEvent,
  CloudFormationCustomResourceEvent,
  CloudFormationCustomResourceUpdateEvent,
} from 'aws-lambda';
import { onAttributesEvent } from './attributes';
import {
  affectingPropertiesOf,
  AnyRequest,
  AnyWorkflowInput,
  extensionOfProps,
  kindOfResource,
  normalizeAny,
  Props,
  subjectOfProps,
  workflowInputOf as inputOfKind,
} from './kind';
import { executionNameOf, exportRecordOf, ExportRecord } from './record';
import { CLIENT_CONFIG } from '../shared/clients';
import {
  ERROR_INVALID_INPUT,
  ERROR_QUOTA_FULL,
  ERROR_WORKFLOW_ERROR,
  EXECUTION_STOPPED_BY_PROVIDER,
  EXPORT_ATTRIBUTES_RESOURCE_TYPE,
  ExportAttributesData,
  ExportResourceData,
  StartResult,
  TAG_CLIENT_TOKEN,
  TAG_EXPORT_HASH,
  WorkflowInput,
} from '../shared/contract';
import { errorCode, errorMessage, isNotFound, VmExportError } from '../shared/ec2-errors';
import { cancelExport, isCancellable, startExport, tagValue } from '../shared/export-task';
import { handleUrlHash, readHandleUrl } from '../shared/handle-url';
import {
  clientTokenFor,
  clientTokenOfExecutionName,
  executionNameFor,
  exportHashFor,
  shortHash,
} from '../shared/hash';
import { ExportKind } from '../shared/image-contract';
import { runImagePreflight } from '../shared/image-preflight';
import { startImageExport } from '../shared/image-task';
import { objectKeyFor, s3UriFor } from '../shared/normalize';
import { runPreflightWithCanonicalId } from '../shared/preflight';
import { findAnyTaskByTag } from '../shared/task-lookup';
import { MAX_REASON_CHARS, truncate } from '../shared/truncate';

const sfn = new SFNClient(CLIENT_CONFIG);
const ec2 = new EC2Client(CLIENT_CONFIG);
const s3 = new S3Client(CLIENT_CONFIG);
const cfn = new CloudFormationClient(CLIENT_CONFIG);
const iam = new IAMClient(CLIENT_CONFIG);

/** The SDK clients the handler uses. */
export interface ProviderClients {
  readonly sfn: SFNClient;
  readonly ec2: EC2Client;
  readonly s3: S3Client;
  readonly cfn: CloudFormationClient;
  /** Image export's preflight reads the service role. */
  readonly iam?: IAMClient;
}

/** What the handler answers CloudFormation with. */
export interface ProviderResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: ExportResourceData | ExportAttributesData;
}


/** One structured log line (CloudWatch Logs). */
function log(fields: Record<string, unknown>): void {
  console.log(JSON.stringify(fields));
}

/** The parts of a state machine ARN. */
export interface StateMachineArnParts {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly name: string;
}

/** Splits `arn:<partition>:states:<region>:<account>:stateMachine:<name>`. */
export function parseStateMachineArn(arn: string): StateMachineArnParts {
  const parts = (arn ?? '').split(':');
  if (parts.length !== 7 || parts[0] !== 'arn' || parts[2] !== 'states' || parts[5] !== 'stateMachine') {
    throw new VmExportError(ERROR_INVALID_INPUT,
      `StateMachineArn '${arn}' is not a state machine ARN: pass the export workflow's ARN.`);
  }
  return { partition: parts[1], region: parts[3], account: parts[4], name: parts[6] };
}

/** The ARN of an execution of the state machine. */
export function executionArnFor(stateMachineArn: string, executionName: string): string {
  const p = parseStateMachineArn(stateMachineArn);
  return `arn:${p.partition}:states:${p.region}:${p.account}:execution:${p.name}:${executionName}`;
}

/** The client token carried by a physical id (an execution ARN), or undefined. */
export function clientTokenOfPhysicalId(physicalId: string): string | undefined {
  const name = executionNameOf(physicalId);
  return name ? clientTokenOfExecutionName(name) : undefined;
}

/** The hash of the export-affecting properties of a resource. */
export function exportHashOf(stackId: string, logicalResourceId: string, props: Props, kind: ExportKind = 'instance'): string {
  return exportHashFor(stackId, logicalResourceId, props as unknown as Record<string, unknown>, affectingPropertiesOf(kind));
}

/** The names of the export-affecting properties whose values differ. */
export function changedAffectingProperties(oldProps: Props, newProps: Props, kind: ExportKind = 'instance'): string[] {
  const text = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));
  const value = (p: Props, k: string) => (p as unknown as Record<string, unknown>)[k];
  return affectingPropertiesOf(kind).filter((k) => text(value(oldProps, k)) !== text(value(newProps, k)));
}

/** The workflow input of an instance export resource's properties (see kind.ts for both kinds). */
export function workflowInputOf(props: Props, extra: Partial<WorkflowInput>): WorkflowInput {
  return inputOfKind('instance', props, extra) as WorkflowInput;
}

/**
 * Where the workflow finds the wait condition to signal: the stack, the handle's logical id and
 * the SHA-256 hash of the handle's URL, read here from CloudFormation (the handle's physical id).
 * The URL itself is in no resource property, log or execution input: the step that signals reads
 * it again and signals only when its hash matches (see ../shared/handle-url.ts).
 */
async function handleOf(
  clients: ProviderClients,
  stackId: string,
  props: Props,
): Promise<Pick<WorkflowInput, 'waitConditionStackId' | 'waitConditionHandleLogicalId' | 'waitConditionHandleHash'>> {
  const logicalId = props.WaitConditionHandle!;
  const url = await readHandleUrl(clients.cfn, { stackId, logicalId });
  if (url === undefined) {
    throw new VmExportError(ERROR_INVALID_INPUT,
      `The wait condition handle ${logicalId} does not exist in the stack: the export cannot be waited for (WaitConditionHandle must be the logical id of the export's handle).`);
  }
  return { waitConditionStackId: stackId, waitConditionHandleLogicalId: logicalId, waitConditionHandleHash: handleUrlHash(url) };
}

function isTrue(v: string | undefined): boolean {
  return String(v).toLowerCase() === 'true';
}

/** An error message that names the instance and fits CloudFormation's reason. */
function withInstance(err: unknown, instanceId: string | undefined): Error {
  const msg = errorMessage(err);
  const named = instanceId && !msg.includes(instanceId) ? `Export of ${instanceId}: ${msg}` : msg;
  const out = new Error(truncate(named, MAX_REASON_CHARS));
  out.name = errorCode(err) === 'UnknownError' ? 'Error' : errorCode(err);
  return out;
}

async function startExecution(
  clients: ProviderClients,
  stateMachineArn: string,
  name: string,
  input: AnyWorkflowInput,
): Promise<string> {
  const executionArn = executionArnFor(stateMachineArn, name);
  try {
    await clients.sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
  } catch (err) {
    // The same request retried: the execution of this name is the one to answer with, unless this
    // handler stopped it (an earlier attempt failed and undid what it started).
    if (errorCode(err) !== 'ExecutionAlreadyExists') {
      throw err;
    }
    await refuseUndoneExecution(clients, executionArn);
  }
  return executionArn;
}

/**
 * Throws when the execution was stopped by this handler (the undo of an earlier, failed attempt
 * of the same request): answering SUCCESS with it would leave the deployment waiting for a
 * signal that never comes.
 */
async function refuseUndoneExecution(clients: ProviderClients, executionArn: string): Promise<void> {
  const out = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
  if (out?.status === 'ABORTED' && out.error === EXECUTION_STOPPED_BY_PROVIDER) {
    throw new VmExportError(ERROR_WORKFLOW_ERROR,
      `The export workflow execution of this request was stopped by an earlier attempt that failed (${truncate(out.cause ?? 'no cause', 300)}); nothing is running. Deploy again.`);
  }
}

/** Stops an execution when it is still running; a missing execution is fine. */
export async function stopIfRunning(clients: ProviderClients, executionArn: string, cause: string): Promise<void> {
  try {
    const out = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (out.status !== 'RUNNING') {
      return;
    }
    await clients.sfn.send(new StopExecutionCommand({ executionArn, error: EXECUTION_STOPPED_BY_PROVIDER, cause }));
  } catch (err) {
    if (errorCode(err) !== 'ExecutionDoesNotExist') {
      throw err;
    }
  }
}

type KeyParts = Pick<AnyRequest, 's3Bucket' | 's3Prefix' | 'objectExtension'>;

/** The attributes of an export task: its id and the key it reported (else the documented key). */
function taskData(request: KeyParts, exportTaskId: string | undefined, reportedKey?: string): Partial<ExportResourceData> {
  if (!exportTaskId) {
    return {};
  }
  const key = reportedKey || objectKeyFor(request.s3Prefix, exportTaskId, request.objectExtension);
  return { ExportTaskId: exportTaskId, ExportObjectKey: key, ExportObjectUri: s3UriFor(request.s3Bucket, key) };
}

/**
 * Starts a new export for a Create (or an Update that replaces the export): validates,
 * runs the preflight, then starts the workflow (and, without waiting, the task itself).
 */
export async function startNewExport(
  clients: ProviderClients,
  event: CloudFormationCustomResourceCreateEvent | CloudFormationCustomResourceUpdateEvent,
): Promise<ProviderResponse> {
  const props = event.ResourceProperties as unknown as Props;
  const kind = kindOfResource(event.ResourceType, props);
  const subject = subjectOfProps(props);
  const arn = parseStateMachineArn(props.StateMachineArn);
  const clientToken = clientTokenFor(event.StackId, event.LogicalResourceId, event.RequestId);
  const exportHash = exportHashOf(event.StackId, event.LogicalResourceId, props, kind);
  const waitForCompletion = isTrue(props.WaitForCompletion);
  const base: AnyWorkflowInput = inputOfKind(kind, props, { preflight: false, clientToken, exportHash });
  if (waitForCompletion) {
    if (!props.WaitConditionHandle) {
      throw new VmExportError(ERROR_INVALID_INPUT,
        'WaitConditionHandle is missing (WaitForCompletion is \'true\'): pass the logical id of the wait condition handle.');
    }
  }
  // Validation errors are thrown before anything starts.
  const request = normalizeAny(kind, base);
  if (isTrue(props.Preflight)) {
    await preflight(clients, request, arn);
  }
  const name = executionNameFor(clientToken);

  if (waitForCompletion) {
    const handle = await handleOf(clients, event.StackId, props);
    let executionArn: string;
    try {
      executionArn = await startExecution(clients, props.StateMachineArn, name, { ...base, ...handle });
    } catch (err) {
      // The execution may have started although the call failed (e.g. the answer was lost), and
      // the Delete after a failed Create does nothing (its physical id is the create-failed
      // marker): stop it and cancel its task.
      await undo(clients, executionArnFor(props.StateMachineArn, name), undefined, clientToken, kind);
      throw err;
    }
    log({ message: 'export workflow started', instanceId: props.InstanceId, imageId: props.ImageId, executionArn });
    return { PhysicalResourceId: executionArn, Data: { ExecutionArn: executionArn } };
  }

  let started: StartResult;
  try {
    started = request.kind === 'image' ? await startImageExport(clients.ec2, request) : await startExport(clients.ec2, request);
  } catch (err) {
    // The task may exist although the call failed (e.g. the answer was lost): cancel it.
    await undo(clients, undefined, undefined, clientToken, kind);
    if ((err as Error).name === ERROR_QUOTA_FULL) {
      throw new VmExportError(ERROR_QUOTA_FULL,
        `The export of ${subject} could not start: the conversion-task quota of this region is full (5 concurrent tasks by default, adjustable to 20 via Service Quotas). With waitForCompletion: true the deployment waits for a free slot; otherwise deploy again later.`);
    }
    throw err;
  }
  // The execution's name (and so the physical id) carries the task id from now on.
  const exportTaskId = started.exportTaskId;
  const watchName = executionNameFor(clientToken, exportTaskId);
  try {
    const executionArn = await startExecution(clients, props.StateMachineArn, watchName,
      { ...base, adoptExportTaskId: exportTaskId });
    log({ message: 'export started', instanceId: props.InstanceId, imageId: props.ImageId, exportTaskId, executionArn });
    return {
      PhysicalResourceId: executionArn,
      Data: { ExecutionArn: executionArn, ...taskData(request, exportTaskId, started.s3Key) },
    };
  } catch (err) {
    // The Delete after a failed Create does nothing: undo the task first (and the execution,
    // which may have started although the call failed).
    await undo(clients, executionArnFor(props.StateMachineArn, watchName), exportTaskId, clientToken, kind);
    throw err;
  }
}

/**
 * The read-only preflight of a request, either kind. An instance export's checks use the
 * canonical ID the construct passes (the region's or the user's; the table stays out of this
 * bundle); an image export's read the AMI, the service role and the bucket.
 */
async function preflight(clients: ProviderClients, request: AnyRequest, arn: StateMachineArnParts): Promise<void> {
  if (request.kind === 'image') {
    await runImagePreflight({ ec2: clients.ec2, s3: clients.s3, iam: clients.iam ?? iam }, request, arn.region, arn.account);
    return;
  }
  if (!request.canonicalId) {
    throw new VmExportError(ERROR_INVALID_INPUT,
      'CanonicalId is missing (Preflight is \'true\'): pass the canonical ID the bucket grants.');
  }
  await runPreflightWithCanonicalId(clients.ec2, clients.s3, request, arn.region, request.canonicalId);
}

/**
 * Best-effort cleanup after a failed Create: stops the execution, cancels the task (by id, or
 * the one tagged with the client token). Errors are logged, never thrown.
 */
async function undo(
  clients: ProviderClients,
  executionArn: string | undefined,
  exportTaskId: string | undefined,
  clientToken?: string,
  kind: ExportKind = 'instance',
): Promise<void> {
  const safe = (p: Promise<unknown>) => p.catch((err) =>
    log({ level: 'error', message: 'undo failed', executionArn, exportTaskId, code: errorCode(err), error: errorMessage(err) }));
  if (executionArn) {
    await safe(stopIfRunning(clients, executionArn, 'The custom resource request failed after it started the export.'));
  }
  let taskId = exportTaskId;
  if (!taskId && clientToken) {
    await safe(findAnyTaskByTag(clients.ec2, kind, TAG_CLIENT_TOKEN, clientToken).then((t) => {
      taskId = isCancellable(t) ? t!.ExportTaskId : undefined;
    }));
  }
  if (taskId) {
    await safe(cancelExport(clients.ec2, taskId));
  }
}

async function isRollingBack(clients: ProviderClients, stackId: string): Promise<boolean> {
  try {
    const out = await clients.cfn.send(new DescribeStacksCommand({ StackName: stackId }));
    return out.Stacks?.[0]?.StackStatus === 'UPDATE_ROLLBACK_IN_PROGRESS';
  } catch (err) {
    log({ level: 'error', message: 'DescribeStacks failed; assuming no rollback', code: errorCode(err), error: errorMessage(err) });
    return false;
  }
}

/** The attributes of an unchanged resource (rebuilt from its record: Update must return them all). */
async function currentData(clients: ProviderClients, props: Props, physicalId: string, kind: ExportKind): Promise<ExportResourceData> {
  if (isTrue(props.WaitForCompletion)) {
    return { ExecutionArn: physicalId };
  }
  const record = await exportRecordOf(clients, physicalId, kind, extensionOfProps(kind, props));
  const request = normalizeAny(kind, inputOfKind(kind, props, { clientToken: clientTokenOfPhysicalId(physicalId) }));
  return { ExecutionArn: physicalId, ...taskData(request, record.exportTaskId, record.s3Key) };
}

/**
 * A rollback to properties whose export exists: answer with that export instead of starting
 * another. Undefined when no such export can be found.
 */
async function rollbackReuse(clients: ProviderClients, event: CloudFormationCustomResourceUpdateEvent): Promise<ProviderResponse | undefined> {
  const props = event.ResourceProperties as unknown as Props;
  const kind = kindOfResource(event.ResourceType, props);
  const waitForCompletion = isTrue(props.WaitForCompletion);
  const exportHash = exportHashOf(event.StackId, event.LogicalResourceId, props, kind);
  const task = await findAnyTaskByTag(clients.ec2, kind, TAG_EXPORT_HASH, exportHash,
    { states: ['completed', 'active'], extension: extensionOfProps(kind, props) });
  const token = task ? tagValue(task, TAG_CLIENT_TOKEN) : undefined;
  if (!task || !token) {
    return undefined;
  }
  const name = executionNameFor(token, waitForCompletion ? undefined : task.ExportTaskId);
  const executionArn = executionArnFor(props.StateMachineArn, name);
  log({ message: 'rollback reuses export', instanceId: props.InstanceId, imageId: props.ImageId, exportTaskId: task.ExportTaskId, executionArn });
  const request = normalizeAny(kind, inputOfKind(kind, props, { clientToken: token }));
  return {
    PhysicalResourceId: executionArn,
    Data: { ExecutionArn: executionArn, ...(waitForCompletion ? {} : taskData(request, task.ExportTaskId, task.ExportToS3Task?.S3Key)) },
  };
}

/**
 * A rollback whose earlier export EC2 no longer lists. With a wait condition, the old wait
 * condition (which the rollback keeps) still holds the attributes: answer without starting a
 * second export. Without one, the attributes cannot be rebuilt: refuse clearly.
 */
function rollbackWithoutRecord(event: CloudFormationCustomResourceUpdateEvent): ProviderResponse {
  const props = event.ResourceProperties as unknown as Props;
  if (!isTrue(props.WaitForCompletion)) {
    throw new VmExportError(ERROR_INVALID_INPUT,
      `The rollback of ${subjectOfProps(props)} needs the export of its earlier properties, which EC2 no longer lists; no second export was started. Continue the rollback skipping this resource (aws cloudformation continue-update-rollback --resources-to-skip ${event.LogicalResourceId}), then deploy again.`);
  }
  const exportHash = exportHashOf(event.StackId, event.LogicalResourceId, props, kindOfResource(event.ResourceType, props));
  const executionArn = executionArnFor(props.StateMachineArn, executionNameFor(exportHash));
  log({ message: 'rollback keeps the earlier export unchanged (not listed any more)', instanceId: props.InstanceId, imageId: props.ImageId, executionArn });
  return { PhysicalResourceId: executionArn, Data: { ExecutionArn: executionArn } };
}

/** (b) The export changed but the wait condition did not: its signal would be stale. */
function refuseStaleWaitCondition(oldProps: Props, props: Props, changed: string[]): never {
  const value = (p: Props, k: string) => String((p as unknown as Record<string, unknown>)[k] ?? '');
  const diff = changed.map((k) => `${k} '${value(oldProps, k)}' -> '${value(props, k)}'`).join(', ');
  throw new VmExportError(ERROR_INVALID_INPUT,
    truncate(`The export of ${subjectOfProps(props)} changed (${diff}) but its wait condition was not replaced, so the deployment could not wait for the new export. Set the construct's \`revision\` prop to a new value (or pass a literal ${props.ImageId !== undefined ? 'AMI' : 'instance'} id) so that the wait condition is replaced with the export, and deploy again.`, MAX_REASON_CHARS));
}

/** What a new execution watching an earlier export is told about it. */
function adoptionOf(record: ExportRecord): Partial<WorkflowInput> {
  if (!record.exportTaskId) {
    return {};
  }
  const completedKey = record.state === 'completed' && record.s3Key ? { completedExportS3Key: record.s3Key } : {};
  return { adoptExportTaskId: record.exportTaskId, ...completedKey };
}

/** (c) Same export, new wait condition (e.g. a new timeout): watch the same task again. */
async function rewatch(clients: ProviderClients, event: CloudFormationCustomResourceUpdateEvent): Promise<ProviderResponse> {
  const props = event.ResourceProperties as unknown as Props;
  const kind = kindOfResource(event.ResourceType, props);
  const physicalId = event.PhysicalResourceId;
  const oldToken = clientTokenOfPhysicalId(physicalId)!;
  const record = await exportRecordOf(clients, physicalId, kind, extensionOfProps(kind, props));
  if (!record.exportTaskId && record.executionStatus === undefined) {
    // Started once under this token: never start it twice, even if EC2 forgot the task. (An
    // execution that is still known but created no task exported nothing: watching again is safe.)
    throw new VmExportError(ERROR_INVALID_INPUT,
      `The export of ${subjectOfProps(props)} cannot be found any more (neither EC2 nor the execution ${physicalId} knows its task), so its new wait condition cannot be signalled and no second export was started. Set the construct's \`revision\` prop to a new value to export again, and deploy again.`);
  }
  await stopIfRunning(clients, physicalId, 'Replaced by a new execution watching the same export (the wait condition changed).');
  const input = inputOfKind(kind, props, {
    preflight: false,
    clientToken: oldToken,
    exportHash: exportHashOf(event.StackId, event.LogicalResourceId, props, kind),
    ...await handleOf(clients, event.StackId, props),
    ...adoptionOf(record),
  });
  normalizeAny(kind, input);
  const name = executionNameFor(shortHash([oldToken, event.RequestId]));
  const executionArn = await startExecution(clients, props.StateMachineArn, name, input);
  log({ message: 'export watched by a new execution', instanceId: props.InstanceId, imageId: props.ImageId, exportTaskId: record.exportTaskId, source: record.source, executionArn });
  return { PhysicalResourceId: physicalId, Data: { ExecutionArn: executionArn } };
}

/** Update: a different export (a), a stale wait condition (b), a new wait condition (c), or nothing (d). */
export async function onUpdate(clients: ProviderClients, event: CloudFormationCustomResourceUpdateEvent): Promise<ProviderResponse> {
  const props = event.ResourceProperties as unknown as Props;
  const oldProps = event.OldResourceProperties as unknown as Props;
  const physicalId = event.PhysicalResourceId;
  const kind = kindOfResource(event.ResourceType, props);
  const changed = changedAffectingProperties(oldProps, props, kind);
  const handleChanged = (oldProps.WaitConditionHandle ?? '') !== (props.WaitConditionHandle ?? '');
  const waitForCompletion = isTrue(props.WaitForCompletion);

  if (changed.length > 0) {
    const rollingBack = await isRollingBack(clients, event.StackId);
    if (handleChanged || !waitForCompletion) {
      if (rollingBack) {
        return await rollbackReuse(clients, event) ?? rollbackWithoutRecord(event);
      }
      return startNewExport(clients, event);
    }
    if (rollingBack) {
      return { PhysicalResourceId: physicalId, Data: await currentData(clients, props, physicalId, kind) };
    }
    refuseStaleWaitCondition(oldProps, props, changed);
  }
  if (handleChanged && waitForCompletion) {
    return clientTokenOfPhysicalId(physicalId) ? rewatch(clients, event) : startNewExport(clients, event);
  }
  return { PhysicalResourceId: physicalId, Data: await currentData(clients, props, physicalId, kind) };
}

/** Deletes the exported object of a completed export (opt-in); a missing object is fine. */
async function deleteExportedObject(
  clients: ProviderClients,
  props: Props,
  physicalId: string,
  record: ExportRecord,
  kind: ExportKind,
): Promise<void> {
  const request = normalizeAny(kind, inputOfKind(kind, props, { clientToken: clientTokenOfPhysicalId(physicalId) }));
  const bucket = record.task?.ExportToS3Task?.S3Bucket || props.S3Bucket;
  const key = taskData(request, record.exportTaskId, record.s3Key).ExportObjectKey;
  if (!key) {
    log({ level: 'warning', message: 'exported object not deleted: its task is not known any more', physicalId, bucket });
    return;
  }
  try {
    await clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    log({ message: 'exported object deleted', bucket, key, source: record.source });
  } catch (err) {
    if (!isNotFound(err)) {
      throw err;
    }
  }
}

/**
 * Delete: stop the execution, cancel a task EC2 lists as unfinished, optionally delete the
 * object of a completed export. A task EC2 no longer lists is finished: nothing is cancelled.
 */
export async function onDelete(clients: ProviderClients, event: CloudFormationCustomResourceDeleteEvent): Promise<ProviderResponse> {
  const props = event.ResourceProperties as unknown as Props;
  const physicalId = event.PhysicalResourceId;
  if (!clientTokenOfPhysicalId(physicalId)) {
    // Not an execution this handler started (e.g. the Provider's marker after a failed Create).
    return { PhysicalResourceId: physicalId };
  }
  await stopIfRunning(clients, physicalId, 'The export resource was deleted.');
  const kind = kindOfResource(event.ResourceType, props);
  const record = await exportRecordOf(clients, physicalId, kind, extensionOfProps(kind, props));
  if (record.task && isCancellable(record.task)) {
    const result = await cancelExport(clients.ec2, record.exportTaskId!);
    log({ message: 'export task cancelled', exportTaskId: record.exportTaskId, result });
  } else if (isTrue(props.DeleteObjectOnDelete) && isCompletedOrForgotten(record)) {
    await deleteExportedObject(clients, props, physicalId, record, kind);
  }
  return { PhysicalResourceId: physicalId };
}

/**
 * True when the export completed, or may have: a task EC2 no longer lists but whose id the
 * physical id carries (an export that did not wait) is finished, and deleting a key that does
 * not exist (a cancelled export) is harmless.
 */
function isCompletedOrForgotten(record: ExportRecord): boolean {
  return record.state === 'completed' || (record.source === 'physical-id' && !!record.exportTaskId);
}

/** onEvent with explicit clients (tests). */
export async function onEvent(event: CloudFormationCustomResourceEvent, clients: ProviderClients): Promise<ProviderResponse> {
  if (event.ResourceType === EXPORT_ATTRIBUTES_RESOURCE_TYPE) {
    log({ message: 'request', requestType: event.RequestType, logicalResourceId: event.LogicalResourceId, resourceType: event.ResourceType });
    return onAttributesEvent(event);
  }
  const props = event.ResourceProperties as unknown as Props;
  log({
    message: 'request',
    requestType: event.RequestType,
    logicalResourceId: event.LogicalResourceId,
    physicalResourceId: (event as { PhysicalResourceId?: string }).PhysicalResourceId,
    instanceId: props?.InstanceId,
    imageId: props?.ImageId,
  });
  try {
    switch (event.RequestType) {
      case 'Create':
        return await startNewExport(clients, event);
      case 'Update':
        return await onUpdate(clients, event);
      case 'Delete':
        return await onDelete(clients, event);
      default:
        throw new Error(`Unknown request type ${(event as { RequestType?: string }).RequestType}`);
    }
  } catch (err) {
    throw withInstance(err, subjectOfProps(props));
  }
}

/** The module's SDK clients (created once per container), for the Lambda entry point (../custom-resource). */
export function defaultProviderClients(): ProviderClients {
  return { sfn, ec2, s3, cfn, iam };
}
