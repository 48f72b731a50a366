/**
 * Reading the `Cause` Step Functions passes along with a caught error.
 */

/**
 * The readable text of a caught error's Cause. A Lambda error's Cause is a JSON string
 * `{"errorType","errorMessage","trace"}`: its errorMessage is returned. Other causes (plain
 * text, SDK integration errors) are returned as they are.
 */
export function causeText(cause: string | undefined): string {
  if (!cause) {
    return '';
  }
  const trimmed = cause.trim();
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as { errorMessage?: unknown; Message?: unknown; message?: unknown };
      for (const v of [parsed.errorMessage, parsed.Message, parsed.message]) {
        if (typeof v === 'string' && v !== '') {
          return v;
        }
      }
    } catch {
      // not JSON: use the text as it is
    }
  }
  return cause;
}
