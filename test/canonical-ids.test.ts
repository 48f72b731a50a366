import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { VmExportBucket, VmExportCanonicalIds } from '../src';
import { evaluateCfn } from './support/cfn-eval';
import { SPEC_CANONICAL_IDS, SPEC_DEFAULT_CANONICAL_ID } from './support/spec-canonical-ids';

const EXPECTED = SPEC_CANONICAL_IDS;
const DEFAULT_ID = SPEC_DEFAULT_CANONICAL_ID;
const UNLISTED = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'xx-future-9'];

/** The CanonicalId property the bucket's grant resource receives. */
function grantedId(template: Template): unknown {
  const grants = template.findResources('Custom::VmExportBucketGrant');
  const [grant] = Object.values(grants) as Array<{ Properties: { CanonicalId: unknown } }>;
  return grant.Properties.CanonicalId;
}

function policyPrincipal(template: Template): unknown {
  const policies = template.findResources('AWS::S3::BucketPolicy');
  const [policy] = Object.values(policies) as Array<{ Properties: { PolicyDocument: { Statement: any[] } } }>;
  const statement = policy.Properties.PolicyDocument.Statement.find((s) => s.Sid === 'VmExportServiceAccess');
  return statement.Principal.CanonicalUser;
}

describe('VmExportCanonicalIds.forRegion', () => {
  test.each(EXPECTED)('%s has its own ID', (region, id) => {
    expect(VmExportCanonicalIds.forRegion(region)).toBe(id);
  });

  test.each(UNLISTED)('%s gets the default', (region) => {
    expect(VmExportCanonicalIds.forRegion(region)).toBe(DEFAULT_ID);
  });

  test('DEFAULT is the default row', () => {
    expect(VmExportCanonicalIds.DEFAULT).toBe(DEFAULT_ID);
  });

  test('knownRegions lists the 22 region codes of the table', () => {
    expect([...VmExportCanonicalIds.knownRegions()].sort()).toEqual(EXPECTED.map(([r]) => r).sort());
  });

  test('a token region is refused with a pointer to of()', () => {
    const stack = new Stack();
    expect(() => VmExportCanonicalIds.forRegion(stack.region)).toThrow(/VmExportCanonicalIds.of\(scope\)/);
  });
});

describe('VmExportCanonicalIds.of with a concrete region', () => {
  // One app with a stack per region, synthesized once.
  const cases: Array<[string, string]> = [...EXPECTED, ...UNLISTED.map((r): [string, string] => [r, DEFAULT_ID])];
  const app = new App();
  for (const [region] of cases) {
    const stack = new Stack(app, `In-${region}`, { env: { account: '123456789012', region } });
    new VmExportBucket(stack, 'Exports');
  }
  const assembly = app.synth();

  test.each(cases)('a bucket in %s grants the literal ID', (region, id) => {
    const template = Template.fromJSON(assembly.getStackByName(`In-${region}`).template);
    expect(VmExportCanonicalIds.of(app.node.findChild(`In-${region}`))).toBe(id);
    expect(grantedId(template)).toBe(id);
    expect(policyPrincipal(template)).toBe(id);
    expect(Object.keys(template.toJSON().Conditions ?? {})).toHaveLength(0);
  });
});

describe('VmExportCanonicalIds.of in an environment-agnostic stack', () => {
  const stack = new Stack(new App(), 'Agnostic');
  new VmExportBucket(stack, 'Exports');
  // The dependency-cycle check of the assertions library is very slow on the nested Fn::If chain;
  // the same resources are cycle-checked in the concrete-region tests (test/vm-export-bucket.test.ts).
  const synthesized = Template.fromStack(stack, { skipCyclicalDependenciesCheck: true });
  const template = synthesized.toJSON();
  const expression = grantedId(synthesized);
  const principal = policyPrincipal(synthesized);

  test('is a deploy-time expression, with no transform added', () => {
    expect(typeof expression).toBe('object');
    expect(template.Transform).toBeUndefined();
    expect(JSON.stringify(template)).not.toContain('Fn::FindInMap');
  });

  test.each([...EXPECTED, ...UNLISTED.map((r): [string, string] => [r, DEFAULT_ID])])(
    'resolves to the right ID when deployed in %s',
    (region, id) => {
      expect(evaluateCfn(expression, { region, conditions: template.Conditions })).toBe(id);
      expect(evaluateCfn(principal, { region, conditions: template.Conditions })).toBe(id);
    },
  );

  test('the conditions are added once per stack, however many buckets', () => {
    const multi = new Stack(new App(), 'Multi');
    new VmExportBucket(multi, 'A');
    new VmExportBucket(multi, 'B');
    const conditions = Object.keys(Template.fromStack(multi, { skipCyclicalDependenciesCheck: true }).toJSON().Conditions);
    expect(conditions).toHaveLength(20);
  });
});
