/**
 * The holder record (holders.ts) at the edges, on the pure functions: which statements count as
 * other holders, what a departing holder removes, keeps or hands over, and where an Update puts
 * the record. Sids, hashes and canonical IDs are written out (format: holders.ts header).
 */
import { Grant } from '@aws-sdk/client-s3';
import { DENY_HTTP, BUCKET, grant, OWNER_FULL_CONTROL, PARTNER_ID, SERVICE_ID } from './bucket-grant.fixtures';
import { GrantState, Holder, join, leave, parseHolderSid, update } from '../lambda/bucket-grant/holders';
import { PolicyDocument, PolicyStatement } from '../lambda/bucket-grant/policy';

const BASE = 'VmExportServiceAccess';
/** The departing (or updated) resource's hash. */
const OWN = '0a1b2c3d4e5f';

const BOTH_GRANTS: Grant[] = [OWNER_FULL_CONTROL, grant(SERVICE_ID, 'READ_ACP'), grant(SERVICE_ID, 'WRITE')];


function holder(kind: Holder['kind'], hash = OWN, sidBase = BASE): Holder {
  return { kind, canonicalId: SERVICE_ID, sidBase, hash, partition: 'aws', bucket: BUCKET };
}

/** A service statement as the handler writes it, under `sid`, with another principal if given. */
function access(sid: string, principal: unknown = { CanonicalUser: SERVICE_ID }): PolicyStatement {
  return {
    Sid: sid,
    Effect: 'Allow',
    Principal: principal,
    Action: ['s3:GetBucketAcl', 's3:PutObject'],
    Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`],
  };
}

function policy(...statements: PolicyStatement[]): PolicyDocument {
  return { Version: '2012-10-17', Statement: statements };
}

function state(grants: Grant[], doc?: PolicyDocument): GrantState {
  return { grants, policy: doc };
}

describe('holder Sids', () => {
  test.each([
    ['a prefix before the hash', 'VmExportServiceAccessX0a1b2c3d4e5f'],
    ['13 hex characters', 'VmExportServiceAccess00a1b2c3d4e5f'],
    ['13 hex characters and a suffix', 'VmExportServiceAccess00a1b2c3d4e5fAddedWrite'],
  ])('a Sid with %s after PolicySid is not a holder Sid', (_name, sid) => {
    expect(parseHolderSid(sid, BASE)).toBeUndefined();
  });
});

describe('a statement holder needs the policy', () => {
  test('join and leave refuse a state whose policy was not read', () => {
    expect(() => join(state(BOTH_GRANTS), holder('statement'))).toThrow(new Error('bucket-grant: the bucket policy was not read'));
    expect(() => leave(state(BOTH_GRANTS), holder('statement'))).toThrow(new Error('bucket-grant: the bucket policy was not read'));
  });
});

describe('who else holds the grants (leave of a holder that recorded both)', () => {
  const mine = access('VmExportServiceAccess0a1b2c3d4e5fAddedReadAcpAddedWrite');

  test.each([
    ['grants to an AWS principal (not a canonical user)', { AWS: 'arn:aws:iam::123456789012:root' }],
    ['grants to two canonical users', { CanonicalUser: [SERVICE_ID, PARTNER_ID] }],
    // S3 refuses this policy; the pure function still treats the odd shape as someone unknown.
    ['names a canonical user that is not a string', { CanonicalUser: 42 }],
  ])('another holder statement that %s is someone unknown: the grants stay and the record does not move', (_name, principal) => {
    const other = access('VmExportServiceAccess9f8e7d6c5b4a', principal);

    const change = leave(state(BOTH_GRANTS, policy(DENY_HTTP, mine, other)), holder('statement'));

    expect(change.report).toEqual({ added: [], removed: [], kept: ['READ_ACP', 'WRITE'] });
    expect(change.report.recordMovedTo).toBeUndefined();
    expect(change.state).toEqual(state(BOTH_GRANTS, policy(DENY_HTTP, other)));
  });

  test('a statement under exactly PolicySid without a Principal (NotPrincipal) is someone else: the grants stay', () => {
    const handMade = {
      Sid: 'VmExportServiceAccess',
      Effect: 'Deny',
      NotPrincipal: { AWS: 'arn:aws:iam::123456789012:root' },
      Action: 's3:PutBucketAcl',
      Resource: `arn:aws:s3:::${BUCKET}`,
    };

    const change = leave(state(BOTH_GRANTS, policy(mine, handMade)), holder('statement'));

    expect(change.report).toEqual({ added: [], removed: [], kept: ['READ_ACP', 'WRITE'] });
    expect(change.state).toEqual(state(BOTH_GRANTS, policy(handMade)));
  });

  test('a second statement with the resource\'s own hash is not another holder: the grants go, the copy stays', () => {
    const copy = access('VmExportServiceAccess0a1b2c3d4e5f');

    const change = leave(state(BOTH_GRANTS, policy(mine, copy)), holder('statement'));

    expect(change.report).toEqual({ added: [], removed: ['READ_ACP', 'WRITE'], kept: [] });
    expect(change.state).toEqual(state([OWNER_FULL_CONTROL], policy(copy)));
  });
});

describe('what a departing holder removes', () => {
  test('a statement holder without a statement of its own changes nothing, even when nobody else holds the grants', () => {
    const before = state(BOTH_GRANTS, policy(DENY_HTTP));

    const change = leave(before, holder('statement'));

    expect(change).toEqual({ state: before, report: { added: [], removed: [], kept: [], unrecorded: true } });
  });

  test('reports as removed only the recorded grants that were still on the ACL', () => {
    const mine = access('VmExportServiceAccess0a1b2c3d4e5fAddedReadAcpAddedWrite');
    const grants = [OWNER_FULL_CONTROL, grant(SERVICE_ID, 'READ_ACP')];

    const change = leave(state(grants, policy(mine, DENY_HTTP)), holder('statement'));

    expect(change.report).toEqual({ added: [], removed: ['READ_ACP'], kept: [] });
    expect(change.state).toEqual(state([OWNER_FULL_CONTROL], policy(DENY_HTTP)));
  });

  test('the bucket\'s own grant ignores a statement carrying its hash: it removes both grants and leaves the policy alone', () => {
    const doc = policy(access('VmExportServiceAccess0a1b2c3d4e5fAddedWrite'));

    const change = leave(state(BOTH_GRANTS, doc), holder('stack'));

    expect(change.report).toEqual({ added: [], removed: ['READ_ACP', 'WRITE'], kept: [] });
    expect(change.state).toEqual(state([OWNER_FULL_CONTROL], policy(access('VmExportServiceAccess0a1b2c3d4e5fAddedWrite'))));
  });
});

describe('handing the record over', () => {
  const heir = access('VmExportServiceAccess9f8e7d6c5b4a');

  test('the bucket\'s own grant keeps the grants for another holder and writes no record into its Sid', () => {
    const change = leave(state(BOTH_GRANTS, policy(DENY_HTTP, heir)), holder('stack'));

    expect(change.report).toEqual({ added: [], removed: [], kept: ['READ_ACP', 'WRITE'] });
    expect(change.report.recordMovedTo).toBeUndefined();
    expect(change.state).toEqual(state(BOTH_GRANTS, policy(DENY_HTTP, heir)));
  });

  test('a holder whose only other holder is a statement under PolicySid keeps its record nowhere (no heir)', () => {
    const mine = access('VmExportServiceAccess0a1b2c3d4e5fAddedReadAcpAddedWrite');
    const fixed = access('VmExportServiceAccess');

    const change = leave(state(BOTH_GRANTS, policy(fixed, mine)), holder('statement'));

    expect(change.report).toEqual({ added: [], removed: [], kept: ['READ_ACP', 'WRITE'] });
    expect(change.state).toEqual(state(BOTH_GRANTS, policy(fixed)));
  });

  test('a holder that recorded nothing hands nothing over', () => {
    const mine = access('VmExportServiceAccess0a1b2c3d4e5f');

    const change = leave(state(BOTH_GRANTS, policy(mine, heir)), holder('statement'));

    expect(change.report).toEqual({ added: [], removed: [], kept: [] });
    expect(change.report.recordMovedTo).toBeUndefined();
    expect(change.state).toEqual(state(BOTH_GRANTS, policy(heir)));
  });

  test('the heir\'s Sid gains exactly what the departing holder recorded', () => {
    const mine = access('VmExportServiceAccess0a1b2c3d4e5fAddedWrite');

    const change = leave(state(BOTH_GRANTS, policy(mine, heir, DENY_HTTP)), holder('statement'));

    expect(change.report).toEqual({ added: [], removed: [], kept: ['WRITE'], recordMovedTo: 'VmExportServiceAccess9f8e7d6c5b4aAddedWrite' });
    expect(change.state).toEqual(state(BOTH_GRANTS, policy(access('VmExportServiceAccess9f8e7d6c5b4aAddedWrite'), DENY_HTTP)));
  });
});

describe('update of the same holder', () => {
  test('the bucket\'s own grant with a new PolicySid just joins (it has no statement, the policy is not needed)', () => {
    const change = update(state([OWNER_FULL_CONTROL]), holder('stack', OWN, 'OldSid'), holder('stack', OWN, 'NewSid'));

    expect(change).toEqual({ state: state(BOTH_GRANTS), report: { added: ['READ_ACP', 'WRITE'], removed: [], kept: [] } });
  });

  test('a statement holder with the same PolicySid rewrites its statement in place', () => {
    const doc = policy({ ...access('VmExportServiceAccess0a1b2c3d4e5fAddedWrite'), Action: 's3:PutObject' }, DENY_HTTP);

    const change = update(state(BOTH_GRANTS, doc), holder('statement'), holder('statement'));

    expect(change.state.policy).toEqual(policy(access('VmExportServiceAccess0a1b2c3d4e5fAddedWrite'), DENY_HTTP));
    expect(change.report).toEqual({ added: [], removed: [], kept: [] });
  });
});
