/**
 * Synth tests of the pipeline and workflow-as-a-target examples (examples/pipeline-stage.ts,
 * examples/workflow-targets.ts).
 */
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildPipelineApp } from '../examples/pipeline-stage';
import { TARGETS_INSTANCE_ID, buildWorkflowTargetsApp } from '../examples/workflow-targets';

/** Resolves a template value that may be an Fn::Join of strings and Refs into a plain string. */
function flatten(value: any): string {
  if (typeof value === 'string') return value;
  if (value && Array.isArray(value['Fn::Join'])) {
    const [sep, parts] = value['Fn::Join'];
    return (parts as any[]).map(flatten).join(sep);
  }
  if (value && typeof value.Ref === 'string') return `\${${value.Ref}}`;
  throw new Error(`cannot flatten ${JSON.stringify(value)}`);
}

function logicalIdOf(stack: Stack, type: string): string {
  const ids = Object.keys(Template.fromStack(stack).findResources(type));
  expect(ids).toHaveLength(1);
  return ids[0];
}

describe('examples/pipeline-stage.ts', () => {
  const { app, pipelineStack } = buildPipelineApp();
  const assembly = app.synth();
  const exportStack = pipelineStack.exportStage.exportStack;
  const stageTemplate = Template.fromStack(exportStack);
  const pipelineTemplate = Template.fromStack(pipelineStack);

  test('the stage\'s stack holds the bucket, the export and its wait condition', () => {
    stageTemplate.resourceCountIs('AWS::S3::Bucket', 1);
    stageTemplate.resourceCountIs('Custom::VmExportBucketGrant', 1);
    stageTemplate.hasResourceProperties('Custom::VmInstanceExport', {
      InstanceId: 'i-0123456789abcdef0',
      TargetEnvironment: 'vmware',
      S3Prefix: 'pipeline/',
      WaitForCompletion: 'true',
    });
    stageTemplate.hasResourceProperties('AWS::CloudFormation::WaitCondition', { Timeout: String(3 * 3600) });
    stageTemplate.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    expect(exportStack.stackName).toBe('Export-VmExport');
  });

  test('the stage is a nested cloud assembly with the export stack in it', () => {
    const nested = assembly.getNestedAssembly(pipelineStack.exportStage.artifactId);
    expect(nested.stacks.map((s) => s.stackName)).toEqual(['Export-VmExport']);
  });

  test('the pipeline synthesizes from the placeholder GitHub source and deploys the stage\'s stack', () => {
    const [pipeline] = Object.values(pipelineTemplate.findResources('AWS::CodePipeline::Pipeline')) as any[];
    const stages: any[] = pipeline.Properties.Stages;
    expect(stages.map((s) => s.Name)).toEqual(['Source', 'Build', 'UpdatePipeline', 'Assets', 'Export']);

    const source = stages[0].Actions[0];
    expect(source.ActionTypeId).toEqual(expect.objectContaining({ Provider: 'GitHub', Category: 'Source' }));
    expect(source.Configuration).toEqual(expect.objectContaining({ Owner: 'owner', Repo: 'repo', Branch: 'main' }));

    const deploy = stages[4].Actions.filter((a: any) => a.ActionTypeId.Provider === 'CloudFormation');
    expect(deploy.map((a: any) => a.Configuration.ActionMode)).toEqual(['CHANGE_SET_REPLACE', 'CHANGE_SET_EXECUTE']);
    for (const action of deploy) {
      expect(action.Configuration.StackName).toBe('Export-VmExport');
    }
    expect(deploy[0].Configuration.TemplatePath).toBe(`Synth_Output::${pipelineStack.exportStage.artifactId}/${exportStack.templateFile}`);
  });

  test('the synth step runs the commands from the source', () => {
    pipelineTemplate.hasResourceProperties('AWS::CodeBuild::Project', {
      Source: {
        BuildSpec: Match.serializedJson(Match.objectLike({
          phases: { build: { commands: ['npm ci', 'npx cdk synth'] } },
        })),
      },
    });
  });
});

