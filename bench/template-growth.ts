/**
 * Template growth: resources and bytes of a stack with 1, 10 and 50 `InstanceExport`s (sharing
 * one VmExportBucket, and so one workflow and one provider), and what each extra export adds,
 * in a stack with a known region and in an environment-agnostic stack (region and account are
 * tokens: the canonical ID is a deploy-time value there). Also the fixed footprint (issue 12):
 * resources of a stack with only a VmExportBucket, and resources and Lambda functions of the
 * bucket plus its first export.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Section, Verdict, bytes, int, verdictCell } from './table';
import { VmExportBucket } from '../src/bucket/vm-export-bucket';
import { ImageExport } from '../src/image-export/image-export';
import { InstanceExport } from '../src/instance-export/instance-export';
import { TargetEnvironment } from '../src/workflow/export-formats';

export const TEMPLATE_BUDGETS = {
  /**
   * Resources of a stack with only a VmExportBucket: 7 (the bucket, its policy, the
   * Custom::VmExportBucketGrant resource, and its handler: role, policy, log group, function).
   */
  BUCKET_ONLY_RESOURCES: 7,
  /** Resources of a stack with a VmExportBucket and its first InstanceExport: 22. */
  FIRST_EXPORT_RESOURCES: 22,
  /**
   * Resources of a stack with a VmExportBucket and its first ImageExport: 24 (the instance
   * export's 22, plus the stack's VM Import/Export service role and its policy).
   */
  FIRST_IMAGE_EXPORT_RESOURCES: 24,
  /** AWS::Lambda::Function resources of a stack with a VmExportBucket and its first InstanceExport: 3. */
  FIRST_EXPORT_FUNCTIONS: 3,
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

/** What the exports of a benchmark stack export. */
export enum ExportKind {
  /** InstanceExport (VMware, default options). */
  INSTANCE = 'InstanceExport',
  /** ImageExport (VMDK, default options: the stack's service role). */
  IMAGE = 'ImageExport',
}

/** A distinct, valid AMI id per export. */
export function imageId(i: number): string {
  return `ami-${i.toString(16).padStart(17, '0')}`;
}

/** A distinct, valid instance id per export. */
export function instanceId(i: number): string {
  return `i-${i.toString(16).padStart(17, '0')}`;
}

/** Builds a stack with one VmExportBucket and `count` InstanceExports (or ImageExports). */
export function buildExportStack(app: App, count: number, kind: StackKind = StackKind.KNOWN_REGION, exportKind = ExportKind.INSTANCE): Stack {
  const name = `${exportKind === ExportKind.IMAGE ? 'Image' : ''}${count}`;
  const stack = kind === StackKind.KNOWN_REGION
    ? new Stack(app, `BenchExports${name}`, { env: { account: '123456789012', region: 'us-east-1' } })
    : new Stack(app, `BenchAgnosticExports${name}`);
  const bucket = new VmExportBucket(stack, 'Bucket');
  for (let i = 0; i < count; i++) {
    if (exportKind === ExportKind.IMAGE) {
      new ImageExport(stack, `Export${i}`, { imageId: imageId(i + 1), bucket });
    } else {
      new InstanceExport(stack, `Export${i}`, { instanceId: instanceId(i + 1), bucket, targetEnvironment: TargetEnvironment.VMWARE });
    }
  }
  return stack;
}

export interface TemplateSize {
  readonly kind: StackKind;
  readonly exportKind: ExportKind;
  readonly exports: number;
  readonly resources: number;
  readonly bytes: number;
  /** AWS::Lambda::Function resources. */
  readonly functions: number;
  /** Resources by type. */
  readonly types: Record<string, number>;
}

const LAMBDA_FUNCTION = 'AWS::Lambda::Function';

/** Resources by type of a template. */
export function resourceTypes(template: any): Record<string, number> {
  const types: Record<string, number> = {};
  for (const resource of Object.values<any>(template.Resources ?? {})) {
    types[resource.Type] = (types[resource.Type] ?? 0) + 1;
  }
  return types;
}

