/**
 * Settings of every AWS SDK client the handlers create: each HTTP attempt is cut off after a
 * fixed time and the attempts are bounded, so that no call can hang a step until its Lambda
 * timeout (a hung step would leave a deployment waiting for its wait condition).
 */

/** Milliseconds one HTTP attempt may take (connection included) before it is abandoned. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** Milliseconds to establish the connection of one attempt. */
export const CONNECTION_TIMEOUT_MS = 5_000;

/** Attempts per SDK call in all (the SDK's standard retry strategy with backoff). */
export const MAX_ATTEMPTS = 4;

/** The configuration every SDK client of the handlers takes. */
export const CLIENT_CONFIG = {
  maxAttempts: MAX_ATTEMPTS,
  requestHandler: { requestTimeout: REQUEST_TIMEOUT_MS, connectionTimeout: CONNECTION_TIMEOUT_MS },
} as const;
