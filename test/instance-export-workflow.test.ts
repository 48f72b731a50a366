import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { handlerRuntime } from '../src/internal/handler-runtime';
import { InstanceExportWorkflow } from '../src/workflow/instance-export-workflow';

function newStack(): Stack {
  return new Stack(new App(), 'TestStack', { env: { account: '123456789012', region: 'eu-west-1' } });
}

function synth(configure?: (stack: Stack, workflow: InstanceExportWorkflow) => void): { stack: Stack; template: Template } {
  const stack = newStack();
  const workflow = InstanceExportWorkflow.of(stack);
  configure?.(stack, workflow);
  return { stack, template: Template.fromStack(stack) };
}

/** Every statement of every AWS::IAM::Policy in the template, with the policy's logical id. */
function allStatements(template: Template): Array<{ policy: string; statement: any }> {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.entries(policies).flatMap(([policy, resource]) =>
    (resource.Properties.PolicyDocument.Statement as any[]).map((statement) => ({ policy, statement })));
}

function asArray<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

function exportFunctionPolicyStatements(template: Template): any[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: [{ Ref: Match.stringLikeRegexp('ExportTaskRole') }] },
  });
  // The function's own policy (the signal backstop's read permission is a policy of its own).
  const ids = Object.keys(policies).filter((id) => id.includes('ExportTaskRoleDefaultPolicy'));
  expect(ids).toHaveLength(1);
  return policies[ids[0]].Properties.PolicyDocument.Statement;
}

