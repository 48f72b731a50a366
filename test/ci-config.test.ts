/**
 * CI that does not flake and does not edit files: the test command (projen's `test` task and
 * every task it spawns) never runs a fixer, fixing is its own task, jest's timeout is generous
 * for a shared machine, no test waits in real time, and CI runs the newest-aws-cdk-lib job.
 */
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
interface Step { readonly exec?: string; readonly execArgs?: string[]; readonly spawn?: string }
interface Task { readonly name: string; readonly steps?: Step[] }
const TASKS: Record<string, Task> = JSON.parse(fs.readFileSync(path.join(ROOT, '.projen', 'tasks.json'), 'utf8')).tasks;
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

/** Every command line the task runs, through the tasks it spawns. */
function commandsOf(name: string, seen = new Set<string>()): string[] {
  if (seen.has(name)) return [];
  seen.add(name);
  const task = TASKS[name];
  if (!task) throw new Error(`no task ${name}`);
  return (task.steps ?? []).flatMap((step) => step.spawn
    ? commandsOf(step.spawn, seen)
    : [step.exec ?? (step.execArgs ?? []).join(' ')]);
}

describe('the test command', () => {
  const commands = commandsOf('test');

  test('runs jest and eslint', () => {
    expect(commands.some((c) => /^jest\b/.test(c))).toBe(true);
    expect(commands.some((c) => /^eslint\b/.test(c))).toBe(true);
  });

  test('edits no file: no --fix, no snapshot update', () => {
    expect(commands.filter((c) => /--fix\b|--updateSnapshot|(^|\s)-u(\s|$)/.test(c))).toEqual([]);
  });

  test('fixing lint findings is a separate task over the same folders', () => {
    const [fix] = commandsOf('lint:fix');
    expect(fix).toMatch(/^eslint .*--fix/);
    for (const dir of ['src', 'test', 'lambda', 'examples']) expect(fix.split(' ')).toContain(dir);
  });
});

describe('tests that do not depend on the machine\'s speed', () => {
  test('jest gives every test a generous timeout (jest\'s default 5 s fails on a loaded machine)', () => {
    expect(PACKAGE.jest.testTimeout).toBeGreaterThanOrEqual(60_000);
  });

  test('no test waits in real time: no real-time Wait override, handler delay or real deadline', () => {
    const files = fs.readdirSync(path.join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && f !== 'ci-config.test.ts' && !f.endsWith('local-sfn.ts'));
    const offenders = files.filter((f) => /realTimeWaits|handlerDelayMs|deadlineRealTimeMs|realRetryIntervals/
      .test(fs.readFileSync(path.join(ROOT, 'test', f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});

describe('CI', () => {
  const run = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');

  test('runs the newest-aws-cdk-lib compatibility job with a message that says what to do', () => {
    expect(run).toMatch(/npx projen compat:newest \|\| \{ echo "[^"]*KEEP_COMPAT_DIR=1 npx projen compat:newest[^"]*"; failed=1; \}/);
    expect(commandsOf('compat:newest')).toEqual(['bash test/compat-newest-cdk.sh']);
  });
});
