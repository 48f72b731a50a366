/**
 * The grant handler's decisions as operators and S3 see them: the one JSON log line written when
 * a holder removes, keeps or hands over grants (and none otherwise), which S3 calls a change makes,
 * and the settings of the S3 client the Lambda entry point uses.
 */
import {
  DeleteBucketPolicyCommand,
  GetBucketAclCommand,
  GetBucketPolicyCommand,
  PutBucketAclCommand,
  PutBucketPolicyCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  BUCKET,
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
import { onEvent } from '../lambda/bucket-grant/index';
import { handler } from '../lambda/custom-resource';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'us-east-1' });

const IMPORTED = props({ ManagePolicy: 'true' });
const BOTH_GRANTS = [OWNER_FULL_CONTROL, grant(SERVICE_ID, 'READ_ACP'), grant(SERVICE_ID, 'WRITE')];


/** The service statement under `sid`, as the handler writes it. */
function access(sid: string) {
  return {
    Sid: sid,
    Effect: 'Allow',
    Principal: { CanonicalUser: SERVICE_ID },
    Action: ['s3:GetBucketAcl', 's3:PutObject'],
    Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`],
  };
}

function aclIs(grants: object[]) {
  s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: grants });
}

function policyIs(...statements: object[]) {
  s3Mock.on(GetBucketPolicyCommand).resolves({ Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) });
}

let logSpy: jest.SpyInstance;

/** Every line the handler logged, parsed; each must be one call with one single-line string. */
function loggedLines(): unknown[] {
  return logSpy.mock.calls.map((args: unknown[]) => {
    expect(args).toHaveLength(1);
    expect(typeof args[0] === 'string' && !args[0].includes('\n')).toBe(true);
    return JSON.parse(args[0] as string);
  });
}

beforeEach(() => {
  s3Mock.reset();
  s3Mock.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy', 'The bucket policy does not exist', 404));
  logSpy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
});

afterEach(() => {
  logSpy.mockRestore();
});

describe('the log line', () => {
  test('a Delete that removes the grants logs one line naming them', async () => {
    aclIs(BOTH_GRANTS);

    await onEvent(deleteEvent(), s3);

    expect(loggedLines()).toEqual([
      { message: 'bucket grant', requestType: 'Delete', bucket: BUCKET, added: [], removed: ['READ_ACP', 'WRITE'], kept: [] },
    ]);
    expect(s3Mock).toHaveReceivedCommandWith(PutBucketAclCommand, { AccessControlPolicy: { Owner: OWNER, Grants: [OWNER_FULL_CONTROL] } });
  });

  test('a Delete whose grants another holder still needs logs what it kept and where its record went', async () => {
    aclIs(BOTH_GRANTS);
    policyIs(access(sidOf(['READ_ACP', 'WRITE'])), access(sidOf([], 'Beta', 'ExistingServiceGrant')));

    await onEvent(deleteEvent(IMPORTED), s3);

    expect(loggedLines()).toEqual([{
      message: 'bucket grant',
      requestType: 'Delete',
      bucket: BUCKET,
      added: [],
      removed: [],
      kept: ['READ_ACP', 'WRITE'],
      recordMovedTo: sidOf(['READ_ACP', 'WRITE'], 'Beta', 'ExistingServiceGrant'),
    }]);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
  });

  test('a Delete without a statement of its own logs that it kept every grant, and why', async () => {
    aclIs(BOTH_GRANTS);
    policyIs(DENY_HTTP);

    await onEvent(deleteEvent(IMPORTED), s3);

    expect(loggedLines()).toEqual([{
      message: 'bucket grant',
      requestType: 'Delete',
      bucket: BUCKET,
      added: [],
      removed: [],
      kept: [],
      unrecorded: true,
      note: 'no statement of this resource on the bucket (created by an earlier version, or the policy was rewritten): kept every grant',
    }]);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand);
  });

  test('an Update to a new canonical ID logs the old ID\'s grants it removed and the new ones it added', async () => {
    aclIs(BOTH_GRANTS);

    await onEvent(updateEvent(props({ CanonicalId: MILAN_ID }), props()), s3);

    expect(loggedLines()).toEqual([{
      message: 'bucket grant',
      requestType: 'Update',
      bucket: BUCKET,
      added: ['READ_ACP', 'WRITE'],
      removed: ['READ_ACP', 'WRITE'],
      kept: [],
    }]);
  });

  const noLine: Array<[string, () => void, CloudFormationCustomResourceEvent, number]> = [
    ['a Create that adds both grants', () => aclIs([OWNER_FULL_CONTROL]), createEvent(), 1],
    ['a Create of an imported bucket that adds both grants', () => aclIs([OWNER_FULL_CONTROL]), createEvent(IMPORTED), 1],
    ['a Delete whose grants are already gone', () => aclIs([OWNER_FULL_CONTROL]), deleteEvent(), 0],
    ['an Update that changes nothing', () => aclIs(BOTH_GRANTS), updateEvent(props(), props()), 0],
  ];
  test.each(noLine)('%s logs nothing', async (_name, arrange, event, aclWrites) => {
    arrange();

    await onEvent(event, s3);

    expect(logSpy).not.toHaveBeenCalled();
    expect(s3Mock).toHaveReceivedCommandTimes(PutBucketAclCommand, aclWrites);
  });
});

describe('what a change reads and writes', () => {
  test('the bucket\'s own grant updated with the same canonical ID does not read the policy', async () => {
    aclIs([OWNER_FULL_CONTROL, grant(SERVICE_ID, 'WRITE')]);

    await onEvent(updateEvent(props(), props()), s3);

    expect(s3Mock).not.toHaveReceivedCommand(GetBucketPolicyCommand);
    expect(s3Mock).toHaveReceivedCommandWith(PutBucketAclCommand, {
      AccessControlPolicy: { Owner: OWNER, Grants: [OWNER_FULL_CONTROL, grant(SERVICE_ID, 'WRITE'), grant(SERVICE_ID, 'READ_ACP')] },
    });
  });

  test('a Delete whose bucket disappears between the ACL read and the policy read succeeds and writes nothing', async () => {
    aclIs(BOTH_GRANTS);
    s3Mock.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucket', 'The specified bucket does not exist', 404));

    await expect(onEvent(deleteEvent(IMPORTED), s3)).resolves.toEqual({
      PhysicalResourceId: `vm-export-grant:${BUCKET}`,
      Data: { CanonicalId: SERVICE_ID },
    });
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand);
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketPolicyCommand);
    expect(logSpy).not.toHaveBeenCalled();
  });

  test('when the policy cannot be written and the ACL was not changed, the ACL is not written at all', async () => {
    aclIs(BOTH_GRANTS);
    s3Mock.on(PutBucketPolicyCommand).rejects(s3Error('AccessDenied', 'Access Denied', 403));

    await expect(onEvent(createEvent(IMPORTED), s3)).rejects.toThrow(
      `S3 PutBucketPolicy failed on bucket '${BUCKET}': AccessDenied: Access Denied.`,
    );
    expect(s3Mock).toHaveReceivedCommandTimes(PutBucketPolicyCommand, 1);
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketAclCommand);
  });
});

describe('the S3 client of the Lambda entry point', () => {
  test('follows region redirects and makes up to 6 attempts per call', async () => {
    aclIs([OWNER_FULL_CONTROL]);
    const put = jest.spyOn(globalThis, 'fetch').mockResolvedValue(new Response(null, { status: 200 }));
    await handler(createEvent()).finally(() => put.mockRestore());

    const client = s3Mock.call(0).thisValue as S3Client;
    expect(client).toBeInstanceOf(S3Client);
    expect(client).not.toBe(s3);
    expect(client.config.followRegionRedirects).toBe(true);
    await expect(client.config.maxAttempts()).resolves.toBe(6);
  });
});
