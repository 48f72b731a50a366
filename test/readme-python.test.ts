/**
 * The README's Python example: it byte-compiles (python3 -m py_compile), every name it takes from
 * `cdk_vm_export` exists in the Python binding jsii-pacmak generates from this library's
 * assembly (classes, keyword arguments, enum members, properties), and it is the same example as
 * the TypeScript one above it (the same props and attributes, in snake_case).
 *
 * Needs the jsii assembly (.jsii), which `npx projen compile` writes (the build compiles before
 * it tests); the binding's source is generated into a scratch folder with
 * `jsii-pacmak --code-only`, which needs no registry.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fencedBlocks } from './support/readme-snippets';

const ROOT = path.join(__dirname, '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const CHECKER = path.join(__dirname, 'support', 'python_snippet_check.py');

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no section ${heading}`);
  const next = markdown.indexOf('\n## ', start + heading.length + 1);
  return markdown.slice(start, next < 0 ? undefined : next);
}

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const pythonBlocks = fencedBlocks(README).filter((b) => b.lang === 'python');
const mainSection = section(README, '## A complete example');
const mainTs = fencedBlocks(mainSection).find((b) => b.lang === 'ts')!;
const mainPython = fencedBlocks(mainSection).find((b) => b.lang === 'python')!;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-vm-export-readme-python-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function runChecker(generated: string, snippet: string): { status: number | null; output: string } {
  const file = path.join(scratch, `snippet-${Math.random().toString(36).slice(2)}.py`);
  fs.writeFileSync(file, snippet);
  const result = spawnSync('python3', [CHECKER, generated, file, 'cdk_vm_export'], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('the README\'s Python example', () => {
  test('there is one, in "A complete example", next to the TypeScript one', () => {
    expect(pythonBlocks.length).toBeGreaterThanOrEqual(1);
    expect(mainPython).toBeDefined();
    expect(mainTs.code).toMatch(/^import \{[^}]*\} from 'cdk-vm-export';$/m);
    expect(mainPython.code).toMatch(/^from cdk_vm_export import /m);
  });

  test('every python block byte-compiles (python3 -m py_compile)', () => {
    pythonBlocks.forEach((block, i) => {
      const file = path.join(scratch, `readme_block_${i}.py`);
      fs.writeFileSync(file, `${block.code}\n`);
      const result = spawnSync('python3', ['-m', 'py_compile', file], {
        encoding: 'utf8',
        env: { ...process.env, PYTHONPYCACHEPREFIX: path.join(scratch, 'pycache') },
      });
      expect([block.line, result.status, result.stderr]).toEqual([block.line, 0, '']);
    });
  });

  test('py_compile catches a syntax error (the check is not vacuous)', () => {
    const file = path.join(scratch, 'broken.py');
    fs.writeFileSync(file, 'vm = InstanceExport(self, "Export",\n    instance_id="i-0123456789abcdef0"\n    bucket=export_bucket)\n');
    const result = spawnSync('python3', ['-m', 'py_compile', file], {
      encoding: 'utf8',
      env: { ...process.env, PYTHONPYCACHEPREFIX: path.join(scratch, 'pycache') },
    });
    expect(result.status).not.toBe(0);
  });

  test('it is the TypeScript example: the same construct ids, props and attributes, in snake_case', () => {
    const ids = [...mainTs.code.matchAll(/new (?:\w+\.)?\w+\(this, '(\w+)'/g)].map((m) => m[1]);
    expect(ids).toEqual(expect.arrayContaining(['ExportBucket', 'WebServerExport', 'ImageUri']));
    for (const id of ids) expect([id, mainPython.code.includes(`"${id}"`)]).toEqual([id, true]);
    const props = [...mainTs.code.matchAll(/^\s+(\w+): /gm)].map((m) => m[1]);
    expect(props).toEqual(expect.arrayContaining(['instanceId', 'bucket', 'targetEnvironment', 'timeout']));
    for (const prop of props) {
      expect([prop, mainPython.code.includes(`${snake(prop)}=`)]).toEqual([prop, true]);
    }
    const attributes = [...new Set([...mainTs.code.matchAll(/\bvm\.(\w+)/g)].map((m) => m[1]))];
    expect(attributes).toEqual(expect.arrayContaining(['exportObjectUri', 'exportObjectKey', 'exportTaskId']));
    for (const attribute of attributes) {
      expect([attribute, mainPython.code.includes(`vm.${snake(attribute)}`)]).toEqual([attribute, true]);
    }
  });

  describe('against the generated Python binding', () => {
    let generated = '';
    beforeAll(() => {
      const assembly = path.join(ROOT, '.jsii');
      if (!fs.existsSync(assembly)) {
        throw new Error('no .jsii assembly: run `npx projen compile` before this test (`npx projen build` does)');
      }
      const targets = JSON.parse(fs.readFileSync(assembly, 'utf8')).targets ?? {};
      if (!targets.python) throw new Error('the .jsii assembly has no python target: run `npx projen` and `npx projen compile`');
      execFileSync('npx', ['jsii-pacmak', '--code-only', '--targets', 'python', '--outdir', path.join(scratch, 'dist')], {
        cwd: ROOT,
        stdio: 'pipe',
        env: { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' },
      });
      generated = path.join(scratch, 'dist', 'python', 'src', 'cdk_vm_export', '__init__.py');
    }, 180_000);

    test('the binding is the module the README names (cdk_vm_export)', () => {
      expect(fs.existsSync(generated)).toBe(true);
    });

    test('every class, keyword argument, enum member and property the example uses exists', () => {
      for (const block of pythonBlocks) {
        const result = runChecker(generated, block.code);
        expect([block.line, result.status, result.output]).toEqual([block.line, 0, expect.stringMatching(/^checked: /)]);
      }
      const checked = runChecker(generated, mainPython.code).output;
      for (const name of ['VmExportBucket(expire_exports_after=)', 'InstanceExport(target_environment=)',
        'TargetEnvironment.VMWARE', 'InstanceExport.export_object_uri', 'InstanceExport.export_task_id']) {
        expect(checked).toContain(name);
      }
    });

    test('the check catches a wrong keyword, a wrong property and a wrong enum member (not vacuous)', () => {
      const broken = mainPython.code
        .replace('instance_id=', 'instanceId=')
        .replace('vm.export_object_key', 'vm.export_key')
        .replace('TargetEnvironment.VMWARE', 'TargetEnvironment.VMWARE_OVA');
      const result = runChecker(generated, broken);
      expect(result.status).toBe(1);
      expect(result.output).toContain('InstanceExport() takes no keyword argument instanceId');
      expect(result.output).toContain('InstanceExport has no member export_key');
      expect(result.output).toContain('TargetEnvironment has no member VMWARE_OVA');
    });
  });
});
