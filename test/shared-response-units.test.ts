/**
 * Unit tests of the modules with which the handlers answer CloudFormation themselves:
 * lambda/shared/http-put.ts (the PUT with retries), lambda/shared/cfn-response.ts (the response
 * document and its delivery) and lambda/shared/handle-url.ts (the wait condition handle's URL).
 * No network, no real sleeping: fetch and sleep are injected, timeouts run on fake timers.
 */
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStackResourceCommand,
} from '@aws-sdk/client-cloudformation';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  answerCloudFormation,
  failedResponse,
  isCreateFailedMarker,
  reasonOf,
  successResponse,
} from '../lambda/shared/cfn-response';
import { handleUrlHash, handleUrlOf, readHandleUrl } from '../lambda/shared/handle-url';
import { putWithRetries } from '../lambda/shared/http-put';

// CloudFormation custom resource response docs ("Custom resource response objects"): the whole
// response document sent to the ResponseURL must not exceed 4096 bytes.
const MAX_RESPONSE_BYTES = 4096;
// Our README (custom resource responses): a reason is at most 1000 characters.
const MAX_REASON_CHARS = 1000;
// Our README: the physical id a failed Create answers with is this prefix + the RequestId.
const MARKER_PREFIX = 'vm-export:create-failed:';
// Our README: the PUT to a presigned URL is sent with an empty Content-Type (what it is signed with).
const PUT_HEADERS = { 'Content-Type': '' };

const URL = 'https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/arn%3Aresp?X-Amz-Signature=RESPONSE-SECRET';
const BODY = '{"Status":"SUCCESS"}';
const STACK_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/app/5f1e0c40-0000-4000-8000-000000000000';
const REQUEST_ID = '0b7c5d1e-3f2a-4b6c-8d9e-0a1b2c3d4e5f';
const LOGICAL_ID = 'ExportWeb';
const PROPERTY_SECRET = 'property-value-4b8f';

type PutInit = { method: string; headers: Record<string, string>; body: string; signal?: AbortSignal };
type Fetch = jest.Mock<Promise<{ ok: boolean; status: number }>, [string, PutInit]>;

function fetchAnswering(...statuses: Array<number | Error>): Fetch {
  const f: Fetch = jest.fn();
  for (const s of statuses) {
    if (s instanceof Error) {
      f.mockRejectedValueOnce(s);
    } else {
      f.mockResolvedValueOnce({ ok: s >= 200 && s < 300, status: s });
    }
  }
  return f;
}

function recordingSleep() {
  const waits: number[] = [];
  const sleep = jest.fn(async (ms: number) => {
    waits.push(ms);
  });
  return { waits, sleep };
}

function networkError(): TypeError {
  // What undici throws: its text may carry the URL.
  return new TypeError(`fetch failed: connect ECONNREFUSED ${URL}`);
}

function event(requestType: 'Create' | 'Update' | 'Delete', physicalId?: string): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:handler',
    ResponseURL: URL,
    StackId: STACK_ID,
    RequestId: REQUEST_ID,
    LogicalResourceId: LOGICAL_ID,
    ResourceType: 'Custom::VmInstanceExport',
    ResourceProperties: { ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:handler', Secret: PROPERTY_SECRET },
  };
  if (requestType === 'Create') {
    return { ...common, RequestType: 'Create' };
  }
  if (requestType === 'Update') {
    return { ...common, RequestType: 'Update', PhysicalResourceId: physicalId ?? 'phys-1', OldResourceProperties: { ...common.ResourceProperties } };
  }
  return { ...common, RequestType: 'Delete', PhysicalResourceId: physicalId ?? 'phys-1' };
}

function bytesOf(doc: unknown): number {
  return Buffer.byteLength(JSON.stringify(doc), 'utf8');
}

