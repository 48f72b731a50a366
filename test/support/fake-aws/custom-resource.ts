/**
 * TEST CODE ONLY: CloudFormation's and Lambda's side of a Lambda-backed custom resource whose
 * handler answers CloudFormation itself (lambda/shared/cfn-response.ts).
 *
 * - CloudFormation invokes the function asynchronously, once per event, and reads the answer the
 *   function PUTs to the event's presigned ResponseURL.
 * - Lambda retries an asynchronous invocation that fails (an error thrown out of the handler, or
 *   the function's timeout) up to 2 more times, with the same event (and so the same RequestId).
 * - A timed-out invocation is cut off: whatever it had not sent yet is never sent. Tests race each
 *   invocation against a promise that rejects as soon as the fake sees a call that will never be
 *   answered; nothing sleeps.
 *
 * The entry point each test passes mirrors the handler's own (`answerCloudFormation(event, () =>
 * onEvent(event, clients))`), with the fake's clients instead of the module's.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { answerCloudFormation, CustomResourceResponse, CustomResourceResult } from '../../../lambda/shared/cfn-response';
import type { FetchLike } from '../../../lambda/shared/http-put';

/** The response document as CloudFormation receives it. */
export type CfnResponse = CustomResourceResponse;

/** The presigned URL CloudFormation hands the function for its answer (a credential). */
export const RESPONSE_URL = 'https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/arn%3Aaws%3Acloudformation/response?X-Amz-Signature=RESPONSESECRET';

/** Asynchronous invocations in all: the first and Lambda's 2 retries. */
export const LAMBDA_ASYNC_ATTEMPTS = 3;

/** The error the Lambda runtime reports for a timed-out invocation. */
export class LambdaTimeout extends Error {
  constructor(public readonly seconds: number) {
    super(`Task timed out after ${seconds.toFixed(2)} seconds`);
    this.name = 'Sandbox.Timedout';
  }
}

export interface InvokeOptions {
  /** Rejects with a LambdaTimeout when the handler is known to hang (first invocation only). */
  readonly timeout?: Promise<never>;
  /** The status the ResponseURL answers with, per PUT (default 200). */
  readonly putAnswers?: number[];
}

/** What CloudFormation and Lambda saw of one event. */
export interface InvocationRecord {
  /** The documents PUT to the ResponseURL, in order (the last one counts). */
  readonly responses: CfnResponse[];
  /** Lambda invocations for the event (1 unless an invocation failed). */
  readonly invocations: number;
  /** The last answer CloudFormation received; undefined when none arrived. */
  readonly response?: CfnResponse;
}

/** The event as CloudFormation sends it to the function (with the presigned ResponseURL). */
function withResponseUrl(event: CloudFormationCustomResourceEvent): CloudFormationCustomResourceEvent {
  return { ...JSON.parse(JSON.stringify(event)), ResponseURL: RESPONSE_URL };
}

/**
 * Delivers one custom resource event to a handler as CloudFormation and Lambda do, and returns
 * what CloudFormation received.
 */
export async function invokeCustomResource(
  event: CloudFormationCustomResourceEvent,
  onEvent: (event: CloudFormationCustomResourceEvent) => Promise<CustomResourceResult>,
  options: InvokeOptions = {},
): Promise<InvocationRecord> {
  const responses: CfnResponse[] = [];
  const answers = [...(options.putAnswers ?? [])];
  const fetch: FetchLike = async (url, init) => {
    if (url !== RESPONSE_URL) throw new Error('fake CloudFormation: the answer went to another URL');
    const status = answers.length > 0 ? answers.shift()! : 200;
    if (status === 200) responses.push(JSON.parse(init.body));
    return { ok: status === 200, status };
  };
  let invocations = 0;
  for (let attempt = 1; attempt <= LAMBDA_ASYNC_ATTEMPTS; attempt++) {
    invocations++;
    const delivered = withResponseUrl(event);
    const run = answerCloudFormation(delivered, () => onEvent(delivered), { fetch, sleep: async () => undefined });
    try {
      await (attempt === 1 && options.timeout ? Promise.race([run, options.timeout]) : run);
      break;
    } catch {
      // A failed invocation: Lambda tries the same event again.
    }
  }
  return { responses, invocations, response: responses[responses.length - 1] };
}

/** The response as CloudFormation receives it (bytes of the JSON document). */
export function responseBytes(response: CfnResponse): number {
  return Buffer.byteLength(JSON.stringify(response), 'utf8');
}
