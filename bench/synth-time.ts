/**
 * Synth time: wall time per extra `InstanceExport` when synthesizing 50 of them, next to the
 * time per extra `s3.Bucket` in a plain stack of 50 buckets. Every sample runs in a fresh Node
 * process (bench/synth-child.ts through ts-node's transpile-only register, straight from src/)
 * so that module caches of one sample do not speed up the next.
 */
import { execFileSync } from 'child_process';
import * as path from 'path';
import { Section, Verdict, median, ms } from './table';

export const SYNTH_BUDGETS = {
  /** Time per extra export ÷ time per extra plain bucket. */
  MAX_RATIO: 2,
} as const;

const ROOT = path.join(__dirname, '..');
const SMALL = 1;
const LARGE = 50;

type Kind = 'exports' | 'buckets';

/** One sample: milliseconds to build and synthesize a stack of `count` constructs, and its resources. */
export function synthSample(kind: Kind, count: number): { ms: number; resources: number } {
  const out = execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join('bench', 'synth-child.ts'), kind, String(count)], {
    cwd: ROOT,
    env: {
      ...process.env,
      TS_NODE_PROJECT: path.join(ROOT, 'bench', 'tsconfig.json'),
      TS_NODE_TRANSPILE_ONLY: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(out);
}

/** The synth-time benchmark with `runs` samples per configuration. */
export function measureSynthTime(runs: number): Section {
  const samples: Record<string, number[]> = {};
  const resources: Record<string, number> = {};
  const configs: Array<[Kind, number]> = [['exports', SMALL], ['exports', LARGE], ['buckets', SMALL], ['buckets', LARGE]];
  // Interleaved, so that a slow phase of the machine hits every configuration alike.
  for (let r = 0; r < runs; r++) {
    for (const [kind, count] of configs) {
      const sample = synthSample(kind, count);
      (samples[`${kind}:${count}`] ??= []).push(sample.ms);
      resources[`${kind}:${count}`] = sample.resources;
    }
  }
  const m = (kind: Kind, count: number) => median(samples[`${kind}:${count}`]);
  const perExport = (m('exports', LARGE) - m('exports', SMALL)) / (LARGE - SMALL);
  const perBucket = (m('buckets', LARGE) - m('buckets', SMALL)) / (LARGE - SMALL);
  const ratio = perExport / perBucket;
  const resourcesPerExtra = (kind: Kind) => (resources[`${kind}:${LARGE}`] - resources[`${kind}:${SMALL}`]) / (LARGE - SMALL);
  const perExportResource = perExport / resourcesPerExtra('exports');
  const perBucketResource = perBucket / resourcesPerExtra('buckets');

  const row = (label: string, kind: Kind, per: number) => [
    label,
    ms(m(kind, SMALL)),
    ms(m(kind, LARGE)),
    ms(per),
    samples[`${kind}:${LARGE}`].map((v) => v.toFixed(0)).join(', '),
  ];
  const verdicts: Verdict[] = [{
    budget: `synth time per extra InstanceExport ≤ ${SYNTH_BUDGETS.MAX_RATIO}× per extra s3.Bucket`,
    measured: `${ratio.toFixed(2)}×`,
    ok: ratio <= SYNTH_BUDGETS.MAX_RATIO,
  }];
  return {
    title: 'Synth time',
    tables: [{
      headers: ['stack of n', `t(${SMALL}) median`, `t(${LARGE}) median`, `per extra = (t(${LARGE}) − t(${SMALL})) / ${LARGE - SMALL}`, `t(${LARGE}) runs (ms)`],
      rows: [
        row('InstanceExport (+ 1 VmExportBucket)', 'exports', perExport),
        row('s3.Bucket (baseline)', 'buckets', perBucket),
        ['ratio export / bucket', '', '', `${ratio.toFixed(2)}×`, ''],
      ],
      alignRight: [false, true, true, true, true],
    }],
    notes: [
      `For scale only (no budget): an extra export adds ${resourcesPerExtra('exports').toFixed(0)} resources, an extra bucket ` +
      `${resourcesPerExtra('buckets').toFixed(0)}; per extra resource that is ${ms(perExportResource)} vs ${ms(perBucketResource)} ` +
      `(${(perExportResource / perBucketResource).toFixed(2)}×).`,
      `Medians of ${runs} runs per configuration, configurations interleaved, each run in a fresh Node process ` +
      '(`node -r ts-node/register/transpile-only bench/synth-child.ts`, so src/ is used as it is, not a possibly stale lib/). ' +
      'Timed inside the child: new App → constructs → app.synth() into a temporary directory, after an untimed warm-up synth ' +
      'of one construct in the same process (module loading, TypeScript transpilation and one-time asset staging are outside the timed span).',
    ],
    verdicts,
  };
}
