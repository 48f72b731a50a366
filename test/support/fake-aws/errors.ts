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
import * as iamModels from '@aws-sdk/client-iam';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { SFNServiceException } from '@aws-sdk/client-sfn';

/** The services the fake answers for. */
export type FakeService = 'ec2' | 's3' | 'sfn' | 'cloudformation' | 'iam';

const EXCEPTION_CLASSES = {
  ec2: EC2ServiceException,
  s3: S3ServiceException,
  sfn: SFNServiceException,
  cloudformation: CloudFormationServiceException,
  iam: iamModels.IAMServiceException,
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

/**
 * An IAM error as the SDK v3 raises it (IAM speaks the awsQuery protocol and models its
 * errors): the modeled class when there is one (`NoSuchEntity` -> `NoSuchEntityException`, whose
 * `name` is `NoSuchEntityException`), with `Code` = the wire code, `Type` `Sender` and `Error`
 * { Type, Code, Message }, as @aws-sdk/core's AwsQueryProtocol.handleError builds it.
 */
export function iamError(code: string, message: string, httpStatusCode = 400): Error {
  const Modeled = (iamModels as unknown as Record<string, unknown>)[`${code}Exception`];
  const metadata = { httpStatusCode, requestId: fakeRequestId(), attempts: 1, totalRetryDelay: 0 };
  const type = httpStatusCode >= 500 ? 'Receiver' : 'Sender';
  const extra = { Code: code, Type: type, Error: { Type: type, Code: code, Message: message } };
  if (typeof Modeled === 'function' && Modeled.prototype instanceof iamModels.IAMServiceException) {
    const Ctor = Modeled as new (opts: unknown) => Error;
    return Object.assign(new Ctor({ $metadata: metadata, message }), { message }, extra);
  }
  const error = new iamModels.IAMServiceException({
    name: code,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: metadata,
    message,
  });
  return Object.assign(error, extra);
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
 * error. SPEC section 4: the integration's names come from the Java SDK v2 model, and EC2's
 * model declares no error shapes, so every EC2 error is `Ec2.Ec2Exception` (`generic`, the
 * default and what real executions show). `specific` (`Ec2.<Code>Exception`) is kept only to
 * show the workflow does not depend on the name either way.
 */
export type SfnErrorNaming = 'generic' | 'specific';

/**
 * The error a Step Functions EC2 SDK integration state fails with for an SDK error. Its Cause
 * is the Java SDK v2 message: the service's message, then the service, the HTTP status and the
 * request id, and NOT the error code, e.g. `Request limit exceeded. (Service: Ec2, Status Code:
 * 503, Request ID: 5f0d...)` (SPEC section 4).
 */
export function sfnIntegrationError(sdkError: unknown, naming: SfnErrorNaming = 'generic'): Error {
  const e = sdkError as { name?: string; message?: string; $metadata?: { httpStatusCode?: number; requestId?: string } };
  const code = e.name ?? 'InternalError';
  const status = e.$metadata?.httpStatusCode ?? 400;
  const requestId = e.$metadata?.requestId ?? fakeRequestId();
  const cause = `${e.message ?? 'An error occurred.'} (Service: Ec2, Status Code: ${status}, Request ID: ${requestId})`;
  const error = new Error(cause);
  error.name = naming === 'specific' ? `Ec2.${code.replace(/\./g, '')}Exception` : 'Ec2.Ec2Exception';
  return error;
}

/** EC2's answer to an internal failure (HTTP 500), as the SDK raises it. */
export function ec2InternalError(): Error {
  return awsError('ec2', 'InternalError', 'An internal error has occurred.', 500);
}

/** EC2's answer to a request it refuses for good (a client error, HTTP 400-series: EC2 API error codes page), as the SDK raises it. */
export function ec2PermanentError(): Error {
  return awsError('ec2', 'UnauthorizedOperation', 'You are not authorized to perform this operation.', 400);
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
