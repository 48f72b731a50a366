/**
 * One synth-time sample, run by synth-time.ts in a fresh Node process:
 *
 *   node -r ts-node/register/transpile-only bench/synth-child.ts <exports|buckets> <count>
 *
 * Loads the modules, synthesizes one warm-up stack with a single construct (untimed: it pays
 * for aws-cdk-lib's lazily loaded modules and the one-time asset staging), then times building
 * and synthesizing a stack with `count` constructs in a fresh App. Prints
 * `{"ms": <number>, "resources": <number>}`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { buildExportStack } from './template-growth';

type Kind = 'exports' | 'buckets';

function build(app: App, kind: Kind, count: number): Stack {
  if (kind === 'exports') return buildExportStack(app, count);
  const stack = new Stack(app, `BenchBuckets${count}`, { env: { account: '123456789012', region: 'us-east-1' } });
  for (let i = 0; i < count; i++) {
    new s3.Bucket(stack, `Bucket${i}`);
  }
  return stack;
}

function synthOnce(kind: Kind, count: number): { ms: number; resources: number } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-vm-export-bench-'));
  try {
    const started = process.hrtime.bigint();
    const app = new App({ outdir });
    const stack = build(app, kind, count);
    const assembly = app.synth();
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
    const resources = Object.keys(assembly.getStackByName(stack.stackName).template.Resources ?? {}).length;
    return { ms: elapsed, resources };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

const kind = process.argv[2] as Kind;
const count = Number(process.argv[3]);
if ((kind !== 'exports' && kind !== 'buckets') || !(count >= 1)) {
  throw new Error('usage: synth-child.ts <exports|buckets> <count>');
}
synthOnce(kind, 1);
process.stdout.write(JSON.stringify(synthOnce(kind, count)));
