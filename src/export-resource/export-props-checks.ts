import { Duration, Reference, Stack, Token, Tokenization } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { IVmExportBucket } from '../bucket/vm-export-bucket';
import { isVmExportBucket } from '../bucket/vm-export-bucket-checks';
import { PREFIX_FORBIDDEN_CHARACTERS } from '../internal';
import { InstanceExportWorkflow } from '../workflow/instance-export-workflow';

/**
 * Synth-time checks shared by InstanceExport and ImageExport. Each returns the problems it
 * found (none for a token); the construct collects them all and throws once.
 */

/** S3 object keys are at most 1024 bytes. */
const MAX_KEY_LENGTH = 1024;
const MIN_TIMEOUT = Duration.minutes(10);
const MAX_TIMEOUT = Duration.hours(12);

/** What is exported, as the messages name it. */
export interface ExportSubject {
  /** The property that names it (`instanceId`, `imageId`). */
  readonly prop: string;
  /** Its value (a literal or a token). */
  readonly value: string;
  /** `instance`, `AMI`. */
  readonly noun: string;
  /** The construct (`InstanceExport`, `ImageExport`). */
  readonly construct: string;
}

/** A plain s3.Bucket (or anything else) where an IVmExportBucket belongs: refused before it is used. */
export function requireVmExportBucket(scope: Construct, bucket: unknown): void {
  if (isVmExportBucket(bucket)) {
    return;
  }
  const path = (bucket as { node?: { path?: string } } | undefined)?.node?.path;
  const what = bucket === undefined || bucket === null
    ? String(bucket)
    : path !== undefined && typeof (bucket as { bucketName?: unknown }).bucketName === 'string'
      ? `the S3 bucket '${path}'`
      : typeof bucket;
  throw new Error(`${scope.node.path}: invalid properties:\n- bucket is ${what}, not an IVmExportBucket: ` +
    'wrap an existing bucket with VmExportBucket.fromBucket(this, id, bucket) (or VmExportBucket.fromBucketName for a name), ' +
    'or create a new VmExportBucket.');
}

/** The description the service takes: at most 255 characters. */
export function descriptionProblems(description: string | undefined): string[] {
  if (description === undefined || Token.isUnresolved(description) || description.length <= 255) {
    return [];
  }
  return [`description is ${description.length} characters long: the service takes at most 255. Shorten it.`];
}

/** The key prefix: no forbidden characters, no leading `/`, a trailing `/`, a key of at most 1024 bytes. */
export function prefixProblems(prefix: string, longestTaskId: string, extension: string): string[] {
  if (Token.isUnresolved(prefix)) {
    return [];
  }
  const errors: string[] = [];
  const forbidden = PREFIX_FORBIDDEN_CHARACTERS.filter((c) => prefix.includes(c));
  if (forbidden.length > 0) {
    errors.push(`prefix '${prefix}' contains ${forbidden.map((c) => `'${c}'`).join(', ')}: the object key is reported through a CloudFormation wait condition, which cannot carry ${PREFIX_FORBIDDEN_CHARACTERS.map((c) => `'${c}'`).join(', ')}. Choose a prefix without them.`);
  }
  if (prefix.startsWith('/')) {
    const fixed = prefix.replace(/^\/+/, '');
    errors.push(`prefix '${prefix}' starts with '/': S3 keys have no leading slash. Use '${fixed}'${fixed === '' ? ' (the bucket\'s root)' : ''}.`);
  }
  if (prefix !== '' && !prefix.endsWith('/')) {
    errors.push(`prefix '${prefix}' does not end with '/': the service appends the task id directly. Use '${prefix}/'.`);
  }
  const longestKey = Buffer.byteLength(prefix + longestTaskId + extension);
  if (longestKey > MAX_KEY_LENGTH) {
    errors.push(`prefix is ${Buffer.byteLength(prefix)} bytes long: with the task id and '${extension}' the object key would be ${longestKey} bytes, over the ${MAX_KEY_LENGTH} bytes S3 allows. Shorten the prefix.`);
  }
  return errors;
}

/** The wait condition's timeout: 10 minutes to 12 hours. */
export function timeoutProblems(timeout: Duration): string[] {
  if (timeout.isUnresolved()) {
    return [];
  }
  const seconds = timeout.toSeconds();
  if (seconds >= MIN_TIMEOUT.toSeconds() && seconds <= MAX_TIMEOUT.toSeconds()) {
    return [];
  }
  return [`timeout is ${timeout.toHumanString()}: use a value from 10 minutes to 12 hours (a CloudFormation wait condition waits at most 12 hours). For longer exports, start the InstanceExportWorkflow directly with deadlineSeconds up to 7 days.`];
}

