/**
 * Handler bundles: bytes of each minified bundle (assets/lambda/<name>/index/index.js, AWS SDK
 * external) and, optionally, its cold module load time in Node.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Section, Verdict, bytes, int, median, ms, verdictCell } from './table';

export const BUNDLE_BUDGETS = {
  /**
   * Bytes of each minified bundle: 96 KB. (It was 25 KB, which pushed messages to be shortened,
   * then 64 KB; image export (issue 13) put a second kind of export into both functions: the
   * custom resource function grew from 47 KB to 70 KB, the export-task function from 37 KB to
   * 60 KB, all of it validation, preflight and messages. Clear messages and the retry, backstop
   * and record logic matter more than bytes: a bundle of this size loads in milliseconds.)
   */
  MAX_BYTES: 98304,
} as const;

const ROOT = path.join(__dirname, '..');
const ASSETS = path.join(ROOT, 'assets', 'lambda');

/**
 * The script a fresh Node process runs: time only the require of the bundle (process start,
 * this script's own compilation and the printing are outside the timed span).
 */
const LOAD_SCRIPT = [
  'const file = process.argv[1];',
  'const t0 = process.hrtime.bigint();',
  'require(file);',
  'const t1 = process.hrtime.bigint();',
  'process.stdout.write(String(Number(t1 - t0) / 1e6));',
].join('\n');

export interface BundleMeasurement {
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  /** Median cold require time (ms), when measured. */
  readonly loadMs?: number;
  readonly loadRuns?: number[];
  /** True when a handler source under lambda/ is newer than the bundle. */
  readonly stale: boolean;
}

/** The bundles on disk: assets/lambda/<name>/index/index.js. */
export function bundleFiles(): Array<{ name: string; file: string }> {
  if (!fs.existsSync(ASSETS)) return [];
  return fs.readdirSync(ASSETS)
    .map((name) => ({ name, file: path.join(ASSETS, name, 'index', 'index.js') }))
    .filter((b) => fs.existsSync(b.file))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function newestSourceMs(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMs(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** Median of `runs` cold requires of `file`, each in a fresh Node process. */
export function loadTimes(file: string, runs: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(process.execPath, ['-e', LOAD_SCRIPT, file], {
      cwd: ROOT,
      env: { ...process.env, AWS_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    times.push(Number(out));
  }
  return times;
}

/** Measures the bundles; `loadRuns` 0 skips the load time. */
export function measureBundles(loadRuns: number): Section {
  const files = bundleFiles();
  const sharedSources = newestSourceMs(path.join(ROOT, 'lambda', 'shared'));
  const measurements: BundleMeasurement[] = files.map(({ name, file }) => {
    const stat = fs.statSync(file);
    const sources = Math.max(sharedSources, newestSourceMs(path.join(ROOT, 'lambda', name)));
    const runs = loadRuns > 0 ? loadTimes(file, loadRuns) : undefined;
    return {
      name,
      file,
      bytes: stat.size,
      loadRuns: runs,
      loadMs: runs ? median(runs) : undefined,
      stale: sources > stat.mtimeMs,
    };
  });

  const verdicts: Verdict[] = [];
  if (measurements.length === 0) {
    verdicts.push({
      budget: 'handler bundles exist (assets/lambda/*/index/index.js)',
      measured: 'none found: run `npx projen bundle`',
      ok: false,
    });
  }
  for (const m of measurements) {
    verdicts.push({
      budget: `${m.name} bundle ≤ ${BUNDLE_BUDGETS.MAX_BYTES} B (${BUNDLE_BUDGETS.MAX_BYTES / 1024} KB)`,
      measured: `${m.bytes} B`,
      ok: m.bytes <= BUNDLE_BUDGETS.MAX_BYTES,
    });
  }

  const headers = ['bundle', 'bytes', 'budget', 'headroom', 'verdict'];
  if (loadRuns > 0) headers.push(`load time (median of ${loadRuns})`);
  const rows = measurements.map((m) => {
    const row = [
      `${path.relative(ROOT, m.file)}${m.stale ? ' (stale)' : ''}`,
      bytes(m.bytes),
      bytes(BUNDLE_BUDGETS.MAX_BYTES),
      `${int(BUNDLE_BUDGETS.MAX_BYTES - m.bytes)} B`,
      verdictCell(m.bytes <= BUNDLE_BUDGETS.MAX_BYTES),
    ];
    if (loadRuns > 0) row.push(m.loadMs !== undefined ? ms(m.loadMs) : '—');
    return row;
  });

  const notes = [
    'Minified esbuild bundles with @aws-sdk/* external (the Lambda Node.js runtime provides the SDK); sizes are the bytes on disk.',
  ];
  if (loadRuns > 0) {
    notes.push(`Load time: only the \`require\` of the bundle, timed with process.hrtime in a fresh Node ${process.version} process per run, ` +
      'median of the runs. It includes loading the external @aws-sdk clients the bundle requires (from node_modules here; on Lambda, from the runtime).');
  }
  const stale = measurements.filter((m) => m.stale).map((m) => m.name);
  if (stale.length > 0) {
    notes.push(`Stale: ${stale.join(', ')} older than their sources under lambda/: run \`npx projen bundle\` first.`);
  }
  return {
    title: 'Handler bundles',
    tables: [{ headers, rows, alignRight: headers.map((_h, i) => i === 1 || i === 2 || i === 3 || i === 5) }],
    notes,
    verdicts,
  };
}
