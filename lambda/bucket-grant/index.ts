/**
 * Custom::VmExportBucketGrant: the logic (served by ../custom-resource) that grants the
 * VM Import/Export service's canonical ID READ_ACP and WRITE on the export bucket, keeping every
 * other grant, and (for an imported bucket) checks the bucket first and adds one bucket policy
 * statement under a Sid of its own. Several grant resources may share a bucket: each records in
 * its statement what it added, and a delete removes only what no other holder still needs (see
 * holders.ts for the record and what happens when it is lost).
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { BucketAcl, readAcl, sameGrants, writeAcl } from './acl';
import { Change, GrantState, Holder, holderHash, join, leave, update } from './holders';
import { readPolicy, writePolicy } from './policy';
import { GrantSettings, parseProperties, refuseGuessedCanonicalId } from './properties';
import { verifyBucket } from './verify';
import { isCreateFailedMarker } from '../shared/cfn-response';
import { CLIENT_CONFIG } from '../shared/clients';

/** Created once per container. followRegionRedirects lets the location check see a bucket in another region. */
const defaultClient = new S3Client({ ...CLIENT_CONFIG, followRegionRedirects: true, maxAttempts: 6 });

/** Prefix of the physical id; the bucket name follows, so a new bucket means a new resource. */
export const PHYSICAL_ID_PREFIX = 'vm-export-grant:';

/** What the handler answers CloudFormation with. */
export interface BucketGrantResponse {
  readonly PhysicalResourceId: string;
  readonly Data: { readonly CanonicalId: string };
}

/** The physical id of the grant on `bucket` (unchanged since the first version). */
export function physicalIdFor(bucket: string): string {
  return `${PHYSICAL_ID_PREFIX}${bucket}`;
}

/** The old settings of an Update of the same bucket, or undefined. */
function previousOnSameBucket(event: CloudFormationCustomResourceEvent, bucket: string): GrantSettings | undefined {
  if (event.RequestType !== 'Update') return undefined;
  try {
    const previous = parseProperties(event.OldResourceProperties);
    return previous.bucketName === bucket ? previous : undefined;
  } catch {
    return undefined;
  }
}

function holderFor(settings: GrantSettings, event: CloudFormationCustomResourceEvent): Holder {
  return {
    kind: settings.managePolicy ? 'statement' : 'stack',
    canonicalId: settings.canonicalId,
    sidBase: settings.policySid,
    hash: holderHash(event.StackId, event.LogicalResourceId),
    partition: settings.partition,
    bucket: settings.bucketName,
  };
}

/**
 * Read the ACL (and the policy when `withPolicy`), apply `change` and write back what changed.
 * Returns undefined when the bucket is gone and `ignoreMissingBucket` is set.
 */
async function changeBucket(
  s3: S3Client,
  bucket: string,
  withPolicy: boolean,
  change: (state: GrantState) => Change,
  ignoreMissingBucket: boolean,
): Promise<Change | undefined> {
  const acl = await readAcl(s3, bucket, ignoreMissingBucket);
  if (!acl) return undefined;
  const policy = withPolicy ? await readPolicy(s3, bucket, ignoreMissingBucket) : undefined;
  if (withPolicy && !policy) return undefined;
  const before: GrantState = { grants: acl.grants, policy };
  const result = change(before);
  await writeChanges(s3, bucket, acl, before, result.state, ignoreMissingBucket);
  return result;
}

/** Write the ACL, then the policy, each only when it changed. */
async function writeChanges(
  s3: S3Client,
  bucket: string,
  acl: BucketAcl,
  before: GrantState,
  after: GrantState,
  ignoreMissingBucket: boolean,
): Promise<void> {
  const aclChanged = !sameGrants(before.grants, after.grants);
  if (aclChanged) await writeAcl(s3, bucket, acl, after.grants, ignoreMissingBucket);
  if (!after.policy || JSON.stringify(after.policy) === JSON.stringify(before.policy)) return;
  try {
    await writePolicy(s3, bucket, after.policy, ignoreMissingBucket);
  } catch (err) {
    // The policy carries the record: an ACL change it does not record would be a grant nobody
    // removes, or a removal a retried Delete cannot find again. Put the ACL back, then fail.
    if (aclChanged) await writeAcl(s3, bucket, acl, before.grants, ignoreMissingBucket).catch(() => undefined);
    throw err;
  }
}

/** Logs what a departing holder removed, handed over or kept (the reason grants stay on a bucket). */
function log(event: CloudFormationCustomResourceEvent, bucket: string, change: Change | undefined): void {
  const report = change?.report;
  if (!report || (report.removed.length === 0 && report.kept.length === 0 && !report.unrecorded)) return;
  const note = report.unrecorded
    ? 'no statement of this resource on the bucket (created by an earlier version, or the policy was rewritten): kept every grant'
    : undefined;
  console.log(JSON.stringify({ message: 'bucket grant', requestType: event.RequestType, bucket, ...report, note }));
}

async function createOrUpdate(event: CloudFormationCustomResourceEvent, s3: S3Client): Promise<BucketGrantResponse> {
  const settings = parseProperties(event.ResourceProperties);
  // A defaulted canonical ID in aws-eusc / aws-iso* is a guess: refuse it before touching the bucket.
  refuseGuessedCanonicalId(settings);
  const bucket = settings.bucketName;
  // A new bucket name gets a new physical id; CloudFormation then deletes the old resource with
  // its old properties, so only an Update of the same bucket hands over from the old settings.
  const previous = previousOnSameBucket(event, bucket);
  if (settings.verifyBucket) {
    await verifyBucket(s3, bucket, settings.expectedRegion);
  }
  const next = holderFor(settings, event);
  const old = previous && holderFor(previous, event);
  // The policy is read when a statement holder is involved (its record) or the canonical ID changes (other holders of the old one).
  const withPolicy = next.kind === 'statement' || old?.kind === 'statement' || (old !== undefined && old.canonicalId !== next.canonicalId);
  const change = await changeBucket(s3, bucket, withPolicy, (state) => (old ? update(state, old, next) : join(state, next)), false);
  log(event, bucket, change);
  return { PhysicalResourceId: physicalIdFor(bucket), Data: { CanonicalId: settings.canonicalId } };
}

async function remove(event: CloudFormationCustomResourceEvent & { RequestType: 'Delete' }, s3: S3Client): Promise<BucketGrantResponse> {
  if (isCreateFailedMarker(event.PhysicalResourceId)) {
    // The Delete that follows a failed Create: the Create undid its changes before it failed.
    return { PhysicalResourceId: event.PhysicalResourceId, Data: { CanonicalId: '' } };
  }
  const settings = parseProperties(event.ResourceProperties);
  const bucket = settings.bucketName;
  const change = await changeBucket(s3, bucket, true, (state) => leave(state, holderFor(settings, event)), true);
  log(event, bucket, change);
  return { PhysicalResourceId: event.PhysicalResourceId, Data: { CanonicalId: settings.canonicalId } };
}

/** The handler's logic, with the S3 client as a parameter for tests. */
export async function onEvent(event: CloudFormationCustomResourceEvent, s3: S3Client = defaultClient): Promise<BucketGrantResponse> {
  switch (event.RequestType) {
    case 'Create':
    case 'Update':
      return createOrUpdate(event, s3);
    case 'Delete':
      return remove(event, s3);
    default:
      throw new Error(`Unknown RequestType '${(event as { RequestType?: unknown }).RequestType}'.`);
  }
}
