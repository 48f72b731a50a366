/**
 * Deterministic names: client tokens, execution names and export hashes.
 */
import { createHash } from 'crypto';

/** Lower-case hex SHA-256 of `text`. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The first 32 hex characters of the SHA-256 of the parts joined with '|'. */
export function shortHash(parts: readonly string[]): string {
  return sha256Hex(parts.join('|')).slice(0, 32);
}

/** Prefix of every execution the custom resource starts; the rest is the client token. */
export const EXECUTION_NAME_PREFIX = 'vmx-';

/** The client token of one custom resource request. */
export function clientTokenFor(stackId: string, logicalResourceId: string, requestId: string): string {
  return shortHash([stackId, logicalResourceId, requestId]);
}

/**
 * The execution name that carries a client token and, once known, the export task id
 * (`vmx-<token>` or `vmx-<token>-<task id>`, at most 80 characters): the custom resource's
 * physical id is the execution ARN, so the task id then outlives DescribeExportTasks' memory.
 */
export function executionNameFor(clientToken: string, exportTaskId?: string): string {
  return EXECUTION_NAME_PREFIX + clientToken + (exportTaskId ? `-${exportTaskId}` : '');
}

const EXECUTION_NAME = /^vmx-([^-]+)(?:-(export-[A-Za-z0-9-]+))?$/;

/** The client token carried by an execution name, or undefined for other names. */
export function clientTokenOfExecutionName(name: string): string | undefined {
  return EXECUTION_NAME.exec(name)?.[1];
}

/** The export task id carried by an execution name, or undefined. */
export function exportTaskIdOfExecutionName(name: string): string | undefined {
  return EXECUTION_NAME.exec(name)?.[2];
}

/**
 * The hash of the export-affecting properties of one custom resource (tagged on its task so a
 * rollback can find a completed export of the same properties).
 */
export function exportHashFor(
  stackId: string,
  logicalResourceId: string,
  props: Readonly<Record<string, unknown>>,
  keys: readonly string[],
): string {
  return shortHash([stackId, logicalResourceId, ...keys.map((k) => valueText(props[k]))]);
}

function valueText(v: unknown): string {
  if (v === undefined || v === null) {
    return '';
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}
