/**
 * TEST CODE ONLY: makes the local interpreter read JSONPath the way Step Functions does.
 *
 * Step Functions evaluates paths with Jayway JsonPath: an INDEFINITE path (a wildcard `*`, a deep
 * scan `..`, a filter `[?(...)]`, a slice or a union) yields a list of every match, empty when
 * nothing matches; only a definite path that finds nothing fails (States.Runtime). The
 * aws-local-stepfunctions interpreter calls jsonpath-plus with `wrap: false`, which answers
 * `undefined` for an indefinite path without a match, and the interpreter then fails the state.
 * Emptiness as a list is what AWS was reported to answer for an empty wildcard match (LocalStack
 * issue 12318, recorded against AWS); the AWS documentation is silent. The fleet workflow's
 * listing depends on it (a page or a fleet with no instance), so the simulation follows AWS.
 *
 * Installed by requiring this module before the interpreter runs (test/setup/env.ts and
 * test/support/local-sfn.ts).
 */
import * as path from 'path';

// The copy of jsonpath-plus the interpreter itself loads (a dependency of aws-local-stepfunctions).
const interpreterDir = path.dirname(require.resolve('aws-local-stepfunctions'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jsonpath = require(require.resolve('jsonpath-plus', { paths: [interpreterDir] })) as {
  JSONPath: (...args: any[]) => unknown;
  __vmExportJayway?: boolean;
};

/** True for a path Jayway treats as indefinite (outside bracketed string names). */
export function isIndefinitePath(expression: string): boolean {
  const withoutNames = expression.replace(/\['[^']*'\]|\["[^"]*"\]/g, '[name]');
  return /\.\.|\*|\[\?|\[\(|\[[^\]]*[:,][^\]]*\]/.test(withoutNames);
}

if (!jsonpath.__vmExportJayway) {
  const original = jsonpath.JSONPath;
  const jayway = function (this: unknown, options: any, ...rest: any[]) {
    if (options && typeof options === 'object' && options.wrap === false && typeof options.path === 'string' && isIndefinitePath(options.path)) {
      const out = original.call(this, { ...options, wrap: true }, ...rest);
      return out === undefined ? [] : out;
    }
    return original.call(this, options, ...rest);
  };
  Object.assign(jayway, original);
  jsonpath.JSONPath = jayway as typeof original;
  jsonpath.__vmExportJayway = true;
}
