/*
 * Runs inside the scratch `cdk init` app of test/compat-newest-cdk.sh, with tsx, against the
 * aws-cdk-lib installed THERE (the newest) and the packed cdk-vm-export. With cdk.json's
 * context (every `cdk init` feature flag) and JSII_DEPRECATED=fail it synthesizes every README
 * sample (lib/readme), every example app (lib/examples) and a stack with the library's whole
 * surface, and checks what matters on that aws-cdk-lib:
 *   - no error and no warning annotation;
 *   - cdk-nag (AwsSolutions, NIST 800-53 R5, HIPAA Security) reports nothing on the library's
 *     constructs in the example apps and the library surface stack (the examples' own pipelines
 *     and buckets are the user's business, and README samples show opt-outs such as turning
 *     X-Ray tracing off, which cdk-nag rightly reports);
 *   - the bucket grant carries the region's canonical ID (expected values: argv[2], a JSON map
 *     of region to ID written from the repository's table);
 *   - the IAM shape: Allow only, no wildcard action, a `*` resource only for actions without
 *     resource-level permissions, ec2:CreateInstanceExportTask on instance/* only under a tag
 *     condition, and ARNs in the stack's own partition (AWS::Partition, or the literal the
 *     `cdk init` flags let aws-cdk-lib write for a known region).
 * Prints one line per problem and exits 1 when there is any.
 */
'use strict';
const fs = require('fs');
const path = require('path');

const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, 'cdk.json'), 'utf8'));
// What the CDK CLI hands the app: every App created below gets cdk init's context.
process.env.CDK_CONTEXT_JSON = JSON.stringify(cdkJson.context);
process.env.JSII_DEPRECATED = 'fail';

const { App, Stack, Stage, Token } = require('aws-cdk-lib');
const nag = require('cdk-nag');
const lib = require('cdk-vm-export');

const expectedIds = JSON.parse(process.argv[2] || '{}');
const samples = JSON.parse(fs.readFileSync(path.join(__dirname, 'readme-samples.json'), 'utf8'));
const problems = [];
// Cloud assemblies go inside the scratch app, which the job removes.
const outRoot = fs.mkdtempSync(path.join(__dirname, 'compat-out-'));
let outCount = 0;
const outdir = () => path.join(outRoot, String(outCount++));

function annotations(app) {
  for (const c of app.node.findAll()) {
    for (const m of c.node.metadata) {
      if (m.type === 'aws:cdk:error' || m.type === 'aws:cdk:warning') {
        problems.push(`${m.type === 'aws:cdk:error' ? 'error' : 'warning'} at ${c.node.path}: ${String(m.data).split('\n')[0]}`);
      }
    }
  }
}

/** True for a construct path inside one of the library's constructs (or its per-stack singletons). */
function isLibraryPath(stack, constructPath) {
  const c = stack.node.findAll().find((x) => x.node.path === constructPath);
  if (!c) throw new Error(`no construct at ${constructPath}`);
  const below = c.node.scopes.slice(c.node.scopes.indexOf(stack) + 1);
  return below.some((s) => s instanceof lib.VmExportBucket || s instanceof lib.InstanceExport
    || s instanceof lib.InstanceExportWorkflow || s instanceof lib.ImageExport || s instanceof lib.VmImportServiceRole
    || s instanceof lib.InstanceExportFleet
    || (s.node.scope === stack && /^VmExport/.test(s.node.id)));
}

function nagFindings(stack) {
  for (const pack of [new nag.AwsSolutionsChecks(), new nag.NIST80053R5Checks(), new nag.HIPAASecurityChecks()]) {
    for (const v of pack.validateScope(stack).violations) {
      const ours = v.violatingResources.map((r) => r.constructPath).filter((p) => isLibraryPath(stack, p));
      if (ours.length > 0) problems.push(`cdk-nag ${v.ruleName} at ${ours.join(', ')}`);
    }
  }
}

