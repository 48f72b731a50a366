/**
 * The small text helpers every handler uses: reading a caught error's Cause, shortening texts to
 * CloudFormation's and Step Functions' limits, and reading S3 error codes for the bucket checks.
 * Written against the mutation report (bench/MUTATION.md): each test pins a boundary.
 */
import { GetBucketOwnershipControlsCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { aclsDisabled } from '../lambda/shared/bucket-settings';
import { causeText } from '../lambda/shared/cause';
import { truncate, truncateBytes } from '../lambda/shared/truncate';

describe('causeText', () => {
  test('a Lambda error document, with white space around it: its errorMessage', () => {
    expect(causeText('  {"errorType":"X","errorMessage":"the reason","trace":[]}\n')).toBe('the reason');
  });

  test('an empty errorMessage is skipped for the next field (Message, message)', () => {
    expect(causeText('{"errorMessage":"","Message":"from Message"}')).toBe('from Message');
    expect(causeText('{"errorMessage":"","message":"from message"}')).toBe('from message');
  });

  test.each([
    ['plain text', 'Request limit exceeded. (Service: Ec2, Status Code: 503, Request ID: 1)'],
    ['a JSON array', '["a"]'],
    ['JSON null', 'null'],
    ['an object without a message', '{"errorType":"X"}'],
  ])('%s is returned as it is', (_name, cause) => {
    expect(causeText(cause)).toBe(cause);
  });
});

describe('truncate (characters, " [...]" marks a cut)', () => {
  test('a text of exactly the maximum is kept', () => {
    expect(truncate('abcdefghij', 10)).toBe('abcdefghij');
  });

  test('one character over: cut to the maximum, ellipsis included', () => {
    expect(truncate('abcdefghijk', 10)).toBe('abcd [...]');
  });

  test('a maximum no longer than the marker: a plain cut without it', () => {
    expect(truncate('abcdefghij', 6)).toBe('abcdef');
    expect(truncate('abcdefghij', 3)).toBe('abc');
  });
});

describe('truncateBytes (UTF-8 bytes, never splits a character)', () => {
  test('a text of exactly the maximum bytes is kept', () => {
    expect(truncateBytes('ééé', 6)).toBe('ééé');
  });

  test('two-byte characters: as many whole ones as fit before the marker', () => {
    // 10 bytes into 9: the marker takes 6, so one é (2 bytes) fits, a second would make 4 > 3.
    expect(truncateBytes('ééééé', 9)).toBe('é [...]');
    expect(Buffer.byteLength(truncateBytes('ééééé', 9))).toBeLessThanOrEqual(9);
    // Exactly room for one: 8 bytes, 2 for é and 6 for the marker.
    expect(truncateBytes('ééééé', 8)).toBe('é [...]');
  });

  test('no room beyond the marker: an empty text, without the marker', () => {
    expect(truncateBytes('abcdefgh', 6)).toBe('');
  });
});

describe('aclsDisabled reads S3 error codes from name, then Code', () => {
  const s3Mock = mockClient(S3Client);
  const s3 = new S3Client({ region: 'eu-west-1' });
  beforeEach(() => s3Mock.reset());

  test('an unmodelled error (name "Error", Code OwnershipControlsNotFoundError): no controls, ACLs work', async () => {
    s3Mock.on(GetBucketOwnershipControlsCommand).rejects(Object.assign(new Error('not found'), { name: 'Error', Code: 'OwnershipControlsNotFoundError' }));
    await expect(aclsDisabled(s3, 'b')).resolves.toBe(false);
  });

  test('any other error is not "no controls": it is thrown', async () => {
    s3Mock.on(GetBucketOwnershipControlsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    await expect(aclsDisabled(s3, 'b')).rejects.toThrow('denied');
  });
});
