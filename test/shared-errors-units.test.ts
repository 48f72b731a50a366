/**
 * Pins every decision of lambda/shared/ec2-errors.ts and the export-hash / execution-name rules
 * of lambda/shared/hash.ts.
 *
 * Expected values come from the documents, not from the code: EC2 error codes from SPEC section 3
 * and the EC2 API reference "Error codes" page (RequestLimitExceeded, InternalError, Unavailable,
 * ServiceUnavailable, InvalidInstanceID.NotFound, AuthFailure, NotExportable, ...), the retry names
 * from README.md's errors table (VmExport.Throttled, VmExport.Transient, VmExport.QuotaFull,
 * VmExport.ExportRejected), and the SDK v3 error shapes: service errors are `EC2ServiceException`
 * with `name` = the code and `$metadata.httpStatusCode`; network failures are Node errors with a
 * `code` (ECONNRESET, ...) or SDK errors named TimeoutError / AbortError.
 *
 * Hashes were computed once with `node -e` and the crypto module (SHA-256, hex, first 32
 * characters of the parts joined with '|'), not with the function under test.
 */
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import {
  bareCode,
  errorCode,
  errorMessage,
  isNotFound,
  isQuotaFull,
  isRejection,
  isThrottling,
  isTransient,
  mapStartError,
  rejectionHint,
  retryableOr,
  VmExportError,
} from '../lambda/shared/ec2-errors';
import {
  clientTokenOfExecutionName,
  exportHashFor,
  exportTaskIdOfExecutionName,
} from '../lambda/shared/hash';

