import { grantError } from './errors';
import { PARTITIONS_WITHOUT_CANONICAL_ID } from '../../src/bucket/canonical-id-table';
import { BUCKET_POLICY_SID, CANONICAL_ID_PATTERN } from '../shared/contract';

/** The handler's view of the resource properties (see BucketGrantProperties in the contract). */
export interface GrantSettings {
  readonly bucketName: string;
  readonly canonicalId: string;
  readonly partition: string;
  readonly verifyBucket: boolean;
  readonly expectedRegion: string;
  readonly managePolicy: boolean;
  readonly policySid: string;
  /** The construct defaulted the canonical ID in an environment-agnostic stack. */
  readonly canonicalIdDefaulted: boolean;
}


/** CloudFormation passes booleans as strings; accept a real boolean too. */
function flag(value: unknown): boolean {
  return value === true || value === 'true';
}

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

/**
 * Read and check the resource properties. Throws an error naming every invalid property; the
 * construct writes these, so an error here means the template was edited or a token resolved
 * to something unexpected.
 */
export function parseProperties(props: Record<string, unknown> | undefined): GrantSettings {
  const p = props ?? {};
  const settings: GrantSettings = {
    bucketName: text(p.BucketName),
    canonicalId: text(p.CanonicalId),
    partition: text(p.Partition),
    verifyBucket: flag(p.VerifyBucket),
    expectedRegion: text(p.ExpectedRegion),
    managePolicy: flag(p.ManagePolicy),
    policySid: text(p.PolicySid) || BUCKET_POLICY_SID,
    canonicalIdDefaulted: flag(p.CanonicalIdDefaulted),
  };
  const problems: string[] = [];
  if (!settings.bucketName) problems.push('BucketName is empty');
  if (!CANONICAL_ID_PATTERN.test(settings.canonicalId)) {
    problems.push(`CanonicalId '${settings.canonicalId.slice(0, 80)}' is not 64 lowercase hex characters`);
  }
  if (settings.managePolicy && !settings.partition) problems.push('Partition is empty (needed for the bucket policy ARNs)');
  if (settings.verifyBucket && !settings.expectedRegion) problems.push('ExpectedRegion is empty (needed to check the bucket\'s location)');
  if (problems.length > 0) {
    const where = settings.bucketName ? ` on bucket '${settings.bucketName}'` : '';
    throw grantError(`Invalid properties for the export bucket grant${where}: ${problems.join('; ')}.`);
  }
  return settings;
}

/**
 * Refuses (on Create and Update) a canonical ID the construct defaulted in an
 * environment-agnostic stack that was deployed to a partition for which AWS documents no VM
 * Import/Export canonical ID: the default belongs to the commercial partition. An ID the user
 * passed is always used as given.
 */
export function refuseGuessedCanonicalId(settings: GrantSettings): void {
  if (!settings.canonicalIdDefaulted || !PARTITIONS_WITHOUT_CANONICAL_ID.includes(settings.partition)) {
    return;
  }
  throw grantError(
    `Refusing to grant the default VM Import/Export canonical ID ${settings.canonicalId} on bucket '${settings.bucketName}': the stack is deployed to partition ${settings.partition}, for which AWS documents no VM Import/Export canonical ID, ` +
    'and the stack did not set one (the commercial default is almost certainly wrong there). ' +
    'Ask AWS for the canonical ID of this partition and pass it as canonicalId to VmExportBucket (or VmExportBucket.fromBucketName).',
  );
}