/**
 * Synthesizes a stack with `count` exports (in a temporary directory) and measures its template;
 * `count` 0 is a stack with only the VmExportBucket.
 */
export function templateSize(count: number, kind: StackKind = StackKind.KNOWN_REGION, exportKind = ExportKind.INSTANCE): TemplateSize {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-vm-export-bench-'));
  try {
    const app = new App({ outdir });
    const stack = buildExportStack(app, count, kind, exportKind);
    const template = app.synth().getStackByName(stack.stackName).template;
    const types = resourceTypes(template);
    return {
      kind,
      exportKind,
      exports: count,
      resources: Object.keys(template.Resources ?? {}).length,
      bytes: Buffer.byteLength(JSON.stringify(template)),
      functions: types[LAMBDA_FUNCTION] ?? 0,
      types,
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
  const footprintRows: string[][] = [];
  const verdicts: Verdict[] = [];
  const footprints: Array<{ kind: StackKind; bucketOnly: TemplateSize; first: TemplateSize }> = [];
  for (const kind of STACK_KINDS) {
    const sizes = EXPORT_COUNTS.map((count) => templateSize(count, kind));
    const first = sizes[0];
    const bucketOnly = templateSize(0, kind);
    footprints.push({ kind, bucketOnly, first });
    const bucketOk = bucketOnly.resources <= TEMPLATE_BUDGETS.BUCKET_ONLY_RESOURCES;
    const firstOk = first.resources <= TEMPLATE_BUDGETS.FIRST_EXPORT_RESOURCES;
    const functionsOk = first.functions <= TEMPLATE_BUDGETS.FIRST_EXPORT_FUNCTIONS;
    footprintRows.push(
      [kind, 'VmExportBucket only', int(bucketOnly.resources), `≤ ${TEMPLATE_BUDGETS.BUCKET_ONLY_RESOURCES}`,
        int(bucketOnly.functions), '—', verdictCell(bucketOk)],
      [kind, `VmExportBucket + ${first.exports} InstanceExport`, int(first.resources), `≤ ${TEMPLATE_BUDGETS.FIRST_EXPORT_RESOURCES}`,
        int(first.functions), `≤ ${TEMPLATE_BUDGETS.FIRST_EXPORT_FUNCTIONS}`, verdictCell(firstOk && functionsOk)],
    );
    verdicts.push(
      {
        budget: `${kind}: resources, VmExportBucket alone ≤ ${TEMPLATE_BUDGETS.BUCKET_ONLY_RESOURCES}`,
        measured: int(bucketOnly.resources),
        ok: bucketOk,
      },
      {
        budget: `${kind}: resources, VmExportBucket + first InstanceExport ≤ ${TEMPLATE_BUDGETS.FIRST_EXPORT_RESOURCES}`,
        measured: int(first.resources),
        ok: firstOk,
      },
      {
        budget: `${kind}: Lambda functions (${LAMBDA_FUNCTION}), VmExportBucket + first InstanceExport ≤ ${TEMPLATE_BUDGETS.FIRST_EXPORT_FUNCTIONS}`,
        measured: int(first.functions),
        ok: functionsOk,
      },
    );
    for (const s of sizes) {
      const per = s === first ? undefined : perExtraExport(first, s);
      rows.push([
        kind,
        `${s.exports} ${s.exportKind}`,
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
  measureImageExports(rows, footprintRows, verdicts);
  const types = [...new Set(footprints.flatMap((f) => [...Object.keys(f.bucketOnly.types), ...Object.keys(f.first.types)]))].sort();
  const typeRows = types.map((type) => [
    type,
    ...footprints.flatMap((f) => [int(f.bucketOnly.types[type] ?? 0), int(f.first.types[type] ?? 0)]),
  ]);
  typeRows.push(['total', ...footprints.flatMap((f) => [int(f.bucketOnly.resources), int(f.first.resources)])]);
  return {
    title: 'Template growth',
    tables: [
      {
        headers: ['stack', 'contents', 'resources', 'resources budget', 'Lambda functions', 'functions budget', 'verdict'],
        rows: footprintRows,
        alignRight: [false, false, true, true, true, true, false],
      },
      {
        headers: ['resource type', ...footprints.flatMap((f) => [`${f.kind}: bucket only`, `${f.kind}: bucket + 1 export`])],
        rows: typeRows,
      },
      {
        headers: ['stack', 'exports', 'resources', 'template bytes', 'resources per extra export', 'bytes per extra export'],
        rows,
      },
    ],
    notes: [
      'Footprint (issue 12): a stack with only a VmExportBucket, and the same stack with its first InstanceExport ' +
      '(VMware, default options), which adds the export\'s own resources, the stack\'s export workflow (the bucket grant\'s custom resource function serves the export too); ' +
      'Lambda functions = AWS::Lambda::Function resources. The second table lists the resources of both by type.',
      'One stack, one VmExportBucket, n InstanceExports (VMware, default options) or n ImageExports (VMDK, default options: the stack\'s service role) sharing the stack\'s workflow and custom resource function; ' +
      'bytes = UTF-8 bytes of JSON.stringify(template) of the synthesized template; per extra export = (x(n) − x(1)) / (n − 1).',
      'Known region: `env: { account: \'123456789012\', region: \'us-east-1\' }`. Environment-agnostic: no `env` ' +
      '(the bucket\'s canonical ID is chosen at deploy time by conditions on AWS::Region, defined once in the stack).',
    ],
    verdicts,
  };
}

/**
 * The same budgets for ImageExport (issue 13): the first ImageExport (which adds the stack's
 * VM Import/Export service role and its policy), and each further one (the same four resources
 * as an InstanceExport: the export, the wait condition handle, the wait condition, the attributes).
 */
function measureImageExports(rows: string[][], footprintRows: string[][], verdicts: Verdict[]): void {
  for (const kind of STACK_KINDS) {
    const sizes = EXPORT_COUNTS.map((count) => templateSize(count, kind, ExportKind.IMAGE));
    const first = sizes[0];
    const firstOk = first.resources <= TEMPLATE_BUDGETS.FIRST_IMAGE_EXPORT_RESOURCES && first.functions <= TEMPLATE_BUDGETS.FIRST_EXPORT_FUNCTIONS;
    footprintRows.push([kind, `VmExportBucket + ${first.exports} ImageExport`, int(first.resources), `≤ ${TEMPLATE_BUDGETS.FIRST_IMAGE_EXPORT_RESOURCES}`,
      int(first.functions), `≤ ${TEMPLATE_BUDGETS.FIRST_EXPORT_FUNCTIONS}`, verdictCell(firstOk)]);
    verdicts.push({
      budget: `${kind}: resources, VmExportBucket + first ImageExport ≤ ${TEMPLATE_BUDGETS.FIRST_IMAGE_EXPORT_RESOURCES} (functions ≤ ${TEMPLATE_BUDGETS.FIRST_EXPORT_FUNCTIONS})`,
      measured: `${int(first.resources)} (${int(first.functions)} functions)`,
      ok: firstOk,
    });
    for (const s of sizes) {
      const per = s === first ? undefined : perExtraExport(first, s);
      rows.push([kind, `${s.exports} ${s.exportKind}`, int(s.resources), bytes(s.bytes), per ? per.resources.toFixed(2) : '—', per ? bytes(per.bytes) : '—']);
      if (per) {
        const extra = s.exports - first.exports;
        verdicts.push(
          {
            budget: `${kind}: ImageExport resources per extra export, (n(${s.exports}) − n(1)) / ${extra} ≤ ${TEMPLATE_BUDGETS.RESOURCES_PER_EXPORT}`,
            measured: per.resources.toFixed(2),
            ok: per.resources <= TEMPLATE_BUDGETS.RESOURCES_PER_EXPORT,
          },
          {
            budget: `${kind}: ImageExport bytes per extra export, (size(${s.exports}) − size(1)) / ${extra} ≤ ${TEMPLATE_BUDGETS.BYTES_PER_EXPORT}`,
            measured: per.bytes.toFixed(0),
            ok: per.bytes <= TEMPLATE_BUDGETS.BYTES_PER_EXPORT,
          },
        );
      }
    }
  }
}
