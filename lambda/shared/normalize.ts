/**
 * Validation and defaults of the workflow input (WorkflowInput -> NormalizedRequest).
 */
import { randomUUID } from 'crypto';
import {
  CANONICAL_ID_PATTERN,
  ERROR_INVALID_INPUT,
  ExportTag,
  INSTANCE_ID_PATTERN,
  NormalizedRequest,
  PREFIX_FORBIDDEN_CHARACTERS,
  TAG_CLIENT_TOKEN,
  TAG_EXPORT_HASH,
  TAG_MANAGED,
  WorkflowInput,
} from './contract';
import { VmExportError } from './ec2-errors';

export const DEFAULT_S3_PREFIX = 'exports/';
export const DEFAULT_DEADLINE_SECONDS = 21600;
export const MIN_DEADLINE_SECONDS = 60;
/** The longest an AWS::CloudFormation::WaitCondition waits. */
export const MAX_DEADLINE_SECONDS = 604800;
export const MAX_DESCRIPTION_LENGTH = 255;
export const MAX_S3_KEY_BYTES = 1024;
/** The longest task id: `export-i-` and 17 hex characters. */
export const LONGEST_TASK_ID = 'export-i-' + '0'.repeat(17);
/** Tags per resource (EC2) minus the ones this library sets. */
export const MAX_USER_TAGS = 47;

/**
 * An instance export task id as the API could return it: `export-i-` and letters and digits. The
 * ids seen are 8 or 17 lower-case hex characters, but the format is not documented, so any
 * 1 to 64 ASCII letters or digits are accepted.
 */
const TASK_ID = /^export-i-[0-9A-Za-z]{1,64}$/;
const TARGETS = ['vmware', 'citrix', 'microsoft'];

/** The documented input keys (the README's input table; WorkflowExportInput in src/). */
export const DOCUMENTED_INPUT_KEYS = [
  'instanceId', 'targetEnvironment', 's3Bucket', 'diskImageFormat', 'containerFormat', 's3Prefix',
  'description', 'tags', 'deadlineSeconds', 'preflight', 'clientToken', 'canonicalId',
] as const;
/**
 * Keys the library itself sends (lambda/export-provider: reuse, adoption, the wait condition),
 * and the key Step Functions adds to the input of an execution started by another execution.
 */
export const INTERNAL_INPUT_KEYS = [
  'exportHash', 'adoptExportTaskId', 'completedExportS3Key', 'waitConditionStackId', 'waitConditionHandleLogicalId', 'waitConditionHandleHash',
  'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID',
] as const;
const KNOWN_INPUT_KEYS: readonly string[] = [...DOCUMENTED_INPUT_KEYS, ...INTERNAL_INPUT_KEYS];
const RESERVED_TAG_KEYS = [TAG_CLIENT_TOKEN, TAG_EXPORT_HASH, TAG_MANAGED];

/** A CloudFormation stack ARN: `arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>`. */
const STACK_ARN = /^arn:[a-z-]+:cloudformation:[a-z0-9-]+:\d{12}:stack\/[A-Za-z][A-Za-z0-9-]{0,127}\/[A-Za-z0-9-]+$/;
/** A template's logical id: letters and digits, at most 255. */
const LOGICAL_ID = /^[A-Za-z0-9]{1,255}$/;

/** A SHA-256 hash in hex. */
const SHA256_HEX = /^[0-9a-f]{64}$/;

type WaitCondition = Pick<NormalizedRequest, 'waitConditionStackId' | 'waitConditionHandleLogicalId' | 'waitConditionHandleHash'>;

