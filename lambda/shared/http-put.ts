/**
 * A PUT of a small JSON document to a presigned S3 URL (a wait condition handle, or a custom
 * resource's ResponseURL), with a per-attempt timeout and retries. The URL is a credential: it is
 * never logged nor put into an error message.
 */
import { REQUEST_TIMEOUT_MS } from './clients';

/** The fetch function used to send (replaceable in tests). */
export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal?: AbortSignal }) =>
Promise<{ ok: boolean; status: number }>;

/** How a PUT is sent and retried. */
export interface PutOptions {
  readonly fetch?: FetchLike;
  /** Attempts in all (default 4). */
  readonly attempts?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Milliseconds one PUT may take before it is abandoned and retried (default 10 s). */
  readonly attemptTimeoutMs?: number;
}

/** The outcome of a PUT: done, or what the last attempt saw (no URL in it). */
export type PutResult = { readonly ok: true } | { readonly ok: false; readonly last: string };

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One PUT, abandoned after `timeoutMs` even if the transport ignores the abort signal. */
async function putOnce(send: FetchLike, url: string, body: string, timeoutMs: number): Promise<{ ok: boolean; status: number }> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      const error = new Error(`no answer within ${timeoutMs} ms`);
      error.name = 'TimeoutError';
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([send(url, { method: 'PUT', headers: { 'Content-Type': '' }, body, signal: controller.signal }), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * PUTs `body` with an empty Content-Type (what presigned URLs of CloudFormation are signed
 * with). Each attempt is abandoned after `attemptTimeoutMs`. Retries network errors, timeouts
 * and 5xx answers with backoff (0.5 s, 1 s, 2 s, ... at most 8 s); stops at a 4xx answer (e.g.
 * an expired URL).
 */
export async function putWithRetries(url: string, body: string, options: PutOptions = {}): Promise<PutResult> {
  const send: FetchLike = options.fetch ?? ((u, init) => fetch(u, init));
  const attempts = options.attempts ?? 4;
  const sleep = options.sleep ?? defaultSleep;
  const timeoutMs = options.attemptTimeoutMs ?? REQUEST_TIMEOUT_MS;
  let last = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const res = await putOnce(send, url, body, timeoutMs);
      if (res.ok) {
        return { ok: true };
      }
      last = `HTTP ${res.status}`;
      if (res.status < 500) {
        break;
      }
    } catch (err) {
      // The error text of a failed request may contain the URL: keep only its name.
      last = `network error (${(err as { name?: string } | undefined)?.name ?? 'Error'})`;
    }
    if (attempt < attempts) {
      await sleep(Math.min(8000, 500 * 2 ** (attempt - 1)));
    }
  }
  return { ok: false, last };
}
