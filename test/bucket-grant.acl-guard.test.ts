/**
 * The bucket grant never writes an ACL built from an incomplete GetBucketAcl answer (found by
 * test/fault-injection.test.ts: an answer without Owner / Grants made PutBucketAcl drop the
 * owner's FULL_CONTROL).
 */
import { createEvent, props } from './bucket-grant.fixtures';
import { createFakeAws } from './support/fake-aws';
import { onEvent } from '../lambda/bucket-grant/index';

const SERVICE = 'c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322';

test.each([
  ['no Owner and no Grants', () => ({})],
  ['no Grants', (out: any) => ({ Owner: out.Owner })],
  ['an empty grant list', (out: any) => ({ ...out, Grants: [] })],
])('GetBucketAcl answering with %s: refuses, the ACL is unchanged', async (_name, malform) => {
  const fake = createFakeAws();
  const bucket = fake.s3.createBucket('acl-guard');
  const before = JSON.stringify(bucket.grants);
  fake.world.interceptor = async (call, proceed) => (call.operation === 'GetBucketAcl' ? malform(await proceed()) : proceed());
  await expect(onEvent(createEvent(props({ BucketName: 'acl-guard', CanonicalId: SERVICE })), fake.clients('t').s3))
    .rejects.toThrow(/GetBucketAcl returned an incomplete ACL for bucket 'acl-guard'.*not changed/);
  expect(fake.world.callsOf({ operation: 'PutBucketAcl' })).toHaveLength(0);
  expect(JSON.stringify(bucket.grants)).toBe(before);
});

test('a complete answer still adds the grants and keeps the owner\'s', async () => {
  const fake = createFakeAws();
  const bucket = fake.s3.createBucket('acl-guard');
  await onEvent(createEvent(props({ BucketName: 'acl-guard', CanonicalId: SERVICE })), fake.clients('t').s3);
  expect(bucket.grants.map((g) => g.Permission)).toEqual(['FULL_CONTROL', 'READ_ACP', 'WRITE']);
});
