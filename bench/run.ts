/**
 * The benchmark (GitHub issue 6). One command:
 *
 *   npx ts-node --project bench/tsconfig.json --transpile-only bench/run.ts [--ci] [--with-tests] [--runs=N]
 *
 * Full mode (default): waiting cost (simulated exports vs the Provider framework's waiter),
 * template growth, Lambda invocations per custom resource event, synth time, handler bundles
 * (size and load time); `--with-tests` adds the test suite's wall time. Writes the output to
 * bench/RESULTS.md.
 * `--ci`: only the cheap subset (template growth, invocations per event, bundle sizes, a fleet
 * of 10 exports); writes no file. Full mode adds the fleet's baselines and mixed durations.
 * Exits 1 when a budget is broken (in both modes).
 */
import '../test/setup/with-resolvers';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { measureBundles } from './bundles';
import { measureFleet } from './fleet';
import { measureInvocations } from './invocations';
import { measureSynthTime } from './synth-time';
import { Section, formatSection, formatSummary } from './table';
import { measureTemplateGrowth } from './template-growth';
import { measureTestSuite } from './test-suite';
import { measureWaitingCost } from './waiting-cost';

interface Options {
  readonly ci: boolean;
  readonly withTests: boolean;
  readonly runs: number;
}

function parseArgs(argv: string[]): Options {
  let ci = false;
  let withTests = false;
  let runs = 5;
  for (const arg of argv) {
    if (arg === '--ci') ci = true;
    else if (arg === '--with-tests') withTests = true;
    else if (arg.startsWith('--runs=') && Number(arg.slice(7)) >= 1) runs = Math.floor(Number(arg.slice(7)));
    else throw new Error(`unknown argument ${arg}: use --ci, --with-tests, --runs=N`);
  }
  return { ci, withTests, runs };
}

function header(options: Options): string {
  const cpus = os.cpus();
  const mode = options.ci
    ? 'CI subset (--ci): template growth, invocations per custom resource event, bundle sizes, fleet of 10'
    : `full${options.withTests ? ' with the test suite' : ' (test suite skipped: --with-tests)'}, ${options.runs} runs per timing`;
  return [
    '# cdk-vm-export benchmark',
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Node: ${process.version} (${os.platform()} ${os.release()} ${os.arch()})`,
    `- Machine: ${cpus.length} × ${cpus[0]?.model?.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
    `- Load average at the start (1/5/15 min): ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')} (timings are only comparable on an otherwise idle machine)`,
    `- Mode: ${mode}`,
    `- Command: \`npx ts-node --project bench/tsconfig.json --transpile-only bench/run.ts${process.argv.slice(2).map((a) => ` ${a}`).join('')}\``,
    '',
  ].join('\n');
}

async function timed<T>(label: string, timings: string[], fn: () => T | Promise<T>): Promise<T> {
  const started = process.hrtime.bigint();
  const result = await fn();
  timings.push(`${label} ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`);
  return result;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const started = process.hrtime.bigint();
  const timings: string[] = [];
  const sections: Section[] = [];
  const out: string[] = [header(options)];
  const emit = (section: Section) => {
    sections.push(section);
    const text = formatSection(section);
    out.push(text);
    process.stdout.write(`${text}\n`);
  };
  process.stdout.write(`${out[0]}\n`);

  if (!options.ci) emit(await timed('waiting cost', timings, measureWaitingCost));
  emit(await timed('template growth', timings, measureTemplateGrowth));
  emit(await timed('invocations', timings, measureInvocations));
  if (!options.ci) emit(await timed('synth time', timings, () => measureSynthTime(options.runs)));
  emit(await timed('bundles', timings, () => measureBundles(options.ci ? 0 : options.runs)));
  emit(await timed('fleet', timings, () => measureFleet(options.ci)));
  if (!options.ci && options.withTests) emit(await timed('test suite', timings, measureTestSuite));

  const summary = formatSummary(sections);
  const broken = sections.flatMap((s) => s.verdicts).filter((v) => !v.ok);
  const total = Number(process.hrtime.bigint() - started) / 1e9;
  const closing = [
    summary,
    `Benchmark time: ${total.toFixed(1)} s (${timings.join(', ')}); load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}.`,
    '',
    broken.length === 0 ? 'bench: all budgets hold' : `bench: ${broken.length} budget(s) broken`,
    '',
  ].join('\n');
  out.push(closing);
  process.stdout.write(`${closing}`);

  if (!options.ci) {
    const file = path.join(__dirname, 'RESULTS.md');
    fs.writeFileSync(file, out.join('\n'));
    process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
  }
  return broken.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(2);
  },
);
