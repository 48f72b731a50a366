/**
 * The fleet workflow's Lambda steps: `fleet-prepare` (validate the fleet input once, before any
 * export), `fleet-record` (read one failed child's outcome out of the Cause Step Functions gives
 * a failed `startExecution.sync:2` task) and `fleet-finish` (the summary). None calls AWS: the
 * listing, the exports and the waiting run in Step Functions.
 */
import { causeText } from './cause';
import {
  DEFAULT_CONCURRENT_EXPORTS,
  ERROR_FLEET_FAILED,
  ERROR_INVALID_INPUT,
  ERROR_LISTING_FAILED,
  ERROR_WORKFLOW_ERROR,
  FLEET_CHILD_PREFIX,
  INSTANCE_ID_PATTERN,
  MAX_CONCURRENT_EXPORTS,
  MAX_FLEET_INSTANCES,
  MAX_FLEET_PREFIX,
  MAX_FLEET_TOKEN,
  WorkflowInput,
} from './contract';
import { VmExportError } from './ec2-errors';
import {
  FLEET_REASON_CHARS,
  FleetFinishEvent,
  FleetInput,
  FleetInstanceOutcome,
  FleetIterationResult,
  FleetPlan,
  FleetRecordEvent,
  FleetSummary,
  InstanceFilter,
  MAX_CAUSE_CHARS,
} from './fleet-contract';
import { sha256Hex } from './hash';
import { DOCUMENTED_INPUT_KEYS, normalizeRequest, show } from './normalize';
import { truncate } from './truncate';

/** The fleet's own keys; the others are the single export's (without instanceId and clientToken). */
const FLEET_KEYS = ['instanceIds', 'instanceFilters', 'maxConcurrentExports', 'clientToken'];
const SHARED_KEYS = DOCUMENTED_INPUT_KEYS.filter((k) => k !== 'instanceId' && k !== 'clientToken');
/** The instance states a listing keeps: the ones EC2 can export now, and the ones it soon can (the preflight reports them). */
const LISTED_STATES = ['pending', 'running', 'stopping', 'stopped'];
const MAX_FILTERS = 50;
/** Stands in for the instance while the shared fields are checked (never reaches a message). */
const PLACEHOLDER_INSTANCE = 'i-00000000';

/** `fleet-prepare`: every problem of the fleet input at once, or the plan. */
export function prepareFleet(input: FleetInput, executionArn: string): FleetPlan {
  const raw = (input ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalid([`the fleet input must be a JSON object (instanceIds or instanceFilters, targetEnvironment, s3Bucket, ...), got ${show(raw)}.`]);
  }
  const problems: string[] = [...unknownKeyProblems(raw)];
  const instanceIds = instanceIdsOf(raw, problems);
  const filters = filtersOf(raw, problems);
  const maxConcurrentExports = concurrencyOf(raw.maxConcurrentExports, problems);
  const token = fleetTokenOf(raw.clientToken, problems);
  const common = sharedInputOf(raw, problems);
  if (problems.length > 0) {
    throw invalid(problems);
  }
  const fleetId = sha256Hex(executionArn).slice(0, 16);
  return {
    fleetId,
    childNamePrefix: `${FLEET_CHILD_PREFIX}${fleetId}-`,
    tokenPrefix: `${token ?? FLEET_CHILD_PREFIX + fleetId}-`,
    maxConcurrentExports,
    listInstances: filters !== undefined,
    instanceIds: instanceIds ?? [],
    filters: filters === undefined ? [] : withListedStates(filters),
    common,
  };
}

function invalid(problems: string[]): VmExportError {
  return new VmExportError(ERROR_INVALID_INPUT, `Invalid fleet input: ${problems.join(' ')}`);
}

function unknownKeyProblems(raw: Record<string, unknown>): string[] {
  const known = [...FLEET_KEYS, ...SHARED_KEYS];
  const unknown = Object.keys(raw).filter((k) => !known.includes(k));
  if (unknown.includes('instanceId')) {
    return [`instanceId is the single export's field: a fleet takes instanceIds (a list) or instanceFilters.${unknown.length > 1 ? ` Unknown fields too: ${unknown.filter((k) => k !== 'instanceId').join(', ')}.` : ''}`];
  }
  return unknown.length === 0 ? [] : [`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}: the valid fields are ${known.join(', ')}.`];
}

