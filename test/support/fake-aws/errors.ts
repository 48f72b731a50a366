/**
 * TEST CODE ONLY: errors of the local AWS stand-in, shaped like the AWS SDK v3's.
 *
 * A fake error is an instance of the service's real `ServiceException` class with `name` = the
 * AWS error code, `$fault`, `$metadata.httpStatusCode` and the message, which is what the
 * handlers' `errorCode()` / `isNotFound()` / `isThrottling()` read. Step Functions SDK
 * integration errors (`Ec2.Ec2Exception`, ...) have their own helper.
 */
import { CloudFormationServiceException } from '@aws-sdk/client-cloudformation';
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { SFNServiceException } from '@aws-sdk/client-sfn';

/** The services the fake answers for. */
export type FakeService = 'ec2' | 's3' | 'sfn' | 'cloudformation';

const EXCEPTION_CLASSES = {
  ec2: EC2ServiceException,
  s3: S3ServiceException,
  sfn: SFNServiceException,
  cloudformation: CloudFormationServiceException,
} as const;

let requestCounter = 0;

/** A request id that looks like AWS's (deterministic: a counter). */
export function fakeRequestId(): string {
  requestCounter++;
  return `00000000-fake-0000-0000-${requestCounter.toString(16).padStart(12, '0')}`;
}

/** An SDK-shaped service error: `name` = the AWS error code. */
export function awsError(service: FakeService, code: string, message: string, httpStatusCode = 400): Error {
  const Exception = EXCEPTION_CLASSES[service];
  const error = new Exception({
    name: code,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode, requestId: fakeRequestId(), attempts: 1, totalRetryDelay: 0 },
    message,
  });
  return error;
}

/** EC2's throttling error. */
export function throttlingError(service: FakeService): Error {
  switch (service) {
    case 'ec2':
      return awsError('ec2', 'RequestLimitExceeded', 'Request limit exceeded.', 503);
    case 's3':
      return awsError('s3', 'SlowDown', 'Please reduce your request rate.', 503);
    case 'sfn':
      return awsError('sfn', 'ThrottlingException', 'Rate exceeded', 400);
    default:
      return awsError(service, 'Throttling', 'Rate exceeded', 400);
  }
}

/**
 * How a Step Functions AWS SDK integration (`arn:aws:states:::aws-sdk:ec2:...`) names an EC2
 * error: `generic` gives `Ec2.Ec2Exception` with the code in the Cause (what EC2 is reported to
 * surface, SPEC section 4); `specific` gives `Ec2.<Code>Exception` (e.g.
 * `Ec2.RequestLimitExceededException`).
 */
export type SfnErrorNaming = 'generic' | 'specific';

/** The error a Step Functions EC2 SDK integration state fails with for an SDK error. */
export function sfnIntegrationError(sdkError: unknown, naming: SfnErrorNaming): Error {
  const e = sdkError as { name?: string; message?: string; $metadata?: { httpStatusCode?: number; requestId?: string } };
  const code = e.name ?? 'InternalError';
  const status = e.$metadata?.httpStatusCode ?? 400;
  const requestId = e.$metadata?.requestId ?? fakeRequestId();
  const cause = `${e.message ?? code} (Service: Ec2, Status Code: ${status}, Error Code: ${code}, Request ID: ${requestId})`;
  const error = new Error(cause);
  error.name = naming === 'specific' ? `Ec2.${code.replace(/\./g, '')}Exception` : 'Ec2.Ec2Exception';
  return error;
}

/**
 * How Step Functions reports an error thrown by a Lambda function in a `lambda:invoke` task:
 * the error name is the function's errorType, the Cause the JSON error document.
 */
export function lambdaFunctionError(err: unknown): Error {
  const e = err as { name?: string; message?: string };
  const errorType = e?.name && e.name !== '' ? e.name : 'Error';
  const error = new Error(JSON.stringify({ errorType, errorMessage: e?.message ?? String(err), trace: [] }));
  error.name = errorType;
  return error;
}