/** The partition of a region (what AWS::Partition resolves to there). */
function partitionOf(region) {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

const list = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
function flat(node) {
  if (typeof node === 'string') return node;
  if (node && node['Fn::Join']) return node['Fn::Join'][1].map(flat).join(node['Fn::Join'][0]);
  if (node && node['Fn::GetAtt']) return `<${node['Fn::GetAtt'][0]}.${node['Fn::GetAtt'][1]}>`;
  if (node && node.Ref) return `<${node.Ref}>`;
  return JSON.stringify(node);
}
const STAR_OK = [
  /^ec2:Describe(ExportTasks|ExportImageTasks|Images|Instances|Volumes)$/,
  /^xray:(PutTraceSegments|PutTelemetryRecords|GetSamplingRules|GetSamplingTargets)$/,
  /^logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)$/,
];

function iamShape(stack, template, region) {
  const name = stack.node.path;
  const resources = Object.entries(template.Resources || {});
  const libraryOwned = ([id, r]) => {
    if (r.Type !== 'AWS::IAM::Policy' && r.Type !== 'AWS::IAM::Role') return false;
    const cdkPath = r.Metadata && r.Metadata['aws:cdk:path'];
    return cdkPath ? isLibraryPath(stack, cdkPath.replace(/\/Resource$/, '')) : /^VmExport/.test(id);
  };
  const statements = resources.filter(libraryOwned).flatMap(([id, r]) => {
    if (r.Type === 'AWS::IAM::Policy') return r.Properties.PolicyDocument.Statement.map((s) => [id, s]);
    if (r.Type === 'AWS::IAM::Role') return list(r.Properties.Policies).flatMap((p) => p.PolicyDocument.Statement.map((s) => [id, s]));
    return [];
  });
  for (const [id, s] of statements) {
    const where = `IAM ${name}/${id}`;
    if (s.Effect !== 'Allow') problems.push(`${where}: Effect ${s.Effect}`);
    // The VM Import/Export service role keeps the guide's own snapshot statement ("Required
    // service role": ec2:CopySnapshot, ec2:ModifySnapshotAttribute, ec2:Describe* on *).
    if (/^VmImportServiceRole/.test(id) && s.Sid === 'ExportSnapshots') continue;
    for (const a of list(s.Action)) if (a.includes('*')) problems.push(`${where}: wildcard action ${a}`);
    if (list(s.Resource).includes('*')) {
      for (const a of list(s.Action)) if (!STAR_OK.some((p) => p.test(a))) problems.push(`${where}: '*' resource for ${a}`);
    }
    const flatResources = list(s.Resource).map(flat);
    const tagCondition = /ResourceTag\//.test(JSON.stringify(s.Condition || {}));
    if (list(s.Action).includes('ec2:CreateInstanceExportTask') && flatResources.some((r) => /:instance\/\*$/.test(r)) && !tagCondition) {
      problems.push(`${where}: ec2:CreateInstanceExportTask on instance/* without a tag condition`);
    }
    for (const r of flatResources) {
      const literal = /^arn:([a-z-]+):/.exec(r);
      if (literal && (region === undefined || literal[1] !== partitionOf(region))) {
        problems.push(`${where}: partition '${literal[1]}' in ${r} (stack region ${region || 'unknown'})`);
      }
    }
  }
  return statements.length;
}

function canonicalIds(name, template, region) {
  const expected = expectedIds[region];
  if (!expected) return;
  for (const [id, r] of Object.entries(template.Resources || {})) {
    if (r.Type !== 'Custom::VmExportBucketGrant') continue;
    if (r.Properties.CanonicalId !== expected) {
      problems.push(`canonical ID ${name}/${id}: ${JSON.stringify(r.Properties.CanonicalId)}, expected ${expected} for ${region}`);
    }
  }
}

