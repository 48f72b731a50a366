import { aws_lambda as lambda } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** The oldest Node.js major version the bundled handlers are built for. */
const MIN_NODE_MAJOR = 22;

function nodeMajor(runtime: lambda.Runtime): number {
  const match = /^nodejs(\d+)/.exec(runtime.name);
  return match ? Number(match[1]) : 0;
}

/**
 * The newest Node.js runtime the consumer's aws-cdk-lib knows in the scope's region,
 * never older than Node.js 22 (the handlers are bundled for it).
 */
export function handlerRuntime(scope: IConstruct): lambda.Runtime {
  const latest = lambda.determineLatestNodeRuntime(scope);
  return nodeMajor(latest) >= MIN_NODE_MAJOR ? latest : lambda.Runtime.NODEJS_22_X;
}