const ec2Arn = (resource: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ec2:eu-west-1:123456789012:${resource}/*`]],
});

describe('InstanceExportWorkflow', () => {
  test('one workflow per stack: of() returns the same instance from anywhere in the stack', () => {
    const stack = newStack();
    const child = new Construct(stack, 'Child');
    const a = InstanceExportWorkflow.of(stack);
    const b = InstanceExportWorkflow.of(child);
    expect(b).toBe(a);
    expect(a.node.id).toBe(InstanceExportWorkflow.DEFAULT_ID);
    expect(a.node.scope).toBe(stack);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.resourceCountIs('AWS::Lambda::Function', 1);
  });

  test('of() returns a workflow created explicitly (with props) before it', () => {
    const stack = newStack();
    const explicit = new InstanceExportWorkflow(stack, 'Custom', { logRetention: logs.RetentionDays.ONE_MONTH });
    expect(InstanceExportWorkflow.of(stack)).toBe(explicit);
    Template.fromStack(stack).resourceCountIs('AWS::StepFunctions::StateMachine', 1);
  });

  test('different stacks get different workflows', () => {
    const app = new App();
    const s1 = new Stack(app, 'One');
    const s2 = new Stack(app, 'Two');
    expect(InstanceExportWorkflow.of(s1)).not.toBe(InstanceExportWorkflow.of(s2));
  });

  test('standard state machine, logging ALL without execution data, tracing', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('StateMachineLogs'), 'Arn'] } } }],
      },
      TracingConfiguration: { Enabled: true },
    });
  });

  test('log groups keep logs one year and are retained by default; props change that', () => {
    const { template } = synth();
    const groups = template.findResources('AWS::Logs::LogGroup');
    expect(Object.keys(groups)).toHaveLength(2);
    for (const group of Object.values(groups)) {
      expect(group.Properties.RetentionInDays).toBe(365);
      expect(group.DeletionPolicy).toBe('Retain');
    }

    const stack = newStack();
    new InstanceExportWorkflow(stack, 'Wf', {
      logRetention: logs.RetentionDays.ONE_WEEK,
      logRemovalPolicy: RemovalPolicy.DESTROY,
      tracingEnabled: false,
    });
    const custom = Template.fromStack(stack);
    for (const group of Object.values(custom.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties.RetentionInDays).toBe(7);
      expect(group.DeletionPolicy).toBe('Delete');
    }
    custom.hasResourceProperties('AWS::StepFunctions::StateMachine', { TracingConfiguration: { Enabled: false } });
  });

  test('the export-task function: asset handler, Node >= 22, 5 min, 256 MB, explicit log group', () => {
    const { template, stack } = synth();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: Match.stringLikeRegexp('^nodejs(2[2-9]|[3-9]\\d)\\.x$'),
      Timeout: 300,
      MemorySize: 256,
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('ExportTaskLogs') } },
      Role: { 'Fn::GetAtt': [Match.stringLikeRegexp('ExportTaskRole'), 'Arn'] },
    });
    // exportFunction is that function (the one the state machine's Lambda steps invoke).
    const [functionId] = Object.keys(template.findResources('AWS::Lambda::Function', {
      Properties: { Handler: 'index.handler', Timeout: 300, MemorySize: 256 },
    }));
    expect(functionId).toMatch(/^VmExportWorkflowExportTaskFunction/);
    expect(stack.resolve(InstanceExportWorkflow.of(stack).exportFunction.functionArn)).toEqual({ 'Fn::GetAtt': [functionId, 'Arn'] });
  });

  test('the runtime helper never goes below Node.js 22', () => {
    const runtime = handlerRuntime(newStack());
    expect(Number(/^nodejs(\d+)\.x$/.exec(runtime.name)![1])).toBeGreaterThanOrEqual(22);
  });

  test('export-task function IAM: exactly the least-privilege statements (no instance granted yet: no instance ARN at all)', () => {
    const { template } = synth();
    const statements = exportFunctionPolicyStatements(template);
    expect(statements).toEqual([
      {
        Sid: 'WriteLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/ExportTaskLogs/), 'Arn'] },
      },
      {
        Sid: 'DescribeForPreflightAndPolling',
        Effect: 'Allow',
        Action: ['ec2:DescribeExportTasks', 'ec2:DescribeExportImageTasks', 'ec2:DescribeInstances', 'ec2:DescribeVolumes'],
        Resource: '*',
      },
      {
        Sid: 'CreateTaggedExportTasks',
        Effect: 'Allow',
        Action: 'ec2:CreateInstanceExportTask',
        Resource: ec2Arn('export-instance-task'),
        Condition: { StringEquals: { 'aws:RequestTag/vm-export:managed-by': 'cdk-vm-export' } },
      },
      {
        Sid: 'TagExportTasksOnCreate',
        Effect: 'Allow',
        Action: 'ec2:CreateTags',
        Resource: ec2Arn('export-instance-task'),
        Condition: { StringEquals: { 'ec2:CreateAction': 'CreateInstanceExportTask' } },
      },
      {
        Sid: 'CancelManagedExportTasks',
        Effect: 'Allow',
        Action: 'ec2:CancelExportTask',
        Resource: ec2Arn('export-instance-task'),
        Condition: { StringEquals: { 'aws:ResourceTag/vm-export:managed-by': 'cdk-vm-export' } },
      },
    ]);
  });

  test('the function role has no managed policies', () => {
    const { template } = synth();
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'lambda.amazonaws.com' } }] } },
    });
    expect(Object.keys(roles)).toHaveLength(1);
    expect(Object.values(roles)[0].Properties.ManagedPolicyArns).toBeUndefined();
  });

  test('state machine role: invoke the function, describeExportTasks and describeExportImageTasks on *', () => {
    const { template } = synth();
    const policies = template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('StateMachineRole') }] },
    });
    const statements: any[] = Object.values(policies)[0].Properties.PolicyDocument.Statement;
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({
        Action: 'lambda:InvokeFunction',
        Resource: expect.arrayContaining([{ 'Fn::GetAtt': [expect.stringMatching(/ExportTaskFunction/), 'Arn'] }]),
      }),
      expect.objectContaining({ Action: 'ec2:DescribeExportTasks', Resource: '*' }),
      // The poll of image exports (DescribeExportImageTasks has no resource types: `*`).
      expect.objectContaining({ Action: 'ec2:DescribeExportImageTasks', Resource: '*' }),
    ]));
    // Nothing else on EC2: the state machine cannot start or cancel exports itself.
    const ec2Actions = statements.flatMap((s) => asArray(s.Action)).filter((a: string) => a.startsWith('ec2:'));
    expect(ec2Actions.sort()).toEqual(['ec2:DescribeExportImageTasks', 'ec2:DescribeExportTasks']);
  });

  test('no "*" resource except for Describe, log delivery and X-Ray', () => {
    const { template } = synth((stack, workflow) => {
      workflow.grantBucketAccess(new s3.Bucket(stack, 'Bucket'));
      workflow.grantStartExecution(new iam.Role(stack, 'Starter', { assumedBy: new iam.AccountRootPrincipal() }));
    });
    const allowed = /^(ec2:Describe[A-Za-z]+|logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)|xray:[A-Za-z]+)$/;
    const wildcardActions = allStatements(template)
      .filter(({ statement }) => asArray(statement.Resource).includes('*'))
      .flatMap(({ policy, statement }) => asArray<string>(statement.Action).map((action) => ({ policy, action })));
    expect(wildcardActions.length).toBeGreaterThan(0);
    expect(wildcardActions.filter(({ action }) => !allowed.test(action))).toEqual([]);
    // Nothing with a wildcard resource may write to EC2 or S3.
    expect(wildcardActions.filter(({ action }) => /^(ec2:(Create|Cancel)|s3:)/.test(action))).toEqual([]);
  });

  test('ARNs use the partition pseudo parameter, never a literal arn:aws:', () => {
    const { template } = synth((stack, workflow) => workflow.grantBucketAccess(new s3.Bucket(stack, 'Bucket')));
    const text = JSON.stringify(template.toJSON());
    expect(text).not.toMatch(/arn:aws:/);
    expect(text).toContain('{"Ref":"AWS::Partition"}');
  });

  test('grantBucketAccess adds the preflight reads scoped to the bucket, once per bucket', () => {
    const { template } = synth((stack, workflow) => {
      const bucket = new s3.Bucket(stack, 'Bucket');
      workflow.grantBucketAccess(bucket);
      workflow.grantBucketAccess(bucket);
      workflow.grantBucketAccess(s3.Bucket.fromBucketName(stack, 'Imported', 'imported-bucket'));
    });
    const s3Statements = exportFunctionPolicyStatements(template).filter((s) => asArray<string>(s.Action)[0].startsWith('s3:'));
    expect(s3Statements).toEqual([
      {
        Effect: 'Allow',
        Action: ['s3:GetBucketLocation', 's3:GetBucketOwnershipControls', 's3:GetEncryptionConfiguration', 's3:GetBucketAcl'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Bucket/), 'Arn'] },
      },
      {
        Effect: 'Allow',
        Action: ['s3:GetBucketLocation', 's3:GetBucketOwnershipControls', 's3:GetEncryptionConfiguration', 's3:GetBucketAcl'],
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::imported-bucket']] },
      },
    ]);
  });

  test('grantStartExecution and grantRead', () => {
    const { template } = synth((stack, workflow) => {
      const role = new iam.Role(stack, 'Caller', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      workflow.grantStartExecution(role);
      workflow.grantRead(role);
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('Caller') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'states:StartExecution', Resource: { Ref: Match.stringLikeRegexp('StateMachine') } }),
        ]),
      },
    });
  });

  test('metrics', () => {
    const stack = newStack();
    const workflow = InstanceExportWorkflow.of(stack);
    expect(workflow.metricFailed().metricName).toBe('ExecutionsFailed');
    expect(workflow.metricSucceeded().metricName).toBe('ExecutionsSucceeded');
    expect(workflow.metricFailed().namespace).toBe('AWS/States');
  });

  // The error names and the managed tag (src/ mirror, lambda/ contract, README) are checked in
  // test/documented-names.test.ts.

  test('signal backstop: a rule on this state machine\'s FAILED / ABORTED / TIMED_OUT executions invokes the export-task function', () => {
    const { template } = synth();
    const rules = template.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.states'] } } });
    expect(Object.values(rules)).toHaveLength(1);
    const rule = Object.values(rules)[0].Properties;
    expect(rule.EventPattern).toEqual({
      'source': ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      'detail': { status: ['FAILED', 'ABORTED', 'TIMED_OUT'], stateMachineArn: [{ Ref: expect.stringMatching(/^VmExportWorkflowStateMachine/) }] },
    });
    expect(rule.Targets).toEqual([expect.objectContaining({
      Arn: { 'Fn::GetAtt': [expect.stringMatching(/^VmExportWorkflowExportTaskFunction/), 'Arn'] },
      RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 },
    })]);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [Match.stringLikeRegexp('ExportTaskFunction'), 'Arn'] },
    });
    // It may read the executions' input (when the event leaves it out), of this state machine only.
    const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) => JSON.stringify(p).includes('ReadEndedExecutions'))!;
    expect(policy.Properties.PolicyDocument.Statement).toEqual([expect.objectContaining({
      Sid: 'ReadEndedExecutions',
      Action: 'states:DescribeExecution',
      Resource: expect.objectContaining({ 'Fn::Join': expect.anything() }),
    })]);
    expect(JSON.stringify(policy.Properties.PolicyDocument.Statement[0].Resource)).toMatch(/:execution:/);
  });

  test('the definition uses the AWS SDK integration for polling and Lambda invoke for the steps', () => {
    const { template } = synth();
    const definition = JSON.stringify(Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0].Properties.DefinitionString);
    expect(definition).toContain(':states:::aws-sdk:ec2:describeExportTasks');
    expect(definition).toContain(':states:::lambda:invoke');
    expect(definition).toContain('States.Array($.start.exportTaskId)');
  });
});

describe('the state machine log group is named under /aws/vendedlogs/states/', () => {
  const stackUuid = { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] };
  const logGroupOf = (template: Template, prefix: string): [string, any] => {
    const groups = Object.entries(template.findResources('AWS::Logs::LogGroup')).filter(([id]) => id.startsWith(prefix));
    expect(groups).toHaveLength(1);
    return groups[0];
  };

  test('prefix, stack name, construct path and hash, stack UUID; the logical id is unchanged', () => {
    const stack = newStack();
    InstanceExportWorkflow.of(stack);
    const [logicalId, group] = logGroupOf(Template.fromStack(stack), 'VmExportWorkflowStateMachineLogs');
    expect(logicalId).toBe('VmExportWorkflowStateMachineLogs37BE6361');
    expect(group.Properties.LogGroupName).toEqual({
      'Fn::Join': ['', ['/aws/vendedlogs/states/TestStack-VmExportWorkflow-C41E5CDC-', stackUuid]],
    });
    // The function's log group is not a vended-logs group and keeps its generated name.
    const [, functionGroup] = logGroupOf(Template.fromStack(stack), 'VmExportWorkflowExportTaskLogs');
    expect(functionGroup.Properties.LogGroupName).toBeUndefined();
  });

  test('two workflows in one stack get different names; the same app synthesizes the same names', () => {
    const build = () => {
      const stack = newStack();
      InstanceExportWorkflow.of(stack);
      new InstanceExportWorkflow(stack, 'Second');
      const template = Template.fromStack(stack);
      return [logGroupOf(template, 'VmExportWorkflowStateMachineLogs')[1], logGroupOf(template, 'SecondStateMachineLogs')[1]]
        .map((g) => g.Properties.LogGroupName['Fn::Join'][1][0]);
    };
    const names = build();
    expect(names).toEqual([
      '/aws/vendedlogs/states/TestStack-VmExportWorkflow-C41E5CDC-',
      '/aws/vendedlogs/states/TestStack-Second-59400877-',
    ]);
    expect(build()).toEqual(names);
  });

  test('a deep construct path in a long-named stack stays within 512 characters of valid log group characters', () => {
    const stack = new Stack(new App(), 'S'.repeat(120), { env: { account: '123456789012', region: 'eu-west-1' } });
    let scope: Construct = stack;
    for (let i = 0; i < 8; i++) {
      scope = new Construct(scope, `Level.${i}#${'x'.repeat(50)}`);
    }
    new InstanceExportWorkflow(scope, 'Workflow');
    const named = Object.values(Template.fromStack(stack).findResources('AWS::Logs::LogGroup')).filter((g) => g.Properties.LogGroupName);
    expect(named).toHaveLength(1);
    const literal: string = named[0].Properties.LogGroupName['Fn::Join'][1][0];
    expect(literal.startsWith('/aws/vendedlogs/states/')).toBe(true);
    // Plus the 36 characters of the stack UUID.
    expect(literal.length + 36).toBeLessThanOrEqual(512);
    expect(literal).toMatch(/^[.\-_/#A-Za-z0-9]+$/);
  });
});
