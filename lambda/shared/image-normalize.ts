/**
 * Validation and defaults of an image export's workflow input (ImageWorkflowInput ->
 * NormalizedImageRequest), the counterpart of normalize.ts for ExportImage (an AMI to a VMDK,
 * VHD or RAW file). Every problem is reported at once, in one VmExport.InvalidInput error.
 *
 * Facts: EC2 API Reference, ExportImage
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ExportImage.html): DiskImageFormat
 * VMDK | RAW | VHD; Description "The maximum length is 255 characters"; RoleName "If this
 * parameter is not specified, the default role is named 'vmimport'" (a role NAME). The object key
 * (VM Import/Export User Guide, start-image-export.html): `<prefix>export-ami-<id>.<format>`.
 */
import { randomUUID } from 'crypto';
import { ERROR_INVALID_INPUT, ExportTag, PREFIX_FORBIDDEN_CHARACTERS, TAG_CLIENT_TOKEN, TAG_EXPORT_HASH, TAG_MANAGED } from './contract';
import { VmExportError } from './ec2-errors';
import {
  DEFAULT_IMAGE_ROLE_NAME,
  IMAGE_DISK_FORMATS,
  IMAGE_ID_PATTERN,
  IMAGE_TASK_ID_PATTERN,
  ImageWorkflowInput,
  NormalizedImageRequest,
} from './image-contract';
import {
  DEFAULT_DEADLINE_SECONDS,
  DEFAULT_S3_PREFIX,
  INTERNAL_INPUT_KEYS,
  MAX_DEADLINE_SECONDS,
  MAX_DESCRIPTION_LENGTH,
  MAX_S3_KEY_BYTES,
  MAX_USER_TAGS,
  MIN_DEADLINE_SECONDS,
  show,
  waitConditionOf,
} from './normalize';

/** The documented input keys of an image export (the README's input table, image column). */
export const DOCUMENTED_IMAGE_INPUT_KEYS = [
  'imageId', 'diskImageFormat', 'roleName', 's3Bucket', 's3Prefix', 'description', 'tags',
  'deadlineSeconds', 'preflight', 'clientToken',
] as const;

/**
 * Keys of instance export only, with why they do not apply to an AMI. They are refused rather
 * than ignored: an input with them was meant for the other kind of export.
 */
const INSTANCE_ONLY_KEYS: Readonly<Record<string, string>> = {
  instanceId: 'an input exports either an instance (instanceId) or an AMI (imageId), not both: start one execution per export',
  targetEnvironment: 'ExportImage takes no target environment, only diskImageFormat (VMDK, VHD or RAW)',
  containerFormat: 'ExportImage writes a bare disk image, never an OVA container',
  canonicalId: 'ExportImage writes through the service role (roleName), not through a bucket ACL grant to a canonical ID',
};

const KNOWN_IMAGE_KEYS: readonly string[] = [...DOCUMENTED_IMAGE_INPUT_KEYS, ...INTERNAL_INPUT_KEYS];
const RESERVED_TAG_KEYS = [TAG_CLIENT_TOKEN, TAG_EXPORT_HASH, TAG_MANAGED];

/** The longest image task id: `export-ami-` and 17 hex characters (the ids seen; format undocumented). */
export const LONGEST_IMAGE_TASK_ID = 'export-ami-' + '0'.repeat(17);

/** IAM role names: 1 to 64 letters, digits and `+=,.@_-` (IAM API Reference, CreateRole RoleName). */
const ROLE_NAME_PATTERN = /^[\w+=,.@-]{1,64}$/;

/** The object extension of a disk image format: `.vmdk`, `.vhd` or `.raw` (lower case, the guide). */
export function imageObjectExtension(diskImageFormat: string): string {
  return '.' + diskImageFormat.toLowerCase();
}

type Problems = string[];
type Str = (field: string) => string | undefined;

