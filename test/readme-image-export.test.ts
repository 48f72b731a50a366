/**
 * What the README says about image export ("Exporting an AMI (ImageExport)", "Instance export or
 * image export?", the image parts of "Running the workflow outside CloudFormation" and "Events
 * and alarms"), checked against templates synthesized from the README's own TypeScript blocks:
 * the export of an EC2 Image Builder image, the service role's trust and grants, an existing
 * `vmimport` role, the grants of a workflow started directly for an AMI, and the rule on
 * `VM Export Progress` events.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ts from 'typescript';
import { checkImageExportGrant } from '../lambda/shared/export-grants';
import * as library from '../src';
import { Events } from './support/documented-names';
import { fencedBlocks, snippetStackModule } from './support/readme-snippets';

const ROOT = path.join(__dirname, '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** A README section: from its heading to the next heading of the same or a higher level (fences skipped). */
function section(heading: string): string {
  const lines = README.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`README has no section ${heading}`);
  const level = heading.split(' ')[0].length;
  let fenced = false;
  for (let i = start + 1; i < lines.length; i++) {
    if (/^```/.test(lines[i])) fenced = !fenced;
    const match = /^(#+) /.exec(lines[i]);
    if (!fenced && match && match[1].length <= level) return lines.slice(start + 1, i).join('\n');
  }
  return lines.slice(start + 1).join('\n');
}

/** The TypeScript blocks of a text whose code contains `marker` (exactly one). */
function tsBlock(text: string, marker: string): string {
  const blocks = fencedBlocks(text).filter((b) => (b.lang === 'ts' || b.lang === 'typescript') && b.code.includes(marker));
  expect(blocks).toHaveLength(1);
  return blocks[0].code;
}

const synthesized = new Map<string, Stack>();

/** Synthesizes a README TypeScript block as the body of a Stack constructor (once per block). */
function synthBlock(code: string): Stack {
  const known = synthesized.get(code);
  if (known) return known;
  const source = snippetStackModule(code, 'ReadmeSnippet', '../src', Object.keys(library));
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  }).outputText;
  const moduleExports: Record<string, any> = {};
  const requireFor = (id: string): unknown => (id === '../src' ? library : module.require(id));
  new Function('require', 'exports', js)(requireFor, moduleExports);
  const app = new App();
  const stack: Stack = new moduleExports.ReadmeSnippet(app, 'ReadmeSnippet');
  app.synth();
  synthesized.set(code, stack);
  return stack;
}

const templates = new Map<Stack, Template>();

/** The stack's template (synthesized once per stack). */
function templateOf(stack: Stack): Template {
  if (!templates.has(stack)) templates.set(stack, Template.fromStack(stack));
  return templates.get(stack)!;
}

function resourcesOf(stack: Stack, type: string): Array<[string, any]> {
  return Object.entries(templateOf(stack).findResources(type));
}

/** Every statement of the AWS::IAM::Policy resources attached to the role `roleRef` ({ Ref } or a name). */
function statementsOf(stack: Stack, roleRef: unknown): any[] {
  return resourcesOf(stack, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties.Roles ?? []).some((r: unknown) => JSON.stringify(r) === JSON.stringify(roleRef)))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

function logicalIdStartingWith(stack: Stack, type: string, prefix: string): string {
  const ids = resourcesOf(stack, type).map(([id]) => id).filter((id) => id.startsWith(prefix));
  expect(ids).toHaveLength(1);
  return ids[0];
}

describe('README: exporting an AMI (ImageExport)', () => {
  const imageSection = section('## Exporting an AMI (ImageExport)');

  test('the Image Builder block synthesizes: the export takes the image\'s AMI id, the format and the prefix', () => {
    const stack = synthBlock(tsBlock(imageSection, 'imagebuilder.CfnImage'));
    const [[imageId]] = resourcesOf(stack, 'AWS::ImageBuilder::Image');
    const [[, vmExport]] = resourcesOf(stack, 'Custom::VmImageExport');
    expect(vmExport.Properties).toMatchObject({
      ImageId: { 'Fn::GetAtt': [imageId, 'ImageId'] },
      DiskImageFormat: 'VMDK',
      S3Prefix: 'golden/',
      Revision: '1.0.0',
      RoleName: { Ref: logicalIdStartingWith(stack, 'AWS::IAM::Role', 'VmImportServiceRole') },
    });
    expect(imageSection).toContain('(`Custom::VmImageExport`, whose physical id is the execution ARN)');
    // With attrImageId and a revision: no warning (a reference without one warns at synth).
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.anyValue());
    expect(warnings.map((w) => w.entry.data)).toEqual([]);
    const outputs = templateOf(stack).toJSON().Outputs;
    expect(JSON.stringify(outputs.GoldenImageUri.Value)).toContain('ExportObjectUri');
  });

  test('the default service role: the trust policy and the grants the README lists, nothing else', () => {
    const stack = synthBlock(tsBlock(imageSection, 'imagebuilder.CfnImage'));
    const roleId = logicalIdStartingWith(stack, 'AWS::IAM::Role', 'VmImportServiceRole');
    const [[, role]] = resourcesOf(stack, 'AWS::IAM::Role').filter(([id]) => id === roleId);
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([{
      Action: 'sts:AssumeRole',
      Effect: 'Allow',
      Principal: { Service: 'vmie.amazonaws.com' },
      Condition: {
        StringEquals: { 'sts:ExternalId': 'vmimport', 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':vmie:*:', { Ref: 'AWS::AccountId' }, ':*']] } },
      },
    }]);
    const roleSection = section('### The service role');
    expect(roleSection).toContain('`vmie.amazonaws.com` for `sts:AssumeRole` with `StringEquals` `sts:ExternalId` =\n  `vmimport`');
    const [[bucketId]] = resourcesOf(stack, 'AWS::S3::Bucket');
    const statements = statementsOf(stack, { Ref: roleId });
    expect(statements).toEqual([
      expect.objectContaining({ Action: ['s3:GetBucketLocation', 's3:GetBucketAcl', 's3:ListBucket'], Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] } }),
      expect.objectContaining({ Action: ['s3:GetObject', 's3:PutObject'], Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/golden/*']] } }),
      expect.objectContaining({ Action: ['ec2:CopySnapshot', 'ec2:ModifySnapshotAttribute', 'ec2:Describe*'], Resource: '*' }),
    ]);
    for (const action of statements.flatMap((statement) => [statement.Action].flat())) {
      expect(roleSection).toContain(`\`${action}\``);
    }
    // The one action of the guide's role policy the library leaves out, and says so.
    expect(JSON.stringify(statements)).not.toContain('ec2:RegisterImage');
    expect(roleSection).toContain('leaves out `ec2:RegisterImage`');
  });

  test('passing the role: iam:PassRole on that role only, for vmie.amazonaws.com', () => {
    const stack = synthBlock(tsBlock(imageSection, 'imagebuilder.CfnImage'));
    const roleId = logicalIdStartingWith(stack, 'AWS::IAM::Role', 'VmImportServiceRole');
    const taskRoleId = logicalIdStartingWith(stack, 'AWS::IAM::Role', 'VmExportWorkflowExportTaskRole');
    const passRole = statementsOf(stack, { Ref: taskRoleId }).filter((s) => [s.Action].flat().includes('iam:PassRole'));
    expect(passRole).toEqual([expect.objectContaining({
      Resource: { 'Fn::GetAtt': [roleId, 'Arn'] },
      Condition: { StringEquals: { 'iam:PassedToService': 'vmie.amazonaws.com' } },
    })]);
    expect(section('### The service role')).toContain('`iam:PassedToService` = `vmie.amazonaws.com`');
  });

  test('an existing vmimport role with addGrants: false: used by name, no role created, no policy attached', () => {
    const stack = synthBlock(tsBlock(section('### The service role'), 'fromRoleName'));
    const [[, vmExport]] = resourcesOf(stack, 'Custom::VmImageExport');
    expect(vmExport.Properties).toMatchObject({ RoleName: 'vmimport', DiskImageFormat: 'RAW', S3Bucket: 'team-vm-exports' });
    expect(resourcesOf(stack, 'AWS::IAM::Role').filter(([id]) => id.startsWith('VmImportServiceRole'))).toEqual([]);
    expect(statementsOf(stack, 'vmimport')).toEqual([]);
    const taskRoleId = logicalIdStartingWith(stack, 'AWS::IAM::Role', 'VmExportWorkflowExportTaskRole');
    const passRole = statementsOf(stack, { Ref: taskRoleId }).filter((s) => [s.Action].flat().includes('iam:PassRole'));
    expect(JSON.stringify(passRole[0].Resource)).toContain(':role/vmimport');
  });

  test('the attributes the README names exist, and the key is <prefix><export-ami-id>.<format>', () => {
    const stack = new Stack(new App(), 'Attributes');
    const vm = new library.ImageExport(stack, 'Export', {
      imageId: 'ami-0123456789abcdef0',
      bucket: library.VmExportBucket.fromBucketName(stack, 'Bucket', 'team-vm-exports'),
      diskImageFormat: library.DiskImageFormat.RAW,
    });
    const attributes = section('### Attributes');
    for (const name of ['exportImageTaskId', 'exportObjectKey', 'exportObjectUri', 'serviceRole', 'diskImageFormat']) {
      expect(attributes).toContain(`\`${name}\``);
      expect(vm).toHaveProperty(name);
    }
    expect(vm.diskImageFormat).toBe('RAW');
    expect(attributes).toContain('`<prefix><export-ami-id>.<vmdk\\|vhd\\|raw>`');
  });
});

