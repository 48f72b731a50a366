/**
 * Test suite: wall time of the full jest run (optional in the full benchmark: `--with-tests`).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Section, Verdict, duration, int } from './table';

export const TEST_BUDGETS = {
  /** Seconds for the whole jest run (on a 2-core machine). */
  MAX_SECONDS: 180,
} as const;

const ROOT = path.join(__dirname, '..');

/** The command: what the projen `test` task's jest step runs. */
export const TEST_COMMAND = ['npx', 'jest', '--passWithNoTests', '--ci'];

/** Runs the test suite once and times it. */
export function measureTestSuite(): Section {
  const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-vm-export-bench-')), 'jest.json');
  const started = process.hrtime.bigint();
  const result = spawnSync(TEST_COMMAND[0], [...TEST_COMMAND.slice(1), '--json', `--outputFile=${report}`], {
    cwd: ROOT,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  let passed = NaN;
  let failed = NaN;
  const failures: string[] = [];
  if (fs.existsSync(report)) {
    const json = JSON.parse(fs.readFileSync(report, 'utf8'));
    passed = json.numPassedTests;
    failed = json.numFailedTests;
    for (const file of json.testResults ?? []) {
      const failedTests = (file.assertionResults ?? []).filter((a: any) => a.status === 'failed');
      for (const a of failedTests) failures.push(`${path.relative(ROOT, file.name)}: ${a.fullName}`);
      if (failedTests.length === 0 && file.status === 'failed') failures.push(`${path.relative(ROOT, file.name)}: ${String(file.message).split('\n')[0]}`);
    }
  }
  fs.rmSync(path.dirname(report), { recursive: true, force: true });

  const verdicts: Verdict[] = [
    {
      budget: `test suite wall time ≤ ${TEST_BUDGETS.MAX_SECONDS} s (${os.cpus().length} cores here)`,
      measured: `${seconds.toFixed(1)} s`,
      ok: seconds <= TEST_BUDGETS.MAX_SECONDS,
    },
    {
      budget: 'test suite passes',
      measured: `exit ${result.status}, ${int(passed)} passed, ${int(failed)} failed`,
      ok: result.status === 0 && failed === 0 && passed > 0,
    },
  ];
  return {
    title: 'Test suite',
    tables: [{
      headers: ['command', 'wall time', 'tests passed', 'tests failed', 'exit'],
      rows: [[TEST_COMMAND.join(' '), `${seconds.toFixed(1)} s (${duration(seconds)})`, int(passed), int(failed), String(result.status)]],
    }],
    notes: [
      'The jest step of the projen `test` task (type-check, bundle and eslint not included), run once.',
      ...failures.slice(0, 10).map((f) => `Failed: ${f}`),
    ],
    verdicts,
  };
}
