import {
  DeleteBucketPolicyCommand,
  GetBucketAclCommand,
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  NoSuchBucket,
  PutBucketAclCommand,
  PutBucketPolicyCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  BUCKET,
  createEvent,
  deleteEvent,
  grant,
  groupGrant,
  LOG_DELIVERY,
  MILAN_ID,
  OWNER,
  OWNER_FULL_CONTROL,
  PARTNER_ID,
  props,
  s3Error,
  SERVICE_ID,
  updateEvent,
} from './bucket-grant.fixtures';
import { onEvent, physicalIdFor } from '../lambda/bucket-grant/index';
import { handler } from '../lambda/custom-resource';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'us-east-1' });

beforeAll(() => {
  // Deletes log what they removed or kept; keep the test output readable.
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
});

afterAll(() => {
  jest.restoreAllMocks();
});

beforeEach(() => {
  s3Mock.reset();
  s3Mock.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy', 'The bucket policy does not exist', 404));
});

/** The AccessControlPolicy of the only PutBucketAcl call. */
function sentAcl() {
  const calls = s3Mock.commandCalls(PutBucketAclCommand);
  expect(calls).toHaveLength(1);
  return calls[0].args[0].input;
}

describe('create', () => {
  test('adds READ_ACP and WRITE to an ACL that only has the owner', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: [OWNER_FULL_CONTROL] });

    const result = await onEvent(createEvent(), s3);

    expect(result).toEqual({ PhysicalResourceId: `vm-export-grant:${BUCKET}`, Data: { CanonicalId: SERVICE_ID } });
    expect(sentAcl()).toEqual({
      Bucket: BUCKET,
      AccessControlPolicy: {
        Owner: OWNER,
        Grants: [
          OWNER_FULL_CONTROL,
          { Grantee: { Type: 'CanonicalUser', ID: SERVICE_ID }, Permission: 'READ_ACP' },
          { Grantee: { Type: 'CanonicalUser', ID: SERVICE_ID }, Permission: 'WRITE' },
        ],
      },
    });
    expect(s3Mock).toHaveReceivedCommandWith(GetBucketAclCommand, { Bucket: BUCKET });
  });

  test('keeps every existing grant in its order and appends ours', async () => {
    const existing = [
      OWNER_FULL_CONTROL,
      groupGrant(LOG_DELIVERY, 'WRITE'),
      groupGrant(LOG_DELIVERY, 'READ_ACP'),
      grant(PARTNER_ID, 'READ'),
      grant(PARTNER_ID, 'WRITE'),
    ];
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: existing });

    await onEvent(createEvent(), s3);

    expect(sentAcl().AccessControlPolicy).toEqual({
      Owner: OWNER,
      Grants: [...existing, grant(SERVICE_ID, 'READ_ACP'), grant(SERVICE_ID, 'WRITE')],
    });
  });

  test('adds only the missing permission when one of ours is already there', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: [OWNER_FULL_CONTROL, grant(SERVICE_ID, 'WRITE')] });

    await onEvent(createEvent(), s3);

    expect(sentAcl().AccessControlPolicy?.Grants).toEqual([
      OWNER_FULL_CONTROL,
      grant(SERVICE_ID, 'WRITE'),
      grant(SERVICE_ID, 'READ_ACP'),
    ]);
  });

  test('does not count a group grant or another ID as ours', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({
      Owner: OWNER,
      Grants: [OWNER_FULL_CONTROL, grant(PARTNER_ID, 'READ_ACP'), groupGrant(LOG_DELIVERY, 'WRITE')],
    });

    await onEvent(createEvent(), s3);

    expect(sentAcl().AccessControlPolicy?.Grants).toEqual([
      OWNER_FULL_CONTROL,
      grant(PARTNER_ID, 'READ_ACP'),
      groupGrant(LOG_DELIVERY, 'WRITE'),
      grant(SERVICE_ID, 'READ_ACP'),
      grant(SERVICE_ID, 'WRITE'),
    ]);
  });

  test('re-run with the grants already present is a no-op (no PutBucketAcl)', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({
      Owner: OWNER,
      Grants: [OWNER_FULL_CONTROL, grant(SERVICE_ID, 'READ_ACP'), grant(SERVICE_ID, 'WRITE')],
    });

    const result = await onEvent(createEvent(), s3);

    expect(s3Mock).toHaveReceivedCommandTimes(GetBucketAclCommand, 1);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
    expect(result.PhysicalResourceId).toBe(`vm-export-grant:${BUCKET}`);
  });

  test('a bucket of our own is neither verified nor given a policy', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: [OWNER_FULL_CONTROL] });

    await onEvent(createEvent(props({ VerifyBucket: 'false', ManagePolicy: 'false' })), s3);

    expect(s3Mock).not.toHaveReceivedCommand(GetBucketLocationCommand);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketOwnershipControlsCommand);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketEncryptionCommand);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketPolicyCommand);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand);
  });

  test('a missing bucket fails with a clear message', async () => {
    s3Mock.on(GetBucketAclCommand).rejects(new NoSuchBucket({ message: 'The specified bucket does not exist', $metadata: {} }));

    await expect(onEvent(createEvent(), s3)).rejects.toThrow(
      `Bucket '${BUCKET}' does not exist (NoSuchBucket). Create it in this account and region, or pass the name of an existing bucket.`,
    );
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
  });

  test('rejects a canonical ID that is not 64 lowercase hex before calling S3', async () => {
    await expect(onEvent(createEvent(props({ CanonicalId: SERVICE_ID.toUpperCase() })), s3)).rejects.toThrow(
      /Invalid properties for the export bucket grant on bucket 'exports-123456789012-us-east-1': CanonicalId 'C4D8EABF.*' is not 64 lowercase hex characters/,
    );
    expect(s3Mock.calls()).toHaveLength(0);
  });

  test('the Lambda entry point runs the same logic', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: [OWNER_FULL_CONTROL] });

    const put = jest.spyOn(globalThis, 'fetch').mockResolvedValue(new Response(null, { status: 200 }));
    try {
      const event = createEvent();
      await expect(handler(event)).resolves.toBeUndefined();
      // The handler answers CloudFormation itself: one PUT of the response document.
      expect(put).toHaveBeenCalledTimes(1);
      expect(put.mock.calls[0][0]).toBe(event.ResponseURL);
      expect(JSON.parse(String(put.mock.calls[0][1]?.body))).toMatchObject({
        Status: 'SUCCESS',
        PhysicalResourceId: physicalIdFor(BUCKET),
        Data: { CanonicalId: SERVICE_ID },
      });
    } finally {
      put.mockRestore();
    }
    expect(s3Mock).toHaveReceivedCommandTimes(PutBucketAclCommand, 1);
  });
});