/** Tag keys the library reserves. */
export function tagProblems(tags: { [key: string]: string } | undefined): string[] {
  return Object.keys(tags ?? {})
    .filter((key) => key.startsWith('aws:') || key.startsWith('vm-export:'))
    .map((key) => `tags has the key '${key}': keys starting with 'aws:' or 'vm-export:' are reserved. Rename the tag.`);
}

/** The bucket must be in the export's region and account. */
export function bucketEnvironmentProblems(scope: Construct, bucket: IVmExportBucket, subject: ExportSubject): string[] {
  const errors: string[] = [];
  const here = Stack.of(scope);
  const bucketEnv = bucket.bucket.env;
  if (!Token.isUnresolved(bucketEnv.region) && !Token.isUnresolved(here.region) && bucketEnv.region !== here.region) {
    errors.push(`bucket is in region ${bucketEnv.region} but the export runs in ${here.region}: VM Import/Export writes only to a bucket in the ${subject.noun}'s region. Create the VmExportBucket in the same stack or region.`);
  }
  if (!Token.isUnresolved(bucketEnv.account) && !Token.isUnresolved(here.account) && bucketEnv.account !== here.account) {
    errors.push(`bucket is in account ${bucketEnv.account} but the export runs in ${here.account}: the export bucket must belong to the exporting account. Create the VmExportBucket in the exporting account.`);
  }
  return errors;
}

/** How a stack's environment reads in an error. */
function describeStack(s: Stack): string {
  return Token.isUnresolved(s.region) ? `environment-agnostic stack ${s.stackName}` : `stack ${s.stackName} of region ${s.region}`;
}

const agnostic = (s: Stack) => Token.isUnresolved(s.region);

function mixedEnvironments(here: Stack, what: string, other: Stack): string {
  return `${what} is in ${describeStack(other)} but the export is in ${describeStack(here)}: ` +
    'an environment-agnostic stack and a stack with an env cannot share resources (neither knows whether the other deploys to the same account and region). ' +
    'Give both stacks the same env, or neither.';
}

/**
 * The stacks an export's inputs come from: the workflow must be the export's stack's own (it is
 * granted the export's bucket and instance or image, which would make the two stacks depend on
 * each other); what is exported, when referenced from another stack, must be in the same account
 * and region; a bucket or a reference of an environment-agnostic stack cannot be used from a
 * stack with an environment (or the other way round).
 */
export function crossStackProblems(
  scope: Construct,
  workflow: InstanceExportWorkflow | undefined,
  bucket: IVmExportBucket,
  subject: ExportSubject,
): string[] {
  const errors: string[] = [];
  const here = Stack.of(scope);
  if (workflow && Stack.of(workflow) !== here) {
    errors.push(`workflow '${workflow.node.path}' is in stack ${Stack.of(workflow).stackName} but the export is in ${here.stackName}: ` +
      `a workflow is granted the bucket and ${subject.noun} of each of its exports, so the two stacks would depend on each other. ` +
      'Use the workflow of the export\'s own stack (omit workflow, or create an InstanceExportWorkflow in the same stack).');
  }
  const bucketStack = Stack.of(bucket);
  if (bucketStack !== here && agnostic(bucketStack) !== agnostic(here)) {
    errors.push(mixedEnvironments(here, `bucket '${bucket.node.path}'`, bucketStack));
  }
  for (const owner of referencedStacks(subject.value)) {
    if (owner.stack !== here) {
      errors.push(...referenceProblems(here, owner.stack, `${subject.prop} refers to '${owner.path}', which`, subject));
    }
  }
  return errors;
}

/** The stacks (and construct paths) the references inside a token come from. */
function referencedStacks(value: string): Array<{ readonly stack: Stack; readonly path: string }> {
  const found: Array<{ stack: Stack; path: string }> = [];
  if (Token.isUnresolved(value)) {
    for (const token of Tokenization.reverseString(value).tokens) {
      if (Reference.isReference(token)) {
        found.push({ stack: Stack.of(token.target), path: token.target.node.path });
      }
    }
  }
  return found;
}

function referenceProblems(here: Stack, owner: Stack, what: string, subject: ExportSubject): string[] {
  if (agnostic(owner) !== agnostic(here)) {
    return [mixedEnvironments(here, what, owner)];
  }
  const errors: string[] = [];
  if (!agnostic(owner) && owner.region !== here.region) {
    errors.push(`${what} is in ${describeStack(owner)} but the export runs in ${here.region}: ` +
      `VM Import/Export exports an ${subject.noun} only in its own region. Create the ${subject.construct} (and its bucket) in a stack of the ${subject.noun}'s region.`);
  }
  if (!Token.isUnresolved(owner.account) && !Token.isUnresolved(here.account) && owner.account !== here.account) {
    errors.push(`${what} is in stack ${owner.stackName} of account ${owner.account} but the export runs in ${here.account}: ` +
      `an ${subject.noun} is exported by its own account. Create the ${subject.construct} (and its bucket) in a stack of the ${subject.noun}'s account.`);
  }
  return errors;
}
