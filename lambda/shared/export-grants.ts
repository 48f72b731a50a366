/**
 * Which instances the export workflow may export: the check `prepare` runs before anything
 * else (preflight or not), so that a workflow cannot be used to copy the disk of an instance
 * it was not granted.
 *
 * The InstanceExportWorkflow construct writes its grants into the export-task function's
 * environment (ENV_EXPORT_GRANTS, a JSON ExportGrants): the instance ids granted with
 * `grantExportOf` (every InstanceExport grants its own), the tags granted with
 * `allowInstancesTagged`, and whether `allowAnyInstance` was set. The function's IAM role holds
 * the same grants, so IAM refuses the export anyway; this check refuses it earlier, before the
 * preflight and before any task exists, with a message that names the instance and the grant
 * to add instead of an AccessDenied from CreateInstanceExportTask.
 *
 * Without the variable (the handler run outside the construct, as in unit tests) the check
 * allows every instance and leaves the refusal to IAM: the deployed function always has it.
 */
import { DescribeInstancesCommand, EC2Client, Tag } from '@aws-sdk/client-ec2';
import { ENV_EXPORT_GRANTS, ERROR_INVALID_INPUT } from './contract';
import { errorCode, retryableOr, VmExportError } from './ec2-errors';

/** One tag grant: instances carrying the tag `key` with the value `value`. */
export interface TagGrant {
  readonly key: string;
  readonly value: string;
}

/** The grants of one workflow, as the construct writes them. */
export interface ExportGrants {
  /** `allowAnyInstance`: every instance of the account and region. */
  readonly anyInstance: boolean;
  /** Instance ids granted one by one. */
  readonly instances: string[];
  /** Tag grants: an instance carrying any one of these tags. */
  readonly tags: TagGrant[];
  /** `allowAnyImage`: every AMI of the account and region (absent before the first image grant). */
  readonly anyImage?: boolean;
  /** AMI ids granted one by one (grantExportOfImage; every ImageExport grants its own). */
  readonly images?: string[];
}

/**
 * Reads the grants document. `undefined` when there is none (the variable is not set). A
 * document that is not the construct's shape throws: the check never guesses.
 */
export function parseExportGrants(raw: string | undefined): ExportGrants | undefined {
  if (raw === undefined) {
    return undefined;
  }
  const broken = (why: string) => new Error(
    `The export-task function's ${ENV_EXPORT_GRANTS} environment variable ${why}; the InstanceExportWorkflow construct writes it. ` +
    'Deploy the stack again instead of editing the function\'s configuration.');
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    throw broken('is not JSON');
  }
  const d = doc as Record<string, unknown> | null;
  if (!d || typeof d !== 'object' || typeof d.anyInstance !== 'boolean' || !Array.isArray(d.instances) || !Array.isArray(d.tags)) {
    throw broken('is not of the shape { anyInstance, instances, tags }');
  }
  if (!d.instances.every((i) => typeof i === 'string')) {
    throw broken('lists an instance that is not a string');
  }
  const tags = d.tags as unknown[];
  if (!tags.every((t) => !!t && typeof (t as TagGrant).key === 'string' && typeof (t as TagGrant).value === 'string')) {
    throw broken('has a tag grant without a string key and value');
  }
  if ((d.anyImage !== undefined && typeof d.anyImage !== 'boolean')
    || (d.images !== undefined && !(Array.isArray(d.images) && d.images.every((i) => typeof i === 'string')))) {
    throw broken('has an anyImage that is not a boolean or images that are not a list of strings');
  }
  return {
    anyInstance: d.anyInstance,
    instances: d.instances as string[],
    tags: tags.map((t) => ({ key: (t as TagGrant).key, value: (t as TagGrant).value })),
    anyImage: d.anyImage === true,
    images: (d.images as string[] | undefined) ?? [],
  };
}

/**
 * The tag grant an instance's tags satisfy, as IAM evaluates `aws:ResourceTag/<key>` with
 * StringEquals: the key case-insensitively, the value exactly.
 */
export function matchingTagGrant(grants: TagGrant[], tags: Tag[]): TagGrant | undefined {
  return grants.find((g) => tags.some((t) => (t.Key ?? '').toLowerCase() === g.key.toLowerCase() && t.Value === g.value));
}

/** The tags of an instance; `undefined` when DescribeInstances does not know it. */
async function instanceTags(ec2: EC2Client, instanceId: string): Promise<Tag[] | undefined> {
  try {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
    return instance ? instance.Tags ?? [] : undefined;
  } catch (err) {
    if (errorCode(err).startsWith('InvalidInstanceID')) {
      return undefined;
    }
    throw retryableOr(err, `DescribeInstances for ${instanceId} (reading its tags for the workflow's tag grants)`);
  }
}

/**
 * Throws VmExport.InvalidInput when the grants (default: the function's environment) do not
 * cover `instanceId`. Tag grants cost one DescribeInstances call, made only when no other grant
 * covers the instance.
 */
export async function checkExportGrant(
  ec2: EC2Client,
  instanceId: string,
  raw: string | undefined = process.env[ENV_EXPORT_GRANTS],
): Promise<void> {
  const grants = parseExportGrants(raw);
  if (!grants || grants.anyInstance || grants.instances.includes(instanceId)) {
    return;
  }
  let tagNote = '';
  if (grants.tags.length > 0) {
    const tags = await instanceTags(ec2, instanceId);
    if (tags && matchingTagGrant(grants.tags, tags)) {
      return;
    }
    const granted = grants.tags.map((g) => `${g.key}=${g.value}`).join(', ');
    tagNote = tags
      ? ` It carries none of the granted tags (${granted}).`
      : ` DescribeInstances does not know it in this account and region, so none of the granted tags (${granted}) apply.`;
  }
  throw new VmExportError(ERROR_INVALID_INPUT,
    `This export workflow may not export instance ${instanceId}: it was not granted to the workflow.${tagNote} ` +
    `Grant it in the CDK app and deploy again: call workflow.grantExportOf('${instanceId}') (an InstanceExport of the instance does this itself), ` +
    'or workflow.allowInstancesTagged(key, value) and tag the instance; allowAnyInstance: true on the InstanceExportWorkflow allows every instance.');
}

/**
 * Throws VmExport.InvalidInput when the grants (default: the function's environment) do not
 * cover the AMI `imageId` (image export: grantExportOfImage, every ImageExport grants its own;
 * allowAnyImage allows every AMI).
 */
export function checkImageExportGrant(imageId: string, raw: string | undefined = process.env[ENV_EXPORT_GRANTS]): void {
  const grants = parseExportGrants(raw);
  if (!grants || grants.anyImage || (grants.images ?? []).includes(imageId)) {
    return;
  }
  throw new VmExportError(ERROR_INVALID_INPUT,
    `This export workflow may not export AMI ${imageId}: it was not granted to the workflow. ` +
    `Grant it in the CDK app and deploy again: call workflow.grantExportOfImage('${imageId}') (an ImageExport of the AMI does this itself), ` +
    'or set allowAnyImage: true on the InstanceExportWorkflow to allow every AMI.');
}
