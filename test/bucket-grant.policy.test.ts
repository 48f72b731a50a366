import {
  DeleteBucketPolicyCommand,
  GetBucketAclCommand,
  GetBucketPolicyCommand,
  PutBucketAclCommand,
  PutBucketPolicyCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  BUCKET,
  CHINA_ID,
  createEvent,
  deleteEvent,
  grant,
  MILAN_ID,
  OWNER,
  OWNER_FULL_CONTROL,
  props,
  s3Error,
  SERVICE_ID,
  updateEvent,
} from './bucket-grant.fixtures';
import { onEvent } from '../lambda/bucket-grant/index';
import { BUCKET_POLICY_SID } from '../lambda/shared/contract';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'us-east-1' });

const managed = (overrides = {}) => props({ VerifyBucket: 'false', ManagePolicy: 'true', ...overrides });

/** The statement the handler owns, written out by hand. */
function ours(id = SERVICE_ID, partition = 'aws', bucket = BUCKET, sid = BUCKET_POLICY_SID) {
  return {
    Sid: sid,
    Effect: 'Allow',
    Principal: { CanonicalUser: id },
    Action: ['s3:GetBucketAcl', 's3:PutObject'],
    Resource: [`arn:${partition}:s3:::${bucket}`, `arn:${partition}:s3:::${bucket}/*`],
  };
}

const DENY_HTTP = {
  Sid: 'DenyInsecureTransport',
  Effect: 'Deny',
  Principal: { AWS: '*' },
  Action: 's3:*',
  Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`],
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
};

const LOGS_WRITE = {
  Effect: 'Allow',
  Principal: { Service: 'logging.s3.amazonaws.com' },
  Action: 's3:PutObject',
  Resource: `arn:aws:s3:::${BUCKET}/logs/*`,
};

function existingPolicy(doc: object) {
  s3Mock.on(GetBucketPolicyCommand).resolves({ Policy: JSON.stringify(doc) });
}

function noPolicy() {
  s3Mock.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy', 'The bucket policy does not exist', 404));
}

/** The policy document of the only PutBucketPolicy call. */
function sentPolicy(): unknown {
  const calls = s3Mock.commandCalls(PutBucketPolicyCommand);
  expect(calls).toHaveLength(1);
  expect(calls[0].args[0].input.Bucket).toBe(BUCKET);
  return JSON.parse(calls[0].args[0].input.Policy as string);
}

beforeEach(() => {
  s3Mock.reset();
  s3Mock.on(GetBucketAclCommand).resolves({
    Owner: OWNER,
    Grants: [OWNER_FULL_CONTROL, grant(SERVICE_ID, 'READ_ACP'), grant(SERVICE_ID, 'WRITE')],
  });
});

describe('policy on create / update', () => {
  test('creates a policy when the bucket has none', async () => {
    noPolicy();

    await onEvent(createEvent(managed()), s3);

    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Statement: [ours()] });
    expect(s3Mock).toHaveReceivedCommandWith(GetBucketPolicyCommand, { Bucket: BUCKET });
  });

  test('merges into an existing policy and keeps the other statements in order', async () => {
    existingPolicy({ Version: '2012-10-17', Id: 'ExportBucketPolicy', Statement: [DENY_HTTP, LOGS_WRITE] });

    await onEvent(createEvent(managed()), s3);

    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Id: 'ExportBucketPolicy', Statement: [DENY_HTTP, LOGS_WRITE, ours()] });
  });

  test('replaces an existing statement with our Sid in place instead of adding a second one', async () => {
    const stale = { ...ours(MILAN_ID), Action: 's3:PutObject', Resource: `arn:aws:s3:::${BUCKET}/*` };
    existingPolicy({ Version: '2012-10-17', Statement: [DENY_HTTP, stale, LOGS_WRITE] });

    await onEvent(createEvent(managed()), s3);

    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Statement: [DENY_HTTP, ours(), LOGS_WRITE] });
  });

  test('a single statement object (not an array) is kept', async () => {
    existingPolicy({ Version: '2012-10-17', Statement: DENY_HTTP });

    await onEvent(createEvent(managed()), s3);

    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Statement: [DENY_HTTP, ours()] });
  });

  test('does not write a policy that already holds our statement', async () => {
    existingPolicy({ Version: '2012-10-17', Statement: [DENY_HTTP, ours()] });

    await onEvent(createEvent(managed()), s3);

    expect(s3Mock).toHaveReceivedCommandTimes(GetBucketPolicyCommand, 1);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
  });

  test('China partition ARNs use aws-cn', async () => {
    const bucket = 'exports-123456789012-cn-north-1';
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: [OWNER_FULL_CONTROL] });
    noPolicy();

    await onEvent(createEvent(managed({ BucketName: bucket, Partition: 'aws-cn', CanonicalId: CHINA_ID, ExpectedRegion: 'cn-north-1' })), s3);

    const put = s3Mock.commandCalls(PutBucketPolicyCommand)[0].args[0].input;
    expect(put.Bucket).toBe(bucket);
    expect(JSON.parse(put.Policy as string)).toEqual({
      Version: '2012-10-17',
      Statement: [{
        Sid: BUCKET_POLICY_SID,
        Effect: 'Allow',
        Principal: { CanonicalUser: CHINA_ID },
        Action: ['s3:GetBucketAcl', 's3:PutObject'],
        Resource: ['arn:aws-cn:s3:::exports-123456789012-cn-north-1', 'arn:aws-cn:s3:::exports-123456789012-cn-north-1/*'],
      }],
    });
    expect(put.Policy).not.toContain('arn:aws:');
    expect(s3Mock).toHaveReceivedCommandWith(PutBucketAclCommand, {
      Bucket: bucket,
      AccessControlPolicy: { Owner: OWNER, Grants: [OWNER_FULL_CONTROL, grant(CHINA_ID, 'READ_ACP'), grant(CHINA_ID, 'WRITE')] },
    });
  });

  test('GovCloud partition ARNs use aws-us-gov', async () => {
    noPolicy();

    await onEvent(createEvent(managed({ Partition: 'aws-us-gov' })), s3);

    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Statement: [ours(SERVICE_ID, 'aws-us-gov')] });
  });

  test('update with a new canonical ID rewrites our statement only', async () => {
    existingPolicy({ Version: '2012-10-17', Statement: [ours(SERVICE_ID), DENY_HTTP] });

    await onEvent(updateEvent(managed({ CanonicalId: MILAN_ID }), managed()), s3);

    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Statement: [ours(MILAN_ID), DENY_HTTP] });
  });

  test('update with a new Sid drops the statement under the old Sid', async () => {
    existingPolicy({ Version: '2012-10-17', Statement: [DENY_HTTP, ours(SERVICE_ID, 'aws', BUCKET, 'OldSid')] });

    await onEvent(updateEvent(managed({ PolicySid: 'NewSid' }), managed({ PolicySid: 'OldSid' })), s3);

    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Statement: [DENY_HTTP, ours(SERVICE_ID, 'aws', BUCKET, 'NewSid')] });
  });

  test('update that turns ManagePolicy off removes our statement', async () => {
    existingPolicy({ Version: '2012-10-17', Statement: [DENY_HTTP, ours()] });

    await onEvent(updateEvent(managed({ ManagePolicy: 'false' }), managed()), s3);

    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Statement: [DENY_HTTP] });
  });

  test('a policy that is not JSON fails with a message naming the bucket', async () => {
    s3Mock.on(GetBucketPolicyCommand).resolves({ Policy: '{not json' });

    await expect(onEvent(createEvent(managed()), s3)).rejects.toThrow(
      `The bucket policy of '${BUCKET}' is not valid JSON; fix or delete the policy and deploy again.`,
    );
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand);
  });

  test('AccessDenied on PutBucketPolicy names the call and the bucket', async () => {
    noPolicy();
    s3Mock.on(PutBucketPolicyCommand).rejects(s3Error('AccessDenied', 'Access Denied', 403));

    await expect(onEvent(createEvent(managed()), s3)).rejects.toThrow(
      `S3 PutBucketPolicy failed on bucket '${BUCKET}': AccessDenied: Access Denied. Check that the handler's role may call s3:PutBucketPolicy`,
    );
  });
});

