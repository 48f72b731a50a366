/**
 * The real Lambda entry point (`handler` of lambda/custom-resource, the one function that serves
 * Custom::VmExportBucketGrant and Custom::VmInstanceExport, and answers CloudFormation itself):
 * the SDK clients are mocked (aws-sdk-client-mock stubs every instance, the module-level ones
 * included) and the global fetch, which sends the response document to the presigned
 * ResponseURL, is a jest mock.
 */
import { createHash } from 'crypto';
import { CloudFormationClient, DescribeStackResourceCommand } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { GetBucketAclCommand, GetBucketPolicyCommand, PutBucketAclCommand, S3Client } from '@aws-sdk/client-s3';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  BUCKET,
  OWNER,
  OWNER_FULL_CONTROL,
  props as grantProps,
  s3Error,
  SERVICE_ID,
} from './bucket-grant.fixtures';
import { handler } from '../lambda/custom-resource/index';
import type { ExportResourceProperties } from '../lambda/shared/contract';

// Our README: the physical id a failed Create answers with is this prefix + the RequestId.
const MARKER_PREFIX = 'vm-export:create-failed:';
// Our README: the response is PUT with an empty Content-Type (what the presigned URL is signed with).
const PUT_HEADERS = { 'Content-Type': '' };
// CloudFormation custom resource response docs: the response document is at most 4096 bytes.
const MAX_RESPONSE_BYTES = 4096;

const s3Mock = mockClient(S3Client);
const sfnMock = mockClient(SFNClient);
const ec2Mock = mockClient(EC2Client);
const cfnMock = mockClient(CloudFormationClient);

/** The presigned ResponseURL: a credential, never to be logged. */
const RESPONSE_URL = 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/app/x%7CRes%7Creq?X-Amz-Signature=RESPONSE-URL-SECRET';
const STACK_ID = 'arn:aws:cloudformation:us-east-1:123456789012:stack/app/5b0a1d30-0000-11ef-9c2b-0a1b2c3d4e5f';
const REQUEST_ID = '6f9619ff-8b86-d011-b42d-00c04fc964ff';
const MARKER = `${MARKER_PREFIX}${REQUEST_ID}`;

const SM_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:VmExportWorkflow';
const providerProps: ExportResourceProperties = {
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
  StateMachineArn: SM_ARN,
  InstanceId: 'i-0123456789abcdef0',
  TargetEnvironment: 'vmware',
  DiskImageFormat: 'VMDK',
  ContainerFormat: 'ova',
  S3Bucket: 'my-exports',
  S3Prefix: 'vms/',
  DeadlineSeconds: '7200',
  WaitForCompletion: 'true',
  Preflight: 'false',
  DeleteObjectOnDelete: 'true',
  CanonicalId: SERVICE_ID,
  WaitConditionHandle: 'ExportHandle0a1b2c3d',
};

type Kind = 'grant' | 'export';

function common(kind: Kind) {
  return {
    ServiceToken: kind === 'grant' ? grantProps().ServiceToken : providerProps.ServiceToken,
    ResponseURL: RESPONSE_URL,
    StackId: STACK_ID,
    RequestId: REQUEST_ID,
    LogicalResourceId: kind === 'grant' ? 'ExportBucketGrant' : 'ExportWeb',
    ResourceType: kind === 'grant' ? 'Custom::VmExportBucketGrant' : 'Custom::VmInstanceExport',
  };
}

function createEvent(kind: Kind, properties: object): CloudFormationCustomResourceEvent {
  return { ...common(kind), RequestType: 'Create', ResourceProperties: { ...properties } as never };
}

function deleteEvent(kind: Kind, physicalId: string, properties: object): CloudFormationCustomResourceEvent {
  return { ...common(kind), RequestType: 'Delete', PhysicalResourceId: physicalId, ResourceProperties: { ...properties } as never };
}

/** An invalid Create of each resource type: rejected before any AWS call. */
const invalidCreates: Array<[string, Kind, () => CloudFormationCustomResourceEvent]> = [
  ['bucket grant', 'grant', () => createEvent('grant', grantProps({ CanonicalId: 'not-a-canonical-id' }))],
  ['instance export', 'export', () => createEvent('export', { ...providerProps, InstanceId: 'not-an-instance' })],
];

