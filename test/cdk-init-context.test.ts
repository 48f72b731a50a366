/**
 * The README's first example in the app users actually have: every feature flag `cdk init`
 * writes into cdk.json (test/support/cdk-init-context.json), with JSII_DEPRECATED=fail.
 *
 * On aws-cdk-lib >= 2.262 that context turns on `@aws-cdk/core:validateAgainstDefaultRules`,
 * and synth itself fails on a value built from the wait condition's object-typed Data
 * (CloudFormation-Validate::F6101). The repo builds with aws-cdk-lib 2.257, where that validator
 * does not exist: here the same rule is checked on the template (the Data is used nowhere but as
 * the attributes resource's property), and the real proof on the newest aws-cdk-lib is the
 * compatibility job (test/compat-newest-cdk.sh, `npx projen compat:newest`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as ts from 'typescript';
import * as library from '../src';
import { snippetStackModule, typescriptBlocks } from './support/readme-snippets';

const ROOT = path.join(__dirname, '..');
const CDK_INIT = JSON.parse(fs.readFileSync(path.join(__dirname, 'support', 'cdk-init-context.json'), 'utf8'));
const CONTEXT: Record<string, unknown> = CDK_INIT.context;

/** The README's n-th TypeScript block as a Stack class, compiled and loaded with 'cdk-vm-export' = src/. */
function readmeStack(index: number): new (scope: App, id: string, props?: object) => Stack {
  const block = typescriptBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'))[index];
  const source = snippetStackModule(block.code, 'ReadmeStack', '../src', Object.keys(library).sort());
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
  const module = { exports: {} as Record<string, unknown> };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = (id: string) => (id === '../src' ? library : require(id));
  new Function('require', 'module', 'exports', js)(load, module, module.exports);
  return module.exports.ReadmeStack as never;
}

/** Every error and warning annotation under the app, as `path: message`. */
function problems(app: App): string[] {
  return app.node.findAll().flatMap((c) => c.node.metadata
    .filter((m) => m.type === 'aws:cdk:error' || m.type === 'aws:cdk:warning')
    .map((m) => `${c.node.path}: ${String(m.data)}`));
}

/** Every place in the template that reads `Fn::GetAtt <WaitCondition>.Data`, as a JSON path. */
function dataReaders(template: any): string[] {
  const waitConditions = new Set(Object.keys(template.Resources).filter((id) => template.Resources[id].Type === 'AWS::CloudFormation::WaitCondition'));
  const found: string[] = [];
  const walk = (value: unknown, where: string): void => {
    if (Array.isArray(value)) return value.forEach((v, i) => walk(v, `${where}[${i}]`));
    if (value === null || typeof value !== 'object') return;
    const getAtt = (value as Record<string, unknown>)['Fn::GetAtt'];
    if (Array.isArray(getAtt) && waitConditions.has(getAtt[0]) && getAtt[1] === 'Data') found.push(where);
    for (const [k, v] of Object.entries(value)) walk(v, `${where}.${k}`);
  };
  walk(template.Resources, 'Resources');
  walk(template.Outputs ?? {}, 'Outputs');
  return found;
}

describe.each([
  ['environment-agnostic (what cdk init writes)', undefined],
  ['with an account and region', { account: '123456789012', region: 'eu-west-1' }],
])('the README\'s first example with cdk init\'s context, %s', (_name, env) => {
  const saved = process.env.JSII_DEPRECATED;
  let app: App;
  let template: any;
  beforeAll(() => {
    process.env.JSII_DEPRECATED = 'fail';
    try {
      app = new App({ context: CONTEXT });
      const stack = new (readmeStack(0))(app, 'ReadmeStack', { env });
      template = app.synth().getStackArtifact(stack.artifactId).template;
    } finally {
      if (saved === undefined) delete process.env.JSII_DEPRECATED; else process.env.JSII_DEPRECATED = saved;
    }
  }, 120_000);

  test('the fixture is cdk init\'s full context, template validation included', () => {
    expect(Object.keys(CONTEXT).length).toBeGreaterThanOrEqual(80);
    expect(CONTEXT['@aws-cdk/core:validateAgainstDefaultRules']).toBe(true);
    expect(CDK_INIT.$comment).toMatch(/init app --language typescript/);
  });

  test('synthesizes with no error and no warning', () => {
    expect(problems(app)).toEqual([]);
  });

  test('the object-typed wait condition Data is only ever a custom resource property (never taken apart: F6101)', () => {
    const readers = dataReaders(template);
    expect(readers).toHaveLength(1);
    expect(readers[0]).toMatch(/^Resources\.\w+\.Properties\.WaitConditionData$/);
    const [attributesId] = readers[0].split('.').slice(1, 2);
    expect(template.Resources[attributesId].Type).toBe('Custom::VmExportAttributes');
    // The README's outputs and the SSM parameter read string attributes of that resource.
    expect(template.Outputs.ImageKey.Value).toEqual({ 'Fn::GetAtt': [attributesId, 'ExportObjectKey'] });
    expect(template.Outputs.ExportTaskId.Value).toEqual({ 'Fn::GetAtt': [attributesId, 'ExportTaskId'] });
  });
});
