/**
 * Synth tests of the pipeline, workflow-as-a-target and same-stack-instance examples
 * (examples/pipeline-stage.ts, examples/workflow-targets.ts, examples/same-stack-instance.ts).
 */
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { STAGE_EXPORT_TIMEOUT, buildPipelineApp } from '../examples/pipeline-stage';
import { SETUP_TIMEOUT, buildSameStackInstanceApp } from '../examples/same-stack-instance';
import {
  NIGHTLY_DEADLINE_SECONDS,
  PIPELINE_ACTION_DEADLINE_SECONDS,
  PIPELINE_ACTION_TIMEOUT_SECONDS,
  TARGETS_INSTANCE_ID,
  buildWorkflowTargetsApp,
} from '../examples/workflow-targets';

/** CodePipeline quotas: a CloudFormation deployment action times out after 3 days. */
const CLOUDFORMATION_ACTION_TIMEOUT_SECONDS = 3 * 24 * 3600;
/** A wait condition waits at most 12 hours (AWS::CloudFormation::WaitCondition, Timeout). */
const WAIT_CONDITION_MAX_SECONDS = 43200;

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
    stageTemplate.hasResourceProperties('AWS::CloudFormation::WaitCondition', { Timeout: String(10 * 3600) });
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

  test('the stage waits for hours: longer than a 1-hour action, within the wait condition and the deploy action', () => {
    const [waitCondition] = Object.values(stageTemplate.findResources('AWS::CloudFormation::WaitCondition')) as any[];
    const timeout = Number(waitCondition.Properties.Timeout);
    expect(timeout).toBe(STAGE_EXPORT_TIMEOUT.toSeconds());
    expect(timeout).toBeGreaterThan(PIPELINE_ACTION_TIMEOUT_SECONDS);
    expect(timeout).toBeLessThanOrEqual(WAIT_CONDITION_MAX_SECONDS);
    expect(WAIT_CONDITION_MAX_SECONDS).toBeLessThan(CLOUDFORMATION_ACTION_TIMEOUT_SECONDS);
  });

  test('the pipeline waits through CloudFormation deploy actions only: no Step Functions invoke action', () => {
    const [pipeline] = Object.values(pipelineTemplate.findResources('AWS::CodePipeline::Pipeline')) as any[];
    const providers = (pipeline.Properties.Stages as any[]).flatMap((s) => s.Actions.map((a: any) => a.ActionTypeId.Provider));
    expect(providers).not.toContain('StepFunctions');
    const exportStage = (pipeline.Properties.Stages as any[]).find((s) => s.Name === 'Export');
    expect(exportStage.Actions.map((a: any) => a.ActionTypeId.Provider)).toEqual(['CloudFormation', 'CloudFormation']);
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
      deadlineSeconds: PIPELINE_ACTION_DEADLINE_SECONDS,
      tags: [{ Key: 'started-by', Value: 'codepipeline' }],
    });
  });

  test('the pipeline action\'s deadline ends the export (and the execution) within the action\'s hour', () => {
    expect(PIPELINE_ACTION_TIMEOUT_SECONDS).toBe(3600);
    expect(PIPELINE_ACTION_DEADLINE_SECONDS).toBe(3000);
    // The finish step (cancel, signal, publish) needs a few minutes after the deadline.
    expect(PIPELINE_ACTION_DEADLINE_SECONDS + 5 * 60).toBeLessThan(PIPELINE_ACTION_TIMEOUT_SECONDS);
  });

  test('a successful export starts the image pipeline: a rule on VM Export Succeeded of this workflow', () => {
    const pipelines = template.findResources('AWS::CodePipeline::Pipeline');
    const imagePipelineId = Object.keys(pipelines).find((id) => id.startsWith('ImagePipeline'))!;
    expect(imagePipelineId).toBeDefined();
    const rules = Object.values(template.findResources('AWS::Events::Rule')) as any[];
    const toPipeline = rules.filter((r) => (r.Properties.Targets ?? []).some((t: any) => JSON.stringify(t.Arn).includes(imagePipelineId)));
    expect(toPipeline).toHaveLength(1);
    expect(toPipeline[0].Properties.EventPattern).toEqual({
      'source': ['cdk-vm-export'],
      'detail-type': ['VM Export Succeeded'],
      'resources': [{ Ref: stateMachineId }],
    });
    // Nothing in the image pipeline waits for the export, and nothing but the event starts it.
    const stages: any[] = pipelines[imagePipelineId].Properties.Stages;
    const actions = stages.flatMap((s) => s.Actions);
    expect(actions.map((a: any) => a.ActionTypeId.Provider)).toEqual(['S3', 'Manual']);
    expect(actions[0].Configuration.PollForSourceChanges).toBe(false);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([Match.objectLike({ Action: 'codepipeline:StartPipelineExecution' })]),
      }),
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
      deadlineSeconds: NIGHTLY_DEADLINE_SECONDS,
      clientToken: 'nightly-<aws.scheduler.scheduled-time>',
    });
    expect(NIGHTLY_DEADLINE_SECONDS).toBeGreaterThan(PIPELINE_ACTION_TIMEOUT_SECONDS);
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

describe('examples/same-stack-instance.ts', () => {
  const { stack } = buildSameStackInstanceApp();
  const template = Template.fromStack(stack);
  const instanceId = logicalIdOf(stack, 'AWS::EC2::Instance');

  test('the instance is created only after cfn-init signalled: a CreationPolicy and cfn-signal in the user data', () => {
    const instance = template.toJSON().Resources[instanceId];
    expect(instance.CreationPolicy).toEqual({ ResourceSignal: { Count: 1, Timeout: 'PT30M' } });
    expect(SETUP_TIMEOUT.toMinutes()).toBe(30);
    expect(Object.keys(instance.Metadata)).toContain('AWS::CloudFormation::Init');
    const userData = JSON.stringify(instance.Properties.UserData);
    expect(userData).toMatch(/cfn-init -v/);
    expect(userData).toMatch(/cfn-signal -e \$\?/);
  });

  test('the export refers to the instance, so CloudFormation starts it after the instance was created (signalled)', () => {
    template.hasResourceProperties('Custom::VmInstanceExport', { InstanceId: { Ref: instanceId } });
  });

  test('the workflow is granted exactly that instance', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('ExportTaskRole') }] },
    })) as any[];
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
    const onInstances = statements.filter((s) => JSON.stringify(s.Resource).includes(':instance/'));
    expect(JSON.stringify(onInstances)).toContain(`{"Ref":"${instanceId}"}`);
  });
});
