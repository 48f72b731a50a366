/**
 * What the README tells a newcomer, checked against the package, the library and synthesized
 * templates: Install (peer dependencies, Node versions, the packed tarball, the other jsii
 * languages), the canonical-ID table (generated from src/bucket/canonical-id-table.ts), watching an
 * export, the costs, exporting an instance of the same stack, and pipelines that wait for hours.
 * The README's TypeScript blocks of those sections are synthesized here.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack, aws_ec2 as ec2, Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ts from 'typescript';
import { executionArnFor } from '../lambda/export-provider';
import * as library from '../src';
// The source table is what the README's table is generated from (an input here, not an expectation).
import { renderCanonicalIdTable, tableInReadme, withGeneratedTable } from './support/canonical-id-readme';
import { ManagedTag } from './support/documented-names';
import { fencedBlocks, snippetStackModule } from './support/readme-snippets';
import { SPEC_CANONICAL_IDS, SPEC_DEFAULT_CANONICAL_ID, specCanonicalId } from './support/spec-canonical-ids';
import { CANONICAL_ID_ROWS } from '../src/bucket/canonical-id-table';

const ROOT = path.join(__dirname, '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const TASKS = JSON.parse(fs.readFileSync(path.join(ROOT, '.projen', 'tasks.json'), 'utf8')).tasks;
const CDK_VERSION: string = JSON.parse(fs.readFileSync(require.resolve('aws-cdk-lib/package.json'), 'utf8')).version;

/** A README section: from its heading to the next heading of the same or a higher level (fences skipped). */
function section(heading: string): string {
  const lines = README.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`README has no section ${heading}`);
  const level = heading.split(' ')[0].length;
  let fenced = false;
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++) {
    if (/^```/.test(lines[i])) fenced = !fenced;
    const match = /^(#+) /.exec(lines[i]);
    if (!fenced && match && match[1].length <= level) {
      end = i;
      break;
    }
  }
  return lines.slice(start + 1, end).join('\n');
}

function tsBlocks(text: string) {
  return fencedBlocks(text).filter((b) => b.lang === 'ts' || b.lang === 'typescript');
}

/** Synthesizes a README TypeScript block as the body of a Stack constructor. */
function synthBlock(code: string): { app: App; stack: Stack } {
  const source = snippetStackModule(code, 'ReadmeSnippet', '../src', Object.keys(library));
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  }).outputText;
  const moduleExports: Record<string, any> = {};
  // The snippet's own imports (aws-cdk-lib, constructs) resolve as this test's would.
  const requireFor = (id: string): unknown => (id === '../src' ? library : module.require(id));
  new Function('require', 'exports', js)(requireFor, moduleExports);
  const app = new App();
  const stack: Stack = new moduleExports.ReadmeSnippet(app, 'ReadmeSnippet');
  app.synth();
  return { app, stack };
}

function resourcesOf(stack: Stack, type: string): Array<[string, any]> {
  return Object.entries(Template.fromStack(stack).findResources(type));
}

describe('README: Install', () => {
  const install = section('## Install');

  test('npm install cdk-vm-export, the package\'s name', () => {
    expect(PACKAGE.name).toBe('cdk-vm-export');
    expect(install).toContain('npm install cdk-vm-export\n');
  });

  test('the peer dependencies and the aws-cdk-lib version the tests run on are those of package.json', () => {
    expect(install).toContain(`| peer dependency \`aws-cdk-lib\` | \`${PACKAGE.peerDependencies['aws-cdk-lib']}\``);
    expect(install).toContain(`| peer dependency \`constructs\` | \`${PACKAGE.peerDependencies.constructs}\``);
    expect(install).toContain(`builds and runs its tests with ${PACKAGE.devDependencies['aws-cdk-lib']}, the floor`);
    expect(PACKAGE.peerDependencies['aws-cdk-lib']).toBe(`^${PACKAGE.devDependencies['aws-cdk-lib']}`);
    expect(CDK_VERSION).toBe(PACKAGE.devDependencies['aws-cdk-lib']);
    expect(Object.keys(PACKAGE.dependencies ?? {})).toEqual([]);
  });

  test('Node.js for the app: engines >= 20.0.0, as the README says', () => {
    expect(PACKAGE.engines.node).toBe('>= 20.0.0');
    expect(install).toContain('20 or later (`engines`: `>= 20.0.0`)');
  });

  test('the Lambda functions run on the newest Node.js runtime aws-cdk-lib knows, never older than 22 (nodejs22.x on 2.257)', () => {
    const app = new App();
    const stack = new Stack(app, 'Runtimes', { env: { account: '111111111111', region: 'eu-west-1' } });
    new library.InstanceExport(stack, 'Export', {
      instanceId: 'i-0123456789abcdef0',
      bucket: new library.VmExportBucket(stack, 'Bucket'),
      targetEnvironment: library.TargetEnvironment.VMWARE,
    });
    const runtimes = resourcesOf(stack, 'AWS::Lambda::Function').map(([, fn]) => fn.Properties.Runtime as string);
    // The stack's custom resource function and the export workflow's function.
    expect(runtimes.length).toBe(2);
    for (const runtime of runtimes) {
      expect(Number(/^nodejs(\d+)/.exec(runtime)?.[1])).toBeGreaterThanOrEqual(22);
    }
    expect(install).toContain('`nodejs22.x` with aws-cdk-lib 2.257');
    if (CDK_VERSION.startsWith('2.257.')) expect([...new Set(runtimes)]).toEqual(['nodejs22.x']);
    expect(fs.readFileSync(path.join(ROOT, 'src', 'internal', 'handler-runtime.ts'), 'utf8')).toContain('determineLatestNodeRuntime');
  });

  test('the packed-tarball commands are projen tasks, in an order that works, and name the file jsii-pacmak writes', () => {
    const block = fencedBlocks(install).find((b) => b.lang === 'sh' && b.code.includes('package:js'))!;
    expect(block).toBeDefined();
    const tasks = [...block.code.matchAll(/npx projen ([\w:-]+)/g)].map((m) => m[1]);
    expect(tasks).toEqual(['bundle', 'compile', 'package:js']);
    for (const task of tasks) expect(TASKS[task]?.name).toBe(task);
    const tarball = `${PACKAGE.name}@${PACKAGE.version}.jsii.tgz`;
    expect(tarball).toBe('cdk-vm-export@0.0.0.jsii.tgz');
    expect(block.code).toContain(`npm install ../cdk-vm-export/dist/js/${tarball}`);
    expect(PACKAGE.jsii.outdir).toBe('dist');
  });

  test('the npm install command works as written on the tarball jsii-pacmak packs (npm resolves the @ in the file name)', () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-vm-export-install-'));
    try {
      const repo = path.join(scratch, 'cdk-vm-export');
      const app = path.join(scratch, 'my-cdk-app');
      fs.mkdirSync(app);
      fs.writeFileSync(path.join(app, 'package.json'), '{ "name": "my-cdk-app", "version": "1.0.0", "private": true }\n');
      const pack = spawnSync('npx', ['jsii-pacmak', '--target', 'js', '--outdir', path.join(repo, 'dist')], {
        cwd: ROOT, encoding: 'utf8', env: { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' },
      });
      expect([pack.status, pack.stderr.slice(-2000)]).toEqual([0, expect.any(String)]);
      expect(fs.readdirSync(path.join(repo, 'dist', 'js'))).toEqual([`${PACKAGE.name}@${PACKAGE.version}.jsii.tgz`]);
      const command = /npm install (\.\.\/cdk-vm-export\/dist\/js\/\S+\.tgz)/.exec(section('## Install'))![1];
      // As written, from the app next to the clone; peers are the app's business (not installed here).
      const npmInstall = spawnSync('npm', ['install', '--legacy-peer-deps', '--no-audit', '--no-fund', '--prefer-offline', command], {
        cwd: app, encoding: 'utf8',
      });
      expect([npmInstall.status, npmInstall.stderr.slice(-2000)]).toEqual([0, expect.any(String)]);
      const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'cdk-vm-export', 'package.json'), 'utf8'));
      expect(installed.name).toBe('cdk-vm-export');
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }, 120_000);

  test('the other languages\' names are the jsii targets of package.json', () => {
    const targets = PACKAGE.jsii.targets;
    expect(install).toContain(`| Python | \`${targets.python.distName}\` (PyPI distribution) | \`import ${targets.python.module}\` |`);
    expect(install).toContain(`| Java | \`${targets.java.maven.groupId}:${targets.java.maven.artifactId}\` (Maven) | \`import ${targets.java.package}.*;\` |`);
    expect(install).toContain(`| .NET | \`${targets.dotnet.packageId}\` (NuGet) | \`using ${targets.dotnet.namespace};\` |`);
    const goModule = `${targets.go.moduleName}/${targets.go.packageName}`;
    expect(install).toContain(`| Go | \`${goModule}\` | \`import "${goModule}"\` |`);
  });

  test('the build packs only the npm tarball; bindings:check generates the other languages\' source', () => {
    const spawned = (task: string) => (TASKS[task].steps ?? []).map((s: any) => s.spawn ?? s.exec);
    expect(spawned('package-all')).toEqual(['package:js']);
    expect(spawned('package').sort()).toEqual(['package-all', 'package:js']);
    expect(spawned('bindings:check')).toEqual(['bash test/bindings-check.sh']);
    expect(fs.readFileSync(path.join(ROOT, 'test', 'bindings-check.sh'), 'utf8'))
      .toContain('jsii-pacmak --code-only --targets python java dotnet go');
    expect(fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8')).toContain('npx projen bindings:check');
  });
});