function instanceIdsOf(raw: Record<string, unknown>, problems: string[]): string[] | undefined {
  const ids = raw.instanceIds;
  const hasFilters = raw.instanceFilters !== undefined;
  if (ids === undefined) {
    if (!hasFilters) problems.push('name the instances: instanceIds (a list of instance ids) or instanceFilters (DescribeInstances filters, e.g. [{"Name":"tag:vm-export","Values":["nightly"]}]).');
    return undefined;
  }
  if (hasFilters) {
    problems.push('instanceIds and instanceFilters exclude each other: pass one of them.');
  }
  if (!Array.isArray(ids) || ids.length === 0) {
    problems.push(`instanceIds ${show(ids)} must be a non-empty list of instance ids.`);
    return undefined;
  }
  const bad = ids.filter((id) => typeof id !== 'string' || !INSTANCE_ID_PATTERN.test(id));
  if (bad.length > 0) {
    problems.push(`instanceIds holds ${bad.map(show).join(', ')}, not instance ids: use 'i-' followed by 8 or 17 lowercase hexadecimal characters.`);
  }
  const unique = [...new Set(ids as string[])];
  if (unique.length > MAX_FLEET_INSTANCES) {
    problems.push(`instanceIds names ${unique.length} instances; a fleet exports at most ${MAX_FLEET_INSTANCES}: split it into several fleets.`);
  }
  return unique;
}

function filtersOf(raw: Record<string, unknown>, problems: string[]): InstanceFilter[] | undefined {
  const filters = raw.instanceFilters;
  if (filters === undefined) {
    return undefined;
  }
  if (!Array.isArray(filters) || filters.length === 0 || filters.length > MAX_FILTERS) {
    problems.push(`instanceFilters ${show(filters)} must be a list of 1 to ${MAX_FILTERS} DescribeInstances filters, e.g. [{"Name":"tag:vm-export","Values":["nightly"]}].`);
    return undefined;
  }
  const bad = filters.filter((f) => !isFilter(f));
  if (bad.length > 0) {
    problems.push(`instanceFilters holds ${bad.map(show).join(', ')}: each filter is {"Name": "<filter name>", "Values": ["<value>", ...]} with a non-empty name and 1 to 200 string values.`);
  }
  return filters as InstanceFilter[];
}

function isFilter(f: unknown): f is InstanceFilter {
  const filter = f as Partial<InstanceFilter> | null;
  return typeof filter === 'object' && filter !== null && typeof filter.Name === 'string' && filter.Name.trim() !== ''
    && Array.isArray(filter.Values) && filter.Values.length > 0 && filter.Values.length <= 200
    && filter.Values.every((v) => typeof v === 'string');
}

/** Adds the states that can be exported, unless the input filters on the state itself (a terminated instance never can). */
function withListedStates(filters: InstanceFilter[]): InstanceFilter[] {
  if (filters.some((f) => f.Name === 'instance-state-name' || f.Name === 'instance-state-code')) {
    return filters;
  }
  return [...filters, { Name: 'instance-state-name', Values: LISTED_STATES }];
}

function concurrencyOf(value: unknown, problems: string[]): number {
  if (value === undefined) {
    return DEFAULT_CONCURRENT_EXPORTS;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_CONCURRENT_EXPORTS) {
    problems.push(`maxConcurrentExports ${show(value)} must be a whole number from 1 to ${MAX_CONCURRENT_EXPORTS} (the conversion-task quota is ${DEFAULT_CONCURRENT_EXPORTS} per region by default, at most ${MAX_CONCURRENT_EXPORTS}).`);
    return DEFAULT_CONCURRENT_EXPORTS;
  }
  return value;
}

function fleetTokenOf(value: unknown, problems: string[]): string | undefined {
  if (value === undefined || value === '') {
    return undefined;
  }
  if (typeof value !== 'string' || value.length > MAX_FLEET_TOKEN) {
    problems.push(`clientToken ${show(value)} must be a string of at most ${MAX_FLEET_TOKEN} characters (each export's token is '<clientToken>-<instance id>', a tag value).`);
    return undefined;
  }
  return value;
}

/** The single-export fields, checked by the single export's own rules (same messages). */
function sharedInputOf(raw: Record<string, unknown>, problems: string[]): Record<string, unknown> {
  const common: Record<string, unknown> = {};
  for (const key of SHARED_KEYS) {
    if (raw[key] !== undefined) common[key] = raw[key];
  }
  try {
    normalizeRequest({ ...common, instanceId: PLACEHOLDER_INSTANCE, clientToken: 'fleet' } as unknown as WorkflowInput, undefined, 'the fleet');
  } catch (err) {
    problems.push(((err as Error).message ?? '').replace(/^Invalid input for the fleet: /, ''));
  }
  if (typeof common.s3Prefix === 'string' && common.s3Prefix.length > MAX_FLEET_PREFIX) {
    problems.push(`s3Prefix is ${common.s3Prefix.length} characters long: a fleet's prefix has at most ${MAX_FLEET_PREFIX} (every instance's outcome carries its key, and 100 of them must fit Step Functions' 256 KiB). Shorten it.`);
  }
  return common;
}

