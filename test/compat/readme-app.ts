/**
 * Writes the README's TypeScript samples and the example apps into a `cdk init` app (used by
 * test/compat-newest-cdk.sh, which installs the packed library there):
 *
 * - lib/readme/snippet<N>.ts: the README's N-th TypeScript block as a Stack class
 *   (test/support/readme-snippets.ts, the same extraction test/readme-examples.test.ts checks);
 * - lib/examples/*.ts: examples/*.ts with `'../src'` replaced by `'cdk-vm-export'`;
 * - bin/app.ts: the app `cdk synth` runs: each README sample as an environment-agnostic stack
 *   (what `cdk init` writes) and as a stack with an account and a region;
 * - readme-samples.json: what was written, for the check script.
 *
 * Usage: ts-node test/compat/readme-app.ts <app directory> <library exports as JSON>
 */
import * as fs from 'fs';
import * as path from 'path';
import { snippetStackModule, typescriptBlocks } from '../support/readme-snippets';

const ROOT = path.join(__dirname, '..', '..');
const [appDir, exportsJson] = process.argv.slice(2);
if (!appDir || !exportsJson) {
  throw new Error('usage: readme-app.ts <app directory> <library exports as JSON>');
}
const libraryExports: string[] = JSON.parse(exportsJson);

const blocks = typescriptBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
fs.mkdirSync(path.join(appDir, 'lib', 'readme'), { recursive: true });
const samples = blocks.map((block, i) => {
  const className = `ReadmeSnippet${i}`;
  fs.writeFileSync(path.join(appDir, 'lib', 'readme', `snippet${i}.ts`),
    `// README.md line ${block.line}\n${snippetStackModule(block.code, className, 'cdk-vm-export', libraryExports)}`);
  return { className, module: `./lib/readme/snippet${i}`, line: block.line };
});

fs.mkdirSync(path.join(appDir, 'lib', 'examples'), { recursive: true });
const examples = fs.readdirSync(path.join(ROOT, 'examples')).filter((f) => f.endsWith('.ts') && f !== 'synth.ts');
for (const file of examples) {
  const source = fs.readFileSync(path.join(ROOT, 'examples', file), 'utf8')
    .replace(/(['"])\.\.\/src\1/g, '\'cdk-vm-export\'')
    .replace(/(['"])\.\.\/src\//g, '$1cdk-vm-export/lib/');
  fs.writeFileSync(path.join(appDir, 'lib', 'examples', file), source);
}

fs.writeFileSync(path.join(appDir, 'bin', 'app.ts'), [
  '#!/usr/bin/env node',
  '// Written by cdk-vm-export\'s test/compat/readme-app.ts: every README TypeScript sample as a stack.',
  'import { App } from \'aws-cdk-lib\';',
  ...samples.map((s) => `import { ${s.className} } from '.${s.module}';`),
  '',
  'const app = new App();',
  'const env = { account: \'123456789012\', region: \'eu-west-1\' };',
  ...samples.flatMap((s, i) => [
    `new ${s.className}(app, 'Readme${i}'); // README.md line ${s.line}, environment-agnostic`,
    `new ${s.className}(app, 'Readme${i}Env', { env });`,
  ]),
  '',
].join('\n'));

fs.writeFileSync(path.join(appDir, 'readme-samples.json'), JSON.stringify({ samples, examples }, null, 2));
console.log(`compat: wrote ${samples.length} README samples and ${examples.length} example apps into ${appDir}`);
