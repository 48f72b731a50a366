/**
 * The export workflow's Lambda step: `prepare`, `start` and `finish` (see ExportTaskEvent), and
 * the fleet workflow's `fleet-prepare`, `fleet-record` and `fleet-finish` (lambda/shared/fleet.ts).
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { backstop, BackstopResult, isExecutionStatusChange } from './backstop';
import { finish } from './finish';
import { CLIENT_CONFIG } from '../shared/clients';
import {
  ERROR_DEADLINE_PASSED,
  ERROR_EXPORT_REJECTED,
  ERROR_INVALID_INPUT,
  ERROR_QUOTA_FULL,
  ERROR_TRANSIENT,
  ExportTaskEvent,
  NormalizedRequest,
  START_STATE_QUOTA_FULL,
  StartResult,
  WorkflowInput,
  WorkflowOutput,
} from '../shared/contract';
import { VmExportError } from '../shared/ec2-errors';
import { checkExportGrant, checkImageExportGrant } from '../shared/export-grants';
import { startExport } from '../shared/export-task';
import { finishFleet, prepareFleet, recordFailure } from '../shared/fleet';
import { FleetIterationResult, FleetPlan, FleetSummary } from '../shared/fleet-contract';
import { ImageWorkflowInput, NormalizedImageRequest } from '../shared/image-contract';
import { normalizeImageRequest } from '../shared/image-normalize';
import { runImagePreflight } from '../shared/image-preflight';
import { startImageExport } from '../shared/image-task';
import { normalizeRequest } from '../shared/normalize';
import { runPreflight } from '../shared/preflight';
import { findSlotHolders, SlotHolders } from '../shared/slot-holders';
import { kindOf } from '../shared/task-lookup';

export { finish, LATE_START_GRACE_MS } from './finish';
export type { FinishOptions } from './finish';
export { backstop, isExecutionStatusChange } from './backstop';
export type { BackstopResult, ExecutionStatusChangeEvent } from './backstop';

const ec2 = new EC2Client(CLIENT_CONFIG);
const s3 = new S3Client(CLIENT_CONFIG);
const sfn = new SFNClient(CLIENT_CONFIG);
const cfn = new CloudFormationClient(CLIENT_CONFIG);
const iam = new IAMClient(CLIENT_CONFIG);

/** The SDK clients the steps use. */
export interface TaskClients {
  readonly ec2: EC2Client;
  readonly s3: S3Client;
  /** Image export's preflight reads the service role. */
  readonly iam?: IAMClient;
}

/** A request of either kind. */
export type AnyNormalizedRequest = NormalizedRequest | NormalizedImageRequest;

/** The account of the function (the fifth field of its ARN), for the image preflight's owner check. */
export function accountOfFunctionArn(arn: string | undefined): string {
  return (arn ?? '').split(':')[4] ?? '';
}

/** The region the function runs in. */
export async function currentRegion(client: EC2Client): Promise<string> {
  return process.env.AWS_REGION || await client.config.region();
}

/**
 * `prepare`: validate, apply defaults, refuse an instance the workflow was not granted (see
 * export-grants.ts), run the preflight unless `preflight` is false.
 */
export async function prepare(
  input: WorkflowInput | ImageWorkflowInput,
  clients: TaskClients,
  region?: string,
  accountId = '',
): Promise<AnyNormalizedRequest> {
  if (kindOf(input as never) === 'image') {
    return prepareImage(input as ImageWorkflowInput, clients, region, accountId);
  }
  const request: NormalizedRequest = { ...normalizeRequest(input as WorkflowInput), kind: 'instance' };
  // Preflight or not: the workflow exports only the instances it was granted.
  await checkExportGrant(clients.ec2, request.instanceId);
  if (input.preflight !== false) {
    await runPreflight(clients.ec2, clients.s3, request, region ?? await currentRegion(clients.ec2));
  }
  // The deadline branch starts right after this step: no new task after this moment.
  return { ...request, notAfter: Date.now() + request.deadlineSeconds * 1000 };
}

/** `prepare` of an image export: validate, refuse an AMI the workflow was not granted, preflight. */
async function prepareImage(
  input: ImageWorkflowInput,
  clients: TaskClients,
  region: string | undefined,
  accountId: string,
): Promise<NormalizedImageRequest> {
  const request = normalizeImageRequest(input);
  checkImageExportGrant(request.imageId);
  if (input.preflight !== false) {
    await runImagePreflight({ ec2: clients.ec2, s3: clients.s3, iam: clients.iam ?? iam }, request,
      region ?? await currentRegion(clients.ec2), accountId);
  }
  return { ...request, notAfter: Date.now() + request.deadlineSeconds * 1000 };
}