describe('README: the canonical-ID table', () => {
  test('the README\'s table is the one generated from src/bucket/canonical-id-table.ts', () => {
    const inReadme = tableInReadme(README);
    expect(inReadme).toBeDefined();
    // When this fails: run `npx projen readme:canonical-ids` and commit README.md.
    expect(inReadme).toBe(renderCanonicalIdTable());
  });

  test('a changed source table makes the README stale (the check is not vacuous)', () => {
    const changed = README.replace(CANONICAL_ID_ROWS[0].canonicalId, '0'.repeat(64));
    expect(tableInReadme(changed)).not.toBe(renderCanonicalIdTable());
    expect(tableInReadme(withGeneratedTable(changed))).toBe(renderCanonicalIdTable());
  });

  test('one row per region code plus the default; the count the README states', () => {
    const codes = SPEC_CANONICAL_IDS.map(([code]) => code);
    const rows = renderCanonicalIdTable().split('\n').slice(2);
    expect(rows).toHaveLength(codes.length + 1);
    expect(library.VmExportCanonicalIds.knownRegions().length).toBe(codes.length);
    expect(section('## Canonical IDs per region')).toMatch(new RegExp(`covers the ${codes.length} region\\s+codes`));
    for (const code of codes) {
      expect(renderCanonicalIdTable()).toContain(`| \`${code}\` | \`${specCanonicalId(code)}\` |`);
    }
    expect(rows[rows.length - 1]).toContain(SPEC_DEFAULT_CANONICAL_ID);
  });
});