describe('policy on delete', () => {
  test('removes only our statement and keeps the others', async () => {
    existingPolicy({ Version: '2012-10-17', Statement: [DENY_HTTP, ours(), LOGS_WRITE] });

    await onEvent(deleteEvent(managed()), s3);

    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Statement: [DENY_HTTP, LOGS_WRITE] });
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketPolicyCommand);
    // The ACL grants go too.
    expect(s3Mock).toHaveReceivedCommandWith(PutBucketAclCommand, {
      Bucket: BUCKET,
      AccessControlPolicy: { Owner: OWNER, Grants: [OWNER_FULL_CONTROL] },
    });
  });

  test('deletes the policy when ours was the only statement', async () => {
    existingPolicy({ Version: '2012-10-17', Statement: [ours()] });

    await onEvent(deleteEvent(managed()), s3);

    expect(s3Mock).toHaveReceivedCommandWith(DeleteBucketPolicyCommand, { Bucket: BUCKET });
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand);
  });

  test('leaves a policy without our statement alone', async () => {
    existingPolicy({ Version: '2012-10-17', Statement: [DENY_HTTP] });

    await onEvent(deleteEvent(managed()), s3);

    expect(s3Mock).toHaveReceivedCommandTimes(GetBucketPolicyCommand, 1);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand);
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketPolicyCommand);
  });

  test('a bucket without a policy is fine', async () => {
    noPolicy();

    await expect(onEvent(deleteEvent(managed()), s3)).resolves.toBeDefined();
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand);
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketPolicyCommand);
  });

  test('without ManagePolicy the policy is not read', async () => {
    await onEvent(deleteEvent(props({ ManagePolicy: 'false' })), s3);

    expect(s3Mock).not.toHaveReceivedCommand(GetBucketPolicyCommand);
  });
});
