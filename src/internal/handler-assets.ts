import * as path from 'path';
import { aws_lambda as lambda } from 'aws-cdk-lib';

/**
 * The code of a handler bundled at library build time into `assets/lambda/<name>/index`.
 * Works from `src/internal/` (tests) and from `lib/internal/` (the published package) alike.
 */
export function handlerCode(name: string): lambda.Code {
  return lambda.Code.fromAsset(path.join(__dirname, '..', '..', 'assets', 'lambda', name, 'index'));
}