function checkAssembly(label, app, stacks, options = { nag: true }) {
  let assembly;
  try {
    assembly = app.synth();
  } catch (err) {
    problems.push(`${label}: synth failed: ${String(err && err.message).split('\n').slice(0, 3).join(' ')}`);
    return;
  }
  annotations(app);
  let statements = 0;
  for (const stack of stacks) {
    const stage = Stage.of(stack);
    const template = (stage === app ? assembly : stage.synth()).getStackArtifact(stack.artifactId).template;
    if (options.nag) nagFindings(stack);
    const region = Token.isUnresolved(stack.region) ? undefined : stack.region;
    statements += iamShape(stack, template, region);
    if (region) canonicalIds(stack.node.path, template, region);
  }
  console.log(`compat: ${label}: ${stacks.length} stack(s) synthesized, ${statements} library IAM statements checked`);
}

function allStacks(app) {
  const out = [];
  const visit = (c) => {
    if (Stack.isStack(c)) out.push(c);
    c.node.children.forEach(visit);
  };
  visit(app);
  return out;
}

// 1. Every README sample, environment-agnostic and with an environment.
/** Runs `build`; an exception is a problem of `label` (and the run goes on with the next). */
function attempt(label, build) {
  try {
    return build();
  } catch (err) {
    problems.push(`${label}: ${String(err && err.message).split('\n').slice(0, 3).join(' ')}`);
    return undefined;
  }
}

for (const sample of samples.samples) {
  const label = `README sample at line ${sample.line}`;
  const app = attempt(label, () => {
    const a = new App({ outdir: outdir() });
    const Sample = require(path.join(__dirname, sample.module))[sample.className];
    new Sample(a, 'Agnostic');
    for (const region of Object.keys(expectedIds)) {
      new Sample(a, `In-${region}`, { env: { account: '123456789012', region } });
    }
    return a;
  });
  if (app) checkAssembly(label, app, allStacks(app), { nag: false });
}

// 2. Every example app (each builds its own App: it gets the same context through CDK_CONTEXT_JSON).
for (const file of samples.examples) {
  const mod = require(path.join(__dirname, 'lib', 'examples', file));
  const builders = Object.entries(mod).filter(([n, f]) => typeof f === 'function' && /^build\w*App$/.test(n));
  if (builders.length === 0) problems.push(`examples/${file}: no build...App function to synthesize`);
  for (const [name, build] of builders) {
    const built = attempt(`examples/${file} ${name}`, () => build(outdir()));
    const app = built === undefined ? undefined : built instanceof App ? built : built.app;
    if (app) checkAssembly(`examples/${file} ${name}`, app, allStacks(app));
  }
}

// 3. The library's surface in one stack: both kinds of bucket, both export modes, the fleet.
{
  const app = new App({ outdir: outdir() });
  const stack = new Stack(app, 'Surface', { env: { account: '123456789012', region: 'eu-west-1' } });
  const bucket = new lib.VmExportBucket(stack, 'ExportBucket');
  const existing = lib.VmExportBucket.fromBucketName(stack, 'Existing', 'team-vm-exports');
  new lib.InstanceExport(stack, 'Web', { instanceId: 'i-0123456789abcdef0', bucket, targetEnvironment: lib.TargetEnvironment.VMWARE });
  new lib.InstanceExport(stack, 'Db', {
    instanceId: 'i-0fedcba9876543210', bucket: existing, targetEnvironment: lib.TargetEnvironment.CITRIX,
    waitForCompletion: false, deleteObjectOnDelete: true,
  });
  lib.InstanceExportFleet.of(stack);
  checkAssembly('the library surface (two exports, two buckets, the fleet)', app, [stack]);
}

const cdkLib = require('aws-cdk-lib/package.json').version;
if (problems.length > 0) {
  console.log(problems.map((p) => `compat problem: ${p}`).join('\n'));
  console.log(`compat: ${problems.length} problem(s) on aws-cdk-lib ${cdkLib} with cdk init's context`);
  process.exit(1);
}
console.log(`compat: no problem on aws-cdk-lib ${cdkLib} with cdk init's ${Object.keys(cdkJson.context).length} context flags and JSII_DEPRECATED=fail`);