/** The wait condition to signal (all three keys or none), with a problem for each bad value. */
export function waitConditionOf(str: (field: string) => string | undefined, problems: string[]): WaitCondition {
  const stackId = str('waitConditionStackId') || undefined;
  const handleLogicalId = str('waitConditionHandleLogicalId') || undefined;
  const urlHash = str('waitConditionHandleHash') || undefined;
  if (stackId === undefined && handleLogicalId === undefined && urlHash === undefined) {
    return {};
  }
  const before = problems.length;
  if (stackId === undefined || handleLogicalId === undefined || urlHash === undefined) {
    problems.push('waitConditionStackId, waitConditionHandleLogicalId and waitConditionHandleHash go together (set by InstanceExport): pass all three, or none.');
  }
  if (urlHash !== undefined && !SHA256_HEX.test(urlHash)) {
    problems.push(`waitConditionHandleHash ${show(urlHash)} is not a SHA-256 hash: 64 lower-case hex characters.`);
  }
  if (stackId !== undefined && !STACK_ARN.test(stackId)) {
    problems.push(`waitConditionStackId ${show(stackId)} is not a CloudFormation stack ARN: pass the stack's id (AWS::StackId), arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>.`);
  }
  if (handleLogicalId !== undefined && !LOGICAL_ID.test(handleLogicalId)) {
    problems.push(`waitConditionHandleLogicalId ${show(handleLogicalId)} is not a logical id: pass the logical id of the AWS::CloudFormation::WaitConditionHandle (letters and digits).`);
  }
  if (problems.length > before) {
    return {};
  }
  return { waitConditionStackId: stackId, waitConditionHandleLogicalId: handleLogicalId, waitConditionHandleHash: urlHash };
}

/** The object extension for a disk image format and container: `.ova`, `.vmdk` or `.vhd`. */
export function objectExtensionFor(diskImageFormat: string, containerFormat: string): string {
  if (containerFormat.toLowerCase() === 'ova') {
    return '.ova';
  }
  return '.' + diskImageFormat.toLowerCase();
}

/** The object key of a task: prefix + task id + extension (no slash inserted). */
export function objectKeyFor(s3Prefix: string, exportTaskId: string, objectExtension: string): string {
  return s3Prefix + exportTaskId + objectExtension;
}

