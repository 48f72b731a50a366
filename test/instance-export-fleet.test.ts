/**
 * The fleet construct (InstanceExportFleet) and its typed input (FleetExportInputs).
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import {
  ContainerFormat,
  DiskImageFormat,
  FleetExportInputs,
  InstanceExportFleet,
  InstanceExportWorkflow,
  TargetEnvironment,
} from '../src';
import { collectStates, definitionFromTemplate } from './support/local-sfn';

function stack(): Stack {
  return new Stack(new App(), 'FleetStack', { env: { account: '123456789012', region: 'eu-west-1' } });
}

describe('InstanceExportFleet', () => {
  test('of() creates one fleet per stack on the stack\'s export workflow', () => {
    const s = stack();
    const fleet = InstanceExportFleet.of(s);
    expect(InstanceExportFleet.of(s)).toBe(fleet);
    expect(fleet.node.id).toBe('VmExportFleet');
    expect(fleet.workflow).toBe(InstanceExportWorkflow.of(s));
    const template = Template.fromStack(s);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 2);
    template.resourceCountIs('AWS::Lambda::Function', 1);
  });

  test('a fleet created first is what of() returns; it can run on a given workflow', () => {
    const s = stack();
    const workflow = new InstanceExportWorkflow(s, 'Exports', { allowAnyInstance: true });
    const fleet = new InstanceExportFleet(s, 'Nightly', { workflow });
    expect(InstanceExportFleet.of(s)).toBe(fleet);
    expect(fleet.workflow).toBe(workflow);
  });

  test('the definition: validation, listing by pages, a Map limited by maxConcurrentExports over .sync:2 children', () => {
    const s = stack();
    InstanceExportFleet.of(s);
    const template = Template.fromStack(s);
    const definition = definitionFromTemplate(template, 'VmExportFleet');
    const states = collectStates(definition);
    const map = states.get('ExportInstances');
    expect(map).toMatchObject({ Type: 'Map', ItemsPath: '$.gathered.ids', MaxConcurrencyPath: '$.plan.maxConcurrentExports', ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' } } });
    expect(states.get('ExportInstance')).toMatchObject({
      Resource: 'arn:aws:states:::states:startExecution.sync:2',
      Parameters: { 'Input.$': 'States.JsonMerge($.common, $.own, false)', 'Name.$': '$.name' },
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'RecordFailure' }],
    });
    expect(states.get('ListInstances')).toMatchObject({ Resource: 'arn:aws:states:::aws-sdk:ec2:describeInstances', Parameters: { MaxResults: 10 } });
    expect(states.get('ListMoreInstances')).toMatchObject({ Parameters: { 'NextToken.$': '$.listing.tokens[0]' } });
    // The count is checked after every page: a broad filter stops early.
    expect(states.get('CheckMorePages').Choices[0]).toMatchObject({ Variable: '$.pages.count', NumericGreaterThan: 100, Next: 'TooManyInstances' });
    // Starting a child is retried when Step Functions refuses it for a while, never on the child's own failure.
    const retried = states.get('ExportInstance').Retry.flatMap((r: any) => r.ErrorEquals);
    expect(retried).toContain('StepFunctions.ExecutionLimitExceeded');
    expect(retried).not.toContain('States.ALL');
    expect(retried).not.toContain('States.TaskFailed');
    // The iteration outputs the instance and its child's outcome only.
    expect(states.get('ExportInstance')).toMatchObject({ ResultPath: '$.result.child', OutputPath: '$.result' });
    expect(states.get('FleetFailed')).toMatchObject({ Type: 'Fail', ErrorPath: '$.errorName', CausePath: '$.cause' });
    expect(states.get('PublishFleetFinished').Parameters.Entries[0]).toMatchObject({ Source: 'cdk-vm-export', DetailType: 'VM Export Fleet Finished' });
    // Only the prepare, record and finish steps invoke Lambda: nothing while exports run.
    const lambdaStates = [...states].filter(([, st]) => /:lambda:invoke/.test(String(st.Resource))).map(([name]) => name).sort();
    expect(lambdaStates).toEqual(['FinishFleet', 'PrepareFleet', 'RecordFailure']);
  });

  test('its role may start and stop only the export workflow\'s executions and list instances', () => {
    const s = stack();
    const fleet = InstanceExportFleet.of(s);
    const template = Template.fromStack(s);
    const exportMachine = s.getLogicalId(fleet.workflow.stateMachine.node.defaultChild as any);
    const policies = template.findResources('AWS::IAM::Policy');
    const fleetPolicy = Object.entries<any>(policies).find(([id]) => id.startsWith('VmExportFleetStateMachineRole'))![1];
    const statements: any[] = fleetPolicy.Properties.PolicyDocument.Statement;
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: exportMachine } }),
      expect.objectContaining({ Action: 'ec2:DescribeInstances', Resource: '*' }),
      expect.objectContaining({ Action: ['states:DescribeExecution', 'states:StopExecution'] }),
    ]));
    expect(JSON.stringify(statements)).not.toMatch(/"ec2:CreateInstanceExportTask"|"states:\*"/);
  });

  test('logs under /aws/vendedlogs/states/ without execution data; onFleetFinished matches its events', () => {
    const s = stack();
    const fleet = InstanceExportFleet.of(s);
    const topic = new sns.Topic(s, 'Topic');
    fleet.onFleetFinished('Finished', { target: new targets.SnsTopic(topic) });
    const template = Template.fromStack(s);
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: { IncludeExecutionData: false, Level: 'ALL' },
      DefinitionString: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp('PrepareFleet')])]) }),
    });
    const logGroups = JSON.stringify(template.findResources('AWS::Logs::LogGroup'));
    expect(logGroups).toContain('/aws/vendedlogs/states/FleetStack-VmExportFleet');
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': ['cdk-vm-export'], 'detail-type': ['VM Export Fleet Finished'], 'resources': [{ Ref: Match.stringLikeRegexp('^VmExportFleetStateMachine') }] },
    });
  });
});

describe('FleetExportInputs', () => {
  test('tags become DescribeInstances tag filters; the shared settings as for one export', () => {
    expect(FleetExportInputs.toObject({
      instanceTags: { 'vm-export': 'nightly', 'team': 'ops' },
      targetEnvironment: TargetEnvironment.VMWARE,
      s3Bucket: 'exports',
      diskImageFormat: DiskImageFormat.VMDK,
      containerFormat: ContainerFormat.OVA,
      s3Prefix: 'nightly/',
      tags: { purpose: 'dr' },
      deadline: Duration.hours(4),
      maxConcurrentExports: 5,
      clientToken: '<aws.scheduler.execution-id>',
    })).toEqual({
      instanceFilters: [{ Name: 'tag:vm-export', Values: ['nightly'] }, { Name: 'tag:team', Values: ['ops'] }],
      maxConcurrentExports: 5,
      targetEnvironment: 'vmware',
      s3Bucket: 'exports',
      diskImageFormat: 'VMDK',
      containerFormat: 'ova',
      s3Prefix: 'nightly/',
      tags: [{ Key: 'purpose', Value: 'dr' }],
      deadlineSeconds: 14400,
      clientToken: '<aws.scheduler.execution-id>',
    });
  });

  test('a list of instances', () => {
    expect(FleetExportInputs.toObject({ instanceIds: ['i-0123456789abcdef0'], targetEnvironment: TargetEnvironment.CITRIX, s3Bucket: 'b' }))
      .toEqual({ instanceIds: ['i-0123456789abcdef0'], targetEnvironment: 'citrix', s3Bucket: 'b' });
  });

  test('every problem at once, with the shared checks\' own messages', () => {
    expect(() => FleetExportInputs.toObject({
      instanceIds: ['i-1', 'i-0123456789abcdef0'],
      instanceTags: { 'vm-export': 'nightly' },
      maxConcurrentExports: 25,
      targetEnvironment: TargetEnvironment.CITRIX,
      diskImageFormat: DiskImageFormat.VMDK,
      s3Bucket: 'b',
      s3Prefix: 'x',
    })).toThrow(/invalid input:\n- instanceIds and instanceTags exclude each other[^]*'i-1'[^]*maxConcurrentExports is 25[^]*VMDK does not work with targetEnvironment 'citrix'[^]*s3Prefix 'x' does not end with '\/'/);
    expect(() => FleetExportInputs.toObject({ targetEnvironment: TargetEnvironment.VMWARE, s3Bucket: 'b' })).toThrow(/name the instances/);
    expect(() => FleetExportInputs.toObject({ instanceTags: {}, targetEnvironment: TargetEnvironment.VMWARE, s3Bucket: 'b' })).toThrow(/instanceTags is empty/);
  });

  test('a schedule target input and a task input carry the same object', () => {
    const input = { instanceTags: { 'vm-export': 'nightly' }, targetEnvironment: TargetEnvironment.VMWARE, s3Bucket: 'b' };
    const s = stack();
    expect(s.resolve(FleetExportInputs.toTaskInput(input).value)).toEqual(FleetExportInputs.toObject(input));
    expect(JSON.parse(s.resolve(FleetExportInputs.toScheduleTargetInput(input).bind(s as never)))).toEqual(FleetExportInputs.toObject(input));
  });
});
