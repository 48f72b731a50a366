import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { VmExportBucket, VmExportCanonicalIds } from '../src';
import { evaluateCfn } from './support/cfn-eval';

// A literal copy of SPEC section 1, written out here on purpose (never imported from src/).
const EXPECTED: Array<[string, string]> = [
  ['af-south-1', '3f7744aeebaf91dd60ab135eb1cf908700c8d2bc9133e61261e6c582be6e33ee'],
  ['ap-east-1', '97ee7ab57cc9b5034f31e107741a968e595c0d7a19ec23330eae8d045a46edfb'],
  ['ap-east-2', 'a9fa0eb7c8483f9558cd14b24d16e9c4d1555261a320b586a3a06908ff0047ce'],
  ['ap-south-2', '77ab5ec9eac9ade710b7defed37fe0640f93c5eb76ea65a64da49930965f18ca'],
  ['ap-southeast-3', 'de34aaa6b2875fa3d5086459cb4e03147cf1a9f7d03d82f02bedb991ff3d1df5'],
  ['ap-southeast-4', '8b8ea36ab97c280aa8558c57a380353ac7712f01f82c21598afbb17e188b9ad5'],
  ['ap-southeast-5', 'ed006f67543afcfe0779e356e52d5ed53fa45f95bcd7d277147dfc027aaca0e7'],
  ['ap-southeast-6', '2dc8fa4ca1c59da5c6a4c5b0e397eea130ec62e49f18cff179034665fd20e8a2'],
  ['ap-southeast-7', 'd011fe83abcc227a7ac0f914ce411d3630c4ef735e92e88ce0aa796dcfecfbdd'],
  ['ap-northeast-3', '40f22ffd22d6db3b71544ed6cd00c8952d8b0a63a87d58d5b074ec60397db8c9'],
  ['ca-west-1', '78e12f8d798f89502177975c4ccdac686c583765cea2bf06e9b34224e2953c83'],
  ['eu-south-1', '04636d9a349e458b0c1cbf1421858b9788b4ec28b066148d4907bb15c52b5b9c'],
  ['eu-south-2', '6e81c4c52a37a7f59e103625162ed97bcd0e646593adb107d21310d093151518'],
  ['eu-central-2', '5d9fcea77b2fb3df05fc15c893f212ae1d02adb4b24c13e18586db728a48da67'],
  ['il-central-1', '328a78de7561501444823ebeb59152eca7cb58fee2fe2e4223c2cdd9f93ae931'],
  ['mx-central-1', 'edaff67fe25d544b855bd0ba9a74a99a2584ab89ceda0a9661bdbeca530d0fca'],
  ['me-south-1', 'aa763f2cf70006650562c62a09433f04353db3cba6ba6aeb3550fdc8065d3d9f'],
  ['me-central-1', '7d3018832562b7b6c126f5832211fae90bd3eee3ed3afde192d990690267e475'],
  ['cn-north-1', '834bafd86b15b6ca71074df0fd1f93d234b9d5e848a2cb31f880c149003ce36f'],
  ['cn-northwest-1', '834bafd86b15b6ca71074df0fd1f93d234b9d5e848a2cb31f880c149003ce36f'],
  ['us-gov-west-1', 'af913ca13efe7a94b88392711f6cfc8aa07c9d1454d4f190a624b126733a5602'],
  ['us-gov-east-1', 'af913ca13efe7a94b88392711f6cfc8aa07c9d1454d4f190a624b126733a5602'],
];
const DEFAULT_ID = 'c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322';
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