/** `s3://bucket/key`. */
export function s3UriFor(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

export function show(v: unknown): string {
  const text = typeof v === 'string' ? `'${v}'` : JSON.stringify(v);
  return text === undefined ? 'undefined' : text.length > 80 ? text.slice(0, 77) + '...' : text;
}

/**
 * Validates a WorkflowInput and applies the defaults. Every problem is reported in one
 * VmExport.InvalidInput error naming the field, the bad value and the fix.
 */
export function normalizeRequest(input: WorkflowInput, newToken: () => string = randomUUID, subject?: string): NormalizedRequest {
  const raw = (input ?? {}) as unknown as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push(`the input must be a JSON object of the documented fields (${DOCUMENTED_INPUT_KEYS.join(', ')}), got ${show(raw)}.`);
  }
  // raw is never null (input ?? {}).
  const unknown = typeof raw === 'object' ? Object.keys(raw).filter((k) => !KNOWN_INPUT_KEYS.includes(k)) : [];
  if (unknown.length > 0) {
    const near = (k: string) => KNOWN_INPUT_KEYS.find((known) => known.toLowerCase() === k.toLowerCase()
      || (k.toLowerCase() === 'deadline' && known === 'deadlineSeconds'));
    const named = unknown.map((k) => (near(k) ? `'${k}' (did you mean '${near(k)}'?)` : `'${k}'`));
    problems.push(`unknown input field${unknown.length > 1 ? 's' : ''} ${named.join(', ')}: the workflow would ignore ${unknown.length > 1 ? 'them' : 'it'} and use its defaults. ` +
      `The valid fields are ${DOCUMENTED_INPUT_KEYS.join(', ')}.`);
  }
  const str = (field: string): string | undefined => {
    const v = raw[field];
    if (v === undefined || v === null) {
      return undefined;
    }
    if (typeof v !== 'string') {
      problems.push(`${field} must be a string, got ${show(v)}.`);
      return undefined;
    }
    return v;
  };

  const instanceId = str('instanceId');
  if (instanceId === undefined || instanceId === '') {
    problems.push('instanceId is required: pass the id of a running or stopped EC2 instance (i- followed by 8 or 17 hex characters).');
  } else if (!INSTANCE_ID_PATTERN.test(instanceId)) {
    problems.push(`instanceId ${show(instanceId)} is not an instance id: use i- followed by 8 or 17 lower-case hex characters, e.g. i-0123456789abcdef0.`);
  }

  const targetRaw = str('targetEnvironment');
  const target = targetRaw?.toLowerCase();
  if (target === undefined || target === '') {
    problems.push(`targetEnvironment is required: use one of ${TARGETS.join(', ')}.`);
  } else if (!TARGETS.includes(target)) {
    problems.push(`targetEnvironment ${show(targetRaw)} is not supported: use one of ${TARGETS.join(', ')}.`);
  }
  const validTarget = target !== undefined && TARGETS.includes(target);

  const diskRaw = str('diskImageFormat');
  let disk = diskRaw ? diskRaw.toUpperCase() : (target === 'vmware' ? 'VMDK' : 'VHD');
  if (disk === 'RAW') {
    problems.push(`diskImageFormat ${show(diskRaw)} is only for AMI export (ExportImage), not instance export: use VMDK for vmware or VHD for citrix/microsoft.`);
  } else if (disk !== 'VMDK' && disk !== 'VHD') {
    problems.push(`diskImageFormat ${show(diskRaw)} is not supported: use VMDK (vmware) or VHD (citrix, microsoft).`);
  } else if (validTarget && disk === 'VMDK' && target !== 'vmware') {
    problems.push(`diskImageFormat 'VMDK' does not work with targetEnvironment '${target}': use VHD (or target vmware).`);
  } else if (validTarget && disk === 'VHD' && target === 'vmware') {
    problems.push('diskImageFormat \'VHD\' does not work with targetEnvironment \'vmware\': use VMDK (or target citrix / microsoft).');
  }

  const containerRaw = str('containerFormat');
  // OVA only wraps VMDK: a VHD or RAW for vmware gets no container by default (one error, about the disk).
  const container = containerRaw ? containerRaw.toLowerCase() : (target === 'vmware' && disk === 'VMDK' ? 'ova' : 'none');
  if (container !== 'ova' && container !== 'none') {
    problems.push(`containerFormat ${show(containerRaw)} is not supported: use 'ova' or 'none' (the bare disk image).`);
  } else if (container === 'ova' && disk === 'VHD') {
    problems.push('containerFormat \'ova\' only holds VMDK disks: use containerFormat \'none\' with VHD.');
  }

  const s3Bucket = str('s3Bucket');
  if (s3Bucket === undefined || s3Bucket === '') {
    problems.push('s3Bucket is required: pass the name of the export bucket.');
  } else if (!/^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/.test(s3Bucket)) {
    problems.push(`s3Bucket ${show(s3Bucket)} is not a valid bucket name: use the bucket's name (e.g. my-exports), not its ARN or URL.`);
  }

  // '' is the bucket's root (the service takes an empty prefix); only an absent prefix defaults.
  let s3Prefix = str('s3Prefix');
  if (s3Prefix === undefined) {
    s3Prefix = DEFAULT_S3_PREFIX;
  }
  const forbidden = PREFIX_FORBIDDEN_CHARACTERS.filter((c) => s3Prefix!.includes(c));
  if (forbidden.length > 0) {
    problems.push(`s3Prefix ${show(s3Prefix)} contains ${forbidden.map((c) => `'${c}'`).join(', ')}: a prefix may not contain ${PREFIX_FORBIDDEN_CHARACTERS.map((c) => `'${c}'`).join(', ')} (the library reports the object key through a CloudFormation wait condition, which cannot carry them); choose a prefix without them.`);
  }
  if (s3Prefix.startsWith('/')) {
    problems.push(`s3Prefix ${show(s3Prefix)} must not start with '/': S3 keys have no leading slash, e.g. 'exports/', or '' for the bucket's root.`);
  } else if (s3Prefix !== '' && !s3Prefix.endsWith('/')) {
    problems.push(`s3Prefix ${show(s3Prefix)} must end with '/': the object key is the prefix followed by the task id (no slash inserted), e.g. '${s3Prefix}/'.`);
  }
  const objectExtension = objectExtensionFor(disk, container);
  const longestKey = Buffer.byteLength(s3Prefix + LONGEST_TASK_ID + objectExtension, 'utf8');
  if (longestKey > MAX_S3_KEY_BYTES) {
    problems.push(`s3Prefix is too long: the object key (prefix + task id + extension) would take ${longestKey} bytes, S3 allows ${MAX_S3_KEY_BYTES}; shorten the prefix.`);
  }

  const description = str('description');
  if (description !== undefined && description.length > MAX_DESCRIPTION_LENGTH) {
    problems.push(`description has ${description.length} characters, at most ${MAX_DESCRIPTION_LENGTH} are allowed: shorten it.`);
  }

  let deadlineSeconds = DEFAULT_DEADLINE_SECONDS;
  const deadlineRaw = raw.deadlineSeconds;
  if (deadlineRaw !== undefined && deadlineRaw !== null && deadlineRaw !== '') {
    const n = typeof deadlineRaw === 'number' ? deadlineRaw : typeof deadlineRaw === 'string' && /^\d+$/.test(deadlineRaw.trim()) ? Number(deadlineRaw) : NaN;
    if (!Number.isInteger(n) || n < MIN_DEADLINE_SECONDS || n > MAX_DEADLINE_SECONDS) {
      problems.push(`deadlineSeconds ${show(deadlineRaw)} is out of range: use a whole number of seconds between ${MIN_DEADLINE_SECONDS} and ${MAX_DEADLINE_SECONDS} (7 days; InstanceExport waits at most 12 hours).`);
    } else {
      deadlineSeconds = n;
    }
  }

  const tags: ExportTag[] = [];
  const tagsRaw = raw.tags;
  if (tagsRaw !== undefined && tagsRaw !== null) {
    if (!Array.isArray(tagsRaw)) {
      problems.push(`tags must be a list of { Key, Value }, got ${show(tagsRaw)}.`);
    } else {
      for (const t of tagsRaw as unknown[]) {
        const tag = t as { Key?: unknown; Value?: unknown } | null;
        if (!tag || typeof tag.Key !== 'string' || tag.Key === '' || typeof tag.Value !== 'string') {
          problems.push(`tags: ${show(t)} is not a { Key, Value } pair of strings.`);
        } else if (RESERVED_TAG_KEYS.includes(tag.Key) || tag.Key.toLowerCase().startsWith('aws:')) {
          problems.push(`tags: the key ${show(tag.Key)} is reserved (aws: prefix or set by this library): use another key.`);
        } else {
          tags.push({ Key: tag.Key, Value: tag.Value });
        }
      }
      if (tagsRaw.length > MAX_USER_TAGS) {
        problems.push(`tags has ${tagsRaw.length} entries, at most ${MAX_USER_TAGS} are allowed (the library adds its own): drop some.`);
      }
    }
  }

  let clientToken = str('clientToken');
  if (clientToken === undefined || clientToken === '') {
    clientToken = newToken();
  } else if (clientToken.length > 256) {
    problems.push('clientToken is longer than 256 characters (a tag value): use a shorter token.');
  }
  const exportHash = str('exportHash') || undefined;
  const adoptExportTaskId = str('adoptExportTaskId') || undefined;
  if (adoptExportTaskId !== undefined && !TASK_ID.test(adoptExportTaskId)) {
    problems.push(`adoptExportTaskId ${show(adoptExportTaskId)} is not an instance export task id: use export-i- followed by 1 to 64 letters or digits, e.g. export-i-0123456789abcdef0.`);
  }
  const completedExportS3Key = str('completedExportS3Key') || undefined;
  if (completedExportS3Key !== undefined && adoptExportTaskId === undefined) {
    problems.push('completedExportS3Key is only valid with adoptExportTaskId: pass the id of the completed task too, or omit it.');
  }
  const canonicalId = str('canonicalId') || undefined;
  if (canonicalId !== undefined && !CANONICAL_ID_PATTERN.test(canonicalId)) {
    problems.push(`canonicalId ${show(canonicalId)} is not a canonical user id: use 64 lower-case hex characters, or omit it to use the region's VM Import/Export id.`);
  }
  const waitCondition = waitConditionOf(str, problems);

  if (problems.length > 0) {
    const who = subject ?? (instanceId && INSTANCE_ID_PATTERN.test(instanceId) ? `the export of ${instanceId}` : 'the export');
    throw new VmExportError(ERROR_INVALID_INPUT, `Invalid input for ${who}: ${problems.join(' ')}`);
  }

  return {
    instanceId: instanceId!,
    targetEnvironment: target!,
    diskImageFormat: disk,
    containerFormat: container,
    s3Bucket: s3Bucket!,
    s3Prefix,
    ...(description !== undefined && description !== '' ? { description } : {}),
    tags,
    deadlineSeconds,
    clientToken,
    ...(exportHash ? { exportHash } : {}),
    ...(adoptExportTaskId ? { adoptExportTaskId } : {}),
    ...(completedExportS3Key ? { completedExportS3Key } : {}),
    ...(canonicalId ? { canonicalId } : {}),
    ...waitCondition,
    objectExtension,
  };
}
