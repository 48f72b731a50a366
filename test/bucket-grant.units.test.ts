/**
 * Unit tests of the bucket grant helpers (acl, errors, policy, properties, verify), one level
 * below the handler: every S3 error shape the SDK produces, every branch of the error wording
 * and of the property checks. Written against the mutation testing record (bench/MUTATION.md).
 */
import {
  DeleteBucketPolicyCommand,
  GetBucketAclCommand,
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  PutBucketAclCommand,
  PutBucketPolicyCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { BUCKET, grant, OWNER, OWNER_FULL_CONTROL, PARTNER_ID, props, s3Error, SERVICE_ID } from './bucket-grant.fixtures';
import { readAcl, withGrants, writeAcl } from '../lambda/bucket-grant/acl';
import { errorCode, errorMessage, s3CallError, truncate } from '../lambda/bucket-grant/errors';
import { parsePolicy, readPolicy, writePolicy } from '../lambda/bucket-grant/policy';
import { parseProperties, refuseGuessedCanonicalId } from '../lambda/bucket-grant/properties';
import { verifyBucket } from '../lambda/bucket-grant/verify';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'us-east-1' });

/** The message of the error `promise` rejects with (the test fails when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<string> {
  const result = await promise.then(() => undefined, (e: Error) => e);
  if (result === undefined) throw new Error('expected a rejection');
  return result.message;
}

/** What S3 answers for a bucket that does not exist (GetBucketAcl, PutBucketPolicy, ...). */
const noSuchBucket = () => s3Error('NoSuchBucket', 'The specified bucket does not exist', 404);
const accessDenied = () => s3Error('AccessDenied', 'Access Denied', 403);

const MISSING = `Bucket '${BUCKET}' does not exist (NoSuchBucket). Create it in this account and region, or pass the name of an existing bucket.`;
const ROLE_HINT = (call: string) => `Check that the handler's role may call s3:${call} on the bucket and that no bucket policy or SCP denies it.`;
const REGION_HINT = 'The bucket is in another region; the export bucket must be in the stack\'s region.';
const THROTTLE_HINT = 'S3 throttled the request after retries; deploy again.';

beforeEach(() => {
  s3Mock.reset();
});

describe('withGrants', () => {
  test('adds only the permissions the canonical user does not hold yet', () => {
    const before = [OWNER_FULL_CONTROL, grant(SERVICE_ID, 'READ_ACP')];
    expect(withGrants(before, SERVICE_ID, ['READ_ACP', 'WRITE'])).toStrictEqual([
      OWNER_FULL_CONTROL,
      grant(SERVICE_ID, 'READ_ACP'),
      { Grantee: { Type: 'CanonicalUser', ID: SERVICE_ID }, Permission: 'WRITE' },
    ]);
  });

  test('a permission held by another canonical user is still added', () => {
    const before = [OWNER_FULL_CONTROL, grant(PARTNER_ID, 'WRITE')];
    expect(withGrants(before, SERVICE_ID, ['WRITE'])).toStrictEqual([
      OWNER_FULL_CONTROL,
      grant(PARTNER_ID, 'WRITE'),
      { Grantee: { Type: 'CanonicalUser', ID: SERVICE_ID }, Permission: 'WRITE' },
    ]);
  });
});

