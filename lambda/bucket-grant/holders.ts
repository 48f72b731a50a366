/**
 * Who holds the VM Import/Export grants on a bucket, and which of them the library added: the
 * reference count that lets several grant resources share one bucket (two stacks importing it,
 * a stack importing another stack's VmExportBucket, a bucket prepared by hand).
 *
 * WHERE THE RECORD LIVES. A grant resource of an imported bucket (ManagePolicy 'true') keeps its
 * bucket policy statement under a Sid of its own: PolicySid, then the first 12 hex characters of
 * the sha256 of the JSON array [stack id, logical id], then one suffix per ACL grant it is
 * answerable for ('AddedReadAcp', 'AddedWrite'), e.g.
 * `VmExportServiceAccess3f9a1c0e2b7dAddedReadAcpAddedWrite`.
 * That one statement is the access the service's guide asks for, the holder's registration and
 * its record, and S3 writes a policy atomically. The policy is used, not tags or objects: it is
 * the only place on the bucket the resource already manages (PutBucketTagging replaces every tag
 * and trips over the `aws:` tags CloudFormation puts on buckets it created). The grant resource of
 * a VmExportBucket (a 'stack' holder) has no statement: its stack created the bucket, so both ACL
 * grants are the library's, and CloudFormation owns that bucket's policy.
 *
 * RULES. Create adds what is missing and records only that; a grant or statement that was there
 * before is never recorded, so never removed, and statements under other Sids are never touched.
 * Delete removes the resource's statement; for each ACL grant it recorded, when another holder of
 * the same canonical ID remains the grant stays and the record moves into that holder's Sid (so
 * whoever leaves last removes it), otherwise the grant is removed. Another holder is another
 * resource's statement, or a statement under exactly PolicySid (made by hand, by the previous
 * version of this library, or by a VmExportBucket's stack through CloudFormation): someone we
 * cannot see leave relies on it, so the grants stay while it is there.
 *
 * FAILURE MODE. A policy that loses our statements loses the record: CloudFormation rewrites the
 * policy of a bucket whose AWS::S3::BucketPolicy another stack manages on that stack's updates and
 * deletes it with that stack; a person can edit it. A resource that then finds no statement of its
 * own on Delete, like one created by the previous version, keeps every grant (it cannot tell its
 * own from anyone else's). What is left behind grants the VM Import/Export service account only;
 * remove it by hand once no stack exports to the bucket. Nothing is ever removed on a guess. A
 * VmExportBucket's own grant needs no record, so one created by the previous version behaves as
 * a new one: it removes both grants on Delete unless another holder's statement is on the bucket.
 */
import { createHash } from 'crypto';
import { Grant } from '@aws-sdk/client-s3';
import { hasGrant, SERVICE_PERMISSIONS, ServicePermission, withGrants, withoutGrants } from './acl';
import { PolicyDocument, PolicyStatement, serviceStatement } from './policy';

/** One grant resource, as the record knows it. */
export interface Holder {
  /** 'statement': recorded by its own policy statement (imported bucket); 'stack': a VmExportBucket's own grant. */
  readonly kind: 'statement' | 'stack';
  readonly canonicalId: string;
  /** PolicySid: the fixed Sid, and the start of every holder Sid. */
  readonly sidBase: string;
  /** holderHash(stack id, logical id). */
  readonly hash: string;
  readonly partition: string;
  readonly bucket: string;
}

/** The bucket's ACL grants and (when read) its policy, as a change sees them. */
export interface GrantState {
  readonly grants: Grant[];
  readonly policy?: PolicyDocument;
}

/** What a change did (logged). */
export interface ChangeReport {
  readonly added: ServicePermission[];
  readonly removed: ServicePermission[];
  /** Grants the departing holder added but left for another holder. */
  readonly kept: ServicePermission[];
  /** The Sid the record of the departing holder moved to. */
  readonly recordMovedTo?: string;
  /** The departing resource had no statement of its own: it kept every grant. */
  readonly unrecorded?: boolean;
}