function named(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

// ---------------------------------------------------------------------------------------------
// http-put.ts
// ---------------------------------------------------------------------------------------------
describe('putWithRetries', () => {
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  test('sends one PUT with an empty Content-Type, the body and an abort signal', async () => {
    const fetch = fetchAnswering(200);
    const { sleep } = recordingSleep();
    await expect(putWithRetries(URL, BODY, { fetch, sleep })).resolves.toEqual({ ok: true });
    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe(URL);
    expect(init.method).toBe('PUT');
    expect(init.headers).toEqual(PUT_HEADERS);
    expect(init.body).toBe(BODY);
    expect(init.signal).toBeInstanceOf(AbortSignal);
    expect(init.signal!.aborted).toBe(false);
    expect(sleep).not.toHaveBeenCalled();
  });

  test('retries 5xx answers with backoff and succeeds', async () => {
    const fetch = fetchAnswering(500, 503, 200);
    const { waits, sleep } = recordingSleep();
    await expect(putWithRetries(URL, BODY, { fetch, sleep })).resolves.toEqual({ ok: true });
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(waits).toEqual([500, 1000]);
  });

  test('retries network errors and keeps only the error name (never the URL)', async () => {
    const fetch = fetchAnswering(networkError(), 200);
    const { waits, sleep } = recordingSleep();
    await expect(putWithRetries(URL, BODY, { fetch, sleep })).resolves.toEqual({ ok: true });
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(waits).toEqual([500]);

    const failing: Fetch = jest.fn().mockRejectedValue(networkError());
    const result = await putWithRetries(URL, BODY, { fetch: failing, sleep, attempts: 2 });
    expect(result).toEqual({ ok: false, last: 'network error (TypeError)' });
    expect(JSON.stringify(result)).not.toContain('RESPONSE-SECRET');
    expect(JSON.stringify(result)).not.toContain('amazonaws.com');
  });

  test('stops at a 4xx answer (an expired URL): one attempt, no sleep', async () => {
    for (const status of [400, 403, 404, 499]) {
      const fetch = fetchAnswering(status, 200);
      const { sleep } = recordingSleep();
      await expect(putWithRetries(URL, BODY, { fetch, sleep })).resolves.toEqual({ ok: false, last: `HTTP ${status}` });
      expect(fetch).toHaveBeenCalledTimes(1);
      expect(sleep).not.toHaveBeenCalled();
    }
  });

  test('makes 4 attempts by default, then reports the last answer', async () => {
    const fetch: Fetch = jest.fn().mockResolvedValue({ ok: false, status: 500 });
    const { waits, sleep } = recordingSleep();
    await expect(putWithRetries(URL, BODY, { fetch, sleep })).resolves.toEqual({ ok: false, last: 'HTTP 500' });
    expect(fetch).toHaveBeenCalledTimes(4);
    // No sleep after the last attempt.
    expect(waits).toEqual([500, 1000, 2000]);
  });

  test('backoff doubles from 0.5 s and stays at 8 s', async () => {
    const fetch: Fetch = jest.fn().mockResolvedValue({ ok: false, status: 502 });
    const { waits, sleep } = recordingSleep();
    await expect(putWithRetries(URL, BODY, { fetch, sleep, attempts: 8 })).resolves.toEqual({ ok: false, last: 'HTTP 502' });
    expect(fetch).toHaveBeenCalledTimes(8);
    expect(waits).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
  });

  test('a single attempt never sleeps', async () => {
    const fetch = fetchAnswering(500);
    const { sleep } = recordingSleep();
    await expect(putWithRetries(URL, BODY, { fetch, sleep, attempts: 1 })).resolves.toEqual({ ok: false, last: 'HTTP 500' });
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(sleep).not.toHaveBeenCalled();
  });

  test('abandons an attempt that never answers after attemptTimeoutMs (even if the abort is ignored) and retries', async () => {
    jest.useFakeTimers();
    const signals: AbortSignal[] = [];
    // A transport that ignores the abort signal: its first answer never comes.
    const fetch: Fetch = jest.fn()
      .mockImplementationOnce((_u, init) => {
        signals.push(init.signal!);
        return new Promise(() => undefined);
      })
      .mockResolvedValueOnce({ ok: true, status: 200 });
    const { waits, sleep } = recordingSleep();
    const done = putWithRetries(URL, BODY, { fetch, sleep, attemptTimeoutMs: 3000 });
    await jest.advanceTimersByTimeAsync(2999);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(signals[0].aborted).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await expect(done).resolves.toEqual({ ok: true });
    expect(signals[0].aborted).toBe(true);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(waits).toEqual([500]);
  });

  test('reports a timeout as a network error (TimeoutError) after every attempt timed out', async () => {
    jest.useFakeTimers();
    const fetch: Fetch = jest.fn((_u: string, _i: PutInit) => new Promise<{ ok: boolean; status: number }>(() => undefined));
    const { sleep } = recordingSleep();
    const done = putWithRetries(URL, BODY, { fetch, sleep, attempts: 2, attemptTimeoutMs: 100 });
    await jest.advanceTimersByTimeAsync(200);
    await expect(done).resolves.toEqual({ ok: false, last: 'network error (TimeoutError)' });
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  test('the default attempt timeout is 10 s', async () => {
    jest.useFakeTimers();
    const fetch: Fetch = jest.fn()
      .mockImplementationOnce(() => new Promise(() => undefined))
      .mockResolvedValueOnce({ ok: true, status: 200 });
    const { sleep } = recordingSleep();
    const done = putWithRetries(URL, BODY, { fetch, sleep });
    await jest.advanceTimersByTimeAsync(9_999);
    expect(fetch).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    await expect(done).resolves.toEqual({ ok: true });
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  test('the default sleep waits the backoff on a timer', async () => {
    jest.useFakeTimers();
    const fetch = fetchAnswering(500, 200);
    const done = putWithRetries(URL, BODY, { fetch });
    await jest.advanceTimersByTimeAsync(499);
    expect(fetch).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    await expect(done).resolves.toEqual({ ok: true });
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  test('uses the global fetch by default', async () => {
    const spy = jest.spyOn(globalThis, 'fetch').mockResolvedValue(new Response(null, { status: 200 }));
    await expect(putWithRetries(URL, BODY, { sleep: async () => undefined })).resolves.toEqual({ ok: true });
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0][0]).toBe(URL);
    expect(spy.mock.calls[0][1]).toMatchObject({ method: 'PUT', headers: PUT_HEADERS, body: BODY });
  });
});

// ---------------------------------------------------------------------------------------------
// cfn-response.ts: the document
// ---------------------------------------------------------------------------------------------
describe('reasonOf', () => {
  test('is the message of a plain Error (no "Error: " prefix)', () => {
    expect(reasonOf(new Error('the bucket is gone'))).toBe('the bucket is gone');
  });

  test('prefixes the error name when it names one', () => {
    expect(reasonOf(named('VmExport.InvalidInput', 'InstanceId is not valid'))).toBe('VmExport.InvalidInput: InstanceId is not valid');
    expect(reasonOf(new TypeError('x is undefined'))).toBe('TypeError: x is undefined');
  });

  test('does not repeat a name the message already starts with', () => {
    expect(reasonOf(named('AccessDenied', 'AccessDenied: not allowed'))).toBe('AccessDenied: not allowed');
  });

  test('reads thrown values that are not errors', () => {
    expect(reasonOf('plain text')).toBe('plain text');
    expect(reasonOf(42)).toBe('42');
    expect(reasonOf(undefined)).toBe('undefined');
    expect(reasonOf({ message: '  ' })).toBe('[object Object]');
  });

  test('is at most 1000 characters, name included', () => {
    const reason = reasonOf(named('VmExport.Transient', 'x'.repeat(5000)));
    expect(reason).toHaveLength(MAX_REASON_CHARS);
    expect(reason.startsWith('VmExport.Transient: xxx')).toBe(true);
    expect(reasonOf(new Error('y'.repeat(MAX_REASON_CHARS)))).toBe('y'.repeat(MAX_REASON_CHARS));
    expect(reasonOf(new Error('y'.repeat(MAX_REASON_CHARS + 1)))).toHaveLength(MAX_REASON_CHARS);
  });
});

describe('isCreateFailedMarker', () => {
  test('is true only for an id that starts with the marker prefix', () => {
    expect(isCreateFailedMarker(`${MARKER_PREFIX}${REQUEST_ID}`)).toBe(true);
    expect(isCreateFailedMarker(undefined)).toBe(false);
    expect(isCreateFailedMarker('')).toBe(false);
    expect(isCreateFailedMarker('vm-export-grant:my-bucket')).toBe(false);
    expect(isCreateFailedMarker(`x${MARKER_PREFIX}${REQUEST_ID}`)).toBe(false);
    expect(isCreateFailedMarker('arn:aws:states:eu-west-1:123456789012:execution:wf:vmx-0123')).toBe(false);
  });
});

describe('successResponse', () => {
  test('is SUCCESS with the physical id, the event ids and the Data', () => {
    const doc = successResponse(event('Create'), { PhysicalResourceId: 'phys-new', Data: { ExecutionArn: 'arn:x', Count: '2' } });
    expect(doc).toEqual({
      Status: 'SUCCESS',
      Reason: 'OK',
      PhysicalResourceId: 'phys-new',
      StackId: STACK_ID,
      RequestId: REQUEST_ID,
      LogicalResourceId: LOGICAL_ID,
      Data: { ExecutionArn: 'arn:x', Count: '2' },
    });
  });

  test('answers with the physical id of the result, not the event\'s', () => {
    const doc = successResponse(event('Update', 'phys-old'), { PhysicalResourceId: 'phys-new' });
    expect(doc.PhysicalResourceId).toBe('phys-new');
    expect(doc).not.toHaveProperty('Data');
  });

  test('Data that cannot fit in 4096 bytes turns the answer into FAILED naming the byte count', () => {
    const data = { Big: 'd'.repeat(MAX_RESPONSE_BYTES) };
    const wouldBe = bytesOf({
      Status: 'SUCCESS', Reason: 'OK', PhysicalResourceId: 'phys-1', StackId: STACK_ID, RequestId: REQUEST_ID, LogicalResourceId: LOGICAL_ID, Data: data,
    });
    const doc = successResponse(event('Update', 'phys-1'), { PhysicalResourceId: 'phys-1', Data: data });
    expect(doc.Status).toBe('FAILED');
    expect(doc).not.toHaveProperty('Data');
    expect(doc.Reason).toContain(`${wouldBe} bytes`);
    expect(doc.Reason).toContain(String(MAX_RESPONSE_BYTES));
    expect(bytesOf(doc)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
  });

  test('a Create whose Data cannot fit answers FAILED with the physical id of what it did (not the create-failed marker), so that the Delete undoes it', () => {
    const doc = successResponse(event('Create'), { PhysicalResourceId: 'phys-started', Data: { Big: 'd'.repeat(MAX_RESPONSE_BYTES) } });
    expect(doc.Status).toBe('FAILED');
    expect(doc.PhysicalResourceId).toBe('phys-started');
  });

  test('Data that just fits stays SUCCESS (the limit is inclusive)', () => {
    const make = (n: number) => successResponse(event('Update', 'phys-1'), { PhysicalResourceId: 'phys-1', Data: { Big: 'd'.repeat(n) } });
    const overhead = bytesOf(make(0));
    const exact = make(MAX_RESPONSE_BYTES - overhead);
    expect(bytesOf(exact)).toBe(MAX_RESPONSE_BYTES);
    expect(exact.Status).toBe('SUCCESS');
    expect(make(MAX_RESPONSE_BYTES - overhead + 1).Status).toBe('FAILED');
  });
});

describe('failedResponse', () => {
  test('a failed Create answers with the marker physical id', () => {
    const doc = failedResponse(event('Create'), named('VmExport.InvalidInput', 'bad instance'));
    expect(doc).toEqual({
      Status: 'FAILED',
      Reason: 'VmExport.InvalidInput: bad instance',
      PhysicalResourceId: `${MARKER_PREFIX}${REQUEST_ID}`,
      StackId: STACK_ID,
      RequestId: REQUEST_ID,
      LogicalResourceId: LOGICAL_ID,
    });
  });

  test('a failed Update or Delete keeps the event\'s physical id', () => {
    expect(failedResponse(event('Update', 'phys-upd'), new Error('no')).PhysicalResourceId).toBe('phys-upd');
    expect(failedResponse(event('Delete', 'phys-del'), new Error('no')).PhysicalResourceId).toBe('phys-del');
  });

  test('the reason is truncated to 1000 characters', () => {
    const doc = failedResponse(event('Create'), new Error('z'.repeat(3000)));
    expect(doc.Reason).toHaveLength(MAX_REASON_CHARS);
  });

  // Characters that JSON escapes or that take several bytes in UTF-8: 1000 of them may take far
  // more than 4096 bytes in the document.
  const heavy: Array<[string, string]> = [
    ['double quotes', '"'],
    ['backslashes', '\\'],
    ['newlines', '\n'],
    ['control characters', '\u0001'],
    ['3-byte UTF-8 characters', '€'],
    ['4-byte UTF-8 characters (surrogate pairs)', '😀'],
    ['a mix', '"\n\u0007€😀\\'],
    ['quotes and control characters', '"\u0001'],
    ['control and multi-byte characters', '\u001f€😀'],
  ];
  test.each(heavy)('the whole document fits in 4096 bytes with a reason full of %s', (_what, unit) => {
    // A long physical id (CloudFormation allows 1 KB) leaves less room for the reason.
    const physicalId = `arn:aws:states:eu-west-1:123456789012:execution:wf:${'p'.repeat(900)}`;
    const message = `Failed: ${unit.repeat(Math.ceil(5000 / unit.length))}`;
    for (const e of [event('Create'), event('Update', physicalId), event('Delete', physicalId)]) {
      const doc = failedResponse(e, new Error(message));
      const text = JSON.stringify(doc);
      expect(Buffer.byteLength(text, 'utf8')).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
      // Still a valid document: the reason is shortened, never emptied, nothing else changes.
      const parsed = JSON.parse(text);
      expect(parsed.Status).toBe('FAILED');
      expect(parsed.Reason.length).toBeGreaterThan(100);
      expect(message.startsWith(parsed.Reason.slice(0, 50))).toBe(true);
      expect(parsed.PhysicalResourceId).toBe(e.RequestType === 'Create' ? `${MARKER_PREFIX}${REQUEST_ID}` : physicalId);
      expect(parsed.StackId).toBe(STACK_ID);
      expect(parsed.LogicalResourceId).toBe(LOGICAL_ID);
      // No lone surrogate from a character cut in half.
      expect(parsed.Reason).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    }
  });

  test('a short reason is kept whole', () => {
    const doc = failedResponse(event('Delete', 'phys-1'), new Error('short "quoted"\nreason €'));
    expect(doc.Reason).toBe('short "quoted"\nreason €');
  });
});

// ---------------------------------------------------------------------------------------------
// cfn-response.ts: answerCloudFormation
// ---------------------------------------------------------------------------------------------
describe('answerCloudFormation', () => {
  function logged(log: jest.Mock): Array<Record<string, unknown>> {
    return log.mock.calls.map((c) => JSON.parse(c[0] as string));
  }

  function expectNothingSecret(log: jest.Mock, extra: unknown = undefined) {
    const text = log.mock.calls.map((c) => c.join(' ')).join('\n') + String(extra ?? '');
    expect(text).not.toContain(URL);
    expect(text).not.toContain('RESPONSE-SECRET');
    expect(text).not.toContain('custom-resource-response');
    expect(text).not.toContain(PROPERTY_SECRET);
  }

  test('PUTs the SUCCESS document of the result to the ResponseURL and logs one line', async () => {
    const fetch = fetchAnswering(200);
    const log = jest.fn();
    const work = jest.fn(async () => ({ PhysicalResourceId: 'phys-new', Data: { A: '1' } }));
    const doc = await answerCloudFormation(event('Create'), work, { fetch, log, sleep: async () => undefined });
    expect(work).toHaveBeenCalledTimes(1);
    expect(doc).toEqual({
      Status: 'SUCCESS', Reason: 'OK', PhysicalResourceId: 'phys-new', StackId: STACK_ID, RequestId: REQUEST_ID, LogicalResourceId: LOGICAL_ID, Data: { A: '1' },
    });
    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe(URL);
    expect(init.method).toBe('PUT');
    expect(init.headers).toEqual(PUT_HEADERS);
    expect(JSON.parse(init.body)).toEqual(doc);
    expect(init.body).toBe(JSON.stringify(doc));
    expect(log).toHaveBeenCalledTimes(1);
    expect(logged(log)[0]).toMatchObject({
      message: 'answered CloudFormation',
      requestType: 'Create',
      logicalResourceId: LOGICAL_ID,
      requestId: REQUEST_ID,
      status: 'SUCCESS',
      physicalResourceId: 'phys-new',
    });
    expect(logged(log)[0]).not.toHaveProperty('reason');
    expectNothingSecret(log);
  });

  test('an error becomes FAILED with the reason and the marker (Create), logged with the reason', async () => {
    const fetch = fetchAnswering(200);
    const log = jest.fn();
    const doc = await answerCloudFormation(event('Create'), async () => {
      throw named('VmExport.InvalidInput', 'InstanceId is not valid');
    }, { fetch, log });
    expect(doc.Status).toBe('FAILED');
    expect(doc.Reason).toBe('VmExport.InvalidInput: InstanceId is not valid');
    expect(doc.PhysicalResourceId).toBe(`${MARKER_PREFIX}${REQUEST_ID}`);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(JSON.parse(fetch.mock.calls[0][1].body)).toEqual(doc);
    expect(log).toHaveBeenCalledTimes(1);
    expect(logged(log)[0]).toMatchObject({
      message: 'answered CloudFormation',
      status: 'FAILED',
      physicalResourceId: `${MARKER_PREFIX}${REQUEST_ID}`,
      reason: 'VmExport.InvalidInput: InstanceId is not valid',
    });
    expectNothingSecret(log);
  });

  test('a failed Delete keeps its physical id', async () => {
    const fetch = fetchAnswering(200);
    const doc = await answerCloudFormation(event('Delete', 'phys-del'), async () => {
      throw new Error('cannot');
    }, { fetch, log: jest.fn() });
    expect(doc).toMatchObject({ Status: 'FAILED', Reason: 'cannot', PhysicalResourceId: 'phys-del' });
  });

  test('the body sent is at most 4096 bytes even for a huge escaped reason', async () => {
    const fetch = fetchAnswering(200);
    await answerCloudFormation(event('Create'), async () => {
      throw new Error('"\u0001\n'.repeat(3000));
    }, { fetch, log: jest.fn() });
    expect(Buffer.byteLength(fetch.mock.calls[0][1].body, 'utf8')).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
  });

  test('retries a 5xx answer and resolves once delivered', async () => {
    const fetch = fetchAnswering(500, 503, 200);
    const { waits, sleep } = recordingSleep();
    const log = jest.fn();
    const doc = await answerCloudFormation(event('Update', 'phys-1'), async () => ({ PhysicalResourceId: 'phys-1' }), { fetch, sleep, log });
    expect(doc.Status).toBe('SUCCESS');
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(waits).toEqual([500, 1000]);
    // Every attempt sends the same document.
    expect(new Set(fetch.mock.calls.map((c) => c[1].body)).size).toBe(1);
    expect(log).toHaveBeenCalledTimes(1);
    expect(logged(log)[0].message).toBe('answered CloudFormation');
  });

  test('rejects (so that Lambda retries the event) when every PUT fails, and logs it', async () => {
    const fetch: Fetch = jest.fn().mockResolvedValue({ ok: false, status: 500 });
    const log = jest.fn();
    const err = await answerCloudFormation(event('Create'), async () => ({ PhysicalResourceId: 'phys-new' }),
      { fetch, log, sleep: async () => undefined }).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/could not deliver/i);
    expect(err!.message).toContain('HTTP 500');
    expect(fetch).toHaveBeenCalledTimes(4);
    expect(log).toHaveBeenCalledTimes(1);
    expect(logged(log)[0]).toMatchObject({
      message: 'could not answer CloudFormation; Lambda retries the event',
      status: 'SUCCESS',
      error: 'HTTP 500',
    });
    expectNothingSecret(log, err!.message);
  });

  test('a network error carrying the URL is retried, and neither the log nor the error shows the URL', async () => {
    const fetch: Fetch = jest.fn().mockRejectedValue(networkError());
    const log = jest.fn();
    const err = await answerCloudFormation(event('Delete', 'phys-1'), async () => ({ PhysicalResourceId: 'phys-1' }),
      { fetch, log, sleep: async () => undefined, attempts: 3 }).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(logged(log)[0]).toMatchObject({ error: 'network error (TypeError)' });
    expectNothingSecret(log, `${err!.message} ${err!.stack}`);
  });

  test('a 4xx answer (expired URL) is not retried and the event is not run again: one PUT, the promise resolves, the log says so', async () => {
    const fetch = fetchAnswering(403, 200);
    const { sleep } = recordingSleep();
    const log = jest.fn();
    await expect(answerCloudFormation(event('Create'), async () => ({ PhysicalResourceId: 'p' }), { fetch, sleep, log }))
      .resolves.toMatchObject({ Status: 'SUCCESS' });
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(sleep).not.toHaveBeenCalled();
    expect(logged(log)[0]).toMatchObject({ error: 'HTTP 403', message: 'could not answer CloudFormation: the response URL refused the answer' });
  });

  test('logs to console.log by default, one JSON line', async () => {
    const spy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await answerCloudFormation(event('Create'), async () => ({ PhysicalResourceId: 'p' }), { fetch: fetchAnswering(200) });
      expect(spy).toHaveBeenCalledTimes(1);
      expect(JSON.parse(spy.mock.calls[0][0])).toMatchObject({ message: 'answered CloudFormation', status: 'SUCCESS' });
      expect(String(spy.mock.calls[0][0])).not.toContain(URL);
    } finally {
      spy.mockRestore();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// handle-url.ts
// ---------------------------------------------------------------------------------------------
describe('handleUrlOf', () => {
  const cfnMock = mockClient(CloudFormationClient);
  const cfn = new CloudFormationClient({ region: 'eu-west-1' });
  const HANDLE_ID = 'ExportHandle0a1b2c3d';
  const HANDLE_URL = 'https://cloudformation-waitcondition-eu-west-1.s3.eu-west-1.amazonaws.com/arn%3Ahandle?X-Amz-Signature=HANDLE-SECRET';
  const where = { stackId: STACK_ID, logicalId: HANDLE_ID };

  function cfnError(name: string, message: string, status = 400): CloudFormationServiceException {
    return new CloudFormationServiceException({ name, message, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
  }

  function detail(physicalId: string | undefined, status: 'CREATE_COMPLETE' | 'DELETE_COMPLETE' | 'DELETE_IN_PROGRESS' = 'CREATE_COMPLETE') {
    return {
      StackResourceDetail: {
        LogicalResourceId: HANDLE_ID,
        PhysicalResourceId: physicalId,
        ResourceType: 'AWS::CloudFormation::WaitConditionHandle',
        ResourceStatus: status,
        LastUpdatedTimestamp: new Date(0),
      },
    };
  }

  async function errorOf(p: Promise<unknown>): Promise<Error> {
    return p.then(() => {
      throw new Error('expected a rejection');
    }, (e: Error) => e);
  }

  beforeEach(() => {
    cfnMock.reset();
  });

  test('returns the handle\'s physical id, read with DescribeStackResource', async () => {
    cfnMock.on(DescribeStackResourceCommand).resolves(detail(HANDLE_URL));
    await expect(readHandleUrl(cfn, where)).resolves.toBe(HANDLE_URL);
    expect(cfnMock).toHaveReceivedCommandTimes(DescribeStackResourceCommand, 1);
    expect(cfnMock).toHaveReceivedCommandWith(DescribeStackResourceCommand, { StackName: STACK_ID, LogicalResourceId: HANDLE_ID });
  });

  test.each([
    `Stack with id ${STACK_ID} does not exist`,
    `Resource ${HANDLE_ID} does not exist for stack app`,
  ])('a ValidationError "%s" means nobody waits: undefined', async (message) => {
    cfnMock.on(DescribeStackResourceCommand).rejects(cfnError('ValidationError', message));
    await expect(readHandleUrl(cfn, where)).resolves.toBeUndefined();
  });

  test('another ValidationError is a VmExport.WorkflowError', async () => {
    cfnMock.on(DescribeStackResourceCommand).rejects(cfnError('ValidationError', '1 validation error detected: LogicalResourceId too long'));
    const err = await errorOf(readHandleUrl(cfn, where));
    expect(err.name).toBe('VmExport.WorkflowError');
    expect(err.message).toContain(HANDLE_ID);
    expect(err.message).toContain('ValidationError');
  });

  test.each(['Throttling', 'ThrottlingException'])('%s is VmExport.Throttled', async (code) => {
    cfnMock.on(DescribeStackResourceCommand).rejects(cfnError(code, 'Rate exceeded'));
    const err = await errorOf(readHandleUrl(cfn, where));
    expect(err.name).toBe('VmExport.Throttled');
  });

  test.each([
    ['InternalFailure', 500],
    ['ServiceUnavailable', 503],
    ['SomethingOdd', 502],
  ])('%s (HTTP %d) is VmExport.Transient', async (code, status) => {
    cfnMock.on(DescribeStackResourceCommand).rejects(cfnError(code, 'try again', status));
    const err = await errorOf(readHandleUrl(cfn, where));
    expect(err.name).toBe('VmExport.Transient');
  });

  test('AccessDenied is a VmExport.WorkflowError naming cloudformation:DescribeStackResource', async () => {
    cfnMock.on(DescribeStackResourceCommand).rejects(cfnError('AccessDenied', 'User is not authorized to perform: cloudformation:DescribeStackResource', 403));
    const err = await errorOf(readHandleUrl(cfn, where));
    expect(err.name).toBe('VmExport.WorkflowError');
    expect(err.message).toContain('needs cloudformation:DescribeStackResource');
    expect(err.message).toContain(HANDLE_ID);
  });

  test('an unknown client error is a VmExport.WorkflowError without the permission hint', async () => {
    cfnMock.on(DescribeStackResourceCommand).rejects(cfnError('InvalidClientTokenId', 'bad token', 403));
    const err = await errorOf(readHandleUrl(cfn, where));
    expect(err.name).toBe('VmExport.WorkflowError');
    expect(err.message).not.toContain('needs cloudformation:DescribeStackResource');
  });

  test.each([
    ['no physical id', detail(undefined)],
    ['no resource detail', {}],
    ['an http URL', detail(HANDLE_URL.replace('https://', 'http://'))],
    ['a physical id that is not a URL', detail('HANDLE-SECRET-not-a-url')],
    ['an empty physical id', detail('')],
  ])('%s is a VmExport.WorkflowError that does not show the value', async (_what, answer) => {
    cfnMock.on(DescribeStackResourceCommand).resolves(answer);
    const err = await errorOf(readHandleUrl(cfn, where));
    expect(err.name).toBe('VmExport.WorkflowError');
    expect(err.message).toContain(HANDLE_ID);
    expect(err.message).toMatch(/cannot be signalled/);
    expect(err.message).not.toContain('HANDLE-SECRET');
    expect(err.message).not.toContain('amazonaws.com');
  });

  test.each(['DELETE_COMPLETE', 'DELETE_IN_PROGRESS'] as const)('a handle %s (a deleted stack stays readable by id for 90 days) means nobody waits: undefined', async (status) => {
    cfnMock.on(DescribeStackResourceCommand).resolves(detail(HANDLE_URL, status));
    await expect(readHandleUrl(cfn, where)).resolves.toBeUndefined();
  });

  test('the hash is SHA-256 in hex (FIPS 180-2 test vector "abc")', () => {
    expect(handleUrlHash('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  test('handleUrlOf returns the URL when the execution carries its hash', async () => {
    cfnMock.on(DescribeStackResourceCommand).resolves(detail(HANDLE_URL));
    await expect(handleUrlOf(cfn, { ...where, urlHash: handleUrlHash(HANDLE_URL) })).resolves.toBe(HANDLE_URL);
  });

  test.each([
    ['another URL\'s hash', handleUrlHash(`${HANDLE_URL}x`)],
    ['no hash', ''],
  ])('handleUrlOf with %s: VmExport.WorkflowError, no URL in the message', async (_what, urlHash) => {
    cfnMock.on(DescribeStackResourceCommand).resolves(detail(HANDLE_URL));
    const err = await errorOf(handleUrlOf(cfn, { ...where, urlHash }));
    expect(err.name).toBe('VmExport.WorkflowError');
    expect(err.message).toContain('is not this execution\'s to signal');
    expect(err.message).not.toContain('amazonaws.com');
  });

  test('handleUrlOf of a handle that is gone is undefined whatever the hash', async () => {
    cfnMock.on(DescribeStackResourceCommand).resolves(detail(HANDLE_URL, 'DELETE_COMPLETE'));
    await expect(handleUrlOf(cfn, { ...where, urlHash: '0'.repeat(64) })).resolves.toBeUndefined();
  });
});
