/**
 * cdk-nag 3 (AwsSolutions, NIST 800-53 R5, HIPAA Security) reports nothing on the library's
 * resources, with no acknowledgement from the user: the findings the service forces are
 * acknowledged by the library itself, each with a reason.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, Stack, Validations, aws_s3 as s3 } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, NagPack } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { InstanceExport, InstanceExportFleet, InstanceExportWorkflow, TargetEnvironment, VmExportBucket } from '../src';
import { REASONS } from '../src/internal/acknowledgements';

type Env = { account: string; region: string } | undefined;

function exportStack(env: Env, bucketProps: ConstructorParameters<typeof VmExportBucket>[2] = {}): Stack {
  const stack = new Stack(new App(), 'NagStack', { env });
  const bucket = new VmExportBucket(stack, 'ExportBucket', bucketProps);
  new InstanceExport(stack, 'WebExport', {
    instanceId: 'i-0123456789abcdef0',
    bucket,
    targetEnvironment: TargetEnvironment.VMWARE,
  });
  new InstanceExport(stack, 'DbExport', {
    instanceId: 'i-0fedcba9876543210',
    bucket,
    targetEnvironment: TargetEnvironment.MICROSOFT,
    waitForCompletion: false,
    deleteObjectOnDelete: true,
    prefix: 'db/',
  });
  // The fleet workflow of the stack, with a rule on its closing event.
  InstanceExportFleet.of(stack).onFleetFinished('FleetFinished');
  return stack;
}

function packs(): NagPack[] {
  return [new AwsSolutionsChecks(), new NIST80053R5Checks(), new HIPAASecurityChecks()];
}

/** `rule: path, path` for every unacknowledged finding (empty when clean). */
function findings(scope: IConstruct): string[] {
  return packs().flatMap((pack) => pack.validateScope(scope).violations
    .map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`));
}

/** Every acknowledgement recorded under `scope`: [construct path, rule id, reason]. */
function acknowledgements(scope: IConstruct): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = [];
  for (const c of scope.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          out.push([c.node.path, id.replace(/^annotation::/i, ''), reason]);
        }
      }
    }
  }
  return out;
}

describe.each([
  ['a stack with a concrete account and region', { account: '123456789012', region: 'eu-west-1' }],
  ['an environment-agnostic stack', undefined],
  ['a China-region stack', { account: '123456789012', region: 'cn-north-1' }],
] as const)('%s', (_name, env) => {
  const stack = exportStack(env);

  test('AwsSolutions, NIST 800-53 R5 and HIPAA Security report no unacknowledged finding', () => {
    expect(findings(stack)).toEqual([]);
  });

  test('every acknowledgement carries one of the documented reasons', () => {
    const known = Object.values(REASONS) as string[];
    const acks = acknowledgements(stack);
    expect(acks.length).toBeGreaterThan(0);
    for (const [where, id, reason] of acks) {
      // A wildcard finding can combine the reasons of several statements on the same resource.
      const explained = known.some((r) => reason.includes(r)) && reason.length >= 60;
      expect({ where, id, explained }).toEqual({ where, id, explained: true });
    }
  });
});

describe('the acknowledgements are the ones the service forces, with the right reasons', () => {
  const stack = exportStack({ account: '123456789012', region: 'eu-west-1' });
  const acks = acknowledgements(stack);
  const reasonOf = (idPattern: RegExp, pathPattern: RegExp = /./) =>
    acks.filter(([where, id]) => idPattern.test(id) && pathPattern.test(where)).map(([, , reason]) => reason);

  test.each([
    [/^(NIST\.800\.53\.R5|HIPAA\.Security)-S3DefaultEncryptionKMS$/, /cannot write to SSE-KMS/],
    [/^AwsSolutions-S1$/, /access logs are opt-in via the serverAccessLogsBucket prop/],
    [/^AwsSolutions-IAM5\[Resource::\*\]$/, /support no resource-level permissions/],
    [/^AwsSolutions-IAM5\[Resource::.*export-instance-task\/\*\]$/, /request tag/],
    [/^AwsSolutions-IAM5\[Resource::.*:stack\/.*\/\*\]$/, /names the stacks whose wait conditions the workflow signals/],
    [/^(NIST\.800\.53\.R5|HIPAA\.Security)-LambdaDLQ$/, /answer CloudFormation themselves/],
  ])('%s: %s', (id, reason) => {
    const reasons = reasonOf(id);
    expect(reasons.length).toBeGreaterThan(0);
    for (const r of reasons) {
      expect(r).toMatch(reason);
    }
  });

  test('no AWS managed policy is acknowledged: every role of the library has its own policy', () => {
    expect(acks.filter(([, id]) => id.startsWith('AwsSolutions-IAM4'))).toEqual([]);
  });

  test('nothing is acknowledged for the whole stack: acknowledgements sit on the library\'s constructs', () => {
    expect(acks.filter(([where]) => where === stack.node.path)).toEqual([]);
  });
});

describe('acknowledgements follow the bucket\'s props', () => {
  test('a versioned bucket with access logs is compliant without those acknowledgements', () => {
    const stack = new Stack(new App(), 'Logged', { env: { account: '123456789012', region: 'eu-west-1' } });
    const logs = new s3.Bucket(stack, 'AccessLogs');
    const bucket = new VmExportBucket(stack, 'ExportBucket', { versioned: true, serverAccessLogsBucket: logs });
    const ids = acknowledgements(bucket).map(([, id]) => id);
    expect(ids).not.toContain('AwsSolutions-S1');
    expect(ids.filter((id) => /S3BucketLoggingEnabled|S3BucketVersioningEnabled/.test(id))).toEqual([]);
    expect(findings(bucket)).toEqual([]);
  });

  test('the packs still report a user\'s own bucket next to the library\'s (acknowledgements are scoped)', () => {
    const stack = exportStack({ account: '123456789012', region: 'eu-west-1' });
    new s3.Bucket(stack, 'UserBucket');
    const userFindings = findings(stack);
    expect(userFindings.some((f) => f.startsWith('AwsSolutions-S1: NagStack/UserBucket/Resource'))).toBe(true);
    expect(userFindings.every((f) => f.includes('NagStack/UserBucket/'))).toBe(true);
  });
});

test('the library does not load cdk-nag at run time (it stays a devDependency)', () => {
  const root = path.join(__dirname, '..');
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  expect(Object.keys(pkg.dependencies ?? {})).not.toContain('cdk-nag');
  expect(Object.keys(pkg.devDependencies ?? {})).toContain('cdk-nag');
  for (const file of fs.readdirSync(path.join(root, 'src')).filter((f) => f.endsWith('.ts'))) {
    const text = fs.readFileSync(path.join(root, 'src', file), 'utf8');
    expect([file, /from 'cdk-nag'|require\('cdk-nag'\)/.test(text)]).toEqual([file, false]);
  }
});

describe.each([
  ['a workflow that exports instances by tag', (stack: Stack) => InstanceExportWorkflow.of(stack).allowInstancesTagged('vm-export', 'allowed')],
  ['a workflow that may export any instance (allowAnyInstance)', (stack: Stack) => new InstanceExportWorkflow(stack, 'VmExportWorkflow', { allowAnyInstance: true })],
] as const)('%s', (_name, configure) => {
  const stack = new Stack(new App(), 'NagStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  configure(stack);
  new VmExportBucket(stack, 'ExportBucket');

  test('reports no unacknowledged finding; instance/* is acknowledged with the grant reason', () => {
    expect(findings(stack)).toEqual([]);
    const instanceAcks = acknowledgements(stack).filter(([, id]) => /^AwsSolutions-IAM5\[Resource::.*:instance\/\*\]$/.test(id));
    expect(instanceAcks.length).toBeGreaterThan(0);
    for (const [, , reason] of instanceAcks) {
      expect(reason).toBe(REASONS.workflowInstances);
      expect(reason).toMatch(/exports only instances granted to it: instance\/\* appears only under an aws:ResourceTag condition/);
    }
  });
});

test('the default stack (exports granted by id) has no instance/* to acknowledge', () => {
  const stack = exportStack({ account: '123456789012', region: 'eu-west-1' });
  expect(acknowledgements(stack).filter(([, id]) => id.includes(':instance/'))).toEqual([]);
});