let fetchMock: jest.Mock;
let originalFetch: typeof globalThis.fetch;
let consoleSpies: jest.SpyInstance[];

beforeEach(() => {
  s3Mock.reset();
  sfnMock.reset();
  ec2Mock.reset();
  cfnMock.reset();
  originalFetch = globalThis.fetch;
  fetchMock = jest.fn().mockResolvedValue({ ok: true, status: 200 });
  globalThis.fetch = fetchMock as unknown as typeof globalThis.fetch;
  consoleSpies = (['log', 'info', 'warn', 'error', 'debug'] as const)
    .map((level) => jest.spyOn(console, level).mockImplementation(() => undefined));
});

afterEach(() => {
  // (e) The ResponseURL is a credential: nothing logged contains it, or any part of it.
  const logged = consoleSpies.flatMap((s) => s.mock.calls).map((c) => c.map(String).join(' ')).join('\n');
  expect(logged).not.toContain(RESPONSE_URL);
  expect(logged).not.toContain('RESPONSE-URL-SECRET');
  expect(logged).not.toContain('cloudformation-custom-resource-response');
  consoleSpies.forEach((s) => s.mockRestore());
  globalThis.fetch = originalFetch;
  jest.useRealTimers();
});

/** The only PUT sent: checks where and how it went, returns the parsed document. */
function onlyResponse(): Record<string, any> {
  expect(fetchMock).toHaveBeenCalledTimes(1);
  const [url, init] = fetchMock.mock.calls[0];
  expect(url).toBe(RESPONSE_URL);
  expect(init.method).toBe('PUT');
  expect(init.headers).toEqual(PUT_HEADERS);
  expect(Buffer.byteLength(init.body, 'utf8')).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
  return JSON.parse(init.body);
}

function expectNoAwsCall(...mocks: Array<ReturnType<typeof mockClient>>) {
  for (const m of mocks) {
    expect(m.calls()).toHaveLength(0);
  }
}

/** The lines logged by console.log, parsed where they are JSON. */
function answerLines(): Array<Record<string, unknown>> {
  return consoleSpies[0].mock.calls
    .map((c) => {
      try {
        return JSON.parse(String(c[0]));
      } catch {
        return undefined;
      }
    })
    .filter((l) => l && typeof l.message === 'string' && /answer CloudFormation|answered CloudFormation/.test(l.message));
}

/** Runs `p` on fake timers (the backoff between PUTs) until it settles. */
async function settle<T>(p: Promise<T>): Promise<{ value?: T; error?: Error }> {
  let outcome: { value?: T; error?: Error } | undefined;
  void p.then((value) => {
    outcome = { value };
  }, (error: Error) => {
    outcome = { error };
  });
  for (let i = 0; i < 200 && !outcome; i++) {
    await jest.advanceTimersByTimeAsync(1000);
  }
  if (!outcome) {
    throw new Error('the handler did not settle within 200 simulated seconds');
  }
  return outcome;
}

describe('(a) an invalid Create answers FAILED with the marker physical id', () => {
  test.each(invalidCreates)('%s: one PUT, FAILED, marker, and the handler resolves', async (_name, kind, make) => {
    const event = make();
    await expect(handler(event)).resolves.toBeUndefined();
    const doc = onlyResponse();
    expect(doc).toEqual({
      Status: 'FAILED',
      Reason: expect.any(String),
      PhysicalResourceId: MARKER,
      StackId: STACK_ID,
      RequestId: REQUEST_ID,
      LogicalResourceId: common(kind).LogicalResourceId,
    });
    expect(doc.Reason.length).toBeGreaterThan(10);
    expectNoAwsCall(s3Mock, sfnMock, ec2Mock, cfnMock);
    const lines = answerLines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ message: 'answered CloudFormation', status: 'FAILED', physicalResourceId: MARKER, requestId: REQUEST_ID });
  });

  test('the bucket grant reason names the invalid property', async () => {
    await handler(createEvent('grant', grantProps({ CanonicalId: 'not-a-canonical-id' })));
    expect(onlyResponse().Reason).toContain('CanonicalId');
  });

  test('the instance export reason names the invalid input and its error name', async () => {
    await handler(createEvent('export', { ...providerProps, InstanceId: 'not-an-instance' }));
    const reason = onlyResponse().Reason;
    expect(reason).toMatch(/^VmExport\.InvalidInput: /);
    expect(reason).toContain('not-an-instance');
  });
});

