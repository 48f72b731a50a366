import {
  GetBucketAclCommand,
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetBucketOwnershipControlsCommand,
  NoSuchBucket,
  PutBucketAclCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { BUCKET, createEvent, OWNER, OWNER_FULL_CONTROL, props, s3Error, SERVICE_ID, updateEvent } from './bucket-grant.fixtures';
import { onEvent } from '../lambda/bucket-grant/index';
import { normalizeBucketRegion } from '../lambda/shared/bucket-region';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'us-east-1' });

const OWNERSHIP_FIX = `aws s3api put-bucket-ownership-controls --bucket ${BUCKET} --ownership-controls 'Rules=[{ObjectOwnership=BucketOwnerPreferred}]'`;
const ENCRYPTION_FIX = `aws s3api put-bucket-encryption --bucket ${BUCKET} --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'`;

/** An imported bucket at `location` (a LocationConstraint) whose checks all pass unless a test overrides one. */
function healthyBucket(location: string | undefined) {
  s3Mock.on(GetBucketLocationCommand).resolves({ LocationConstraint: location as never });
  s3Mock.on(GetBucketOwnershipControlsCommand).resolves({
    OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] },
  });
  s3Mock.on(GetBucketEncryptionCommand).resolves({
    ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
  });
  s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: [OWNER_FULL_CONTROL] });
}

