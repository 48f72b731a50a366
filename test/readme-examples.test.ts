/**
 * The README's TypeScript code blocks compile: each ```ts block becomes a module whose import
 * lines are kept (with 'cdk-vm-export' pointing at src/) and whose other lines are the body of a
 * Stack constructor (test/support/readme-snippets.ts); the modules are type-checked together
 * with the compiler API against the test tsconfig. The README's JSON blocks must parse.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import * as library from '../src';
import { fencedBlocks, snippetStackModule } from './support/readme-snippets';

const ROOT = path.join(__dirname, '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** Names a snippet may use without importing them (it is the body of a Stack constructor). */
const LIBRARY_EXPORTS = Object.keys(library).sort();

/** The module a snippet is checked as. */
function fixture(code: string, index: number): string {
  return snippetStackModule(code, `ReadmeSnippet${index}`, '../src', LIBRARY_EXPORTS);
}

function typeCheck(files: Map<string, string>): ts.Diagnostic[] {
  const configPath = path.join(ROOT, 'test', 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!parsed) throw new Error(`cannot read ${configPath}`);
  // Snippets show one thing each: unused names are not errors there.
  const options: ts.CompilerOptions = { ...parsed.options, noEmit: true, noUnusedLocals: false, noUnusedParameters: false };
  const host = ts.createCompilerHost(options, true);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const text = files.get(path.resolve(fileName));
    return text !== undefined
      ? ts.createSourceFile(fileName, text, languageVersion, true)
      : getSourceFile(fileName, languageVersion, onError, shouldCreate);
  };
  host.fileExists = (fileName) => files.has(path.resolve(fileName)) || fileExists(fileName);
  host.readFile = (fileName) => files.get(path.resolve(fileName)) ?? readFile(fileName);
  const program = ts.createProgram([...files.keys()], options, host);
  const diagnostics = [...program.getSyntacticDiagnostics(), ...program.getSemanticDiagnostics()];
  return diagnostics.filter((d) => d.file === undefined || files.has(path.resolve(d.file.fileName)));
}

function format(diagnostics: ts.Diagnostic[], lineOf: Map<string, number>): string {
  return diagnostics.map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return message;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `README block at line ${lineOf.get(path.resolve(d.file.fileName))} (fixture line ${line + 1}): ${message}\n  ${d.file.text.split('\n')[line].trim()}`;
  }).join('\n');
}

describe('README code blocks', () => {
  const blocks = fencedBlocks(README);
  const tsBlocks = blocks.filter((b) => b.lang === 'ts' || b.lang === 'typescript');

  test('the README has TypeScript examples for the sections that show code', () => {
    expect(tsBlocks.length).toBeGreaterThanOrEqual(6);
    expect(LIBRARY_EXPORTS).toEqual(expect.arrayContaining(['InstanceExport', 'InstanceExportWorkflow', 'VmExportBucket']));
  });

  // One program for every snippet, plus a broken one that proves the check is not vacuous.
  const brokenFile = path.join(ROOT, 'test', '__readme_snippet_broken.ts');
  let diagnostics: ts.Diagnostic[] = [];
  const lineOf = new Map<string, number>();
  beforeAll(() => {
    const files = new Map<string, string>();
    tsBlocks.forEach((block, i) => {
      const fileName = path.join(ROOT, 'test', `__readme_snippet_${i}.ts`);
      files.set(fileName, fixture(block.code, i));
      lineOf.set(fileName, block.line);
    });
    files.set(brokenFile, fixture('new InstanceExport(this, \'Export\', { instanceId: 42 });', 999));
    diagnostics = typeCheck(files);
  }, 120_000);

  test('every ts block type-checks as the body of a Stack constructor', () => {
    const ofSnippets = diagnostics.filter((d) => !d.file || path.resolve(d.file.fileName) !== brokenFile);
    expect(format(ofSnippets, lineOf)).toBe('');
    expect(ofSnippets).toHaveLength(0);
  });

  test('the fixture catches a broken snippet (the check is not vacuous)', () => {
    const ofBroken = diagnostics.filter((d) => d.file && path.resolve(d.file.fileName) === brokenFile);
    expect(ofBroken.map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' ')).join('\n'))
      .toMatch(/Type 'number' is not assignable to type 'string'/);
  });

  test('every json block parses', () => {
    const jsonBlocks = blocks.filter((b) => b.lang === 'json');
    expect(jsonBlocks.length).toBeGreaterThanOrEqual(3);
    for (const block of jsonBlocks) {
      expect(() => JSON.parse(block.code)).not.toThrow();
    }
  });
});

describe('README snippets that start the workflow directly', () => {
  const starters = fencedBlocks(README)
    .filter((b) => (b.lang === 'ts' || b.lang === 'typescript') && b.code.includes('workflow.stateMachine'));

  test('there are two (the pipeline action and the schedule)', () => {
    expect(starters).toHaveLength(2);
  });

  test('each grants the workflow the instance its input names (the workflow exports nothing else)', () => {
    for (const block of starters) {
      const exported = [...block.code.matchAll(/instanceId: '(i-[0-9a-f]+)'/g)].map((m) => m[1]);
      expect([block.line, exported.length > 0]).toEqual([block.line, true]);
      for (const id of exported) {
        expect([block.line, block.code.includes(`workflow.grantExportOf('${id}')`)]).toEqual([block.line, true]);
      }
      expect([block.line, block.code.includes('allowAnyInstance')]).toEqual([block.line, false]);
    }
  });
});