describe('a valid Create answers SUCCESS', () => {
  test('bucket grant: the grant\'s physical id and CanonicalId', async () => {
    s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: [OWNER_FULL_CONTROL] });
    s3Mock.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy', 'The bucket policy does not exist', 404));
    s3Mock.on(PutBucketAclCommand).resolves({});
    await expect(handler(createEvent('grant', grantProps()))).resolves.toBeUndefined();
    expect(onlyResponse()).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: `vm-export-grant:${BUCKET}`,
      Data: { CanonicalId: SERVICE_ID },
    });
    expect(s3Mock).toHaveReceivedCommandTimes(PutBucketAclCommand, 1);
    // Routed by ResourceType to the bucket grant only.
    expectNoAwsCall(sfnMock, ec2Mock, cfnMock);
  });

  test('instance export: the execution ARN; the handle\'s URL read once and only its hash handed on', async () => {
    const handleUrl = 'https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/arn%3Aaws%3Acloudformation/h?X-Amz-Signature=HANDLESECRET';
    cfnMock.on(DescribeStackResourceCommand).resolves({ StackResourceDetail: { PhysicalResourceId: handleUrl, ResourceStatus: 'CREATE_COMPLETE' } as never });
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'ignored', startDate: new Date(0) });
    await expect(handler(createEvent('export', providerProps))).resolves.toBeUndefined();
    const doc = onlyResponse();
    expect(doc.Status).toBe('SUCCESS');
    expect(doc.PhysicalResourceId).toMatch(/^arn:aws:states:us-east-1:123456789012:execution:VmExportWorkflow:vmx-/);
    expect(doc.Data).toEqual({ ExecutionArn: doc.PhysicalResourceId });
    expect(sfnMock).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    // Routed by ResourceType to the instance export only.
    expect(sfnMock.calls()).toHaveLength(1);
    expectNoAwsCall(s3Mock, ec2Mock);
    expect(cfnMock).toHaveReceivedCommandTimes(DescribeStackResourceCommand, 1);
    expect(cfnMock).toHaveReceivedCommandWith(DescribeStackResourceCommand, { LogicalResourceId: 'ExportHandle0a1b2c3d' });
    const input = String(sfnMock.commandCalls(StartExecutionCommand)[0].args[0].input.input);
    expect(input).not.toContain('HANDLESECRET');
    expect(JSON.parse(input).waitConditionHandleHash).toBe(createHash('sha256').update(handleUrl).digest('hex'));
  });
});

describe('(b) bucket grant: the Delete of a create-failed marker', () => {
  test.each([
    ['valid properties', grantProps()],
    ['the invalid properties of the failed Create', grantProps({ CanonicalId: 'not-a-canonical-id', BucketName: '' })],
    ['no properties', {}],
  ])('with %s answers SUCCESS without any S3 call', async (_what, properties) => {
    await expect(handler(deleteEvent('grant', MARKER, properties))).resolves.toBeUndefined();
    const doc = onlyResponse();
    expect(doc).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: MARKER, RequestId: REQUEST_ID });
    expectNoAwsCall(s3Mock);
  });
});

describe('(c) instance export: the Delete of a create-failed marker', () => {
  test.each([
    ['valid properties', providerProps],
    ['the invalid properties of the failed Create', { ...providerProps, InstanceId: 'not-an-instance', StateMachineArn: 'nope' }],
  ])('with %s answers SUCCESS without any SFN or EC2 call', async (_what, properties) => {
    await expect(handler(deleteEvent('export', MARKER, properties))).resolves.toBeUndefined();
    const doc = onlyResponse();
    expect(doc).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: MARKER, RequestId: REQUEST_ID });
    expectNoAwsCall(sfnMock, ec2Mock, s3Mock, cfnMock);
  });
});

