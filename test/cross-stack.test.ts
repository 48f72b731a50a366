/**
 * Issue 10, item 2: stacks that share a bucket, environment-agnostic stacks, a workflow or an
 * instance from another stack, and the per-export template budget in both kinds of stack.
 */
import { App, Stack, aws_ec2 as ec2, aws_sns as sns } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { EXPORT_COUNTS, StackKind, TEMPLATE_BUDGETS, perExtraExport, templateSize } from '../bench/template-growth';
import { InstanceExport, InstanceExportWorkflow, TargetEnvironment, VmExportBucket } from '../src';

const ACCOUNT = '123456789012';
const INSTANCE = 'i-0123456789abcdef0';
const OTHER_INSTANCE = 'i-0fedcba9876543210';

/** Every condition name a template refers to (Fn::If, Condition on resources and outputs, {Condition: ...}). */
function conditionReferences(template: any): string[] {
  const names: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(walk);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'Fn::If' && Array.isArray(value)) names.push(String(value[0]));
      if (key === 'Condition' && typeof value === 'string') names.push(value);
      walk(value);
    }
  };
  walk(template.Resources);
  walk(template.Outputs ?? {});
  // Conditions may refer to other conditions.
  walk(template.Conditions ?? {});
  return names;
}

function exportResources(template: any): any[] {
  return Object.values<any>(template.Resources).filter((r) => r.Type === 'Custom::VmInstanceExport');
}