function ec2Error(code: string, message: string, status: number): EC2ServiceException {
  return new EC2ServiceException({ name: code, message, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

/** An error with only a code: what a parser or a wrapper without HTTP metadata throws. */
function codeOnly(code: string, message = 'm'): Error {
  const e = new Error(message);
  e.name = code;
  return e;
}

function nodeNetworkError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 10.0.0.1:443`), { code });
}

describe('errorCode', () => {
  test('non-objects and null have no code', () => {
    expect(errorCode(null)).toBe('UnknownError');
    expect(errorCode(undefined)).toBe('UnknownError');
    expect(errorCode('RequestLimitExceeded')).toBe('UnknownError');
  });

  test('a thrown function is not an error object', () => {
    function RequestLimitExceeded(): void {}
    expect(errorCode(RequestLimitExceeded)).toBe('UnknownError');
  });

  test('the SDK name is the code', () => {
    expect(errorCode(ec2Error('InvalidInstanceID.NotFound', 'x', 400))).toBe('InvalidInstanceID.NotFound');
  });

  test('an empty Code or a generic "Error" code gives way to the name', () => {
    expect(errorCode({ Code: '', name: 'InternalError' })).toBe('InternalError');
    expect(errorCode({ code: 'Error', name: 'Unavailable' })).toBe('Unavailable');
    expect(errorCode({ Code: 'AuthFailure', code: 'Other', name: 'Error' })).toBe('AuthFailure');
  });

  test('a plain Error is reported by its name', () => {
    expect(errorCode(new Error('boom'))).toBe('Error');
  });

  test('bareCode strips only a leading Client. / Server. fault prefix', () => {
    expect(bareCode(codeOnly('Client.UnsupportedOperation'))).toBe('UnsupportedOperation');
    expect(bareCode(codeOnly('Server.InternalError'))).toBe('InternalError');
    expect(bareCode(codeOnly('InvalidClient.Malformed'))).toBe('InvalidClient.Malformed');
  });
});

describe('errorMessage', () => {
  test('null and undefined are stringified', () => {
    expect(errorMessage(null)).toBe('null');
    expect(errorMessage(undefined)).toBe('undefined');
  });

  test('an object whose message is not a string is stringified', () => {
    expect(errorMessage({ message: 42 })).toBe('[object Object]');
  });

  test('a function with a message property is stringified, not read', () => {
    const f = Object.assign(function thrower(): void {}, { message: 'read me' });
    expect(errorMessage(f)).not.toBe('read me');
  });

  test('the message of an SDK error', () => {
    expect(errorMessage(ec2Error('AuthFailure', 'no access', 403))).toBe('no access');
  });
});

describe('isThrottling', () => {
  test.each(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'SlowDown', 'TooManyRequestsException', 'RequestThrottled'])(
    'throttling code %s', (code) => {
      expect(isThrottling(ec2Error(code, 'Request limit exceeded.', 400))).toBe(true);
    });

  test('an error with an empty name is not throttling', () => {
    expect(isThrottling({ name: '' })).toBe(false);
  });
});

describe('isNotFound', () => {
  test('a *.NotFound code without a status', () => {
    expect(isNotFound(codeOnly('InvalidInstanceID.NotFound'))).toBe(true);
  });

  test('a NoSuch* code without a status', () => {
    expect(isNotFound(codeOnly('NoSuchBucket'))).toBe(true);
  });

  test('the bare NotFound code without a status', () => {
    expect(isNotFound(codeOnly('NotFound'))).toBe(true);
  });

  test('HTTP 404 with any code', () => {
    expect(isNotFound(ec2Error('UnknownError', 'gone', 404))).toBe(true);
  });

  test('other codes and statuses are not "not found"', () => {
    expect(isNotFound(ec2Error('AuthFailure', 'denied', 403))).toBe(false);
    expect(isNotFound(ec2Error('InvalidInstanceID.Malformed', 'bad id', 400))).toBe(false);
    expect(isNotFound(codeOnly('AuthFailure'))).toBe(false);
  });
});

describe('isTransient', () => {
  test.each(['InternalError', 'InternalFailure', 'InternalServerError', 'ServiceUnavailable', 'Unavailable',
    'RequestTimeout', 'RequestTimeoutException', 'TimeoutError'])('transient code %s without a status', (code) => {
    expect(isTransient(codeOnly(code))).toBe(true);
  });

  test.each(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN',
    'ENETUNREACH', 'EHOSTUNREACH'])('Node network error %s', (code) => {
    expect(isTransient(nodeNetworkError(code))).toBe(true);
  });

  test.each(['TimeoutError', 'AbortError'])('SDK error named %s', (name) => {
    expect(isTransient(codeOnly(name, 'Request aborted'))).toBe(true);
  });

  test('a network code under a wrapper Code is still transient', () => {
    expect(isTransient({ Code: 'RequestError', code: 'ECONNRESET', message: 'socket hang up' })).toBe(true);
  });

  test('an error with an empty name and no status is not transient', () => {
    expect(isTransient({ name: '', message: 'x' })).toBe(false);
  });

  test('HTTP 500 with an unknown code is transient; 4xx is not', () => {
    expect(isTransient(ec2Error('SomethingOdd', 'x', 500))).toBe(true);
    expect(isTransient(ec2Error('SomethingOdd', 'x', 499))).toBe(false);
  });

  test('throttling is reported apart, even with a 5xx status', () => {
    expect(isTransient(ec2Error('SlowDown', 'Please reduce your request rate.', 503))).toBe(false);
    expect(isTransient(ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 400))).toBe(false);
  });
});

describe('retryableOr', () => {
  test('throttling becomes VmExport.Throttled', () => {
    const r = retryableOr(ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503), 'DescribeExportTasks') as Error;
    expect(r.name).toBe('VmExport.Throttled');
    expect(r.message).toBe('AWS throttled DescribeExportTasks (RequestLimitExceeded: Request limit exceeded.). The workflow retries with backoff; if it persists, lower the API call rate in this account and region.');
  });

  test('a VmExportError passes through unchanged, whatever its name', () => {
    const named = new VmExportError('RequestLimitExceeded', 'already named');
    expect(retryableOr(named, 'x')).toBe(named);
  });
});

describe('isQuotaFull', () => {
  test('ResourceLimitExceeded (assumed quota code) is quota full; RequestLimitExceeded is not', () => {
    expect(isQuotaFull(ec2Error('ResourceLimitExceeded', 'x', 400))).toBe(true);
    expect(isQuotaFull(ec2Error('RequestLimitExceeded', 'x', 400))).toBe(false);
  });

  test('a code that only contains LimitExceeded is not a *LimitExceeded code', () => {
    expect(isQuotaFull(ec2Error('LimitExceededException', 'x', 400))).toBe(false);
  });

  test.each([
    'Exceeded the maximum number of concurrent conversion (export) tasks',
    'Reached the maximum of 5 concurrent export task slots',
    'ExportTask limit exceeded',
    'Export task limit exceeded',
    'Conversion tasks in this region: limit reached',
  ])('quota message: %s', (message) => {
    expect(isQuotaFull(ec2Error('InvalidRequest', message, 400))).toBe(true);
  });

  test('an unrelated message is not quota full', () => {
    expect(isQuotaFull(ec2Error('InvalidRequest', 'The request is not valid.', 400))).toBe(false);
  });
});

describe('isRejection', () => {
  test.each(['AuthFailure', 'NotExportable', 'InvalidParameter', 'InvalidParameterValue', 'InvalidParameterCombination',
    'Unsupported', 'UnsupportedOperation', 'InvalidInstanceID', 'IncorrectInstanceState', 'InvalidPermission',
    'MissingParameter'])('rejection code %s', (code) => {
    expect(isRejection(ec2Error(code, 'x', 400))).toBe(true);
  });

  test('dotted sub-codes are rejections', () => {
    expect(isRejection(ec2Error('InvalidInstanceID.NotFound', 'x', 400))).toBe(true);
    expect(isRejection(codeOnly('Client.UnsupportedOperation'))).toBe(true);
  });

  test('a longer code that merely starts with a rejection code is not one', () => {
    expect(isRejection(ec2Error('UnsupportedHostConfiguration', 'x', 400))).toBe(false);
  });

  test('an empty code is not a rejection', () => {
    expect(isRejection({ name: '' })).toBe(false);
  });
});

describe('rejectionHint', () => {
  test('IncorrectInstanceState', () => {
    expect(rejectionHint(ec2Error('IncorrectInstanceState', 'The instance is pending.', 400))).toBe('The instance must be running or stopped.');
  });

  test('a snapshot that is not owned', () => {
    expect(rejectionHint(ec2Error('NotExportable', 'The snapshot ID snap-0123 neither is owned by current user nor had been previously imported through VMIE', 400)))
      .toBe('The instance was launched from an image whose snapshot is not yours or was deleted: export an AMI of the instance (ExportImage) instead.');
  });

  test('format hint for Unsupported and InvalidParameter*', () => {
    const hint = 'Check the target environment and formats: vmware takes VMDK (optionally in an ova), citrix and microsoft take VHD.';
    expect(rejectionHint(ec2Error('Unsupported', "diskImageFormat 'raw' not supported for targetEnvironment 'citrix'. Valid value(s): ['vhd']", 400))).toBe(hint);
    expect(rejectionHint(ec2Error('InvalidParameterValue', 'Value (raw) for parameter diskImageFormat is invalid.', 400))).toBe(hint);
  });

  test('default hint', () => {
    expect(rejectionHint(ec2Error('NotExportable', 'The instance cannot be exported.', 400))).toBe('See the VM Import/Export requirements for instance export.');
  });
});

describe('mapStartError', () => {
  test('quota full is logged with the raw code and message and named VmExport.QuotaFull', () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const r = mapStartError(ec2Error('ResourceLimitExceeded', 'Too many active export tasks', 400), 'i-0123456789abcdef0') as Error;
      expect(r.name).toBe('VmExport.QuotaFull');
      expect(log).toHaveBeenCalledTimes(1);
      expect(JSON.parse(String(log.mock.calls[0][0]))).toEqual({
        message: 'conversion-task quota full',
        instanceId: 'i-0123456789abcdef0',
        code: 'ResourceLimitExceeded',
        error: 'Too many active export tasks',
      });
    } finally {
      log.mockRestore();
    }
  });

  test('mapping an already mapped error returns it unchanged', () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const first = mapStartError(ec2Error('ResourceLimitExceeded', 'Too many active export tasks', 400), 'i-0123456789abcdef0');
      expect((first as Error).name).toBe('VmExport.QuotaFull');
      expect(mapStartError(first, 'i-0123456789abcdef0')).toBe(first);
    } finally {
      log.mockRestore();
    }
  });
});

describe('hash: execution names and export hashes', () => {
  test('an execution name carries the token and, optionally, the task id', () => {
    expect(clientTokenOfExecutionName('vmx-abc123-export-i-0123456789abcdef0')).toBe('abc123');
    expect(exportTaskIdOfExecutionName('vmx-abc123-export-i-0123456789abcdef0')).toBe('export-i-0123456789abcdef0');
  });

  test('names of other shapes carry nothing', () => {
    expect(clientTokenOfExecutionName('copy-of-vmx-abc123')).toBeUndefined();
    expect(clientTokenOfExecutionName('vmx-abc123-other')).toBeUndefined();
    expect(exportTaskIdOfExecutionName('vmx-abc123-export-i-0123!')).toBeUndefined();
  });

  // The export hash is tagged on the task so a rollback can find a completed export of the same
  // properties: a null property and an absent one must hash alike (both as '').
  test('a null property hashes like an absent one', () => {
    const stack = 'arn:aws:cloudformation:eu-west-1:111122223333:stack/app/1';
    expect(exportHashFor(stack, 'Export', { Container: null, Format: 'VHD' }, ['Container', 'Format'])).toBe('1479217a16e9704dcf899bd0486ad55b');
    expect(exportHashFor(stack, 'Export', { Format: 'VHD' }, ['Container', 'Format'])).toBe('1479217a16e9704dcf899bd0486ad55b');
  });
});
