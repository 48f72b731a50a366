/**
 * Which instances a workflow may export (the confused-deputy guard), as the template shows it:
 * the export-task role's ec2:CreateInstanceExportTask statements and the grants the function
 * reads from its environment; and the provider's permissions when a stack has two workflows.
 */
import { App, CfnParameter, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { parseExportGrants } from '../lambda/shared/export-grants';
import { InstanceExport, InstanceExportWorkflow, TargetEnvironment, VmExportBucket } from '../src';

const ENV = { account: '123456789012', region: 'eu-west-1' };

function newStack(): Stack {
  return new Stack(new App(), 'TestStack', { env: ENV });
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Statements of the default policy of the role whose logical id starts with `rolePrefix`. */
function roleStatements(template: Template, rolePrefix: string): any[] {
  const policies = Object.entries(template.findResources('AWS::IAM::Policy'))
    .filter(([id]) => id.includes('DefaultPolicy'))
    .map(([, p]) => p)
    .filter((p) => p.Properties.Roles.some((r: any) => typeof r.Ref === 'string' && r.Ref.startsWith(rolePrefix)));
  expect(policies).toHaveLength(1);
  return policies[0].Properties.PolicyDocument.Statement;
}

/** The export-task role's statements that allow ec2:CreateInstanceExportTask on instances. */
function instanceStatements(template: Template, rolePrefix = 'VmExportWorkflowExportTaskRole'): any[] {
  return roleStatements(template, rolePrefix)
    .filter((s) => list(s.Action).includes('ec2:CreateInstanceExportTask'))
    .filter((s) => JSON.stringify(s.Resource).includes(':instance/'));
}

/** The export-task function's VM_EXPORT_GRANTS value (a string, or an Fn::Join for tokens). */
function grantsVariable(template: Template, functionPrefix = 'VmExportWorkflowExportTaskFunction'): any {
  const functions = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) => id.startsWith(functionPrefix));
  expect(functions).toHaveLength(1);
  return functions[0][1].Properties.Environment.Variables.VM_EXPORT_GRANTS;
}

