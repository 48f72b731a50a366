/**
 * One implementation of each bucket check (lambda/shared/bucket-settings.ts), used by the bucket
 * grant's check of an imported bucket and by the workflow's preflight: the two must judge every
 * bucket alike. SPEC section 2: no SSE-KMS or DSSE-KMS, ACLs enabled, the stack's region.
 */
import { GetBucketAclCommand, GetBucketEncryptionCommand, GetBucketLocationCommand, GetBucketOwnershipControlsCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { verifyBucket } from '../lambda/bucket-grant/verify';
import { aclsDisabled, bucketRegion, unsupportedEncryption } from '../lambda/shared/bucket-settings';
import { checkBucket } from '../lambda/shared/preflight';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'eu-west-1' });
const BUCKET = 'shared-exports';
/** The eu-west-1 canonical ID is the default row of SPEC section 1. */
const CANONICAL_ID = 'c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322';

function notFound(name: string): Error {
  return Object.assign(new Error(name), { name });
}

beforeEach(() => {
  s3Mock.reset();
  s3Mock.on(GetBucketLocationCommand).resolves({ LocationConstraint: 'EU' as never });
  s3Mock.on(GetBucketOwnershipControlsCommand).rejects(notFound('OwnershipControlsNotFoundError'));
  s3Mock.on(GetBucketEncryptionCommand).rejects(notFound('ServerSideEncryptionConfigurationNotFoundError'));
  s3Mock.on(GetBucketAclCommand).resolves({
    Grants: ['READ_ACP', 'WRITE'].map((p) => ({ Grantee: { Type: 'CanonicalUser', ID: CANONICAL_ID }, Permission: p as never })),
  });
});

/** What each of the two checks says about the bucket the mocks describe. */
async function bothVerdicts(): Promise<{ grant: string; preflight: string }> {
  const grant = await verifyBucket(s3, BUCKET, 'eu-west-1').then(() => '', (e: Error) => e.message);
  const preflight = (await checkBucket(s3, BUCKET, 'eu-west-1', CANONICAL_ID)).join(' ');
  return { grant, preflight };
}

test('an old eu-west-1 bucket ("EU"), no ownership controls, no default encryption: both accept it', async () => {
  expect(await bucketRegion(s3, BUCKET)).toBe('eu-west-1');
  expect(await aclsDisabled(s3, BUCKET)).toBe(false);
  expect(await unsupportedEncryption(s3, BUCKET)).toBeUndefined();
  expect(await bothVerdicts()).toEqual({ grant: '', preflight: '' });
});

test('BucketOwnerEnforced in any rule (not only the first) is refused by both', async () => {
  s3Mock.on(GetBucketOwnershipControlsCommand).resolves({
    OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }, { ObjectOwnership: 'BucketOwnerEnforced' }] },
  });
  const { grant, preflight } = await bothVerdicts();
  expect(grant).toContain('BucketOwnerEnforced');
  expect(preflight).toContain('BucketOwnerEnforced');
});

test.each([['aws:kms'], ['aws:kms:dsse']])('default encryption %s in any rule is refused by both', async (algorithm) => {
  s3Mock.on(GetBucketEncryptionCommand).resolves({
    ServerSideEncryptionConfiguration: {
      Rules: [
        { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
        { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: algorithm as never } },
      ],
    },
  });
  const { grant, preflight } = await bothVerdicts();
  expect(grant).toContain(algorithm);
  expect(preflight).toContain(algorithm);
});

test('SSE-S3 (AES256) is accepted by both', async () => {
  s3Mock.on(GetBucketEncryptionCommand).resolves({
    ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
  });
  expect(await bothVerdicts()).toEqual({ grant: '', preflight: '' });
});
