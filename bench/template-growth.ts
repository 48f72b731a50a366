/**
 * Template growth: resources and bytes of a stack with 1, 10 and 50 `InstanceExport`s (sharing
 * one VmExportBucket, and so one workflow and one provider), and what each extra export adds.
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
  /** Resources one more export may add. */
  RESOURCES_PER_EXPORT: 3,
  /** Bytes (JSON.stringify of the template) one more export may add. */
  BYTES_PER_EXPORT: 3072,
} as const;

export const EXPORT_COUNTS = [1, 10, 50];

/** A distinct, valid instance id per export. */
export function instanceId(i: number): string {
  return `i-${i.toString(16).padStart(17, '0')}`;
}

/** Builds a stack with one VmExportBucket and `count` InstanceExports. */
export function buildExportStack(app: App, count: number): Stack {
  const stack = new Stack(app, `BenchExports${count}`, { env: { account: '123456789012', region: 'us-east-1' } });
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
  readonly exports: number;
  readonly resources: number;
  readonly bytes: number;
}

/** Synthesizes a stack with `count` exports (in a temporary directory) and measures its template. */
export function templateSize(count: number): TemplateSize {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-vm-export-bench-'));
  try {
    const app = new App({ outdir });
    const stack = buildExportStack(app, count);
    const template = app.synth().getStackByName(stack.stackName).template;
    return {
      exports: count,
      resources: Object.keys(template.Resources ?? {}).length,
      bytes: Buffer.byteLength(JSON.stringify(template)),
    };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** The template-growth benchmark. */
export function measureTemplateGrowth(): Section {
  const sizes = EXPORT_COUNTS.map(templateSize);
  const first = sizes[0];
  const rows = sizes.map((s) => [
    String(s.exports),
    int(s.resources),
    bytes(s.bytes),
    s === first ? '—' : ((s.resources - first.resources) / (s.exports - first.exports)).toFixed(2),
    s === first ? '—' : bytes((s.bytes - first.bytes) / (s.exports - first.exports)),
  ]);
  const verdicts: Verdict[] = [];
  for (const s of sizes.slice(1)) {
    const extra = s.exports - first.exports;
    const resources = (s.resources - first.resources) / extra;
    const perBytes = (s.bytes - first.bytes) / extra;
    verdicts.push({
      budget: `resources per extra export, (n(${s.exports}) − n(1)) / ${extra} ≤ ${TEMPLATE_BUDGETS.RESOURCES_PER_EXPORT}`,
      measured: resources.toFixed(2),
      ok: resources <= TEMPLATE_BUDGETS.RESOURCES_PER_EXPORT,
    });
    verdicts.push({
      budget: `bytes per extra export, (size(${s.exports}) − size(1)) / ${extra} ≤ ${TEMPLATE_BUDGETS.BYTES_PER_EXPORT}`,
      measured: perBytes.toFixed(0),
      ok: perBytes <= TEMPLATE_BUDGETS.BYTES_PER_EXPORT,
    });
  }
  return {
    title: 'Template growth',
    tables: [{
      headers: ['InstanceExports', 'resources', 'template bytes', 'resources per extra export', 'bytes per extra export'],
      rows,
    }],
    notes: [
      'One stack, one VmExportBucket, n InstanceExports (VMware, default options) sharing the stack\'s workflow and provider; ' +
      'bytes = UTF-8 bytes of JSON.stringify(template) of the synthesized template; per extra export = (x(n) − x(1)) / (n − 1).',
    ],
    verdicts,
  };
}
