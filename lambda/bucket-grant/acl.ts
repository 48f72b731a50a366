import { GetBucketAclCommand, Grant, Owner, PutBucketAclCommand, S3Client } from '@aws-sdk/client-s3';
import { grantError, isNoSuchBucket, noSuchBucketError, s3CallError } from './errors';

/** The two permissions VM Import/Export needs on the bucket, in the order they are added. */
export const SERVICE_PERMISSIONS = ['READ_ACP', 'WRITE'] as const;

/** READ_ACP or WRITE. */
export type ServicePermission = typeof SERVICE_PERMISSIONS[number];

/** A bucket ACL as GetBucketAcl returned it. */
export interface BucketAcl {
  readonly owner: Owner;
  readonly grants: Grant[];
}

/** True when `grant` gives `permission` to the canonical user `id`. */
function isGrantTo(grant: Grant, id: string, permission: string): boolean {
  return grant.Grantee?.Type === 'CanonicalUser' && grant.Grantee.ID === id && grant.Permission === permission;
}

/** True when the grant list gives `permission` to the canonical user `id`. */
export function hasGrant(grants: readonly Grant[], id: string, permission: ServicePermission): boolean {
  return grants.some((g) => isGrantTo(g, id, permission));
}

/** The grant list with `permissions` for `id` appended where missing. Pure. */
export function withGrants(grants: readonly Grant[], id: string, permissions: readonly ServicePermission[]): Grant[] {
  const missing = permissions.filter((p) => !hasGrant(grants, id, p));
  return [...grants, ...missing.map((p): Grant => ({ Grantee: { Type: 'CanonicalUser', ID: id }, Permission: p }))];
}

/** The grant list without the `permissions` grants of `id`; every other grant keeps its place. Pure. */
export function withoutGrants(grants: readonly Grant[], id: string, permissions: readonly ServicePermission[]): Grant[] {
  return grants.filter((g) => !permissions.some((p) => isGrantTo(g, id, p)));
}

/** True when two grant lists hold the same grants in the same order. */
export function sameGrants(a: readonly Grant[], b: readonly Grant[]): boolean {
  return a.length === b.length && a.every((g, i) => JSON.stringify(g) === JSON.stringify(b[i]));
}

/**
 * The bucket ACL, or undefined when the bucket does not exist and `ignoreMissingBucket` is set
 * (Delete). Refuses an answer without owner or grants: PutBucketAcl replaces the whole ACL, so
 * one built from an incomplete read would drop the owner's FULL_CONTROL and every other grant.
 */
export async function readAcl(s3: S3Client, bucket: string, ignoreMissingBucket = false): Promise<BucketAcl | undefined> {
  let owner: Owner | undefined;
  let grants: Grant[] | undefined;
  try {
    const acl = await s3.send(new GetBucketAclCommand({ Bucket: bucket }));
    owner = acl.Owner;
    grants = acl.Grants;
  } catch (err) {
    if (isNoSuchBucket(err)) {
      if (ignoreMissingBucket) return undefined;
      throw noSuchBucketError(bucket);
    }
    throw s3CallError('GetBucketAcl', bucket, err);
  }
  if (!owner?.ID || !Array.isArray(grants) || grants.length === 0) {
    throw grantError(`S3 GetBucketAcl returned an incomplete ACL for bucket '${bucket}' (no owner or no grants); the ACL was not changed. Deploy again.`);
  }
  return { owner, grants };
}

/** Write `grants` with the ACL's owner (PutBucketAcl replaces the whole ACL). A bucket gone meanwhile counts as done when `ignoreMissingBucket` is set. */
export async function writeAcl(s3: S3Client, bucket: string, acl: BucketAcl, grants: Grant[], ignoreMissingBucket = false): Promise<void> {
  try {
    await s3.send(new PutBucketAclCommand({ Bucket: bucket, AccessControlPolicy: { Owner: acl.owner, Grants: grants } }));
  } catch (err) {
    if (ignoreMissingBucket && isNoSuchBucket(err)) return;
    throw s3CallError('PutBucketAcl', bucket, err);
  }
}