const instanceArn = (suffix: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ec2:eu-west-1:123456789012:instance/${suffix}`]],
});

describe('the workflow exports only the instances it was granted', () => {
  test('by default: no instance ARN in any policy of the stack, and the function\'s grants allow nothing', () => {
    const stack = newStack();
    InstanceExportWorkflow.of(stack);
    const template = Template.fromStack(stack);
    expect(JSON.stringify(template.toJSON())).not.toContain(':instance/');
    expect(grantsVariable(template)).toBe('{"anyInstance":false,"instances":[],"tags":[]}');
  });

  test('grantExportOf(literal id): that instance\'s ARN, listed once however often it is granted', () => {
    const stack = newStack();
    const workflow = InstanceExportWorkflow.of(stack);
    workflow.grantExportOf('i-0123456789abcdef0');
    workflow.grantExportOf('i-0123456789abcdef0');
    workflow.grantExportOf('i-01234567');
    const template = Template.fromStack(stack);
    expect(instanceStatements(template)).toEqual([{
      Sid: 'ExportGrantedInstances',
      Effect: 'Allow',
      Action: 'ec2:CreateInstanceExportTask',
      Resource: [instanceArn('i-0123456789abcdef0'), instanceArn('i-01234567')],
    }]);
    expect(grantsVariable(template)).toBe('{"anyInstance":false,"instances":["i-0123456789abcdef0","i-01234567"],"tags":[]}');
    expect(parseExportGrants(grantsVariable(template))).toEqual({
      anyInstance: false,
      instances: ['i-0123456789abcdef0', 'i-01234567'],
      tags: [],
      anyImage: false,
      images: [],
    });
  });

  test('grantExportOf(token): the ARN and the grants resolve at deploy time', () => {
    const stack = newStack();
    const instanceId = new CfnParameter(stack, 'InstanceId').valueAsString;
    InstanceExportWorkflow.of(stack).grantExportOf(instanceId);
    const template = Template.fromStack(stack);
    expect(instanceStatements(template)).toEqual([{
      Sid: 'ExportGrantedInstances',
      Effect: 'Allow',
      Action: 'ec2:CreateInstanceExportTask',
      Resource: {
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:eu-west-1:123456789012:instance/', { Ref: 'InstanceId' }]],
      },
    }]);
    expect(grantsVariable(template)).toEqual({
      'Fn::Join': ['', ['{"anyInstance":false,"instances":["', { Ref: 'InstanceId' }, '"],"tags":[]}']],
    });
  });

  test('allowInstancesTagged: instance/* only under an aws:ResourceTag condition, one statement per tag', () => {
    const stack = newStack();
    const workflow = InstanceExportWorkflow.of(stack);
    workflow.allowInstancesTagged('vm-export', 'allowed');
    workflow.allowInstancesTagged('vm-export', 'allowed');
    workflow.allowInstancesTagged('team', 'web');
    const template = Template.fromStack(stack);
    expect(instanceStatements(template)).toEqual([
      {
        Sid: 'ExportInstancesTagged1',
        Effect: 'Allow',
        Action: 'ec2:CreateInstanceExportTask',
        Resource: instanceArn('*'),
        Condition: { StringEquals: { 'aws:ResourceTag/vm-export': 'allowed' } },
      },
      {
        Sid: 'ExportInstancesTagged2',
        Effect: 'Allow',
        Action: 'ec2:CreateInstanceExportTask',
        Resource: instanceArn('*'),
        Condition: { StringEquals: { 'aws:ResourceTag/team': 'web' } },
      },
    ]);
    expect(grantsVariable(template)).toBe(
      '{"anyInstance":false,"instances":[],"tags":[{"key":"vm-export","value":"allowed"},{"key":"team","value":"web"}]}');
  });

  test('allowAnyInstance: true is the only way to get instance/* without a condition', () => {
    const stack = newStack();
    const workflow = new InstanceExportWorkflow(stack, 'VmExportWorkflow', { allowAnyInstance: true });
    workflow.grantExportOf('i-0123456789abcdef0');
    workflow.allowInstancesTagged('vm-export', 'allowed');
    const template = Template.fromStack(stack);
    expect(instanceStatements(template)).toEqual([{
      Sid: 'ExportInstances',
      Effect: 'Allow',
      Action: 'ec2:CreateInstanceExportTask',
      Resource: instanceArn('*'),
    }]);
    expect(grantsVariable(template)).toBe('{"anyInstance":true,"instances":[],"tags":[]}');
  });

  test('every InstanceExport grants its own instance to its workflow (and nothing more)', () => {
    const stack = newStack();
    const bucket = new VmExportBucket(stack, 'ExportBucket');
    new InstanceExport(stack, 'Web', { instanceId: 'i-0123456789abcdef0', bucket, targetEnvironment: TargetEnvironment.VMWARE });
    new InstanceExport(stack, 'Db', {
      instanceId: 'i-0fedcba9876543210', bucket, targetEnvironment: TargetEnvironment.CITRIX, waitForCompletion: false,
    });
    const template = Template.fromStack(stack);
    expect(instanceStatements(template)).toEqual([{
      Sid: 'ExportGrantedInstances',
      Effect: 'Allow',
      Action: 'ec2:CreateInstanceExportTask',
      Resource: [instanceArn('i-0123456789abcdef0'), instanceArn('i-0fedcba9876543210')],
    }]);
    expect(grantsVariable(template)).toBe('{"anyInstance":false,"instances":["i-0123456789abcdef0","i-0fedcba9876543210"],"tags":[]}');
    // No role in the stack may export any instance.
    const wildcardInstance = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement)
      .filter((s: any) => JSON.stringify(s.Resource).includes(':instance/*'));
    expect(wildcardInstance).toEqual([]);
  });

  test('grantExportOf refuses what is not an instance id', () => {
    const workflow = InstanceExportWorkflow.of(newStack());
    expect(() => workflow.grantExportOf('i-123')).toThrow(
      "TestStack/VmExportWorkflow: grantExportOf('i-123'): 'i-123' is not an instance id. Use 'i-' followed by 8 or 17 lowercase hexadecimal characters (e.g. i-0123456789abcdef0), or a reference such as instance.instanceId.");
    expect(() => workflow.grantExportOf('vol-0123456789abcdef0')).toThrow(/grantExportOf\('vol-0123456789abcdef0'\): 'vol-0123456789abcdef0' is not an instance id/);
    expect(() => workflow.grantExportOf('i-0123456789ABCDEF0')).toThrow(/is not an instance id/);
  });

  test('allowInstancesTagged refuses an empty, reserved or token key and an overlong value, all at once', () => {
    const stack = newStack();
    const workflow = InstanceExportWorkflow.of(stack);
    expect(() => workflow.allowInstancesTagged('', 'x')).toThrow(
      "allowInstancesTagged(): invalid arguments:\n- key '' is empty: pass the tag key the instances carry, e.g. allowInstancesTagged('vm-export', 'allowed').");
    expect(() => workflow.allowInstancesTagged('aws:cloudformation:stack-name', 'v'.repeat(257))).toThrow(
      'TestStack/VmExportWorkflow: allowInstancesTagged(): invalid arguments:\n' +
      "- key 'aws:cloudformation:stack-name' starts with 'aws:', which AWS reserves for its own tags: use a tag key of your own, e.g. 'vm-export'.\n" +
      '- value is 257 characters long: EC2 tag values have at most 256. Shorten it.');
    expect(() => workflow.allowInstancesTagged('AWS:Name', 'x')).toThrow(/starts with 'aws:'/);
    expect(() => workflow.allowInstancesTagged(new CfnParameter(stack, 'Key').valueAsString, 'x')).toThrow(
      /key is a token: it becomes part of the IAM condition key aws:ResourceTag\/<key>/);
    expect(() => workflow.allowInstancesTagged('k'.repeat(129), 'x')).toThrow(/key is 129 characters long: EC2 tag keys have at most 128/);
    // Nothing was granted by the refused calls.
    expect(JSON.stringify(Template.fromStack(stack).toJSON())).not.toContain(':instance/');
  });

  test('too many single grants for the function\'s environment: synth fails and names the tag grant', () => {
    const stack = newStack();
    const workflow = InstanceExportWorkflow.of(stack);
    for (let i = 0; i < 200; i++) {
      workflow.grantExportOf(`i-${i.toString(16).padStart(17, '0')}`);
    }
    expect(() => Template.fromStack(stack)).toThrow(
      /the workflow was granted 200 instances and 0 tags: the list takes 4445 characters, more than the 3500 that fit into the export-task function's environment \(4 KB\)\. Tag the instances and grant the tag once with allowInstancesTagged\(key, value\)/);
  });
});

describe('one provider, two workflows: the provider may run executions of both', () => {
  const stack = newStack();
  const bucket = new VmExportBucket(stack, 'ExportBucket');
  // The stack's shared workflow first (of() returns the first workflow created in a stack).
  InstanceExportWorkflow.of(stack);
  const second = new InstanceExportWorkflow(stack, 'SecondWorkflow');
  new InstanceExport(stack, 'Web', { instanceId: 'i-0123456789abcdef0', bucket, targetEnvironment: TargetEnvironment.VMWARE });
  new InstanceExport(stack, 'Db', {
    instanceId: 'i-0fedcba9876543210', bucket, targetEnvironment: TargetEnvironment.VMWARE, workflow: second,
  });
  new InstanceExport(stack, 'Db2', {
    instanceId: 'i-0fedcba9876543211', bucket, targetEnvironment: TargetEnvironment.VMWARE, workflow: second,
  });
  const template = Template.fromStack(stack);
  const provider = roleStatements(template, 'VmExportCustomResourcesHandlerRole');
  const machines = Object.keys(template.findResources('AWS::StepFunctions::StateMachine')).sort();

  test('the stack has two state machines and one provider function', () => {
    expect(machines).toEqual(['SecondWorkflowStateMachine03B64BD4', 'VmExportWorkflowStateMachine338E6F27']);
    expect(Object.keys(template.findResources('Custom::VmInstanceExport'))).toHaveLength(3);
    const tokens = Object.values(template.findResources('Custom::VmInstanceExport')).map((r: any) => JSON.stringify(r.Properties.ServiceToken));
    expect(new Set(tokens).size).toBe(1);
  });

  test('StartExecution, DescribeExecution and StopExecution on each workflow, once each; the first keeps its Sids', () => {
    const executions = (machine: string, name: string) => ({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':states:eu-west-1:123456789012:execution:', {
        'Fn::Select': [6, { 'Fn::Split': [':', { Ref: machine }] }],
      }, name]],
    });
    const states = provider.filter((s) => list(s.Action).some((a: string) => a.startsWith('states:')));
    expect(states).toEqual([
      { Sid: 'StartExportWorkflow', Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: 'VmExportWorkflowStateMachine338E6F27' } },
      {
        Sid: 'StopExportWorkflow',
        Effect: 'Allow',
        Action: ['states:DescribeExecution', 'states:StopExecution'],
        Resource: executions('VmExportWorkflowStateMachine338E6F27', ':*'),
      },
      { Sid: 'StartExportWorkflow2', Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: 'SecondWorkflowStateMachine03B64BD4' } },
      {
        Sid: 'StopExportWorkflow2',
        Effect: 'Allow',
        Action: ['states:DescribeExecution', 'states:StopExecution'],
        Resource: executions('SecondWorkflowStateMachine03B64BD4', ':*'),
      },
    ]);
  });

  test('each workflow may export exactly the instances of its own exports', () => {
    expect(instanceStatements(template).map((s) => s.Resource)).toEqual([instanceArn('i-0123456789abcdef0')]);
    expect(instanceStatements(template, 'SecondWorkflowExportTaskRole').map((s) => s.Resource)).toEqual([
      [instanceArn('i-0fedcba9876543210'), instanceArn('i-0fedcba9876543211')],
    ]);
  });
});