describe('readAcl and writeAcl on a missing bucket', () => {
  const acl = { owner: OWNER, grants: [OWNER_FULL_CONTROL] };

  test('readAcl without ignoreMissingBucket refuses a missing bucket', async () => {
    s3Mock.on(GetBucketAclCommand).rejects(noSuchBucket());
    expect(await rejection(readAcl(s3, BUCKET))).toBe(MISSING);
  });

  test('readAcl recognises NoSuchBucket carried in Code of an S3ServiceException the SDK could not name', async () => {
    s3Mock.on(GetBucketAclCommand).rejects(Object.assign(s3Error('S3ServiceException', 'UnknownError', 404), { Code: 'NoSuchBucket' }));
    expect(await rejection(readAcl(s3, BUCKET))).toBe(MISSING);
    await expect(readAcl(s3, BUCKET, true)).resolves.toBeUndefined();
  });

  test('writeAcl without ignoreMissingBucket fails on a missing bucket, naming the call', async () => {
    s3Mock.on(PutBucketAclCommand).rejects(noSuchBucket());
    expect(await rejection(writeAcl(s3, BUCKET, acl, [OWNER_FULL_CONTROL])))
      .toBe(`S3 PutBucketAcl failed on bucket '${BUCKET}': NoSuchBucket: The specified bucket does not exist`);
  });

  test('writeAcl with ignoreMissingBucket counts a bucket deleted meanwhile as done', async () => {
    s3Mock.on(PutBucketAclCommand).rejects(noSuchBucket());
    await expect(writeAcl(s3, BUCKET, acl, [OWNER_FULL_CONTROL], true)).resolves.toBeUndefined();
    expect(s3Mock).toHaveReceivedCommandTimes(PutBucketAclCommand, 1);
  });

  test('writeAcl with ignoreMissingBucket still fails on AccessDenied', async () => {
    s3Mock.on(PutBucketAclCommand).rejects(accessDenied());
    expect(await rejection(writeAcl(s3, BUCKET, acl, [OWNER_FULL_CONTROL], true)))
      .toBe(`S3 PutBucketAcl failed on bucket '${BUCKET}': AccessDenied: Access Denied. ${ROLE_HINT('PutBucketAcl')}`);
  });
});

describe('errorCode', () => {
  test.each([
    ['undefined (a promise rejected without a reason)', undefined],
    ['null', null],
    ['a string that reads like a code', 'NoSuchBucket'],
    ['a number', 404],
  ])('%s has no code', (_name, value) => {
    expect(errorCode(value)).toBe('');
  });

  test('an S3ServiceException is known by its name', () => {
    expect(errorCode(s3Error('NoSuchBucketPolicy', 'The bucket policy does not exist', 404))).toBe('NoSuchBucketPolicy');
  });

  test.each([
    ['an S3ServiceException left with the base class name', () => Object.assign(s3Error('S3ServiceException', 'UnknownError', 403), { Code: 'AllAccessDisabled' })],
    ['an S3ServiceException with an empty name', () => Object.assign(s3Error('', 'UnknownError', 403), { Code: 'AllAccessDisabled' })],
    ['a plain Error', () => Object.assign(new Error('All access to this object has been disabled'), { Code: 'AllAccessDisabled' })],
    ['a parsed error body without a name', () => ({ Code: 'AllAccessDisabled', Message: 'All access to this object has been disabled' })],
  ])('%s is known by its Code', (_name, make) => {
    expect(errorCode(make())).toBe('AllAccessDisabled');
  });

  test.each([
    ['an S3ServiceException left with the base class name', () => s3Error('S3ServiceException', 'UnknownError', 500)],
    ['a plain Error', () => new Error('socket hang up')],
    ['an object whose Code is not a string', () => ({ Code: 403 })],
  ])('%s without a Code has no code', (_name, make) => {
    expect(errorCode(make())).toBe('');
  });
});

describe('errorMessage and truncate', () => {
  test('the message is put on one line: runs of whitespace become one space, the ends are trimmed', () => {
    expect(errorMessage(new Error('  Access Denied\n\n  for this request \t'))).toBe('Access Denied for this request');
  });

  test('a thrown non-error is quoted as text', () => {
    expect(errorMessage(undefined)).toBe('undefined');
  });

  test('a text exactly `max` long is kept whole', () => {
    expect(truncate('abcdefghij', 10)).toBe('abcdefghij');
  });

  test('a longer text keeps max - 3 characters and the cut mark', () => {
    expect(truncate('abcdefghijk', 10)).toBe('abcdefg...');
  });

  test('errorMessage cuts to its max', () => {
    expect(errorMessage(new Error('abcdefghijk'), 10)).toBe('abcdefg...');
  });
});

