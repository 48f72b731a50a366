/**
 * Length limits of the texts the handlers hand to CloudFormation and Step Functions.
 */

/** Marker appended to a shortened text. */
export const ELLIPSIS = ' [...]';

/** Longest error message / signal reason / workflow cause the library produces. */
export const MAX_REASON_CHARS = 1000;

/** A custom resource response (reason and data included) must fit in this many bytes. */
export const MAX_CUSTOM_RESOURCE_RESPONSE_BYTES = 4096;

/** Shortens `text` to at most `max` characters, ending with the ellipsis marker when cut. */
export function truncate(text: string, max: number = MAX_REASON_CHARS): string {
  if (text.length <= max) {
    return text;
  }
  if (max <= ELLIPSIS.length) {
    return text.slice(0, max);
  }
  return text.slice(0, max - ELLIPSIS.length) + ELLIPSIS;
}

/**
 * Shortens `text` so that its UTF-8 encoding takes at most `maxBytes` bytes (ellipsis
 * marker included when cut). Never splits a character.
 */
export function truncateBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) {
    return text;
  }
  const budget = Math.max(0, maxBytes - Buffer.byteLength(ELLIPSIS, 'utf8'));
  let out = '';
  let used = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (used + size > budget) {
      break;
    }
    out += ch;
    used += size;
  }
  return budget === 0 ? out : out + ELLIPSIS;
}
