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
  sidOf,
  updateEvent,
  DENY_HTTP,
} from './bucket-grant.fixtures';
import { holderHash, parseHolderSid } from '../lambda/bucket-grant/holders';
import { onEvent } from '../lambda/bucket-grant/index';
import { BUCKET_POLICY_SID } from '../lambda/shared/contract';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'us-east-1' });

const managed = (overrides = {}) => props({ VerifyBucket: 'false', ManagePolicy: 'true', ...overrides });

const BOTH: Array<'READ_ACP' | 'WRITE'> = ['READ_ACP', 'WRITE'];

/** A service statement written out by hand; by default the fixtures' resource's own, recording nothing. */
function ours(id = SERVICE_ID, partition = 'aws', bucket = BUCKET, sid = sidOf()) {
  return {
    Sid: sid,
    Effect: 'Allow',
    Principal: { CanonicalUser: id },
    Action: ['s3:GetBucketAcl', 's3:PutObject'],
    Resource: [`arn:${partition}:s3:::${bucket}`, `arn:${partition}:s3:::${bucket}/*`],
  };
}


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

/** The grants of the only PutBucketAcl call. */
function sentGrants(): unknown {
  const calls = s3Mock.commandCalls(PutBucketAclCommand);
  expect(calls).toHaveLength(1);
  return calls[0].args[0].input.AccessControlPolicy?.Grants;
}

beforeAll(() => {
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
});

afterAll(() => {
  jest.restoreAllMocks();
});

beforeEach(() => {
  s3Mock.reset();
  s3Mock.on(GetBucketAclCommand).resolves({
    Owner: OWNER,
    Grants: [OWNER_FULL_CONTROL, grant(SERVICE_ID, 'READ_ACP'), grant(SERVICE_ID, 'WRITE')],
  });
});

describe('the Sid of a holder statement', () => {
  test('is PolicySid, 12 hex characters of the stack id and logical id, and what the holder added', () => {
    expect(sidOf()).toMatch(/^VmExportServiceAccess[0-9a-f]{12}$/);
    expect(sidOf(BOTH)).toBe(`${sidOf()}AddedReadAcpAddedWrite`);
    expect(sidOf(['WRITE'])).toBe(`${sidOf()}AddedWrite`);
    expect(sidOf([], 'OtherStack')).not.toBe(sidOf());
    expect(sidOf([], undefined, 'OtherGrant')).not.toBe(sidOf());
    expect(holderHash('a', 'b/c')).not.toBe(holderHash('a/b', 'c'));
  });

  test('parses back; any other Sid (the fixed one included) is not a holder', () => {
    expect(parseHolderSid(sidOf(['READ_ACP']), BUCKET_POLICY_SID)).toEqual({ hash: sidOf().slice(BUCKET_POLICY_SID.length), added: ['READ_ACP'] });
    for (const sid of [BUCKET_POLICY_SID, `${BUCKET_POLICY_SID}2`, `${sidOf()}AddedWriteAddedReadAcp`, `Other${sidOf()}`, undefined, 42]) {
      expect([sid, parseHolderSid(sid, BUCKET_POLICY_SID)]).toEqual([sid, undefined]);
    }
  });
});