describe('examples/workflow-targets.ts', () => {
  const { stack } = buildWorkflowTargetsApp();
  const template = Template.fromStack(stack);
  const stateMachineId = logicalIdOf(stack, 'AWS::StepFunctions::StateMachine');
  const bucketId = Object.keys(template.findResources('AWS::S3::Bucket'))
    .find((id) => id.startsWith('ExportBucket'))!;

  test('CodePipeline: a StepFunctions Invoke action on the export workflow with the literal JSON input', () => {
    const [pipeline] = Object.values(template.findResources('AWS::CodePipeline::Pipeline')) as any[];
    const stage = (pipeline.Properties.Stages as any[]).find((s) => s.Name === 'ExportVm');
    expect(stage.Actions).toHaveLength(1);
    const action = stage.Actions[0];
    expect(action.ActionTypeId).toEqual({ Category: 'Invoke', Owner: 'AWS', Provider: 'StepFunctions', Version: '1' });
    expect(action.Configuration.StateMachineArn).toEqual({ Ref: stateMachineId });
    expect(action.Configuration.InputType).toBe('Literal');
    expect(action.Configuration.ExecutionNamePrefix).toBe('pipeline');
    const input = JSON.parse(flatten(action.Configuration.Input).replace(`\${${bucketId}}`, 'the-export-bucket'));
    expect(input).toEqual({
      instanceId: TARGETS_INSTANCE_ID,
      targetEnvironment: 'vmware',
      s3Bucket: 'the-export-bucket',
      s3Prefix: 'pipeline/',
      deadlineSeconds: 10800,
      tags: [{ Key: 'started-by', Value: 'codepipeline' }],
    });
  });

  test('the pipeline action role may start executions of the workflow', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as any[];
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: stateMachineId } }),
    ]));
  });

  test('EventBridge Scheduler: a nightly cron that starts the workflow with the JSON input', () => {
    const [schedule] = Object.values(template.findResources('AWS::Scheduler::Schedule')) as any[];
    const props = schedule.Properties;
    expect(props.ScheduleExpression).toBe('cron(0 2 * * ? *)');
    expect(props.ScheduleExpressionTimezone).toBe('Europe/Berlin');
    expect(props.Target.Arn).toEqual({ Ref: stateMachineId });
    expect(props.Target.RetryPolicy).toEqual(expect.objectContaining({ MaximumRetryAttempts: 2 }));
    const input = JSON.parse(flatten(props.Target.Input).replace(`\${${bucketId}}`, 'the-export-bucket'));
    expect(input).toEqual({
      instanceId: TARGETS_INSTANCE_ID,
      targetEnvironment: 'vmware',
      s3Bucket: 'the-export-bucket',
      s3Prefix: 'nightly/',
      description: 'nightly export',
      clientToken: 'nightly-<aws.scheduler.scheduled-time>',
    });
  });

  test('the schedule\'s role may start executions of the workflow only', () => {
    const roleArn = template.findResources('AWS::Scheduler::Schedule');
    const [schedule] = Object.values(roleArn) as any[];
    const roleId = schedule.Properties.Target.RoleArn['Fn::GetAtt'][0];
    const policies = Object.values(template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: roleId }] },
    })) as any[];
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
    expect(statements).toEqual([expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: stateMachineId } })]);
  });

  test('failures alarm and notify: alarm on ExecutionsFailed with an SNS action, rule to the topic', () => {
    const topicId = logicalIdOf(stack, 'AWS::SNS::Topic');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ExecutionsFailed',
      Threshold: 1,
      AlarmActions: [{ Ref: topicId }],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ source: ['cdk-vm-export'] }),
      Targets: [Match.objectLike({ Arn: { Ref: topicId }, InputPath: '$.detail' })],
    });
  });

  test('the export-task function may run the preflight reads on the export bucket', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('ExportTaskRole') }] },
    })) as any[];
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({
        Action: expect.arrayContaining(['s3:GetBucketLocation', 's3:GetBucketAcl']),
        Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] },
      }),
    ]));
  });
  test('the workflow may export the example\'s instance and no other: granted by id, checked in Prepare', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('ExportTaskRole') }] },
    })) as any[];
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
    const onInstances = statements.filter((s) => JSON.stringify(s.Resource).includes(':instance/'));
    expect(onInstances).toEqual([{
      Sid: 'ExportGrantedInstances',
      Effect: 'Allow',
      Action: 'ec2:CreateInstanceExportTask',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:eu-west-1:111111111111:instance/i-0123456789abcdef0']] },
    }]);
    const [fn] = Object.values(template.findResources('AWS::Lambda::Function', {
      Properties: { Role: { 'Fn::GetAtt': [Match.stringLikeRegexp('ExportTaskRole'), 'Arn'] } },
    })) as any[];
    expect(fn.Properties.Environment.Variables.VM_EXPORT_GRANTS).toBe('{"anyInstance":false,"instances":["i-0123456789abcdef0"],"tags":[]}');
  });
});
