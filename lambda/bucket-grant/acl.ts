import { GetBucketAclCommand, Grant, Owner, PutBucketAclCommand, S3Client } from '@aws-sdk/client-s3';
import { grantError, isNoSuchBucket, noSuchBucketError, s3CallError } from './errors';

/** The two permissions VM Import/Export needs on the bucket, in the order they are added. */
export const SERVICE_PERMISSIONS = ['READ_ACP', 'WRITE'] as const;

/** True when `grant` gives `permission` to the canonical user `id`. */
function isGrantTo(grant: Grant, id: string, permission: string): boolean {
  return grant.Grantee?.Type === 'CanonicalUser' && grant.Grantee.ID === id && grant.Permission === permission;
}

/**
 * The grant list with READ_ACP and WRITE for `add` present (appended when missing) and, when
 * `remove` is set, the READ_ACP and WRITE grants of `remove` dropped. Every other grant is kept
 * in its original order. Pure: the input is not modified.
 */
export function updateGrants(grants: readonly Grant[], change: { add?: string; remove?: string }): Grant[] {
  const { add, remove } = change;
  let result = [...grants];
  if (remove !== undefined && remove !== add) {
    result = result.filter((g) => !SERVICE_PERMISSIONS.some((p) => isGrantTo(g, remove, p)));
  }
  if (add !== undefined) {
    for (const permission of SERVICE_PERMISSIONS) {
      if (!result.some((g) => isGrantTo(g, add, permission))) {
        result.push({ Grantee: { Type: 'CanonicalUser', ID: add }, Permission: permission });
      }
    }
  }
  return result;
}

/** True when two grant lists hold the same grants in the same order. */
function sameGrants(a: readonly Grant[], b: readonly Grant[]): boolean {
  return a.length === b.length && a.every((g, i) => g === b[i]);
}

/**
 * Read the bucket ACL, apply `change` and write it back with one PutBucketAcl, keeping the owner
 * and every other grant. Does not write when nothing changes. Returns true when it wrote.
 * With `ignoreMissingBucket` a bucket that no longer exists counts as done (Delete).
 */
export async function applyAclChange(
  s3: S3Client,
  bucket: string,
  change: { add?: string; remove?: string },
  options: { ignoreMissingBucket?: boolean } = {},
): Promise<boolean> {
  let owner: Owner | undefined;
  let grants: Grant[];
  try {
    const acl = await s3.send(new GetBucketAclCommand({ Bucket: bucket }));
    owner = acl.Owner;
    grants = acl.Grants as Grant[];
  } catch (err) {
    if (isNoSuchBucket(err)) {
      if (options.ignoreMissingBucket) return false;
      throw noSuchBucketError(bucket);
    }
    throw s3CallError('GetBucketAcl', bucket, err);
  }
  // PutBucketAcl replaces the whole ACL: never write one built from an incomplete read (it would
  // drop the owner's FULL_CONTROL and every other grant).
  if (!owner?.ID || !Array.isArray(grants) || grants.length === 0) {
    throw grantError(`S3 GetBucketAcl returned an incomplete ACL for bucket '${bucket}' (no owner or no grants); the ACL was not changed. Deploy again.`);
  }
  const updated = updateGrants(grants, change);
  if (sameGrants(grants, updated)) return false;
  try {
    await s3.send(new PutBucketAclCommand({
      Bucket: bucket,
      AccessControlPolicy: { Owner: owner, Grants: updated },
    }));
  } catch (err) {
    if (options.ignoreMissingBucket && isNoSuchBucket(err)) return false;
    throw s3CallError('PutBucketAcl', bucket, err);
  }
  return true;
}