describe('a bucket in stack A and exports in stack B', () => {
  test('both environment-agnostic: every condition a template names is defined in that template', () => {
    const app = new App();
    const a = new Stack(app, 'Buckets');
    const b = new Stack(app, 'Exports');
    const bucket = new VmExportBucket(a, 'ExportBucket');
    new InstanceExport(b, 'First', { instanceId: INSTANCE, bucket, targetEnvironment: TargetEnvironment.VMWARE });
    new InstanceExport(b, 'Second', { instanceId: OTHER_INSTANCE, bucket, targetEnvironment: TargetEnvironment.CITRIX });
    const assembly = app.synth();
    const templateA = assembly.getStackByName('Buckets').template;
    const templateB = assembly.getStackByName('Exports').template;

    for (const template of [templateA, templateB]) {
      const defined = Object.keys(template.Conditions ?? {});
      for (const name of conditionReferences(template)) {
        expect(defined).toContain(name);
      }
    }
    // The chain lives once, in the bucket's stack; the exports import the ID the grant resolved.
    expect(Object.keys(templateA.Conditions ?? {})).toHaveLength(20);
    expect(templateB.Conditions).toBeUndefined();
    const exports = exportResources(templateB);
    expect(exports).toHaveLength(2);
    for (const resource of exports) {
      expect(Object.keys(resource.Properties.CanonicalId)).toEqual(['Fn::ImportValue']);
    }
  });

  test('the same known region: the exports carry the region\'s literal ID', () => {
    const app = new App();
    const env = { account: ACCOUNT, region: 'eu-south-1' };
    const a = new Stack(app, 'Buckets', { env });
    const b = new Stack(app, 'Exports', { env });
    const bucket = new VmExportBucket(a, 'ExportBucket');
    new InstanceExport(b, 'First', { instanceId: INSTANCE, bucket, targetEnvironment: TargetEnvironment.VMWARE });
    const templateB = app.synth().getStackByName('Exports').template;
    const [resource] = exportResources(templateB);
    expect(resource.Properties.CanonicalId).toBe('04636d9a349e458b0c1cbf1421858b9788b4ec28b066148d4907bb15c52b5b9c');
    expect(templateB.Conditions).toBeUndefined();
  });

  test('an environment-agnostic bucket with exports in a stack with an env: a clear error', () => {
    const app = new App();
    const bucket = new VmExportBucket(new Stack(app, 'Buckets'), 'ExportBucket');
    const b = new Stack(app, 'Exports', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    expect(() => new InstanceExport(b, 'Export', { instanceId: INSTANCE, bucket, targetEnvironment: TargetEnvironment.VMWARE }))
      .toThrow(/bucket 'Buckets\/ExportBucket' is in environment-agnostic stack Buckets but the export is in stack Exports of region eu-west-1: .*Give both stacks the same env, or neither/);
  });
});

describe('an environment-agnostic stack with one bucket and several exports', () => {
  test('the exports read the canonical ID from the grant resource instead of copying the conditions', () => {
    const app = new App();
    const stack = new Stack(app, 'Agnostic');
    const bucket = new VmExportBucket(stack, 'ExportBucket');
    new InstanceExport(stack, 'First', { instanceId: INSTANCE, bucket, targetEnvironment: TargetEnvironment.VMWARE });
    const template = app.synth().getStackByName('Agnostic').template;
    const [resource] = exportResources(template);
    expect(resource.Properties.CanonicalId).toEqual({ 'Fn::GetAtt': ['ExportBucketServiceGrant67526A83', 'CanonicalId'] });
  });
});

describe('template growth per extra export, both kinds of stack', () => {
  test.each([StackKind.KNOWN_REGION, StackKind.ENVIRONMENT_AGNOSTIC])('%s: at most 1.5 KB per extra export', (kind) => {
    const [one, ten] = EXPORT_COUNTS.slice(0, 2).map((n) => templateSize(n, kind));
    expect(TEMPLATE_BUDGETS.BYTES_PER_EXPORT).toBe(1536);
    expect(perExtraExport(one, ten).bytes).toBeLessThanOrEqual(TEMPLATE_BUDGETS.BYTES_PER_EXPORT);
  });
});

describe('a workflow or an instance from another stack', () => {
  test('a workflow of another stack is refused with the fix', () => {
    const app = new App();
    const env = { account: ACCOUNT, region: 'eu-west-1' };
    const workflow = new InstanceExportWorkflow(new Stack(app, 'Workflows', { env }), 'Workflow');
    const stack = new Stack(app, 'Exports', { env });
    const bucket = new VmExportBucket(stack, 'ExportBucket');
    expect(() => new InstanceExport(stack, 'Export', { instanceId: INSTANCE, bucket, targetEnvironment: TargetEnvironment.VMWARE, workflow }))
      .toThrow(/workflow 'Workflows\/Workflow' is in stack Workflows but the export is in Exports: .*Use the workflow of the export's own stack/);
  });

  function instanceIn(app: App, env: { account: string; region: string }): string {
    const stack = new Stack(app, 'Instances', { env });
    return new ec2.CfnInstance(stack, 'Vm', { imageId: 'ami-0123456789abcdef0' }).ref;
  }

  test('an instance of a stack in another region is refused', () => {
    const app = new App();
    const instanceId = instanceIn(app, { account: ACCOUNT, region: 'us-west-2' });
    const stack = new Stack(app, 'Exports', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    const bucket = new VmExportBucket(stack, 'ExportBucket');
    expect(() => new InstanceExport(stack, 'Export', { instanceId, bucket, targetEnvironment: TargetEnvironment.VMWARE }))
      .toThrow(/instanceId refers to 'Instances\/Vm', which is in stack Instances of region us-west-2 but the export runs in eu-west-1: .*in a stack of the instance's region/);
  });

  test('an instance of a stack in another account is refused', () => {
    const app = new App();
    const instanceId = instanceIn(app, { account: '210987654321', region: 'eu-west-1' });
    const stack = new Stack(app, 'Exports', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    const bucket = new VmExportBucket(stack, 'ExportBucket');
    expect(() => new InstanceExport(stack, 'Export', { instanceId, bucket, targetEnvironment: TargetEnvironment.VMWARE }))
      .toThrow(/instanceId refers to 'Instances\/Vm', which is in stack Instances of account 210987654321 but the export runs in 123456789012: .*in a stack of the instance's account/);
  });

  test('an instance of another stack of the same account and region synthesizes', () => {
    const app = new App();
    const env = { account: ACCOUNT, region: 'eu-west-1' };
    const instanceId = instanceIn(app, env);
    const stack = new Stack(app, 'Exports', { env });
    const bucket = new VmExportBucket(stack, 'ExportBucket');
    new InstanceExport(stack, 'Export', { instanceId, bucket, targetEnvironment: TargetEnvironment.VMWARE });
    const [resource] = exportResources(app.synth().getStackByName('Exports').template);
    expect(Object.keys(resource.Properties.InstanceId)).toEqual(['Fn::ImportValue']);
  });
});

describe('notificationTopic on a workflow created after the first export', () => {
  function stackWithExport(): Stack {
    const stack = new Stack(new App(), 'Exports', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    const bucket = new VmExportBucket(stack, 'ExportBucket');
    new InstanceExport(stack, 'Export', { instanceId: INSTANCE, bucket, targetEnvironment: TargetEnvironment.VMWARE });
    return stack;
  }

  test('another id: says to create the workflow first', () => {
    const stack = stackWithExport();
    const notificationTopic = new sns.Topic(stack, 'Topic');
    expect(() => new InstanceExportWorkflow(stack, 'Notifying', { notificationTopic }))
      .toThrow(/InstanceExportWorkflow 'Notifying' with a notificationTopic is created after the first InstanceExport of the stack.*Create the InstanceExportWorkflow first/);
  });

  test('the default id: the same message instead of the generic duplicate-id error', () => {
    const stack = stackWithExport();
    const notificationTopic = new sns.Topic(stack, 'Topic');
    expect(() => new InstanceExportWorkflow(stack, InstanceExportWorkflow.DEFAULT_ID, { notificationTopic }))
      .toThrow(/Create the InstanceExportWorkflow first, before the first InstanceExport of the stack/);
  });

  test('created first: the exports use it and the stack has one state machine', () => {
    const stack = new Stack(new App(), 'Exports', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    const notificationTopic = new sns.Topic(stack, 'Topic');
    const workflow = new InstanceExportWorkflow(stack, 'Notifying', { notificationTopic });
    const bucket = new VmExportBucket(stack, 'ExportBucket');
    const vm = new InstanceExport(stack, 'Export', { instanceId: INSTANCE, bucket, targetEnvironment: TargetEnvironment.VMWARE });
    expect(vm.workflow).toBe(workflow);
    Template.fromStack(stack).resourceCountIs('AWS::StepFunctions::StateMachine', 1);
  });
});
