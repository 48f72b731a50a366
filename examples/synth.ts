/**
 * Synthesizes the example app offline and says what came out: where the template went and
 * what it contains.
 */
import * as path from 'path';
import { buildExampleApp } from './app';

const outdir = path.join(__dirname, 'cdk.out');
const assembly = buildExampleApp(outdir).synth();

for (const stack of assembly.stacks) {
  const resources = Object.values(stack.template.Resources ?? {}) as Array<{ Type: string }>;
  const byType = new Map<string, number>();
  for (const r of resources) {
    byType.set(r.Type, (byType.get(r.Type) ?? 0) + 1);
  }
  console.log(`Stack ${stack.stackName}: ${path.relative(process.cwd(), path.join(outdir, stack.templateFile))}`);
  console.log(`  ${resources.length} resources`);
  for (const [type, count] of [...byType.entries()].sort()) {
    console.log(`  ${String(count).padStart(3)}  ${type}`);
  }
}