describe('s3CallError', () => {
  const prefix = `S3 GetBucketAcl failed on bucket '${BUCKET}': `;
  const msg = (err: unknown, call = 'GetBucketAcl', bucket = BUCKET) => s3CallError(call, bucket, err).message;

  test('code and message are both quoted', () => {
    expect(msg(s3Error('InternalError', 'We encountered an internal error. Please try again.', 500)))
      .toBe(`${prefix}InternalError: We encountered an internal error. Please try again.`);
  });

  test('a message that already starts with the code is not prefixed again', () => {
    expect(msg(s3Error('UnknownError', 'UnknownError', 400))).toBe(`${prefix}UnknownError`);
    expect(msg(s3Error('SlowDown', 'SlowDown: Please reduce your request rate.', 503)))
      .toBe(`${prefix}SlowDown: Please reduce your request rate. ${THROTTLE_HINT}`);
  });

  test('an error without a code shows its message alone', () => {
    expect(msg(new Error('socket hang up'))).toBe(`${prefix}socket hang up`);
  });

  test('an error without code and message says so', () => {
    expect(msg('')).toBe(`${prefix}unknown error`);
    expect(msg(s3Error('S3ServiceException', '', 500))).toBe(`${prefix}unknown error`);
  });

  test('a name the SDK made up for an unparsable body is quoted once', () => {
    expect(msg(s3Error('Unknown', 'UnknownError', 403))).toBe(`${prefix}UnknownError`);
    expect(msg(s3Error('403', 'UnknownError', 403))).toBe(`${prefix}403: UnknownError`);
  });

  test('a thrown non-object has no code', () => {
    expect(msg('NoSuchBucket')).toBe(`${prefix}NoSuchBucket`);
    expect(msg(undefined)).toBe(`${prefix}undefined`);
  });

  test('a code taken from Code is quoted with the hint', () => {
    const err = Object.assign(s3Error('S3ServiceException', 'All access to this object has been disabled', 403), { Code: 'AllAccessDisabled' });
    expect(msg(err)).toBe(`${prefix}AllAccessDisabled: All access to this object has been disabled. ${ROLE_HINT('GetBucketAcl')}`);
  });

  test.each(['AccessDenied', 'AllAccessDisabled'])('%s names the call in the permission hint', (code) => {
    expect(msg(s3Error(code, 'Access Denied', 403), 'PutBucketPolicy'))
      .toBe(`S3 PutBucketPolicy failed on bucket '${BUCKET}': ${code}: Access Denied. ${ROLE_HINT('PutBucketPolicy')}`);
  });

  test.each(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded'])(
    '%s gets the throttling hint', (code) => {
      expect(msg(s3Error(code, 'Please reduce your request rate.', 503)))
        .toBe(`${prefix}${code}: Please reduce your request rate. ${THROTTLE_HINT}`);
    },
  );

  test.each([
    ['PermanentRedirect', 301, 'The bucket you are attempting to access must be addressed using the specified endpoint'],
    ['AuthorizationHeaderMalformed', 400, 'The authorization header is malformed; the region \'us-east-1\' is wrong; expecting \'eu-west-1\''],
    ['IllegalLocationConstraintException', 400, 'The eu-west-1 location constraint is incompatible for the region specific endpoint this request was sent to'],
  ])('%s gets the region hint', (code, status, text) => {
    expect(msg(s3Error(code, `${text}.`, status))).toBe(`${prefix}${code}: ${text}. ${REGION_HINT}`);
  });

  test('an unlisted code gets no hint', () => {
    expect(msg(s3Error('InvalidRequest', 'Invalid request', 400))).toBe(`${prefix}InvalidRequest: Invalid request`);
  });

  test('dots inside the message and the bucket name are kept when the hint is joined', () => {
    expect(msg(accessDenied(), 'GetBucketAcl', 'exports.example.com'))
      .toBe(`S3 GetBucketAcl failed on bucket 'exports.example.com': AccessDenied: Access Denied. ${ROLE_HINT('GetBucketAcl')}`);
  });

  test('every trailing dot (a cut message) is dropped before the hint', () => {
    const long = `Access Denied ${'x'.repeat(400)}`;
    const quoted = `Access Denied ${'x'.repeat(283)}`; // 297 characters of the message, then the cut mark
    expect(msg(s3Error('AccessDenied', long, 403))).toBe(`${prefix}AccessDenied: ${quoted}. ${ROLE_HINT('GetBucketAcl')}`);
    expect(msg(s3Error('AccessDenied', 'Access Denied..', 403))).toBe(`${prefix}AccessDenied: Access Denied. ${ROLE_HINT('GetBucketAcl')}`);
  });
});