function unknownKeysProblem(raw: Record<string, unknown>): string | undefined {
  const unknown = Object.keys(raw).filter((k) => !KNOWN_IMAGE_KEYS.includes(k) && !(k in INSTANCE_ONLY_KEYS));
  if (unknown.length === 0) {
    return undefined;
  }
  const near = (k: string) => KNOWN_IMAGE_KEYS.find((known) => known.toLowerCase() === k.toLowerCase()
    || (k.toLowerCase() === 'deadline' && known === 'deadlineSeconds'));
  const named = unknown.map((k) => (near(k) ? `'${k}' (did you mean '${near(k)}'?)` : `'${k}'`));
  return `unknown input field${unknown.length > 1 ? 's' : ''} ${named.join(', ')}: the workflow would ignore ${unknown.length > 1 ? 'them' : 'it'} and use its defaults. ` +
    `The valid fields of an image export are ${DOCUMENTED_IMAGE_INPUT_KEYS.join(', ')}.`;
}

function instanceOnlyProblems(raw: Record<string, unknown>): Problems {
  return Object.keys(INSTANCE_ONLY_KEYS)
    .filter((k) => raw[k] !== undefined && raw[k] !== null)
    .map((k) => `${k} belongs to instance export, not to image export (imageId): ${INSTANCE_ONLY_KEYS[k]}; drop ${k}.`);
}

function imageIdOf(str: Str, problems: Problems): string | undefined {
  const imageId = str('imageId');
  if (imageId === undefined || imageId === '') {
    problems.push('imageId is required: pass the id of an AMI owned by this account (ami- followed by 8 or 17 hex characters).');
    return undefined;
  }
  if (!IMAGE_ID_PATTERN.test(imageId)) {
    problems.push(`imageId ${show(imageId)} is not an AMI id: use ami- followed by 8 or 17 lower-case hex characters, e.g. ami-0123456789abcdef0.`);
  }
  return imageId;
}

function diskFormatOf(str: Str, problems: Problems): string {
  const raw = str('diskImageFormat');
  const disk = raw ? raw.toUpperCase() : 'VMDK';
  if ((IMAGE_DISK_FORMATS as readonly string[]).includes(disk)) {
    return disk;
  }
  const ova = disk === 'OVA' ? ' (OVA is a container of instance export; ExportImage writes a bare VMDK)' : '';
  problems.push(`diskImageFormat ${show(raw)} is not supported by ExportImage${ova}: use ${IMAGE_DISK_FORMATS.join(', ')}.`);
  return 'VMDK';
}

function roleNameOf(str: Str, problems: Problems): string {
  const roleName = str('roleName');
  if (roleName === undefined || roleName === '') {
    return DEFAULT_IMAGE_ROLE_NAME;
  }
  const arn = /^arn:[^:]*:iam::\d*:role\/(?:.*\/)?([^/]+)$/.exec(roleName);
  if (arn) {
    problems.push(`roleName ${show(roleName)} is a role ARN: ExportImage takes the role's NAME (a role of this account), e.g. '${arn[1]}'.`);
  } else if (!ROLE_NAME_PATTERN.test(roleName)) {
    problems.push(`roleName ${show(roleName)} is not an IAM role name: use 1 to 64 letters, digits and + = , . @ _ - (no path, no ARN), or omit it for '${DEFAULT_IMAGE_ROLE_NAME}'.`);
  }
  return roleName;
}

function bucketOf(str: Str, problems: Problems): string | undefined {
  const s3Bucket = str('s3Bucket');
  if (s3Bucket === undefined || s3Bucket === '') {
    problems.push('s3Bucket is required: pass the name of the export bucket.');
  } else if (!/^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/.test(s3Bucket)) {
    problems.push(`s3Bucket ${show(s3Bucket)} is not a valid bucket name: use the bucket's name (e.g. my-exports), not its ARN or URL.`);
  }
  return s3Bucket;
}