describe('update', () => {
  test('a new canonical ID replaces the old READ_ACP and WRITE and keeps the old ID\'s other grants (the bucket\'s own grant, nobody else holds them)', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({
      Owner: OWNER,
      Grants: [
        OWNER_FULL_CONTROL,
        grant(SERVICE_ID, 'READ_ACP'),
        grant(PARTNER_ID, 'READ'),
        grant(SERVICE_ID, 'WRITE'),
        grant(SERVICE_ID, 'READ'),
      ],
    });

    const result = await onEvent(updateEvent(props({ CanonicalId: MILAN_ID }), props({ CanonicalId: SERVICE_ID })), s3);

    expect(sentAcl().AccessControlPolicy).toEqual({
      Owner: OWNER,
      Grants: [
        OWNER_FULL_CONTROL,
        grant(PARTNER_ID, 'READ'),
        grant(SERVICE_ID, 'READ'),
        grant(MILAN_ID, 'READ_ACP'),
        grant(MILAN_ID, 'WRITE'),
      ],
    });
    expect(result).toEqual({ PhysicalResourceId: `vm-export-grant:${BUCKET}`, Data: { CanonicalId: MILAN_ID } });
    // It looked for other holders of the old ID, and wrote no policy.
    expect(s3Mock).toHaveReceivedCommandWith(GetBucketPolicyCommand, { Bucket: BUCKET });
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand);
  });

  test('the same canonical ID with grants in place writes nothing', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({
      Owner: OWNER,
      Grants: [OWNER_FULL_CONTROL, grant(SERVICE_ID, 'READ_ACP'), grant(SERVICE_ID, 'WRITE')],
    });

    const result = await onEvent(updateEvent(props(), props()), s3);

    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
    expect(result.PhysicalResourceId).toBe(`vm-export-grant:${BUCKET}`);
  });

  test('the same canonical ID re-adds grants removed by hand and removes nothing', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: [OWNER_FULL_CONTROL, grant(SERVICE_ID, 'WRITE')] });

    await onEvent(updateEvent(props(), props()), s3);

    expect(sentAcl().AccessControlPolicy?.Grants).toEqual([
      OWNER_FULL_CONTROL,
      grant(SERVICE_ID, 'WRITE'),
      grant(SERVICE_ID, 'READ_ACP'),
    ]);
  });

  test('a new bucket gets a new physical id and the old bucket is left to the delete', async () => {
    const newBucket = 'exports-new-123456789012';
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: [OWNER_FULL_CONTROL, grant(PARTNER_ID, 'WRITE')] });

    const result = await onEvent(
      updateEvent(props({ BucketName: newBucket, CanonicalId: MILAN_ID }), props({ CanonicalId: PARTNER_ID })),
      s3,
    );

    expect(result.PhysicalResourceId).toBe(`vm-export-grant:${newBucket}`);
    expect(s3Mock).not.toHaveReceivedCommandWith(GetBucketAclCommand, { Bucket: BUCKET });
    // The old ID's grants on the new bucket are not ours to remove.
    expect(sentAcl()).toEqual({
      Bucket: newBucket,
      AccessControlPolicy: {
        Owner: OWNER,
        Grants: [OWNER_FULL_CONTROL, grant(PARTNER_ID, 'WRITE'), grant(MILAN_ID, 'READ_ACP'), grant(MILAN_ID, 'WRITE')],
      },
    });
  });
});