describe('Custom::VmExportAttributes', () => {
  test('the Delete of a create-failed marker answers SUCCESS without any AWS call', async () => {
    const event = { ...deleteEvent('export', MARKER, { ServiceToken: providerProps.ServiceToken }), ResourceType: 'Custom::VmExportAttributes' };
    await expect(handler(event)).resolves.toBeUndefined();
    expect(onlyResponse()).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: MARKER });
    expectNoAwsCall(s3Mock, sfnMock, ec2Mock, cfnMock);
  });

  test('an invalid Create answers FAILED with the marker', async () => {
    const event = { ...createEvent('export', { ServiceToken: providerProps.ServiceToken, WaitConditionData: 'not json' }), ResourceType: 'Custom::VmExportAttributes' };
    await expect(handler(event)).resolves.toBeUndefined();
    expect(onlyResponse()).toMatchObject({ Status: 'FAILED', PhysicalResourceId: MARKER });
  });
});

describe('(d) when every PUT answers 500 the handler rejects (Lambda retries the event)', () => {
  const cases: Array<[string, () => CloudFormationCustomResourceEvent]> = [
    ['bucket grant, invalid Create', () => createEvent('grant', grantProps({ CanonicalId: 'bad' }))],
    ['bucket grant, Delete of a marker', () => deleteEvent('grant', MARKER, {})],
    ['instance export, invalid Create', () => createEvent('export', { ...providerProps, InstanceId: 'bad' })],
    ['instance export, Delete of a marker', () => deleteEvent('export', MARKER, providerProps)],
  ];
  test.each(cases)('%s', async (_name, make) => {
    jest.useFakeTimers();
    fetchMock.mockResolvedValue({ ok: false, status: 500 });
    const outcome = await settle(handler(make()));
    expect(outcome.error).toBeInstanceOf(Error);
    expect(outcome.error!.message).toContain('HTTP 500');
    expect(outcome.error!.message).not.toContain('RESPONSE-URL-SECRET');
    // Retried (5xx), every time to the ResponseURL with the same document.
    expect(fetchMock.mock.calls.length).toBeGreaterThan(1);
    expect(new Set(fetchMock.mock.calls.map((c) => c[0]))).toEqual(new Set([RESPONSE_URL]));
    expect(new Set(fetchMock.mock.calls.map((c) => c[1].body)).size).toBe(1);
    const lines = answerLines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ message: 'could not answer CloudFormation; Lambda retries the event', error: 'HTTP 500' });
  });

  test('a PUT that fails with a network error carrying the URL: retried, rejected, URL in no log', async () => {
    jest.useFakeTimers();
    fetchMock.mockRejectedValue(new TypeError(`fetch failed: getaddrinfo ENOTFOUND ${RESPONSE_URL}`));
    const outcome = await settle(handler(deleteEvent('grant', MARKER, {})));
    expect(outcome.error).toBeInstanceOf(Error);
    expect(outcome.error!.message).not.toContain('RESPONSE-URL-SECRET');
    expect(fetchMock.mock.calls.length).toBeGreaterThan(1);
  });

  test('a 403 (expired URL) is not retried, and the event is not run again: one PUT, the handler resolves and logs it', async () => {
    fetchMock.mockResolvedValue({ ok: false, status: 403 });
    await expect(handler(deleteEvent('export', MARKER, providerProps))).resolves.toBeUndefined();
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const lines = consoleSpies[0].mock.calls.map((c: unknown[]) => String(c[0]));
    expect(lines.some((l: string) => l.includes('the response URL refused the answer') && l.includes('HTTP 403'))).toBe(true);
  });

  test('a 500 then 200 is delivered: the handler resolves', async () => {
    jest.useFakeTimers();
    fetchMock.mockResolvedValueOnce({ ok: false, status: 500 }).mockResolvedValueOnce({ ok: true, status: 200 });
    const outcome = await settle(handler(createEvent('grant', grantProps({ CanonicalId: 'bad' }))));
    expect(outcome.error).toBeUndefined();
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });
});