describe('README: an AMI exported by a workflow started directly', () => {
  const outside = section('## Running the workflow outside CloudFormation');

  test('the block grants the AMI, the role and the bucket; the input table refuses instance keys with imageId', () => {
    const code = tsBlock(outside, 'grantExportOfImage');
    const stack = synthBlock(code);
    const taskRoleId = logicalIdStartingWith(stack, 'AWS::IAM::Role', 'VmExportWorkflowExportTaskRole');
    const statements = JSON.stringify(statementsOf(stack, { Ref: taskRoleId }));
    expect(statements).toContain('ec2:ExportImage');
    expect(statements).toContain('ami-0123456789abcdef0');
    expect(statements).toContain('iam:PassRole');
    expect(templateOf(stack).toJSON().Outputs.ServiceRoleName.Value).toEqual({
      Ref: logicalIdStartingWith(stack, 'AWS::IAM::Role', 'VmImportServiceRole'),
    });
    expect(outside).toContain('An input with `imageId` is\nan image export: `instanceId`, `targetEnvironment`, `containerFormat` and `canonicalId` belong to\ninstance export and are refused with it');
  });

  test('an execution for an AMI not granted fails in Prepare with VmExport.InvalidInput, in the message the README quotes', () => {
    const grants = JSON.stringify({ anyInstance: false, instances: [], tags: [], anyImage: false, images: ['ami-0123456789abcdef0'] });
    expect(() => checkImageExportGrant('ami-0fedcba9876543210', grants)).toThrow(/This export workflow may not export AMI ami-0fedcba9876543210: it was not granted to the workflow/);
    expect(() => checkImageExportGrant('ami-0123456789abcdef0', grants)).not.toThrow();
    expect(outside.replace(/\s+/g, ' ')).toContain('fails the same way in `Prepare` with `VmExport.InvalidInput` ("This export workflow may not export AMI ami-... : it was not granted to the workflow');
  });
});

describe('README: VM Export Progress events', () => {
  test('the rule block matches the progress events of the stack\'s workflow', () => {
    const stack = synthBlock(tsBlock(section('## Events and alarms'), Events.PROGRESS));
    const [[machineId]] = resourcesOf(stack, 'AWS::StepFunctions::StateMachine');
    const rules = resourcesOf(stack, 'AWS::Events::Rule').map(([, r]) => r)
      .filter((r) => JSON.stringify(r.Properties.EventPattern).includes(Events.PROGRESS));
    expect(rules).toHaveLength(1);
    expect(rules[0].Properties.EventPattern).toEqual({
      'source': [Events.SOURCE],
      'detail-type': [Events.PROGRESS],
      'resources': [{ Ref: machineId }],
    });
  });
});