export interface Change {
  readonly state: GrantState;
  readonly report: ChangeReport;
}

/** A holder statement found in a policy. */
interface HolderStatement {
  readonly index: number;
  readonly hash: string;
  readonly added: ServicePermission[];
  /** The statement's CanonicalUser, or undefined when its principal has another shape. */
  readonly grantee?: string;
}

const SUFFIX: Record<ServicePermission, string> = { READ_ACP: 'AddedReadAcp', WRITE: 'AddedWrite' };
const HOLDER_SID_TAIL = /^([0-9a-f]{12})(AddedReadAcp)?(AddedWrite)?$/;

/** The 12 hex characters that name one grant resource on every bucket: a hash of its stack id and logical id. */
export function holderHash(stackId: string, logicalId: string): string {
  return createHash('sha256').update(JSON.stringify([stackId, logicalId])).digest('hex').slice(0, 12);
}

/** The Sid of a holder statement that records `added`. */
export function holderSid(base: string, hash: string, added: readonly ServicePermission[]): string {
  return base + hash + SERVICE_PERMISSIONS.filter((p) => added.includes(p)).map((p) => SUFFIX[p]).join('');
}

/** The hash and the recorded grants of a holder Sid under `base`, or undefined for any other Sid. */
export function parseHolderSid(sid: unknown, base: string): { hash: string; added: ServicePermission[] } | undefined {
  if (typeof sid !== 'string' || !sid.startsWith(base)) return undefined;
  const match = HOLDER_SID_TAIL.exec(sid.slice(base.length));
  if (!match) return undefined;
  return { hash: match[1], added: SERVICE_PERMISSIONS.filter((_p, i) => match[i + 2] !== undefined) };
}

/** The CanonicalUser a statement grants to, or undefined when its principal has another shape. */
function granteeOf(statement: PolicyStatement): string | undefined {
  const principal = statement.Principal as { CanonicalUser?: unknown } | undefined;
  const user = typeof principal === 'object' && principal !== null ? principal.CanonicalUser : undefined;
  const users = Array.isArray(user) ? user : [user];
  return users.length === 1 && typeof users[0] === 'string' ? users[0] : undefined;
}

function holderStatements(policy: PolicyDocument, base: string): HolderStatement[] {
  return policy.Statement.flatMap((statement, index) => {
    const parsed = parseHolderSid(statement.Sid, base);
    return parsed ? [{ index, ...parsed, grantee: granteeOf(statement) }] : [];
  });
}

function ownStatement(policy: PolicyDocument, holder: Holder): HolderStatement | undefined {
  return holderStatements(policy, holder.sidBase).find((s) => s.hash === holder.hash);
}

function requirePolicy(state: GrantState): PolicyDocument {
  if (!state.policy) throw new Error('bucket-grant: the bucket policy was not read');
  return state.policy;
}

/** The policy with `statement` at `index`, or appended when `index` is undefined. Pure. */
function putAt(policy: PolicyDocument, index: number | undefined, statement: PolicyStatement): PolicyDocument {
  if (index === undefined) return { ...policy, Statement: [...policy.Statement, statement] };
  return { ...policy, Statement: policy.Statement.map((s, i) => (i === index ? statement : s)) };
}

function withoutIndex(policy: PolicyDocument, index: number): PolicyDocument {
  return { ...policy, Statement: policy.Statement.filter((_s, i) => i !== index) };
}

/**
 * Join: add the READ_ACP and WRITE grants that are missing and (for a statement holder) write the
 * holder's own statement, recording what was missing, what `carried` brings and what its
 * statement already recorded (a retried Create keeps its record).
 */
export function join(state: GrantState, holder: Holder, carried: readonly ServicePermission[] = []): Change {
  const id = holder.canonicalId;
  const absent = SERVICE_PERMISSIONS.filter((p) => !hasGrant(state.grants, id, p));
  const grants = withGrants(state.grants, id, absent);
  const report = { added: absent, removed: [], kept: [] };
  if (holder.kind === 'stack') return { state: { ...state, grants }, report };
  const policy = requirePolicy(state);
  const own = ownStatement(policy, holder);
  const recorded = SERVICE_PERMISSIONS.filter((p) => absent.includes(p) || carried.includes(p) || own?.added.includes(p));
  const statement = serviceStatement(holderSid(holder.sidBase, holder.hash, recorded), id, holder.partition, holder.bucket);
  return { state: { grants, policy: putAt(policy, own?.index, statement) }, report };
}