describe('README: watching a running export', () => {
  const watch = section('## Watching a running export');

  test('the physical id is the execution ARN, in the form the README gives', () => {
    const arn = executionArnFor('arn:aws:states:eu-west-1:111111111111:stateMachine:VmExportWorkflow1234', 'export-abc');
    expect(arn).toBe('arn:aws:states:eu-west-1:111111111111:execution:VmExportWorkflow1234:export-abc');
    expect(watch).toContain('`arn:aws:states:<region>:<account>:execution:<state machine>:<execution name>`');
    const provider = fs.readFileSync(path.join(ROOT, 'lambda', 'export-provider', 'index.ts'), 'utf8');
    expect(provider).toMatch(/PhysicalResourceId: executionArn/);
  });

  test('the CLI finds the resource by its type and the tasks by the tag the library sets', () => {
    const app = new App();
    const stack = new Stack(app, 'Watch');
    new library.InstanceExport(stack, 'WebServerExport', {
      instanceId: 'i-0123456789abcdef0',
      bucket: new library.VmExportBucket(stack, 'Bucket'),
      targetEnvironment: library.TargetEnvironment.VMWARE,
    });
    const [[logicalId]] = resourcesOf(stack, 'Custom::VmInstanceExport');
    expect(logicalId.startsWith('WebServerExport')).toBe(true);
    expect(watch).toContain('ResourceType==\'Custom::VmInstanceExport\' && starts_with(LogicalResourceId, \'WebServerExport\')');
    expect(watch).toContain(`Tags[?Key=='${ManagedTag.KEY}']`);
    for (const command of ['aws stepfunctions describe-execution', 'aws stepfunctions get-execution-history', 'aws ec2 describe-export-tasks']) {
      expect(watch).toContain(command);
    }
  });
});