describe('parsePolicy', () => {
  const EMPTY = { Version: '2012-10-17', Statement: [] };
  const NOT_OBJECT = `The bucket policy of '${BUCKET}' is not a JSON object; fix or delete the policy and deploy again.`;

  test.each([
    ['no policy text', undefined],
    ['an empty text', ''],
    ['a text of whitespace only', ' \n\t '],
  ])('%s is an empty policy', (_name, text) => {
    expect(parsePolicy(text, BUCKET)).toStrictEqual(EMPTY);
  });

  test.each([
    ['an array', '[]'],
    ['null', 'null'],
    ['a number', '42'],
    ['a string', '"Allow"'],
    ['a boolean', 'true'],
  ])('%s is not a policy', (_name, text) => {
    expect(() => parsePolicy(text, BUCKET)).toThrow(NOT_OBJECT);
  });

  test('a document without Statement gets an empty statement list and keeps its other fields', () => {
    const policy = parsePolicy('{"Version":"2012-10-17","Id":"Policy1"}', BUCKET);
    expect(policy.Statement).toHaveLength(0);
    expect(policy).toStrictEqual({ Version: '2012-10-17', Id: 'Policy1', Statement: [] });
  });
});

describe('readPolicy and writePolicy', () => {
  const statement = { Sid: 'Other', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` };

  test('readPolicy without ignoreMissingBucket refuses a missing bucket', async () => {
    s3Mock.on(GetBucketPolicyCommand).rejects(noSuchBucket());
    expect(await rejection(readPolicy(s3, BUCKET))).toBe(MISSING);
    expect(await rejection(readPolicy(s3, BUCKET, false))).toBe(MISSING);
  });

  test('readPolicy with ignoreMissingBucket gives undefined for a missing bucket', async () => {
    s3Mock.on(GetBucketPolicyCommand).rejects(noSuchBucket());
    await expect(readPolicy(s3, BUCKET, true)).resolves.toBeUndefined();
  });

  test('readPolicy: NoSuchBucketPolicy is an empty policy', async () => {
    s3Mock.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy', 'The bucket policy does not exist', 404));
    await expect(readPolicy(s3, BUCKET)).resolves.toStrictEqual({ Version: '2012-10-17', Statement: [] });
  });

  test('readPolicy: another error names GetBucketPolicy', async () => {
    s3Mock.on(GetBucketPolicyCommand).rejects(accessDenied());
    expect(await rejection(readPolicy(s3, BUCKET, true)))
      .toBe(`S3 GetBucketPolicy failed on bucket '${BUCKET}': AccessDenied: Access Denied. ${ROLE_HINT('GetBucketPolicy')}`);
  });

  test('writePolicy without ignoreMissingBucket fails on a missing bucket', async () => {
    s3Mock.on(PutBucketPolicyCommand).rejects(noSuchBucket());
    expect(await rejection(writePolicy(s3, BUCKET, { Version: '2012-10-17', Statement: [statement] })))
      .toBe(`S3 PutBucketPolicy failed on bucket '${BUCKET}': NoSuchBucket: The specified bucket does not exist`);
  });

  test('writePolicy with ignoreMissingBucket counts a bucket deleted meanwhile as done', async () => {
    s3Mock.on(DeleteBucketPolicyCommand).rejects(noSuchBucket());
    await expect(writePolicy(s3, BUCKET, { Version: '2012-10-17', Statement: [] }, true)).resolves.toBeUndefined();
    expect(s3Mock).toHaveReceivedCommandTimes(DeleteBucketPolicyCommand, 1);
  });

  test('writePolicy with ignoreMissingBucket still fails on AccessDenied', async () => {
    s3Mock.on(PutBucketPolicyCommand).rejects(accessDenied());
    expect(await rejection(writePolicy(s3, BUCKET, { Version: '2012-10-17', Statement: [statement] }, true)))
      .toBe(`S3 PutBucketPolicy failed on bucket '${BUCKET}': AccessDenied: Access Denied. ${ROLE_HINT('PutBucketPolicy')}`);
  });

  test('a failing delete of the last statement names DeleteBucketPolicy', async () => {
    s3Mock.on(DeleteBucketPolicyCommand).rejects(accessDenied());
    expect(await rejection(writePolicy(s3, BUCKET, { Version: '2012-10-17', Statement: [] })))
      .toBe(`S3 DeleteBucketPolicy failed on bucket '${BUCKET}': AccessDenied: Access Denied. ${ROLE_HINT('DeleteBucketPolicy')}`);
  });
});

describe('parseProperties', () => {
  const INVALID = 'Invalid properties for the export bucket grant';

  test('real booleans are accepted as well as the strings CloudFormation sends', () => {
    const on = parseProperties({ ...props(), VerifyBucket: true, ManagePolicy: true, CanonicalIdDefaulted: true });
    expect([on.verifyBucket, on.managePolicy, on.canonicalIdDefaulted]).toStrictEqual([true, true, true]);
    const off = parseProperties({ ...props(), VerifyBucket: false, ManagePolicy: false, CanonicalIdDefaulted: false });
    expect([off.verifyBucket, off.managePolicy, off.canonicalIdDefaulted]).toStrictEqual([false, false, false]);
  });

  test('text values are trimmed; a text that is not a string counts as empty', () => {
    const settings = parseProperties({ ...props(), BucketName: `  ${BUCKET}\n`, Partition: ' aws-cn ', ExpectedRegion: 42, PolicySid: ' MySid ' });
    expect(settings.bucketName).toBe(BUCKET);
    expect(settings.partition).toBe('aws-cn');
    expect(settings.expectedRegion).toBe('');
    expect(settings.policySid).toBe('MySid');
  });

  test('a PolicySid that is not a string falls back to the default Sid', () => {
    expect(parseProperties({ ...props(), PolicySid: 7 }).policySid).toBe('VmExportServiceAccess');
  });

  test('no properties at all: every problem is listed, without a bucket name', () => {
    expect(() => parseProperties(undefined)).toThrow(
      new Error(`${INVALID}: BucketName is empty; CanonicalId '' is not 64 lowercase hex characters.`),
    );
  });

  test('a bucket name that is not a string is an empty one', () => {
    expect(() => parseProperties({ ...props(), BucketName: 123 })).toThrow(new Error(`${INVALID}: BucketName is empty.`));
  });

  test('a long invalid canonical ID is quoted with its first 80 characters only', () => {
    const id = `${'A'.repeat(80)}${'b'.repeat(20)}`;
    expect(() => parseProperties({ ...props(), CanonicalId: id })).toThrow(
      new Error(`${INVALID} on bucket '${BUCKET}': CanonicalId '${'A'.repeat(80)}' is not 64 lowercase hex characters.`),
    );
  });

  test('ManagePolicy needs a partition', () => {
    expect(() => parseProperties({ ...props(), ManagePolicy: 'true', Partition: ' ' })).toThrow(
      new Error(`${INVALID} on bucket '${BUCKET}': Partition is empty (needed for the bucket policy ARNs).`),
    );
    expect(parseProperties({ ...props(), ManagePolicy: 'false', Partition: '' }).partition).toBe('');
  });
});

describe('refuseGuessedCanonicalId', () => {
  const settings = (defaulted: string, partition: string) =>
    parseProperties({ ...props(), CanonicalIdDefaulted: defaulted, Partition: partition });

  test.each(['aws-iso', 'aws-iso-b', 'aws-iso-e', 'aws-iso-f', 'aws-eusc'])(
    'a defaulted ID in %s, a partition without a documented ID, is refused', (partition) => {
      expect(() => refuseGuessedCanonicalId(settings('true', partition))).toThrow(new Error(
        `Refusing to grant the default VM Import/Export canonical ID ${SERVICE_ID} on bucket '${BUCKET}': `
        + `the stack is deployed to partition ${partition}, for which AWS documents no VM Import/Export canonical ID, `
        + 'and the stack did not set one (the commercial default is almost certainly wrong there). '
        + 'Ask AWS for the canonical ID of this partition and pass it as canonicalId to VmExportBucket (or VmExportBucket.fromBucketName).',
      ));
    },
  );

  test.each(['aws', 'aws-cn', 'aws-us-gov'])('a defaulted ID in %s (documented IDs) is used', (partition) => {
    expect(() => refuseGuessedCanonicalId(settings('true', partition))).not.toThrow();
  });

  test('an ID the user passed is used in aws-iso too', () => {
    expect(() => refuseGuessedCanonicalId(settings('false', 'aws-iso'))).not.toThrow();
  });
});

describe('verifyBucket', () => {
  function healthy(location: string) {
    s3Mock.on(GetBucketLocationCommand).resolves({ LocationConstraint: location as never });
    s3Mock.on(GetBucketOwnershipControlsCommand).resolves({ OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] } });
    s3Mock.on(GetBucketEncryptionCommand).resolves({
      ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    });
  }

  test('a healthy bucket in the expected region passes', async () => {
    healthy('eu-west-1');
    await expect(verifyBucket(s3, BUCKET, 'eu-west-1')).resolves.toBeUndefined();
  });

  test('AccessDenied on GetBucketLocation names that call', async () => {
    healthy('eu-west-1');
    s3Mock.on(GetBucketLocationCommand).rejects(accessDenied());
    expect(await rejection(verifyBucket(s3, BUCKET, 'eu-west-1')))
      .toBe(`S3 GetBucketLocation failed on bucket '${BUCKET}': AccessDenied: Access Denied. ${ROLE_HINT('GetBucketLocation')}`);
  });

  test('AccessDenied on GetBucketOwnershipControls names that call', async () => {
    healthy('eu-west-1');
    s3Mock.on(GetBucketOwnershipControlsCommand).rejects(accessDenied());
    expect(await rejection(verifyBucket(s3, BUCKET, 'eu-west-1')))
      .toBe(`S3 GetBucketOwnershipControls failed on bucket '${BUCKET}': AccessDenied: Access Denied. ${ROLE_HINT('GetBucketOwnershipControls')}`);
  });

  test('two problems are numbered and separated by a space', async () => {
    healthy('eu-west-1');
    s3Mock.on(GetBucketOwnershipControlsCommand).resolves({ OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } });
    const message = await rejection(verifyBucket(s3, BUCKET, 'us-east-1'));
    expect(message.startsWith(`Bucket '${BUCKET}' cannot receive VM exports: (1) it is in eu-west-1 but the stack is in us-east-1;`)).toBe(true);
    expect(message).toContain('so use a bucket in us-east-1 (2) its object ownership is BucketOwnerEnforced, which disables ACLs');
  });
});
