/**
 * The README's code blocks, and the module a TypeScript block becomes: its import lines are kept
 * (with 'cdk-vm-export' pointing where the caller says) and its other lines are the body of a
 * Stack constructor. Used by test/readme-examples.test.ts (type-check), test/cdk-init-context.test.ts
 * (synth with `cdk init`'s flags) and test/compat/readme-app.ts (the newest aws-cdk-lib job).
 */
import * as ts from 'typescript';

export interface Block {
  readonly lang: string;
  readonly code: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
}

export function fencedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    blocks.push({ lang: open[1], code: body.join('\n'), line: start + 1 });
  }
  return blocks;
}

/** The ```ts / ```typescript blocks. */
export function typescriptBlocks(markdown: string): Block[] {
  return fencedBlocks(markdown).filter((b) => b.lang === 'ts' || b.lang === 'typescript');
}

/** aws-cdk-lib names a snippet may use without importing them (it is the body of a Stack constructor). */
export const CDK_NAMES = ['App', 'CfnOutput', 'Duration', 'RemovalPolicy', 'Stack', 'TimeZone'];

/** Splits a snippet into its import declarations (with 'cdk-vm-export' replaced by `library`) and the rest. */
export function splitImports(code: string, library: string): { imports: string[]; body: string; importedNames: Set<string> } {
  const source = ts.createSourceFile('snippet.ts', code, ts.ScriptTarget.ES2022, true);
  const imports: string[] = [];
  const importedNames = new Set<string>();
  const importRanges: Array<[number, number]> = [];
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement)) continue;
    importRanges.push([statement.getFullStart(), statement.getEnd()]);
    const specifier = (statement.moduleSpecifier as ts.StringLiteral).text;
    const target = specifier === 'cdk-vm-export' ? library : specifier;
    imports.push(statement.getText(source).replace(/(['"])cdk-vm-export\1/, `'${target}'`));
    const clause = statement.importClause;
    if (clause?.name) importedNames.add(clause.name.text);
    const bindings = clause?.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) importedNames.add(bindings.name.text);
    if (bindings && ts.isNamedImports(bindings)) bindings.elements.forEach((e) => importedNames.add(e.name.text));
  }
  let body = code;
  for (const [start, end] of importRanges.reverse()) body = body.slice(0, start) + body.slice(end);
  return { imports, body, importedNames };
}

/**
 * The module a snippet becomes: `export class <className> extends Stack` whose constructor body
 * is the snippet. `library` is where 'cdk-vm-export' resolves; `libraryExports` the names it
 * exports (imported when the snippet uses them without an import).
 */
export function snippetStackModule(code: string, className: string, library: string, libraryExports: readonly string[]): string {
  const { imports, body, importedNames } = splitImports(code, library);
  const cdk = CDK_NAMES.filter((n) => !importedNames.has(n) && n !== 'Stack');
  const lib = libraryExports.filter((n) => !importedNames.has(n));
  return [
    `import { Stack, StackProps${cdk.length ? ', ' + cdk.join(', ') : ''} } from 'aws-cdk-lib';`,
    'import { Construct } from \'constructs\';',
    lib.length ? `import { ${lib.join(', ')} } from '${library}';` : '',
    ...imports,
    '',
    `export class ${className} extends Stack {`,
    '  constructor(scope: Construct, id: string, props?: StackProps) {',
    '    super(scope, id, props);',
    body,
    '  }',
    '}',
    '',
  ].join('\n');
}