describe('README: costs', () => {
  const costs = section('### What else costs money');

  test('X-Ray tracing and one-year log retention are the defaults', () => {
    const app = new App();
    const stack = new Stack(app, 'Defaults');
    new library.InstanceExportWorkflow(stack, library.InstanceExportWorkflow.DEFAULT_ID);
    const [[, machine]] = resourcesOf(stack, 'AWS::StepFunctions::StateMachine');
    expect(machine.Properties.TracingConfiguration).toEqual({ Enabled: true });
    const retentions = resourcesOf(stack, 'AWS::Logs::LogGroup').map(([, g]) => g.Properties.RetentionInDays);
    expect(retentions).toEqual([365, 365]);
    expect(costs).toContain('(default 1 year');
  });

  test('the README\'s block turns tracing off and keeps the logs a month; an export then uses that workflow', () => {
    const block = tsBlocks(costs)[0];
    expect(block.code).toContain('tracingEnabled: false');
    const { stack } = synthBlock(`${block.code}
new InstanceExport(this, 'Export', {
  instanceId: 'i-0123456789abcdef0',
  bucket: new VmExportBucket(this, 'Bucket'),
  targetEnvironment: TargetEnvironment.VMWARE,
});`);
    const machines = resourcesOf(stack, 'AWS::StepFunctions::StateMachine');
    expect(machines).toHaveLength(1);
    expect(machines[0][1].Properties.TracingConfiguration).not.toEqual({ Enabled: true });
    const workflowLogs = resourcesOf(stack, 'AWS::Logs::LogGroup').filter(([id]) => id.startsWith('VmExportWorkflow'));
    expect(workflowLogs.map(([, g]) => g.Properties.RetentionInDays)).toEqual([30, 30]);
  });

  test('the bucket props the README names for the image exist and act', () => {
    const app = new App();
    const stack = new Stack(app, 'Bucket');
    new library.VmExportBucket(stack, 'Bucket', { expireExportsAfter: Duration.days(30) });
    const [[, bucket]] = resourcesOf(stack, 'AWS::S3::Bucket');
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual(expect.arrayContaining([
      expect.objectContaining({ ExpirationInDays: 30 }),
      expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }),
    ]));
    expect(costs).toContain('https://aws.amazon.com/xray/pricing/');
  });
});

describe('README: an instance created in the same stack', () => {
  const sameStack = section('## Exporting an instance created in the same stack');

  test('the README\'s block synthesizes: the instance waits for cfn-signal, the export refers to it', () => {
    const [block] = tsBlocks(sameStack);
    const { stack } = synthBlock(block.code);
    const [[instanceId, instance]] = resourcesOf(stack, 'AWS::EC2::Instance');
    expect(instance.CreationPolicy).toEqual({ ResourceSignal: { Count: 1, Timeout: 'PT30M' } });
    expect(JSON.stringify(instance.Properties.UserData)).toMatch(/cfn-init -v[\s\S]*cfn-signal -e/);
    const [[, vmExport]] = resourcesOf(stack, 'Custom::VmInstanceExport');
    expect(vmExport.Properties.InstanceId).toEqual({ Ref: instanceId });
  });

  test('with user data of one\'s own: resourceSignalTimeout and addSignalOnExitCommand, as the README says', () => {
    expect(sameStack).toContain('`resourceSignalTimeout`');
    expect(sameStack).toContain('instance.userData.addSignalOnExitCommand(instance)');
    const app = new App();
    const stack = new Stack(app, 'OwnUserData');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PUBLIC }] });
    const instance = new ec2.Instance(stack, 'Instance', {
      vpc,
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T3, ec2.InstanceSize.MICRO),
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      resourceSignalTimeout: Duration.minutes(20),
    });
    instance.userData.addCommands('yum install -y httpd');
    instance.userData.addSignalOnExitCommand(instance);
    const [[, resource]] = resourcesOf(stack, 'AWS::EC2::Instance');
    expect(resource.CreationPolicy).toEqual({ ResourceSignal: { Timeout: 'PT20M' } });
    expect(JSON.stringify(resource.Properties.UserData)).toContain('cfn-signal');
  });
});

