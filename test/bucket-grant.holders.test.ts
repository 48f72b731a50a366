/**
 * Several grant resources on one bucket (issue 9, item 5): a grant resource removes only what it
 * added, and a grant another holder still needs stays, whatever the order of the deletes. Run
 * against the local S3 stand-in: PutBucketAcl replaces the whole ACL, the policy is one document.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import {
  BUCKET,
  createEvent,
  deleteEvent,
  grant,
  groupGrant,
  inStack,
  LOG_DELIVERY,
  MILAN_ID,
  PARTNER_ID,
  props,
  SERVICE_ID,
  sidOf,
  updateEvent,
  DENY_HTTP,
} from './bucket-grant.fixtures';
import { createFakeAws, CreateBucketOptions, FakeAws, FakeBucket } from './support/fake-aws';
import { onEvent } from '../lambda/bucket-grant/index';
import { serviceStatement } from '../lambda/bucket-grant/policy';
import { BUCKET_POLICY_SID, BucketGrantProperties } from '../lambda/shared/contract';


/** What the previous version of the library (and the guide, by hand) put in the policy. */
const FIXED_SID_STATEMENT = serviceStatement(BUCKET_POLICY_SID, SERVICE_ID, 'aws', BUCKET);

/** Properties of `VmExportBucket.fromBucketName` and of a `VmExportBucket`'s own grant. */
const IMPORTED = props({ VerifyBucket: 'true', ManagePolicy: 'true' });
const OWNED = props({ VerifyBucket: 'false', ManagePolicy: 'false' });

interface Grantee {
  readonly stack: string;
  readonly props: BucketGrantProperties;
  readonly create: CloudFormationCustomResourceEvent;
  readonly delete: CloudFormationCustomResourceEvent;
  update(p: BucketGrantProperties): CloudFormationCustomResourceEvent;
}

/** The grant resource `ExistingServiceGrant` of stack `stack`. */
function grantIn(stack: string, p: BucketGrantProperties = IMPORTED): Grantee {
  const logicalId = p.ManagePolicy === 'true' ? 'ExistingServiceGrant' : 'ExportBucketServiceGrant';
  return {
    stack,
    props: p,
    create: inStack(createEvent(p), stack, logicalId),
    delete: inStack(deleteEvent(p), stack, logicalId),
    update: (next) => inStack(updateEvent(next, p), stack, logicalId),
  };
}

interface World {
  readonly fake: FakeAws;
  readonly bucket: FakeBucket;
  run(event: CloudFormationCustomResourceEvent): Promise<unknown>;
}

function world(options: CreateBucketOptions = {}): World {
  const fake = createFakeAws();
  const bucket = fake.s3.createBucket(BUCKET, options);
  return { fake, bucket, run: (event) => onEvent(event, fake.clients('bucket-grant').s3) };
}

/** The bucket's ACL grants and policy, for comparing before and after. */
function snapshot(bucket: FakeBucket): { grants: unknown; policy: unknown } {
  return { grants: structuredClone(bucket.grants), policy: bucket.policy === undefined ? undefined : JSON.parse(bucket.policy) };
}

/** The export service's own check (fake EC2): READ_ACP and WRITE for its canonical ID on the ACL. */
function serviceCanExport(fake: FakeAws, id = SERVICE_ID): boolean {
  return fake.s3.grants(BUCKET, id, 'READ_ACP') && fake.s3.grants(BUCKET, id, 'WRITE');
}

/** The Sids of the holder statements of `stack`'s imported grant, whatever they record. */
function statementSidsOf(bucket: FakeBucket, stack: string): string[] {
  const own = sidOf([], stack, 'ExistingServiceGrant');
  const statements: Array<{ Sid?: string }> = bucket.policy ? JSON.parse(bucket.policy).Statement : [];
  return statements.map((s) => s.Sid ?? '').filter((sid) => sid.startsWith(own));
}

beforeAll(() => {
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
});

afterAll(() => {
  jest.restoreAllMocks();
});

describe('two stacks importing one bucket', () => {
  test.each([
    ['the stack that added the grants is deleted first', 'Alpha', 'Beta'],
    ['the stack that found them is deleted first', 'Beta', 'Alpha'],
  ])('%s: the other keeps exporting, and after both the bucket is as before', async (_name, first, second) => {
    const { fake, bucket, run } = world({
      grants: [groupGrant(LOG_DELIVERY, 'WRITE'), grant(PARTNER_ID, 'READ')],
      policy: JSON.stringify({ Version: '2012-10-17', Statement: [DENY_HTTP] }),
    });
    const before = snapshot(bucket);
    const grants = { Alpha: grantIn('Alpha'), Beta: grantIn('Beta') };
    await run(grants.Alpha.create);
    await run(grants.Beta.create);
    expect(serviceCanExport(fake)).toBe(true);

    await run(grants[first as 'Alpha' | 'Beta'].delete);

    expect(serviceCanExport(fake)).toBe(true);
    expect(statementSidsOf(bucket, second)).toHaveLength(1);
    expect(statementSidsOf(bucket, first)).toEqual([]);

    await run(grants[second as 'Alpha' | 'Beta'].delete);

    expect(snapshot(bucket)).toEqual(before);
  });

  test('a new canonical ID on one stack leaves the old ID\'s grants to the other, which removes them last', async () => {
    const { fake, bucket, run } = world();
    const before = snapshot(bucket);
    const alpha = grantIn('Alpha');
    const alphaInMilan = grantIn('Alpha', props({ ...IMPORTED, CanonicalId: MILAN_ID }));
    const beta = grantIn('Beta');
    await run(alpha.create);
    await run(beta.create);

    await run(alpha.update(alphaInMilan.props));

    expect(serviceCanExport(fake, SERVICE_ID)).toBe(true);
    expect(serviceCanExport(fake, MILAN_ID)).toBe(true);
    // Alpha added the old ID's grants: the record of that moved into Beta's Sid.
    expect(statementSidsOf(bucket, 'Beta')).toEqual([sidOf(['READ_ACP', 'WRITE'], 'Beta', 'ExistingServiceGrant')]);

    await run(beta.delete);
    expect(serviceCanExport(fake, SERVICE_ID)).toBe(false);
    expect(serviceCanExport(fake, MILAN_ID)).toBe(true);

    await run(alphaInMilan.delete);
    expect(snapshot(bucket)).toEqual(before);
  });
});