/** The prefix ('' is the bucket's root; only an absent prefix defaults), as normalize.ts checks it. */
function prefixOf(str: Str, problems: Problems, objectExtension: string): string {
  const s3Prefix = str('s3Prefix') ?? DEFAULT_S3_PREFIX;
  const forbidden = PREFIX_FORBIDDEN_CHARACTERS.filter((c) => s3Prefix.includes(c));
  if (forbidden.length > 0) {
    problems.push(`s3Prefix ${show(s3Prefix)} contains ${forbidden.map((c) => `'${c}'`).join(', ')}: a prefix may not contain ${PREFIX_FORBIDDEN_CHARACTERS.map((c) => `'${c}'`).join(', ')} (the library reports the object key through a CloudFormation wait condition, which cannot carry them); choose a prefix without them.`);
  }
  if (s3Prefix.startsWith('/')) {
    problems.push(`s3Prefix ${show(s3Prefix)} must not start with '/': S3 keys have no leading slash, e.g. 'exports/', or '' for the bucket's root.`);
  } else if (s3Prefix !== '' && !s3Prefix.endsWith('/')) {
    problems.push(`s3Prefix ${show(s3Prefix)} must end with '/': the object key is the prefix followed by the task id (no slash inserted), e.g. '${s3Prefix}/'.`);
  }
  const longestKey = Buffer.byteLength(s3Prefix + LONGEST_IMAGE_TASK_ID + objectExtension, 'utf8');
  if (longestKey > MAX_S3_KEY_BYTES) {
    problems.push(`s3Prefix is too long: the object key (prefix + ${LONGEST_IMAGE_TASK_ID.length}-character task id + '${objectExtension}') would take ${longestKey} bytes, S3 allows ${MAX_S3_KEY_BYTES}; shorten the prefix by ${longestKey - MAX_S3_KEY_BYTES} bytes.`);
  }
  return s3Prefix;
}

function descriptionOf(str: Str, problems: Problems): string | undefined {
  const description = str('description');
  if (description !== undefined && description.length > MAX_DESCRIPTION_LENGTH) {
    problems.push(`description has ${description.length} characters, ExportImage takes at most ${MAX_DESCRIPTION_LENGTH}: shorten it.`);
  }
  return description || undefined;
}

function deadlineOf(deadlineRaw: unknown, problems: Problems): number {
  if (deadlineRaw === undefined || deadlineRaw === null || deadlineRaw === '') {
    return DEFAULT_DEADLINE_SECONDS;
  }
  const n = typeof deadlineRaw === 'number' ? deadlineRaw : typeof deadlineRaw === 'string' && /^\d+$/.test(deadlineRaw.trim()) ? Number(deadlineRaw) : NaN;
  if (!Number.isInteger(n) || n < MIN_DEADLINE_SECONDS || n > MAX_DEADLINE_SECONDS) {
    problems.push(`deadlineSeconds ${show(deadlineRaw)} is out of range: use a whole number of seconds between ${MIN_DEADLINE_SECONDS} and ${MAX_DEADLINE_SECONDS} (7 days).`);
    return DEFAULT_DEADLINE_SECONDS;
  }
  return n;
}

/** The user's tags, as normalize.ts checks them (reserved keys, at most MAX_USER_TAGS). */
function tagsOf(tagsRaw: unknown, problems: Problems): ExportTag[] {
  const tags: ExportTag[] = [];
  if (tagsRaw === undefined || tagsRaw === null) {
    return tags;
  }
  if (!Array.isArray(tagsRaw)) {
    problems.push(`tags must be a list of { Key, Value }, got ${show(tagsRaw)}.`);
    return tags;
  }
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
  return tags;
}

type Internal = Pick<NormalizedImageRequest, 'exportHash' | 'adoptExportTaskId' | 'completedExportS3Key'>;

