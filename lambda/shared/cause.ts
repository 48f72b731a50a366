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
  const doc = parseObject(cause);
  for (const v of [doc?.errorMessage, doc?.Message, doc?.message]) {
    if (typeof v === 'string' && v !== '') {
      return v;
    }
  }
  return cause;
}

/**
 * What a JSON text holds (JSON.parse allows white space around it), or undefined for text that
 * is not JSON. Reading a field of an array, a string or a number gives undefined, so only an
 * object with the field counts.
 */
function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text) as Record<string, unknown> | undefined;
  } catch {
    return undefined; // not JSON: the text is used as it is
  }
}