/**
 * `fleet-record`: the outcome of a child that failed. A `startExecution.sync:2` task whose child
 * failed, was stopped or timed out fails with States.TaskFailed and the child's DescribeExecution
 * response (JSON) as its Cause, the child's own Error and Cause inside; any other Error (the
 * child never started, the task timed out) is kept as it is.
 */
export function recordFailure(event: FleetRecordEvent): FleetIterationResult {
  const described = parseDescribeExecution(event.failure?.Cause);
  if (!described) {
    return { instanceId: event.instanceId, failure: failed(event.instanceId, event.failure?.Error || ERROR_WORKFLOW_ERROR, causeText(event.failure?.Cause) || 'the export could not start (no cause given).') };
  }
  const status = typeof described.Status === 'string' ? described.Status : 'FAILED';
  const errorName = typeof described.Error === 'string' && described.Error !== '' ? described.Error : ERROR_WORKFLOW_ERROR;
  const cause = typeof described.Cause === 'string' && described.Cause !== '' ? causeText(described.Cause) : `the export's execution ended ${status}.`;
  const executionArn = typeof described.ExecutionArn === 'string' ? described.ExecutionArn : undefined;
  return { instanceId: event.instanceId, failure: { ...failed(event.instanceId, errorName, status === 'FAILED' ? cause : `${status}: ${cause}`), ...(executionArn ? { executionArn } : {}) } };
}

function parseDescribeExecution(cause: string | undefined): Record<string, unknown> | undefined {
  try {
    const doc = JSON.parse(cause ?? '');
    return doc && typeof doc === 'object' && typeof doc.Status === 'string' && typeof doc.ExecutionArn === 'string' ? doc : undefined;
  } catch {
    return undefined;
  }
}

function failed(instanceId: string, errorName: string, reason: string): FleetInstanceOutcome {
  return { instanceId, status: 'FAILED', errorName, reason: truncate(reason, FLEET_REASON_CHARS) };
}

/** `fleet-finish`: every instance's outcome and, when any failed, the cause the fleet fails with. */
export function finishFleet(event: FleetFinishEvent): FleetSummary {
  const fleetExecutionArn = event.executionArn;
  const error = event.state?.error;
  if (error) {
    const errorName = stageErrorName(error.Error);
    const what = errorName === ERROR_LISTING_FAILED ? 'The fleet could not list its instances (DescribeInstances): ' : '';
    return { status: 'FAILED', fleetExecutionArn, errorName, cause: truncate(`${what}${causeText(error.Cause) || error.Error || 'no cause given'}`, MAX_CAUSE_CHARS), total: 0, succeeded: 0, failed: 0, instances: [] };
  }
  const instances = (event.state?.results ?? []).map(outcomeOf);
  const failures = instances.filter((i) => i.status === 'FAILED');
  const counts = { total: instances.length, succeeded: instances.length - failures.length, failed: failures.length };
  if (failures.length === 0) {
    return { status: 'SUCCEEDED', fleetExecutionArn, ...counts, instances };
  }
  const listed = failures.map((f) => `${f.instanceId} (${f.errorName}: ${f.reason})`).join('; ');
  const cause = `${failures.length} of ${instances.length} instance exports failed: ${listed}. ${counts.succeeded} succeeded; every outcome is in the 'VM Export Fleet Finished' event.`;
  return { status: 'FAILED', fleetExecutionArn, errorName: ERROR_FLEET_FAILED, cause: truncate(cause, MAX_CAUSE_CHARS), ...counts, instances };
}

/** The error a fleet ends with when it stopped before its exports: the step's own, or what a listing failure is. */
function stageErrorName(error: string | undefined): string {
  if (error?.startsWith('VmExport.')) {
    return error;
  }
  // Every EC2 error reaches the AWS SDK integration as Ec2.<something> (SPEC section 4).
  return error?.startsWith('Ec2.') ? ERROR_LISTING_FAILED : ERROR_WORKFLOW_ERROR;
}

function outcomeOf(result: FleetIterationResult): FleetInstanceOutcome {
  if (result.failure) {
    return result.failure;
  }
  const output = (result.child?.output ?? {}) as Record<string, unknown>;
  const text = (key: string) => (typeof output[key] === 'string' && output[key] !== '' ? { [key]: output[key] as string } : {});
  if (output.status !== 'SUCCEEDED') {
    return { ...failed(result.instanceId, ERROR_WORKFLOW_ERROR, `the export's execution succeeded without a success output (${show(output.status)}).`), ...execution(result) };
  }
  return { instanceId: result.instanceId, status: 'SUCCEEDED', ...execution(result), ...text('exportTaskId'), ...text('s3Bucket'), ...text('s3Key'), ...text('s3Uri') };
}

function execution(result: FleetIterationResult): { executionArn?: string } {
  return result.child?.executionArn ? { executionArn: result.child.executionArn } : {};
}