describe('policy on create / update', () => {
  test('creates a policy when the bucket has none', async () => {
    noPolicy();

    await onEvent(createEvent(managed()), s3);

    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Statement: [ours()] });
    expect(s3Mock).toHaveReceivedCommandWith(GetBucketPolicyCommand, { Bucket: BUCKET });
  });

  test('records in its Sid each ACL grant it added, and only those', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: [OWNER_FULL_CONTROL, grant(SERVICE_ID, 'WRITE')] });
    noPolicy();

    await onEvent(createEvent(managed()), s3);

    expect(sentGrants()).toEqual([OWNER_FULL_CONTROL, grant(SERVICE_ID, 'WRITE'), grant(SERVICE_ID, 'READ_ACP')]);
    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Statement: [ours(SERVICE_ID, 'aws', BUCKET, sidOf(['READ_ACP']))] });
  });

  test('merges into an existing policy and keeps the other statements in order', async () => {
    existingPolicy({ Version: '2012-10-17', Id: 'ExportBucketPolicy', Statement: [DENY_HTTP, LOGS_WRITE] });

    await onEvent(createEvent(managed()), s3);

    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Id: 'ExportBucketPolicy', Statement: [DENY_HTTP, LOGS_WRITE, ours()] });
  });

  test('a statement under the fixed Sid (by hand, or by an earlier version) is left exactly as it is', async () => {
    const handMade = { ...ours(SERVICE_ID, 'aws', BUCKET, BUCKET_POLICY_SID), Action: 's3:PutObject', Resource: `arn:aws:s3:::${BUCKET}/vms/*` };
    existingPolicy({ Version: '2012-10-17', Statement: [DENY_HTTP, handMade, LOGS_WRITE] });

    await onEvent(createEvent(managed()), s3);

    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Statement: [DENY_HTTP, handMade, LOGS_WRITE, ours()] });
  });

  test('a retried Create rewrites its own statement in place and keeps what it recorded', async () => {
    const stale = { ...ours(SERVICE_ID, 'aws', BUCKET, sidOf(BOTH)), Action: 's3:PutObject' };
    existingPolicy({ Version: '2012-10-17', Statement: [DENY_HTTP, stale, LOGS_WRITE] });

    await onEvent(createEvent(managed()), s3);

    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Statement: [DENY_HTTP, ours(SERVICE_ID, 'aws', BUCKET, sidOf(BOTH)), LOGS_WRITE] });
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
        Sid: sidOf(BOTH),
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

  test('update with a new canonical ID: the old ID\'s grants it added go, those it found stay', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({
      Owner: OWNER,
      Grants: [OWNER_FULL_CONTROL, grant(SERVICE_ID, 'READ_ACP'), grant(SERVICE_ID, 'WRITE')],
    });
    existingPolicy({ Version: '2012-10-17', Statement: [ours(SERVICE_ID, 'aws', BUCKET, sidOf(['WRITE'])), DENY_HTTP] });

    await onEvent(updateEvent(managed({ CanonicalId: MILAN_ID }), managed()), s3);

    expect(sentGrants()).toEqual([OWNER_FULL_CONTROL, grant(SERVICE_ID, 'READ_ACP'), grant(MILAN_ID, 'READ_ACP'), grant(MILAN_ID, 'WRITE')]);
    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Statement: [DENY_HTTP, ours(MILAN_ID, 'aws', BUCKET, sidOf(BOTH))] });
  });

  test('update with a new Sid moves our statement and its record to the new Sid', async () => {
    existingPolicy({ Version: '2012-10-17', Statement: [DENY_HTTP, ours(SERVICE_ID, 'aws', BUCKET, sidOf(['READ_ACP'], undefined, undefined, 'OldSid'))] });

    await onEvent(updateEvent(managed({ PolicySid: 'NewSid' }), managed({ PolicySid: 'OldSid' })), s3);

    expect(sentPolicy()).toEqual({
      Version: '2012-10-17',
      Statement: [DENY_HTTP, ours(SERVICE_ID, 'aws', BUCKET, sidOf(['READ_ACP'], undefined, undefined, 'NewSid'))],
    });
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
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

  test('when the policy (the record) cannot be written, the ACL grants just added are taken back', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: [OWNER_FULL_CONTROL] });
    noPolicy();
    s3Mock.on(PutBucketPolicyCommand).rejects(s3Error('AccessDenied', 'Access Denied', 403));

    await expect(onEvent(createEvent(managed()), s3)).rejects.toThrow(/S3 PutBucketPolicy failed/);

    const acls = s3Mock.commandCalls(PutBucketAclCommand).map((c) => c.args[0].input.AccessControlPolicy?.Grants);
    expect(acls).toEqual([[OWNER_FULL_CONTROL, grant(SERVICE_ID, 'READ_ACP'), grant(SERVICE_ID, 'WRITE')], [OWNER_FULL_CONTROL]]);
  });
});

describe('policy on delete', () => {
  test('removes only our statement and the ACL grants it recorded, and keeps the others', async () => {
    existingPolicy({ Version: '2012-10-17', Statement: [DENY_HTTP, ours(SERVICE_ID, 'aws', BUCKET, sidOf(BOTH)), LOGS_WRITE] });

    await onEvent(deleteEvent(managed()), s3);

    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Statement: [DENY_HTTP, LOGS_WRITE] });
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketPolicyCommand);
    expect(s3Mock).toHaveReceivedCommandWith(PutBucketAclCommand, {
      Bucket: BUCKET,
      AccessControlPolicy: { Owner: OWNER, Grants: [OWNER_FULL_CONTROL] },
    });
  });

  test('keeps the ACL grants it found on the bucket', async () => {
    existingPolicy({ Version: '2012-10-17', Statement: [ours(SERVICE_ID, 'aws', BUCKET, sidOf(['WRITE'])), DENY_HTTP] });

    await onEvent(deleteEvent(managed()), s3);

    expect(sentGrants()).toEqual([OWNER_FULL_CONTROL, grant(SERVICE_ID, 'READ_ACP')]);
    expect(sentPolicy()).toEqual({ Version: '2012-10-17', Statement: [DENY_HTTP] });
  });

  test('deletes the policy when ours was the only statement', async () => {
    existingPolicy({ Version: '2012-10-17', Statement: [ours()] });

    await onEvent(deleteEvent(managed()), s3);

    expect(s3Mock).toHaveReceivedCommandWith(DeleteBucketPolicyCommand, { Bucket: BUCKET });
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
  });

  test('without a statement of its own (an earlier version, or a rewritten policy) it changes nothing', async () => {
    existingPolicy({ Version: '2012-10-17', Statement: [DENY_HTTP, ours(SERVICE_ID, 'aws', BUCKET, BUCKET_POLICY_SID)] });

    await onEvent(deleteEvent(managed()), s3);

    expect(s3Mock).toHaveReceivedCommandTimes(GetBucketPolicyCommand, 1);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand);
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketPolicyCommand);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
  });

  test('a bucket without a policy is fine', async () => {
    noPolicy();

    await expect(onEvent(deleteEvent(managed()), s3)).resolves.toBeDefined();
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand);
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketPolicyCommand);
  });

  test('the bucket\'s own grant reads the policy for other holders and never writes it', async () => {
    existingPolicy({ Version: '2012-10-17', Statement: [DENY_HTTP, ours(SERVICE_ID, 'aws', BUCKET, BUCKET_POLICY_SID)] });

    await onEvent(deleteEvent(props({ ManagePolicy: 'false' })), s3);

    expect(s3Mock).toHaveReceivedCommandWith(GetBucketPolicyCommand, { Bucket: BUCKET });
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand);
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketPolicyCommand);
    // Its own stack's statement (the fixed Sid) is not another holder: the grants go.
    expect(sentGrants()).toEqual([OWNER_FULL_CONTROL]);
  });
});
