/**
 * Custom::VmExportBucketGrant: the onEvent handler (custom-resources Provider) that grants the
 * VM Import/Export service's canonical ID READ_ACP and WRITE on the export bucket, keeping every
 * other grant, and (for an imported bucket) checks the bucket first and merges one bucket policy
 * statement under its own Sid. On delete it removes only what it added.
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { applyAclChange } from './acl';
import { mergeServiceStatement, removeServiceStatement, serviceStatement } from './policy';
import { GrantSettings, parseProperties } from './properties';
import { verifyBucket } from './verify';

/** Created once per container. followRegionRedirects lets the location check see a bucket in another region. */
const defaultClient = new S3Client({ followRegionRedirects: true, maxAttempts: 6 });

/** Prefix of the physical id; the bucket name follows, so a new bucket means a new resource. */
export const PHYSICAL_ID_PREFIX = 'vm-export-grant:';

/** What the Provider framework expects back from onEvent. */
export interface BucketGrantResponse {
  readonly PhysicalResourceId: string;
  readonly Data: { readonly CanonicalId: string };
}

/** The physical id of the grant on `bucket`. */
export function physicalIdFor(bucket: string): string {
  return `${PHYSICAL_ID_PREFIX}${bucket}`;
}

/** The old settings of an Update, or undefined when they cannot be read. */
function oldSettings(event: CloudFormationCustomResourceEvent): GrantSettings | undefined {
  if (event.RequestType !== 'Update') return undefined;
  try {
    return parseProperties(event.OldResourceProperties);
  } catch {
    return undefined;
  }
}

async function createOrUpdate(event: CloudFormationCustomResourceEvent, s3: S3Client): Promise<BucketGrantResponse> {
  const settings = parseProperties(event.ResourceProperties);
  const bucket = settings.bucketName;
  // Only an Update of the same bucket cleans up after the old settings; a new bucket name gets a
  // new physical id, and CloudFormation then deletes the old resource with its old properties.
  const previous = oldSettings(event);
  const sameBucket = previous !== undefined && previous.bucketName === bucket;

  if (settings.verifyBucket) {
    await verifyBucket(s3, bucket, settings.expectedRegion);
  }

  await applyAclChange(s3, bucket, {
    add: settings.canonicalId,
    remove: sameBucket && previous.canonicalId !== settings.canonicalId ? previous.canonicalId : undefined,
  });

  if (settings.managePolicy) {
    const statement = serviceStatement(settings.policySid, settings.canonicalId, settings.partition, bucket);
    const oldSid = sameBucket && previous.managePolicy ? previous.policySid : undefined;
    await mergeServiceStatement(s3, bucket, statement, oldSid);
  } else if (sameBucket && previous.managePolicy) {
    await removeServiceStatement(s3, bucket, previous.policySid);
  }

  return { PhysicalResourceId: physicalIdFor(bucket), Data: { CanonicalId: settings.canonicalId } };
}

async function remove(event: CloudFormationCustomResourceEvent & { RequestType: 'Delete' }, s3: S3Client): Promise<BucketGrantResponse> {
  const settings = parseProperties(event.ResourceProperties);
  const bucket = settings.bucketName;
  await applyAclChange(s3, bucket, { remove: settings.canonicalId }, { ignoreMissingBucket: true });
  if (settings.managePolicy) {
    await removeServiceStatement(s3, bucket, settings.policySid, { ignoreMissingBucket: true });
  }
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

/** The Lambda entry point. */
export async function handler(event: CloudFormationCustomResourceEvent): Promise<BucketGrantResponse> {
  return onEvent(event);
}