describe('delete', () => {
  test('the bucket\'s own grant (its stack created the bucket) removes only READ_ACP and WRITE of its ID and keeps everything else', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({
      Owner: OWNER,
      Grants: [
        OWNER_FULL_CONTROL,
        grant(SERVICE_ID, 'READ_ACP'),
        groupGrant(LOG_DELIVERY, 'WRITE'),
        grant(SERVICE_ID, 'WRITE'),
        grant(SERVICE_ID, 'READ'),
        grant(PARTNER_ID, 'WRITE'),
      ],
    });

    const result = await onEvent(deleteEvent(), s3);

    expect(result.PhysicalResourceId).toBe(`vm-export-grant:${BUCKET}`);
    expect(sentAcl()).toEqual({
      Bucket: BUCKET,
      AccessControlPolicy: {
        Owner: OWNER,
        Grants: [OWNER_FULL_CONTROL, groupGrant(LOG_DELIVERY, 'WRITE'), grant(SERVICE_ID, 'READ'), grant(PARTNER_ID, 'WRITE')],
      },
    });
  });

  test('writes nothing when our grants are already gone', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: [OWNER_FULL_CONTROL, grant(PARTNER_ID, 'READ_ACP')] });

    await onEvent(deleteEvent(), s3);

    expect(s3Mock).toHaveReceivedCommandTimes(GetBucketAclCommand, 1);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
  });

  test('a bucket that is already gone counts as success', async () => {
    s3Mock.on(GetBucketAclCommand).rejects(new NoSuchBucket({ message: 'The specified bucket does not exist', $metadata: {} }));
    s3Mock.on(GetBucketPolicyCommand).rejects(new NoSuchBucket({ message: 'The specified bucket does not exist', $metadata: {} }));

    await expect(onEvent(deleteEvent(props({ ManagePolicy: 'true' })), s3)).resolves.toEqual({
      PhysicalResourceId: `vm-export-grant:${BUCKET}`,
      Data: { CanonicalId: SERVICE_ID },
    });
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand);
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketPolicyCommand);
  });

  test('does not verify the bucket, even an imported one', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: [OWNER_FULL_CONTROL] });
    s3Mock.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy', 'The bucket policy does not exist', 404));

    await onEvent(deleteEvent(props({ VerifyBucket: 'true', ManagePolicy: 'true', ExpectedRegion: 'eu-south-1' })), s3);

    expect(s3Mock).not.toHaveReceivedCommand(GetBucketLocationCommand);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketOwnershipControlsCommand);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketEncryptionCommand);
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketPolicyCommand);
  });
});

describe('S3 errors', () => {
  test('AccessDenied on PutBucketAcl names the call, the bucket and the SDK message', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: [OWNER_FULL_CONTROL] });
    s3Mock.on(PutBucketAclCommand).rejects(s3Error('AccessDenied', 'Access Denied', 403));

    const error = await onEvent(createEvent(), s3).then(() => undefined, (e: Error) => e);

    expect(error?.message).toBe(
      `S3 PutBucketAcl failed on bucket '${BUCKET}': AccessDenied: Access Denied. `
      + 'Check that the handler\'s role may call s3:PutBucketAcl on the bucket and that no bucket policy or SCP denies it.',
    );
    expect(error?.name).toBe('VmExportBucketGrantError');
  });

  test('throttling on GetBucketAcl is reported with the SDK message', async () => {
    s3Mock.on(GetBucketAclCommand).rejects(s3Error('SlowDown', 'Please reduce your request rate.', 503));

    await expect(onEvent(createEvent(), s3)).rejects.toThrow(
      `S3 GetBucketAcl failed on bucket '${BUCKET}': SlowDown: Please reduce your request rate. S3 throttled the request after retries; deploy again.`,
    );
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
  });

  test('AccessDenied on delete fails the delete (the grant may still be there)', async () => {
    s3Mock.on(GetBucketAclCommand).rejects(s3Error('AccessDenied', 'Access Denied', 403));

    await expect(onEvent(deleteEvent(), s3)).rejects.toThrow(`S3 GetBucketAcl failed on bucket '${BUCKET}': AccessDenied: Access Denied`);
  });

  test('a long SDK message is cut and the whole message stays far below 4096 bytes', async () => {
    s3Mock.on(GetBucketAclCommand).rejects(s3Error('InternalError', 'x'.repeat(10000), 500));

    const error = await onEvent(createEvent(), s3).then(() => undefined, (e: Error) => e);

    expect(error?.message).toMatch(new RegExp(`^S3 GetBucketAcl failed on bucket '${BUCKET}': InternalError: x+\\.\\.\\.$`));
    expect(Buffer.byteLength(error?.message ?? '')).toBeLessThan(1000);
  });

  test('an unknown request type is rejected', async () => {
    const event = { ...createEvent(), RequestType: 'Replace' } as unknown as Parameters<typeof onEvent>[0];

    await expect(onEvent(event, s3)).rejects.toThrow("Unknown RequestType 'Replace'.");
    expect(s3Mock.calls()).toHaveLength(0);
  });
});