function internalKeysOf(str: Str, problems: Problems): Internal {
  const exportHash = str('exportHash') || undefined;
  const adoptExportTaskId = str('adoptExportTaskId') || undefined;
  if (adoptExportTaskId !== undefined && !IMAGE_TASK_ID_PATTERN.test(adoptExportTaskId)) {
    problems.push(`adoptExportTaskId ${show(adoptExportTaskId)} is not an image export task id: use export-ami- followed by 1 to 64 letters or digits, e.g. export-ami-0123456789abcdef0.`);
  }
  const completedExportS3Key = str('completedExportS3Key') || undefined;
  if (completedExportS3Key !== undefined && adoptExportTaskId === undefined) {
    problems.push('completedExportS3Key is only valid with adoptExportTaskId: pass the id of the completed task too, or omit it.');
  }
  return {
    ...(exportHash ? { exportHash } : {}),
    ...(adoptExportTaskId ? { adoptExportTaskId } : {}),
    ...(completedExportS3Key ? { completedExportS3Key } : {}),
  };
}

function clientTokenOf(str: Str, problems: Problems, newToken: () => string): string {
  const clientToken = str('clientToken');
  if (clientToken === undefined || clientToken === '') {
    return newToken();
  }
  if (clientToken.length > 256) {
    problems.push('clientToken is longer than 256 characters (a tag value): use a shorter token.');
  }
  return clientToken;
}

/**
 * Validates an image export's input and applies the defaults (diskImageFormat VMDK, roleName
 * vmimport, s3Prefix exports/, deadline 6 h, a fresh client token). Every problem is reported in
 * one VmExport.InvalidInput error naming the field, the bad value and the fix.
 */
export function normalizeImageRequest(input: ImageWorkflowInput, newToken: () => string = randomUUID): NormalizedImageRequest {
  const raw = (input ?? {}) as unknown as Record<string, unknown>;
  const problems: Problems = [];
  const isObject = typeof raw === 'object' && !Array.isArray(raw);
  if (!isObject) {
    problems.push(`the input must be a JSON object of the documented fields (${DOCUMENTED_IMAGE_INPUT_KEYS.join(', ')}), got ${show(raw)}.`);
  }
  const fields: Record<string, unknown> = isObject ? raw : {};
  const unknown = unknownKeysProblem(fields);
  problems.push(...(unknown ? [unknown] : []), ...instanceOnlyProblems(fields));
  const str: Str = (field) => {
    const v = fields[field];
    if (v === undefined || v === null) {
      return undefined;
    }
    if (typeof v !== 'string') {
      problems.push(`${field} must be a string, got ${show(v)}.`);
      return undefined;
    }
    return v;
  };

  const imageId = imageIdOf(str, problems);
  const diskImageFormat = diskFormatOf(str, problems);
  const objectExtension = imageObjectExtension(diskImageFormat);
  const roleName = roleNameOf(str, problems);
  const s3Bucket = bucketOf(str, problems);
  const s3Prefix = prefixOf(str, problems, objectExtension);
  const description = descriptionOf(str, problems);
  const tags = tagsOf(fields.tags, problems);
  const deadlineSeconds = deadlineOf(fields.deadlineSeconds, problems);
  const clientToken = clientTokenOf(str, problems, newToken);
  const internal = internalKeysOf(str, problems);
  const waitCondition = waitConditionOf(str, problems);

  if (problems.length > 0) {
    const who = imageId && IMAGE_ID_PATTERN.test(imageId) ? `the export of ${imageId}` : 'the image export';
    throw new VmExportError(ERROR_INVALID_INPUT, `Invalid input for ${who}: ${problems.join(' ')}`);
  }
  return {
    kind: 'image',
    imageId: imageId!,
    diskImageFormat,
    roleName,
    s3Bucket: s3Bucket!,
    s3Prefix,
    ...(description !== undefined ? { description } : {}),
    tags,
    deadlineSeconds,
    clientToken,
    ...internal,
    ...waitCondition,
    objectExtension,
  };
}
