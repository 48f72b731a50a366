/**
 * Template growth: resources and bytes of a stack with 1, 10 and 50 `InstanceExport`s (sharing
 * one VmExportBucket, and so one workflow and one provider), and what each extra export adds,
 * in a stack with a known region and in an environment-agnostic stack (region and account are
 * tokens: the canonical ID is a deploy-time value there).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Section, Verdict, bytes, int } from './table';
import { TargetEnvironment } from '../src/export-formats';
import { InstanceExport } from '../src/instance-export';
import { VmExportBucket } from '../src/vm-export-bucket';

export const TEMPLATE_BUDGETS = {
  /**
   * Resources one more export may add: 4 (the export, the wait condition handle, the wait
   * condition, and the Custom::VmExportAttributes resource that reads the wait condition's Data
   * so that the attributes are strings aws-cdk-lib's template validation accepts).
   */
  RESOURCES_PER_EXPORT: 4,
  /** Bytes (JSON.stringify of the template) one more export may add: 1.5 KB. */
  BYTES_PER_EXPORT: 1536,
} as const;

export const EXPORT_COUNTS = [1, 10, 50];

/** The two kinds of stack the budgets hold in. */
export enum StackKind {
  /** `env: { account, region }` given: the canonical ID is a literal. */
  KNOWN_REGION = 'known region',
  /** No `env`: region and account are tokens resolved at deploy time. */
  ENVIRONMENT_AGNOSTIC = 'environment-agnostic',
}

export const STACK_KINDS = [StackKind.KNOWN_REGION, StackKind.ENVIRONMENT_AGNOSTIC];

/** A distinct, valid instance id per export. */
export function instanceId(i: number): string {
  return `i-${i.toString(16).padStart(17, '0')}`;
}

/** Builds a stack with one VmExportBucket and `count` InstanceExports. */
export function buildExportStack(app: App, count: number, kind: StackKind = StackKind.KNOWN_REGION): Stack {
  const stack = kind === StackKind.KNOWN_REGION
    ? new Stack(app, `BenchExports${count}`, { env: { account: '123456789012', region: 'us-east-1' } })
    : new Stack(app, `BenchAgnosticExports${count}`);
  const bucket = new VmExportBucket(stack, 'Bucket');
  for (let i = 0; i < count; i++) {
    new InstanceExport(stack, `Export${i}`, {
      instanceId: instanceId(i + 1),
      bucket,
      targetEnvironment: TargetEnvironment.VMWARE,
    });
  }
  return stack;
}

export interface TemplateSize {
  readonly kind: StackKind;
  readonly exports: number;
  readonly resources: number;
  readonly bytes: number;
}

/** Synthesizes a stack with `count` exports (in a temporary directory) and measures its template. */
export function templateSize(count: number, kind: StackKind = StackKind.KNOWN_REGION): TemplateSize {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-vm-export-bench-'));
  try {
    const app = new App({ outdir });
    const stack = buildExportStack(app, count, kind);
    const template = app.synth().getStackByName(stack.stackName).template;
    return {
      kind,
      exports: count,
      resources: Object.keys(template.Resources ?? {}).length,
      bytes: Buffer.byteLength(JSON.stringify(template)),
    };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** Resources and bytes one more export adds, from the stacks with 1 and `sizes[i]` exports. */
export function perExtraExport(first: TemplateSize, s: TemplateSize): { resources: number; bytes: number } {
  const extra = s.exports - first.exports;
  return { resources: (s.resources - first.resources) / extra, bytes: (s.bytes - first.bytes) / extra };
}

/** The template-growth benchmark, in both kinds of stack. */
export function measureTemplateGrowth(): Section {
  const rows: string[][] = [];
  const verdicts: Verdict[] = [];
  for (const kind of STACK_KINDS) {
    const sizes = EXPORT_COUNTS.map((count) => templateSize(count, kind));
    const first = sizes[0];
    for (const s of sizes) {
      const per = s === first ? undefined : perExtraExport(first, s);
      rows.push([
        kind,
        String(s.exports),
        int(s.resources),
        bytes(s.bytes),
        per ? per.resources.toFixed(2) : '—',
        per ? bytes(per.bytes) : '—',
      ]);
    }
    for (const s of sizes.slice(1)) {
      const extra = s.exports - first.exports;
      const per = perExtraExport(first, s);
      verdicts.push({
        budget: `${kind}: resources per extra export, (n(${s.exports}) − n(1)) / ${extra} ≤ ${TEMPLATE_BUDGETS.RESOURCES_PER_EXPORT}`,
        measured: per.resources.toFixed(2),
        ok: per.resources <= TEMPLATE_BUDGETS.RESOURCES_PER_EXPORT,
      });
      verdicts.push({
        budget: `${kind}: bytes per extra export, (size(${s.exports}) − size(1)) / ${extra} ≤ ${TEMPLATE_BUDGETS.BYTES_PER_EXPORT}`,
        measured: per.bytes.toFixed(0),
        ok: per.bytes <= TEMPLATE_BUDGETS.BYTES_PER_EXPORT,
      });
    }
  }
  return {
    title: 'Template growth',
    tables: [{
      headers: ['stack', 'InstanceExports', 'resources', 'template bytes', 'resources per extra export', 'bytes per extra export'],
      rows,
    }],
    notes: [
      'One stack, one VmExportBucket, n InstanceExports (VMware, default options) sharing the stack\'s workflow and provider; ' +
      'bytes = UTF-8 bytes of JSON.stringify(template) of the synthesized template; per extra export = (x(n) − x(1)) / (n − 1).',
      'Known region: `env: { account: \'123456789012\', region: \'us-east-1\' }`. Environment-agnostic: no `env` ' +
      '(the bucket\'s canonical ID is chosen at deploy time by conditions on AWS::Region, defined once in the stack).',
    ],
    verdicts,
  };
}
