import { Duration, aws_iam as iam, aws_lambda as lambda, aws_logs as logs, custom_resources as cr } from 'aws-cdk-lib';
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

/** A bundled onEvent handler and the aws-cdk-lib Provider that calls it. */
export interface HandlerProvider {
  readonly handler: lambda.Function;
  readonly serviceToken: string;
}

/**
 * Creates, under `scope`, the onEvent handler of a custom resource provider and the Provider.
 * The handler gets an explicit role (log writes scoped to its own log group, no managed policy)
 * and a log group with retention. The construct ids (HandlerRole, HandlerLogs, Handler,
 * ProviderLogs, Provider) are part of the logical ids: keep them.
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
  const provider = new cr.Provider(scope, 'Provider', {
    onEventHandler: handler,
    logGroup: new logs.LogGroup(scope, 'ProviderLogs', { retention: logs.RetentionDays.ONE_YEAR }),
  });
  return { handler, serviceToken: provider.serviceToken };
}