describe('a bucket prepared by hand', () => {
  test('a bucket that already had the grants keeps them after Create and Delete (and its own statement too)', async () => {
    const handMade = { ...FIXED_SID_STATEMENT, Sid: 'AllowVmImportExport' };
    const { fake, bucket, run } = world({
      grants: [grant(SERVICE_ID, 'READ_ACP'), grant(SERVICE_ID, 'WRITE')],
      policy: JSON.stringify({ Version: '2012-10-17', Statement: [handMade] }),
    });
    const before = snapshot(bucket);
    const alpha = grantIn('Alpha');

    await run(alpha.create);
    await run(alpha.delete);

    expect(snapshot(bucket)).toEqual(before);
    expect(fake.world.callsOf({ operation: 'PutBucketAcl' })).toHaveLength(0);
  });

  test('a statement under the library\'s own Sid is kept as it was, and while it is there the grants stay', async () => {
    const handMade = { ...FIXED_SID_STATEMENT, Action: 's3:PutObject', Resource: `arn:aws:s3:::${BUCKET}/vms/*` };
    const { fake, bucket, run } = world({ policy: JSON.stringify({ Version: '2012-10-17', Statement: [DENY_HTTP, handMade] }) });
    const alpha = grantIn('Alpha');

    await run(alpha.create);
    expect(JSON.parse(bucket.policy!).Statement.slice(0, 2)).toEqual([DENY_HTTP, handMade]);
    await run(alpha.delete);

    expect(JSON.parse(bucket.policy!)).toEqual({ Version: '2012-10-17', Statement: [DENY_HTTP, handMade] });
    // Alpha added the ACL grants, but the statement says someone prepared the bucket for the
    // service by hand: the library does not take access away that they rely on.
    expect(serviceCanExport(fake)).toBe(true);
  });
});

describe('a VmExportBucket that another stack imports', () => {
  /** The owning stack's bucket: its policy (AWS::S3::BucketPolicy, through CloudFormation) carries the fixed Sid. */
  const ownedBucket = { policy: JSON.stringify({ Version: '2012-10-17', Statement: [DENY_HTTP, FIXED_SID_STATEMENT] }) };

  test('the owning stack deleted first: the importer keeps exporting', async () => {
    const { fake, bucket, run } = world(ownedBucket);
    const owner = grantIn('Owner', OWNED);
    const importer = grantIn('Importer');
    await run(owner.create);
    await run(importer.create);

    await run(owner.delete);

    expect(serviceCanExport(fake)).toBe(true);
    expect(statementSidsOf(bucket, 'Importer')).toHaveLength(1);

    // The owning stack's grant recorded nothing in a policy it does not manage, and the importer
    // found the grants in place: they stay after both (documented in the README).
    await run(importer.delete);
    expect(serviceCanExport(fake)).toBe(true);
    expect(statementSidsOf(bucket, 'Importer')).toEqual([]);
  });

  test('the importer deleted first: the owner keeps exporting, and then removes the grants it added', async () => {
    const { fake, bucket, run } = world(ownedBucket);
    const owner = grantIn('Owner', OWNED);
    const importer = grantIn('Importer');
    await run(owner.create);
    await run(importer.create);

    await run(importer.delete);

    expect(serviceCanExport(fake)).toBe(true);
    expect(JSON.parse(bucket.policy!).Statement).toEqual([DENY_HTTP, FIXED_SID_STATEMENT]);

    await run(owner.delete);
    expect(fake.s3.grants(BUCKET, SERVICE_ID, 'READ_ACP') || fake.s3.grants(BUCKET, SERVICE_ID, 'WRITE')).toBe(false);
    expect(bucket.grants).toEqual([expect.objectContaining({ Permission: 'FULL_CONTROL' })]);
  });
});

describe('a grant resource created by the previous version (no record)', () => {
  /** What the previous version left on an imported bucket: both grants and the fixed-Sid statement. */
  const legacyBucket = () => ({
    grants: [grant(SERVICE_ID, 'READ_ACP'), grant(SERVICE_ID, 'WRITE')],
    policy: JSON.stringify({ Version: '2012-10-17', Statement: [DENY_HTTP, FIXED_SID_STATEMENT] }),
  });

  test('its Delete keeps the grants and the statement (they cannot be told from hand-made ones)', async () => {
    const { fake, bucket, run } = world(legacyBucket());
    const before = snapshot(bucket);

    await run(grantIn('Legacy').delete);

    expect(snapshot(bucket)).toEqual(before);
    expect(fake.world.callsOf({ operation: 'PutBucketAcl' })).toHaveLength(0);
    expect(fake.world.callsOf({ operation: 'PutBucketPolicy' })).toHaveLength(0);
  });

  test('a new stack importing the same bucket leaves the earlier grants in place when it goes', async () => {
    const { fake, bucket, run } = world(legacyBucket());
    const before = snapshot(bucket);
    const alpha = grantIn('Alpha');

    await run(alpha.create);
    await run(alpha.delete);

    expect(snapshot(bucket)).toEqual(before);
    expect(serviceCanExport(fake)).toBe(true);
  });
});
