/**
 * TEST CODE ONLY: what the aws-cdk-lib custom resource Provider framework (the `onEvent` path
 * of custom-resources/lib/provider-framework/runtime, no isComplete handler) makes of a user
 * handler's outcome, modelled so that tests can check the response CloudFormation receives.
 *
 * - A Delete whose physical id is the CREATE_FAILED marker is answered SUCCESS without calling
 *   the handler.
 * - A returned value becomes SUCCESS with `PhysicalResourceId` (default: the RequestId on
 *   Create, the old id otherwise; a Delete that changes it fails) and `Data`.
 * - A thrown error is reported by the Lambda runtime as `{ errorType, errorMessage, trace }`
 *   (trace = the stack's lines; Node keeps 10 frames, paths are rewritten to the bundle's
 *   `/var/task/index.js`). The framework rethrows it with the message
 *   `<errorMessage>\n\nLogs: /aws/lambda/<function>\n` and the trace after the first line, and
 *   answers FAILED with that stack as the Reason (it includes stack traces). A failed Create
 *   gets the CREATE_FAILED marker as physical id.
 * - A handler that never settles is cut off by the Lambda timeout: the runtime reports
 *   `Task timed out after <n>.00 seconds` without a trace. Tests race the handler against a
 *   promise that rejects with that error as soon as the fake sees a call that will never be
 *   answered; nothing sleeps.
 *
 * The response is the JSON the framework PUTs: Status, Reason, StackId, RequestId,
 * PhysicalResourceId, LogicalResourceId, NoEcho, Data.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

export const CREATE_FAILED_MARKER = 'AWSCDK::CustomResourceProviderFramework::CREATE_FAILED';
export const MISSING_PHYSICAL_ID_MARKER = 'AWSCDK::CustomResourceProviderFramework::MISSING_PHYSICAL_ID';

export interface CfnResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly PhysicalResourceId: string;
  readonly LogicalResourceId: string;
  readonly NoEcho?: boolean;
  readonly Data?: Record<string, unknown>;
}

/** The error the Lambda runtime reports for a timed-out invocation. */
export class LambdaTimeout extends Error {
  constructor(public readonly seconds: number) {
    super(`2025-01-01T00:00:00.000Z 3f2a9c1e-0000-4000-8000-000000000000 Task timed out after ${seconds.toFixed(2)} seconds`);
    this.name = 'Sandbox.Timedout';
  }
}

export interface ProviderInvokeOptions {
  /** The user function's name (for the `Logs:` line). @default 'UserHandler' */
  readonly functionName?: string;
  /** Rejects with a LambdaTimeout when the handler is known to hang. */
  readonly timeout?: Promise<never>;
}

type UserResult = { PhysicalResourceId?: string; Data?: Record<string, unknown>; NoEcho?: boolean } | undefined | void;

/** The Lambda runtime's error document for a thrown value. */
export function lambdaErrorDocument(err: unknown): { errorType: string; errorMessage: string; trace?: string[] } {
  if (err instanceof LambdaTimeout) {
    return { errorType: err.name, errorMessage: err.message };
  }
  const e = err as { name?: string; message?: string; stack?: string };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const stack = typeof e?.stack === 'string' ? e.stack : `${e?.name ?? 'Error'}: ${message}`;
  const lines = stack.split('\n');
  const firstFrame = lines.findIndex((l) => /^\s+at /.test(l));
  const head = firstFrame < 0 ? lines : lines.slice(0, firstFrame);
  const frames = (firstFrame < 0 ? [] : lines.slice(firstFrame))
    .slice(0, 10)
    .map((l) => l.replace(/\((?:[^()]*?):(\d+):(\d+)\)$/, '(/var/task/index.js:$1:$2)').replace(/at \/[^ ]*:(\d+):(\d+)$/, 'at /var/task/index.js:$1:$2'));
  return { errorType: typeof e?.name === 'string' ? e.name : 'Error', errorMessage: message, trace: [...head, ...frames] };
}

/** Runs a user onEvent handler the way the Provider framework does and returns the response. */
export async function invokeThroughProvider(
  event: CloudFormationCustomResourceEvent,
  handler: (event: CloudFormationCustomResourceEvent) => Promise<UserResult>,
  options: ProviderInvokeOptions = {},
): Promise<CfnResponse> {
  const base = { StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId };
  const oldId = (event as { PhysicalResourceId?: string }).PhysicalResourceId;
  if (event.RequestType === 'Delete' && oldId === CREATE_FAILED_MARKER) {
    return { Status: 'SUCCESS', Reason: 'SUCCESS', ...base, PhysicalResourceId: oldId, Data: undefined };
  }
  try {
    let result: UserResult;
    try {
      const call = handler(JSON.parse(JSON.stringify(event)));
      result = await (options.timeout ? Promise.race([call, options.timeout]) : call);
    } catch (err) {
      const doc = lambdaErrorDocument(err);
      const message = [doc.errorMessage || 'error', '', `Logs: /aws/lambda/${options.functionName ?? 'UserHandler'}`, ''].join('\n');
      const error = new Error(message);
      if (doc.trace) error.stack = [message, ...doc.trace.slice(1)].join('\n');
      throw error;
    }
    const physicalId = result?.PhysicalResourceId || (event.RequestType === 'Create' ? event.RequestId : oldId!);
    if (event.RequestType === 'Delete' && physicalId !== oldId) {
      throw new Error(`DELETE: cannot change the physical resource ID from "${oldId}" to "${result?.PhysicalResourceId}" during deletion`);
    }
    return { Status: 'SUCCESS', Reason: 'SUCCESS', ...base, PhysicalResourceId: physicalId, NoEcho: result?.NoEcho, Data: result?.Data };
  } catch (err) {
    const e = err as Error;
    const physicalId = oldId || (event.RequestType === 'Create' ? CREATE_FAILED_MARKER : MISSING_PHYSICAL_ID_MARKER);
    return { Status: 'FAILED', Reason: e.stack || e.message || 'FAILED', ...base, PhysicalResourceId: physicalId, Data: undefined };
  }
}

/** The response as CloudFormation receives it (the bytes the framework PUTs). */
export function responseBytes(response: CfnResponse): number {
  return Buffer.byteLength(JSON.stringify(response), 'utf8');
}