describe('README: pipelines that wait for hours', () => {
  const pipelinesSection = section('## Pipelines that wait for hours');
  const outside = section('## Running the workflow outside CloudFormation');

  test('the CodePipeline quotas page is cited, with the figures the patterns rely on', () => {
    expect(pipelinesSection).toContain('https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html');
    expect(pipelinesSection).toContain('https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-waitcondition.html');
    expect(pipelinesSection).toMatch(/CloudFormation deployment action after\s+3 days/);
    expect(pipelinesSection).toMatch(/after 1 hour/);
  });

  test('every StepFunctionInvokeAction in the README passes a deadline that ends within the action\'s hour', () => {
    const actions = tsBlocks(README).filter((b) => b.code.includes('StepFunctionInvokeAction'));
    expect(actions.length).toBeGreaterThanOrEqual(1);
    expect(tsBlocks(outside).some((b) => b.code.includes('StepFunctionInvokeAction'))).toBe(true);
    for (const block of actions) {
      const expressions = [...block.code.matchAll(/deadlineSeconds: ([\d\s*+]+)/g)].map((m) => m[1].trim());
      expect([block.line, expressions.length]).toEqual([block.line, 1]);
      const seconds = expressions[0].split('*').map((f) => Number(f.trim())).reduce((a, b) => a * b, 1);
      expect([block.line, seconds + 5 * 60 < 3600]).toEqual([block.line, true]);
    }
  });

  test('the CDK Pipelines block synthesizes: the stage\'s stack waits 10 hours for the export, through CloudFormation actions', () => {
    const block = tsBlocks(pipelinesSection).find((b) => b.code.includes('pipelines.CodePipeline'))!;
    const { stack } = synthBlock(block.code);
    const stage = stack.node.findChild('Export') as any;
    const exportStack = stage.node.findChild('VmExport') as Stack;
    const [[, waitCondition]] = resourcesOf(exportStack, 'AWS::CloudFormation::WaitCondition');
    expect(Number(waitCondition.Properties.Timeout)).toBe(10 * 3600);
    expect(Number(waitCondition.Properties.Timeout)).toBeLessThanOrEqual(43200);
    const [[, pipeline]] = resourcesOf(stack, 'AWS::CodePipeline::Pipeline');
    const exportStage = (pipeline.Properties.Stages as any[]).find((s) => s.Name === 'Export');
    expect(exportStage.Actions.map((a: any) => a.ActionTypeId.Provider)).toEqual(['CloudFormation', 'CloudFormation']);
  });

  test('the events block synthesizes: VM Export Succeeded of the stack\'s workflow starts the pipeline', () => {
    const block = tsBlocks(pipelinesSection).find((b) => b.code.includes('onExportEvent'))!;
    const { stack } = synthBlock(block.code);
    const [[machineId]] = resourcesOf(stack, 'AWS::StepFunctions::StateMachine');
    const rules = resourcesOf(stack, 'AWS::Events::Rule').map(([, r]) => r)
      .filter((r) => (r.Properties.Targets ?? []).some((t: any) => JSON.stringify(t.Arn).includes('codepipeline')));
    expect(rules).toHaveLength(1);
    expect(rules[0].Properties.EventPattern).toEqual({
      'source': ['cdk-vm-export'],
      'detail-type': ['VM Export Succeeded'],
      'resources': [{ Ref: machineId }],
    });
  });
});