/**
 * `start`: adopt, find by client token or create the task (at most once). A new task is never
 * created after the request's deadline (`notAfter`): the finish step may already have looked
 * for it. When the conversion-task quota is full it answers `state: 'quota-full'` with the
 * tasks that hold the slots (`holders`, `imageHolders`); when it sees none (imports hold them,
 * or the lists failed) it throws VmExport.QuotaFull, which the workflow retries with backoff.
 */
export async function start(
  request: AnyNormalizedRequest,
  clients: { readonly ec2: EC2Client },
  now: () => number = Date.now,
): Promise<StartResult | (StartResult & SlotHolders)> {
  try {
    return await startOnce(request, clients, now);
  } catch (err) {
    if (!(err instanceof VmExportError) || err.name !== ERROR_QUOTA_FULL) {
      throw err;
    }
    // The workflow waits for one of the holders to end (polling them without Lambda), then calls start again.
    const holders = await findSlotHolders(clients.ec2);
    if (holders.holders.length === 0 && holders.imageHolders.length === 0) {
      throw err; // nothing to watch (imports hold the slots, or the lists failed): retried with backoff
    }
    console.log(JSON.stringify({ message: 'waiting for a conversion-task slot', holders: holders.holders.length, imageHolders: holders.imageHolders.length }));
    return { exportTaskId: '', state: START_STATE_QUOTA_FULL, ...holders };
  }
}

async function startOnce(request: AnyNormalizedRequest, clients: { readonly ec2: EC2Client }, now: () => number): Promise<StartResult> {
  const image = request.kind === 'image';
  const mayCreate = () => {
    if (request.notAfter !== undefined && now() >= request.notAfter) {
      throw new VmExportError(ERROR_DEADLINE_PASSED,
        `The deadline of ${request.deadlineSeconds} seconds passed before the export of ${image ? request.imageId : request.instanceId} could start; no task was created.`);
    }
  };
  if (!image) {
    return startExport(clients.ec2, request, mayCreate);
  }
  try {
    return await startImageExport(clients.ec2, request, mayCreate);
  } catch (err) {
    throw retriedWhilePropagating(err, request, now);
  }
}

/** How long after `prepare` a refusal that IAM's propagation delay explains is retried. */
export const IAM_PROPAGATION_GRACE_MS = 120_000;

/**
 * IAM changes take effect after a delay (IAM User Guide, "Changes that I make are not always
 * immediately visible"): the service role, its policy and the function's PassRole grant are
 * created with the stack, seconds before the first ExportImage. A refusal that names the role
 * ("The service role ... provided does not exist or does not have sufficient permissions") or
 * the caller's permissions (UnauthorizedOperation) within IAM_PROPAGATION_GRACE_MS of `prepare`
 * is VmExport.Transient, which the workflow retries with backoff; later it stays ExportRejected.
 */
function retriedWhilePropagating(err: unknown, request: NormalizedImageRequest, now: () => number): unknown {
  if (!(err instanceof VmExportError) || err.name !== ERROR_EXPORT_REJECTED || request.notAfter === undefined) {
    return err;
  }
  const preparedAt = request.notAfter - request.deadlineSeconds * 1000;
  if (now() - preparedAt > IAM_PROPAGATION_GRACE_MS || !/service role .* does not exist or does not have sufficient permissions|UnauthorizedOperation/i.test(err.message)) {
    return err;
  }
  return new VmExportError(ERROR_TRANSIENT,
    `ExportImage was refused within ${IAM_PROPAGATION_GRACE_MS / 1000} s of the preflight, as while IAM changes are still propagating; retried: ${err.message}`);
}

/**
 * The Lambda entry point: the workflow's steps, and the signal backstop's execution status
 * change events (from the workflow's EventBridge rule).
 */
export async function handler(
  event: ExportTaskEvent,
  context?: { readonly invokedFunctionArn?: string },
): Promise<AnyNormalizedRequest | StartResult | WorkflowOutput | BackstopResult | FleetPlan | FleetIterationResult | FleetSummary> {
  if (isExecutionStatusChange(event)) {
    return backstop(event, { sfn, cfn, ec2 });
  }
  const clients = { ec2, s3, iam };
  switch (event?.action) {
    case 'prepare':
      return prepare(event.input, clients, undefined, accountOfFunctionArn(context?.invokedFunctionArn));
    case 'start':
      return start(event.request, clients);
    case 'finish':
      return finish(event, { ec2, cfn });
    case 'fleet-prepare':
      return prepareFleet(event.input, event.executionArn);
    case 'fleet-record':
      return recordFailure(event);
    case 'fleet-finish':
      return finishFleet(event);
    default:
      throw new VmExportError(ERROR_INVALID_INPUT,
        `Unknown action ${JSON.stringify((event as { action?: unknown } | undefined)?.action)}: the export-task function takes 'prepare', 'start', 'finish', 'fleet-prepare', 'fleet-record' or 'fleet-finish'.`);
  }
}
