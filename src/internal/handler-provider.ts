import { Duration, aws_iam as iam, aws_lambda as lambda, aws_logs as logs } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { handlerCode } from './handler-assets';
import { handlerRuntime } from './handler-runtime';

/** What a custom resource provider of the library is built from. */
export interface HandlerProviderOptions {
  /** The bundled handler under assets/lambda (e.g. `bucket-grant`). */
  readonly handlerName: string;
  /** The function's description. */
  readonly description: string;
  /** The function's timeout. */
  readonly timeout: Duration;
}

/** A bundled custom resource handler and its service token. */
export interface HandlerProvider {
  readonly handler: lambda.Function;
  readonly serviceToken: string;
}

/**
 * Creates, under `scope`, the handler of a custom resource provider. The service token is the
 * function itself: CloudFormation invokes it once per event and the handler answers CloudFormation
 * itself (lambda/shared/cfn-response.ts), with no Provider framework function in front of it (no
 * second invocation, no framework log of the event and its properties). The handler gets an
 * explicit role (log writes scoped to its own log group, no managed policy) and a log group with
 * retention. The construct ids (HandlerRole, HandlerLogs, Handler) are part of the logical ids:
 * keep them.
 */
export function createHandlerProvider(scope: Construct, options: HandlerProviderOptions): HandlerProvider {
  const role = new iam.Role(scope, 'HandlerRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  const handler = new lambda.Function(scope, 'Handler', {
    role,
    code: handlerCode(options.handlerName),
    handler: 'index.handler',
    runtime: handlerRuntime(scope),
    timeout: options.timeout,
    memorySize: 256,
    description: options.description,
    logGroup: new logs.LogGroup(scope, 'HandlerLogs', { retention: logs.RetentionDays.ONE_YEAR }),
  });
  handler.logGroup.grantWrite(role);
  return { handler, serviceToken: handler.functionArn };
}