function kmsEncryption(algorithm: 'aws:kms' | 'aws:kms:dsse') {
  s3Mock.on(GetBucketEncryptionCommand).resolves({
    ServerSideEncryptionConfiguration: {
      Rules: [{
        ApplyServerSideEncryptionByDefault: { SSEAlgorithm: algorithm, KMSMasterKeyID: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' },
        BucketKeyEnabled: true,
      }],
    },
  });
}

const imported = (region = 'us-east-1') => createEvent(props({ VerifyBucket: 'true', ExpectedRegion: region }));

/** The error an event fails with (the test fails when it does not fail). */
async function failure(event: ReturnType<typeof createEvent>): Promise<Error> {
  const result = await onEvent(event, s3).then(() => undefined, (e: Error) => e);
  if (result === undefined) throw new Error('expected the handler to fail');
  return result;
}

beforeEach(() => {
  s3Mock.reset();
});

describe('normalizeBucketRegion', () => {
  test.each([
    [null, 'us-east-1'],
    [undefined, 'us-east-1'],
    ['', 'us-east-1'],
    ['EU', 'eu-west-1'],
    ['eu-west-1', 'eu-west-1'],
    ['ap-southeast-7', 'ap-southeast-7'],
  ])('%p -> %s', (constraint, region) => {
    expect(normalizeBucketRegion(constraint)).toBe(region);
  });
});

describe('imported bucket checks', () => {
  test('a healthy us-east-1 bucket (LocationConstraint null) passes and is granted', async () => {
    healthyBucket(undefined);
    s3Mock.on(GetBucketLocationCommand).resolves({ LocationConstraint: null as never });

    await onEvent(imported('us-east-1'), s3);

    expect(s3Mock).toHaveReceivedCommandWith(GetBucketLocationCommand, { Bucket: BUCKET });
    expect(s3Mock).toHaveReceivedCommandWith(GetBucketOwnershipControlsCommand, { Bucket: BUCKET });
    expect(s3Mock).toHaveReceivedCommandWith(GetBucketEncryptionCommand, { Bucket: BUCKET });
    expect(s3Mock.commandCalls(PutBucketAclCommand)[0].args[0].input.AccessControlPolicy?.Grants).toEqual([
      OWNER_FULL_CONTROL,
      { Grantee: { Type: 'CanonicalUser', ID: SERVICE_ID }, Permission: 'READ_ACP' },
      { Grantee: { Type: 'CanonicalUser', ID: SERVICE_ID }, Permission: 'WRITE' },
    ]);
  });

  test('an empty LocationConstraint also means us-east-1', async () => {
    healthyBucket('');

    await expect(onEvent(imported('us-east-1'), s3)).resolves.toBeDefined();
    expect(s3Mock).toHaveReceivedCommandTimes(PutBucketAclCommand, 1);
  });

  test('an old EU bucket counts as eu-west-1', async () => {
    healthyBucket('EU');

    await expect(onEvent(imported('eu-west-1'), s3)).resolves.toBeDefined();
    expect(s3Mock).toHaveReceivedCommandTimes(PutBucketAclCommand, 1);
  });

  test('an EU bucket is not in eu-central-1', async () => {
    healthyBucket('EU');

    const error = await failure(imported('eu-central-1'));

    expect(error.message).toContain('it is in eu-west-1 but the stack is in eu-central-1');
  });

  test('a bucket in the wrong region is rejected and not granted', async () => {
    healthyBucket('ap-northeast-3');

    const error = await failure(imported('us-east-1'));

    expect(error.message).toBe(
      `Bucket '${BUCKET}' cannot receive VM exports: it is in ap-northeast-3 but the stack is in us-east-1; `
      + 'VM Import/Export only exports to a bucket in the instance\'s region, so use a bucket in us-east-1',
    );
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketAclCommand);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
  });

  test('BucketOwnerEnforced is rejected with the exact fix', async () => {
    healthyBucket(undefined);
    s3Mock.on(GetBucketOwnershipControlsCommand).resolves({ OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } });

    const error = await failure(imported());

    expect(error.message).toBe(
      `Bucket '${BUCKET}' cannot receive VM exports: its object ownership is BucketOwnerEnforced, which disables ACLs, `
      + `so the export service cannot be granted access; fix: ${OWNERSHIP_FIX}`,
    );
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
  });

  test('ObjectWriter ownership passes (ACLs work)', async () => {
    healthyBucket(undefined);
    s3Mock.on(GetBucketOwnershipControlsCommand).resolves({ OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } });

    await onEvent(imported(), s3);

    expect(s3Mock).toHaveReceivedCommandTimes(PutBucketAclCommand, 1);
  });

  test('a bucket without ownership controls passes', async () => {
    healthyBucket(undefined);
    s3Mock.on(GetBucketOwnershipControlsCommand).rejects(
      s3Error('OwnershipControlsNotFoundError', 'The bucket ownership controls were not found', 404),
    );

    await onEvent(imported(), s3);

    expect(s3Mock).toHaveReceivedCommandTimes(PutBucketAclCommand, 1);
  });

  test.each(['aws:kms', 'aws:kms:dsse'] as const)('default encryption %s is rejected with the SSE-S3 fix', async (algorithm) => {
    healthyBucket(undefined);
    kmsEncryption(algorithm);

    const error = await failure(imported());

    expect(error.message).toBe(
      `Bucket '${BUCKET}' cannot receive VM exports: its default encryption is ${algorithm}, which VM Import/Export does not support; `
      + `fix: use SSE-S3, ${ENCRYPTION_FIX}`,
    );
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
  });

  test('a bucket without a default encryption configuration passes', async () => {
    healthyBucket(undefined);
    s3Mock.on(GetBucketEncryptionCommand).rejects(
      s3Error('ServerSideEncryptionConfigurationNotFoundError', 'The server side encryption configuration was not found', 404),
    );

    await onEvent(imported(), s3);

    expect(s3Mock).toHaveReceivedCommandTimes(PutBucketAclCommand, 1);
  });

  test('every problem is reported in one error', async () => {
    healthyBucket('eu-south-1');
    s3Mock.on(GetBucketOwnershipControlsCommand).resolves({ OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } });
    kmsEncryption('aws:kms:dsse');

    const error = await failure(imported('us-west-2'));

    expect(error.message).toMatch(new RegExp(`^Bucket '${BUCKET}' cannot receive VM exports: \\(1\\) it is in eu-south-1 but the stack is in us-west-2`));
    expect(error.message).toContain(`(2) its object ownership is BucketOwnerEnforced, which disables ACLs, so the export service cannot be granted access; fix: ${OWNERSHIP_FIX}`);
    expect(error.message).toContain(`(3) its default encryption is aws:kms:dsse, which VM Import/Export does not support; fix: use SSE-S3, ${ENCRYPTION_FIX}`);
    expect(Buffer.byteLength(error.message)).toBeLessThan(4096);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketAclCommand);
  });

  test('a missing imported bucket fails with a clear message', async () => {
    s3Mock.on(GetBucketLocationCommand).rejects(new NoSuchBucket({ message: 'The specified bucket does not exist', $metadata: {} }));

    const error = await failure(imported());

    expect(error.message).toBe(
      `Bucket '${BUCKET}' does not exist (NoSuchBucket). Create it in this account and region, or pass the name of an existing bucket.`,
    );
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketOwnershipControlsCommand);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
  });

  test('AccessDenied during a check names the check call', async () => {
    healthyBucket(undefined);
    s3Mock.on(GetBucketEncryptionCommand).rejects(s3Error('AccessDenied', 'Access Denied', 403));

    const error = await failure(imported());

    expect(error.message).toMatch(new RegExp(`^S3 GetBucketEncryption failed on bucket '${BUCKET}': AccessDenied: Access Denied\\. Check that`));
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
  });

  test('the checks run on Update too', async () => {
    healthyBucket(undefined);
    kmsEncryption('aws:kms');
    const p = props({ VerifyBucket: 'true' });

    await expect(onEvent(updateEvent(p, p), s3)).rejects.toThrow('its default encryption is aws:kms');
  });

  test('VerifyBucket without ExpectedRegion is an invalid property', async () => {
    await expect(onEvent(createEvent(props({ VerifyBucket: 'true', ExpectedRegion: '' })), s3)).rejects.toThrow(
      'ExpectedRegion is empty',
    );
    expect(s3Mock.calls()).toHaveLength(0);
  });
});
