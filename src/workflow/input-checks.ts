import { Duration, Token } from 'aws-cdk-lib';
import { PREFIX_FORBIDDEN_CHARACTERS } from '../internal';

/**
 * Synth-time checks of the workflow input helpers (WorkflowExportInputs, WorkflowImageExportInputs):
 * internal, not part of the jsii API.
 */

const MIN_DEADLINE = Duration.minutes(1);
const MAX_DEADLINE = Duration.days(7);

/** A token, or a placeholder the starting service fills in. */
export function isPlaceholder(value: string): boolean {
  return Token.isUnresolved(value) || /<aws\.scheduler\.[^>]+>/.test(value) || /#\{[^}]+\}/.test(value);
}

/** True for a value known at synth time (not a token or a placeholder of the starting service). */
export function known(value: string | undefined): value is string {
  return typeof value === 'string' && !isPlaceholder(value);
}

/** The fields both kinds of input share, as the shared checks read them. */
export interface CommonInputFields {
  readonly s3Prefix?: string;
  readonly description?: string;
  readonly deadline?: Duration;
  readonly tags?: { [key: string]: string };
}

/** The checks of the prefix, description, deadline and tags (instance and image input alike). */
export function commonInputProblems(input: CommonInputFields): string[] {
  const errors: string[] = [];
  const prefix = input.s3Prefix;
  if (known(prefix)) {
    const forbidden = PREFIX_FORBIDDEN_CHARACTERS.filter((c) => prefix.includes(c));
    if (forbidden.length > 0) {
      errors.push(`s3Prefix '${prefix}' contains ${forbidden.map((c) => `'${c}'`).join(', ')}: choose a prefix without them.`);
    }
    if (prefix.startsWith('/')) {
      errors.push(`s3Prefix '${prefix}' starts with '/': S3 keys have no leading slash. Use '${prefix.replace(/^\/+/, '')}'.`);
    } else if (prefix !== '' && !prefix.endsWith('/')) {
      errors.push(`s3Prefix '${prefix}' does not end with '/': the service appends the task id directly. Use '${prefix}/'.`);
    }
  }
  if (known(input.description) && input.description.length > 255) {
    errors.push(`description is ${input.description.length} characters long: the service takes at most 255. Shorten it.`);
  }
  const deadline = input.deadline;
  if (deadline !== undefined && !deadline.isUnresolved()) {
    const seconds = deadline.toSeconds({ integral: false });
    if (!Number.isInteger(seconds) || seconds < MIN_DEADLINE.toSeconds() || seconds > MAX_DEADLINE.toSeconds()) {
      errors.push(`deadline is ${deadline.toHumanString()}: use whole seconds from 1 minute to 7 days.`);
    }
  }
  for (const key of Object.keys(input.tags ?? {})) {
    if (key.toLowerCase().startsWith('aws:') || key.startsWith('vm-export:')) {
      errors.push(`tags has the key '${key}': keys starting with 'aws:' or 'vm-export:' are reserved. Rename the tag.`);
    }
  }
  return errors;
}

/** The object without its undefined keys (the workflow applies its defaults to absent keys). */
export function withoutUndefined(out: { [key: string]: any }): { [key: string]: any } {
  for (const key of Object.keys(out)) {
    if (out[key] === undefined) {
      delete out[key];
    }
  }
  return out;
}