/** Other holders of `holder`'s canonical ID: heirs (their statements can take over a record) and whether anyone else relies on it. */
function otherHolders(policy: PolicyDocument, holder: Holder): { heirs: HolderStatement[]; held: boolean } {
  const others = holderStatements(policy, holder.sidBase).filter((s) => s.hash !== holder.hash);
  const heirs = others.filter((s) => s.grantee === holder.canonicalId);
  const unknown = others.some((s) => s.grantee === undefined);
  // A VmExportBucket's own policy carries the fixed Sid: for its own grant that is not someone else.
  const external = holder.kind === 'statement' && policy.Statement.some((s) => s.Sid === holder.sidBase
    && [holder.canonicalId, undefined].includes(granteeOf(s)));
  return { heirs, held: heirs.length > 0 || unknown || external };
}

/** Leave: remove the holder's statement and the ACL grants it recorded, unless someone else still holds them. */
export function leave(state: GrantState, holder: Holder): Change {
  const policy = requirePolicy(state);
  const own = holder.kind === 'statement' ? ownStatement(policy, holder) : undefined;
  if (holder.kind === 'statement' && !own) return { state, report: { added: [], removed: [], kept: [], unrecorded: true } };
  const rest = own ? withoutIndex(policy, own.index) : policy;
  // The bucket's own stack created the bucket: both grants are the library's.
  const recorded = own ? own.added : [...SERVICE_PERMISSIONS];
  const { heirs, held } = otherHolders(rest, holder);
  if (!held) {
    const removed = recorded.filter((p) => hasGrant(state.grants, holder.canonicalId, p));
    return { state: { grants: withoutGrants(state.grants, holder.canonicalId, recorded), policy: rest }, report: { added: [], removed, kept: [] } };
  }
  // Someone else relies on the grants: they stay. A statement holder hands its record to an heir;
  // the bucket's own stack writes nothing into a policy CloudFormation manages.
  if (holder.kind === 'statement' && heirs.length > 0 && recorded.length > 0) return moveRecord(state.grants, rest, holder, heirs[0], recorded);
  return { state: { grants: state.grants, policy: rest }, report: { added: [], removed: [], kept: recorded } };
}

/** The departing holder's record moves into the heir's Sid; the grants stay. */
function moveRecord(grants: Grant[], policy: PolicyDocument, holder: Holder, heir: HolderStatement, recorded: ServicePermission[]): Change {
  const added = SERVICE_PERMISSIONS.filter((p) => heir.added.includes(p) || recorded.includes(p));
  const sid = holderSid(holder.sidBase, heir.hash, added);
  const renamed = putAt(policy, heir.index, { ...policy.Statement[heir.index], Sid: sid });
  return { state: { grants, policy: renamed }, report: { added: [], removed: [], kept: recorded, recordMovedTo: sid } };
}

/**
 * Update of the same bucket. The same holder with the same canonical ID keeps its record (moved
 * to the new Sid base if that changed); otherwise the old holder leaves and the new one joins.
 */
export function update(state: GrantState, previous: Holder, next: Holder): Change {
  if (previous.kind !== next.kind || previous.canonicalId !== next.canonicalId) {
    const left = leave(state, previous);
    const joined = join(left.state, next);
    return { state: joined.state, report: { ...left.report, added: joined.report.added } };
  }
  if (next.kind === 'stack' || previous.sidBase === next.sidBase) return join(state, next);
  const policy = requirePolicy(state);
  const old = ownStatement(policy, previous);
  const moved = old ? { ...state, policy: withoutIndex(policy, old.index) } : state;
  return join(moved, next, old?.added ?? []);
}
