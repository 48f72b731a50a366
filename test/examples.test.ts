/**
 * Synth tests of the pipeline, workflow-as-a-target, same-stack-instance, Image Builder export
 * nightly image export and nightly fleet export examples (examples/pipeline-stage.ts,
 * examples/workflow-targets.ts, examples/same-stack-instance.ts, examples/image-builder-export.ts,
 * examples/nightly-image-export.ts, examples/nightly-fleet-export.ts).
 */
import { Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import {
  GOLDEN_EXPORT_PREFIX,
  GOLDEN_IMAGE_URI_PARAMETER,
  buildImageBuilderExportApp,
} from '../examples/image-builder-export';
import {
  NIGHTLY_FLEET_CONCURRENCY,
  NIGHTLY_FLEET_DEADLINE,
  NIGHTLY_FLEET_PREFIX,
  NIGHTLY_TAG,
  buildNightlyFleetApp,
} from '../examples/nightly-fleet-export';
import {
  LATEST_IMAGE_PARAMETER,
  NIGHTLY_IMAGE_DEADLINE,
  NIGHTLY_IMAGE_PREFIX,
  buildNightlyImageExportApp,
} from '../examples/nightly-image-export';
import { STAGE_EXPORT_TIMEOUT, buildPipelineApp } from '../examples/pipeline-stage';
import { SETUP_TIMEOUT, buildSameStackInstanceApp } from '../examples/same-stack-instance';
import {
  NIGHTLY_DEADLINE_SECONDS,
  PIPELINE_ACTION_DEADLINE_SECONDS,
  PIPELINE_ACTION_TIMEOUT_SECONDS,
  TARGETS_INSTANCE_ID,
  buildWorkflowTargetsApp,
} from '../examples/workflow-targets';
import { prepareFleet } from '../lambda/shared/fleet';
import { DOCUMENTED_IMAGE_INPUT_KEYS, normalizeImageRequest } from '../lambda/shared/image-normalize';
import { ImageExport, InstanceExport, InstanceExportFleet, InstanceExportWorkflow, VmExportBucket, VmImportServiceRole } from '../src';

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
  if (value && Array.isArray(value['Fn::GetAtt'])) return `\${${value['Fn::GetAtt'].join('.')}}`;
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

/** Every statement of the IAM policies attached to the role with this logical id (or id pattern). */
function roleStatements(template: Template, role: string | RegExp): any[] {
  const ref = typeof role === 'string' ? role : Match.stringLikeRegexp(role.source);
  const policies = Object.values(template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: [{ Ref: ref }] },
  })) as any[];
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
}

const asList = (v: any): any[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * The AMIs `ec2:ExportImage` statements allow (flattened): the id in an image ARN, the ids of an
 * `ec2:ImageID` condition on `image/*`, or `*` for `image/*` without one.
 */
function exportableImages(statements: any[]): string[] {
  return statements
    .filter((s) => s.Effect === 'Allow' && asList(s.Action).includes('ec2:ExportImage'))
    .flatMap((s) => asList(s.Resource).map(flatten)
      .filter((r) => r.includes(':image/'))
      .flatMap((r) => {
        const id = r.slice(r.indexOf(':image/') + ':image/'.length);
        if (id !== '*') return [id];
        const condition = s.Condition?.StringEquals?.['ec2:ImageID'];
        return condition === undefined ? ['*'] : asList(condition).map(flatten);
      }));
}

/**
 * True for a construct inside one of the library's constructs, or one of its per-stack
 * singletons (the custom resource handler `VmExport...`, the service role of
 * `VmImportServiceRole.of()`): what cdk-nag must find clean. The examples' own resources (the
 * Image Builder role, the nightly state machine, the schedule) are the user's business.
 */
function isLibraryConstruct(stack: Stack, construct: IConstruct): boolean {
  const below = construct.node.scopes.slice(construct.node.scopes.indexOf(stack) + 1);
  return below.some((s) => s instanceof VmExportBucket || s instanceof InstanceExport || s instanceof ImageExport
    || s instanceof InstanceExportWorkflow || s instanceof VmImportServiceRole || s instanceof InstanceExportFleet
    || (s.node.scope === stack && /^VmExport/.test(s.node.id)));
}

/** `rule: path` for every unacknowledged cdk-nag finding on the library's constructs in `stack`. */
function libraryNagFindings(stack: Stack): string[] {
  const byPath = new Map(stack.node.findAll().map((c) => [c.node.path, c]));
  const packs = [new AwsSolutionsChecks(), new NIST80053R5Checks(), new HIPAASecurityChecks()];
  return packs.flatMap((pack) => pack.validateScope(stack).violations.flatMap((v) => v.violatingResources
    .map((r) => r.constructPath ?? `<a resource without a construct path, ${v.ruleName}>`)
    .filter((p) => {
      const c = byPath.get(p);
      if (!c) throw new Error(`cdk-nag reported ${p}, which is no construct of ${stack.node.path}`);
      return isLibraryConstruct(stack, c);
    })
    .map((p) => `${v.ruleName}: ${p}`)));
}

/** The constructs that carry acknowledged rules (cdk-nag findings the library explains). */
function acknowledgingConstructs(stack: Stack): IConstruct[] {
  return stack.node.findAll()
    .filter((c) => c.node.metadata.some((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY));
}

describe('examples/image-builder-export.ts', () => {
  const { stack } = buildImageBuilderExportApp();
  const template = Template.fromStack(stack);
  const exportId = logicalIdOf(stack, 'Custom::VmImageExport');
  const imageId = logicalIdOf(stack, 'AWS::ImageBuilder::Image');
  const serviceRoleId = Object.keys(template.findResources('AWS::IAM::Role'))
    .find((id) => id.startsWith('VmImportServiceRole'))!;

  test('the export exports the Image Builder image\'s AMI (GetAtt ImageId) as a VMDK under golden/', () => {
    const exportResource = template.toJSON().Resources[exportId];
    expect(exportResource.Properties).toEqual(expect.objectContaining({
      ImageId: { 'Fn::GetAtt': [imageId, 'ImageId'] },
      DiskImageFormat: 'VMDK',
      S3Prefix: GOLDEN_EXPORT_PREFIX,
      RoleName: { Ref: serviceRoleId },
      WaitForCompletion: 'true',
      Preflight: 'true',
    }));
  });

  test('the image is built from an Amazon Linux 2023 x86 recipe with the component, on an instance profile', () => {
    const image = template.toJSON().Resources[imageId];
    const recipeId = logicalIdOf(stack, 'AWS::ImageBuilder::ImageRecipe');
    const infrastructureId = logicalIdOf(stack, 'AWS::ImageBuilder::InfrastructureConfiguration');
    const componentId = logicalIdOf(stack, 'AWS::ImageBuilder::Component');
    const profileId = logicalIdOf(stack, 'AWS::IAM::InstanceProfile');
    expect(image.Properties).toEqual({
      ImageRecipeArn: { 'Fn::GetAtt': [recipeId, 'Arn'] },
      InfrastructureConfigurationArn: { 'Fn::GetAtt': [infrastructureId, 'Arn'] },
    });
    const recipe = template.toJSON().Resources[recipeId].Properties;
    expect(flatten(recipe.ParentImage)).toBe('arn:${AWS::Partition}:imagebuilder:${AWS::Region}:aws:image/amazon-linux-2023-x86/x.x.x');
    expect(recipe.Components).toEqual([{ ComponentArn: { 'Fn::GetAtt': [componentId, 'Arn'] } }]);
    template.hasResourceProperties('AWS::ImageBuilder::Component', { Platform: 'Linux', Data: Match.stringLikeRegexp('dnf install -y httpd') });
    template.hasResourceProperties('AWS::ImageBuilder::InfrastructureConfiguration', { InstanceProfileName: { Ref: profileId } });
    const [profile] = Object.values(template.findResources('AWS::IAM::InstanceProfile')) as any[];
    const [buildRoleId] = profile.Properties.Roles.map((r: any) => r.Ref);
    const buildRole = template.toJSON().Resources[buildRoleId];
    expect(buildRole.Properties.ManagedPolicyArns.map(flatten)).toEqual([
      'arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore',
      'arn:${AWS::Partition}:iam::aws:policy/EC2InstanceProfileForImageBuilder',
    ]);
    expect(buildRole.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({ Principal: { Service: 'ec2.amazonaws.com' } }),
    ]);
  });

  test('the URI is handed on: the stack output and the SSM parameter hold the export\'s exportObjectUri', () => {
    const uri = stack.resolve(stack.vmExport.exportObjectUri);
    expect(uri).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^GoldenImageExportAttributes/), 'ExportObjectUri'] });
    const outputs = template.toJSON().Outputs;
    expect(outputs.GoldenImageUri.Value).toEqual(uri);
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: GOLDEN_IMAGE_URI_PARAMETER, Type: 'String', Value: uri });
  });

  test('the workflow may export exactly that AMI, through the stack\'s service role, written under golden/ only', () => {
    const statements = roleStatements(template, /ExportTaskRole/);
    expect(exportableImages(statements)).toEqual([`\${${imageId}.ImageId}`]);
    expect(statements).toEqual(expect.arrayContaining([expect.objectContaining({
      Action: 'iam:PassRole',
      Resource: { 'Fn::GetAtt': [serviceRoleId, 'Arn'] },
      Condition: { StringEquals: { 'iam:PassedToService': 'vmie.amazonaws.com' } },
    })]));
    const objectResources = roleStatements(template, serviceRoleId)
      .filter((s) => asList(s.Action).includes('s3:PutObject'))
      .flatMap((s) => asList(s.Resource).map(flatten));
    expect(objectResources).toEqual([expect.stringMatching(/^\$\{ExportBucket\w+\.Arn\}\/golden\/\*$/)]);
  });

  test('cdk-nag (AwsSolutions, NIST 800-53 R5, HIPAA) reports nothing unacknowledged on the library\'s constructs', () => {
    const libraryPaths = stack.node.findAll().filter((c) => isLibraryConstruct(stack, c)).map((c) => c.node.path);
    // The filter covers the export, the bucket, the workflow and the service role; not the
    // example's own Image Builder resources.
    for (const id of ['GoldenImageExport', 'ExportBucket', 'VmExportWorkflow', 'VmImportServiceRole', 'VmExportCustomResources']) {
      expect(libraryPaths).toContain(`${stack.node.path}/${id}`);
    }
    expect(libraryPaths).not.toContain(`${stack.node.path}/BuildInstanceRole`);
    expect(libraryNagFindings(stack)).toEqual([]);
    // The library acknowledges findings on its own constructs only, never on the user's.
    const acks = acknowledgingConstructs(stack);
    expect(acks.length).toBeGreaterThan(0);
    for (const c of acks) {
      expect({ where: c.node.path, library: isLibraryConstruct(stack, c) }).toEqual({ where: c.node.path, library: true });
    }
  });
});

describe('examples/nightly-image-export.ts', () => {
  const { stack } = buildNightlyImageExportApp();
  const template = Template.fromStack(stack);
  const workflowId: string = stack.resolve(stack.workflow.stateMachine.stateMachineArn).Ref;
  const nightlyId: string = stack.resolve(stack.nightlyExport.stateMachineArn).Ref;
  const bucketId = Object.keys(template.findResources('AWS::S3::Bucket')).find((id) => id.startsWith('ExportBucket'))!;
  const serviceRoleId = Object.keys(template.findResources('AWS::IAM::Role')).find((id) => id.startsWith('VmImportServiceRole'))!;
  const nightly = template.toJSON().Resources[nightlyId];
  const nightlyRoleId: string = nightly.Properties.RoleArn['Fn::GetAtt'][0];
  const definition = JSON.parse(flatten(nightly.Properties.DefinitionString));
  const parameterArn = 'arn:${AWS::Partition}:ssm:eu-west-1:111111111111:parameter' + LATEST_IMAGE_PARAMETER;

  test('EventBridge Scheduler starts the nightly state machine every night with the scheduled time', () => {
    const [schedule] = Object.values(template.findResources('AWS::Scheduler::Schedule')) as any[];
    const props = schedule.Properties;
    expect(props.ScheduleExpression).toBe('cron(0 3 * * ? *)');
    expect(props.ScheduleExpressionTimezone).toBe('Europe/Berlin');
    expect(props.Target.Arn).toEqual({ Ref: nightlyId });
    expect(JSON.parse(props.Target.Input)).toEqual({ scheduledTime: '<aws.scheduler.scheduled-time>' });
    expect(props.Target.RetryPolicy).toEqual(expect.objectContaining({ MaximumRetryAttempts: 2 }));
    // The schedule's role starts the nightly state machine and nothing else (not the workflow).
    const roleId = props.Target.RoleArn['Fn::GetAtt'][0];
    expect(roleStatements(template, roleId)).toEqual([
      expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: nightlyId } }),
    ]);
  });

  test('the nightly state machine is a Standard one that reads the parameter, then runs the workflow .sync', () => {
    expect(nightly.Properties.StateMachineType).toBe('STANDARD');
    expect(definition.StartAt).toBe('ReadLatestImage');
    expect(definition.States.ReadLatestImage).toEqual(expect.objectContaining({
      Resource: 'arn:${AWS::Partition}:states:::aws-sdk:ssm:getParameter',
      Parameters: { Name: LATEST_IMAGE_PARAMETER },
      ResultSelector: { 'imageId.$': '$.Parameter.Value' },
      ResultPath: '$.latest',
      Next: 'ExportImage',
    }));
    const run = definition.States.ExportImage;
    expect(run.Resource).toBe('arn:${AWS::Partition}:states:::states:startExecution.sync:2');
    expect(run.Parameters.StateMachineArn).toBe(`\${${workflowId}}`);
    expect(run.End).toBe(true);
    // Longer than the export's deadline: the workflow cancels and finishes before this ends.
    expect(definition.TimeoutSeconds).toBeGreaterThan(NIGHTLY_IMAGE_DEADLINE.toSeconds());
  });

  test('the workflow input: the AMI read from the parameter, the bucket, nightly/, VMDK, the service role, the deadline', () => {
    const input = definition.States.ExportImage.Parameters.Input;
    expect(input).toEqual({
      'imageId.$': '$.latest.imageId',
      's3Bucket': `\${${bucketId}}`,
      's3Prefix': NIGHTLY_IMAGE_PREFIX,
      'diskImageFormat': 'VMDK',
      'roleName': `\${${serviceRoleId}}`,
      'deadlineSeconds': NIGHTLY_IMAGE_DEADLINE.toSeconds(),
      'description': 'nightly export of the newest golden image',
      'clientToken.$': 'States.Format(\'nightly-{}\', $.scheduledTime)',
    });
    // What the workflow receives on a night when the parameter names ami-0123456789abcdef0: its
    // own input check accepts it as an image export.
    const received: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(input)) {
      if (!key.endsWith('.$')) received[key] = value;
    }
    Object.assign(received, {
      imageId: 'ami-0123456789abcdef0',
      clientToken: 'nightly-2026-12-01T02:00:00Z',
      s3Bucket: 'the-export-bucket',
      roleName: 'the-service-role',
    });
    for (const key of Object.keys(received)) {
      expect(DOCUMENTED_IMAGE_INPUT_KEYS).toContain(key);
    }
    expect(normalizeImageRequest(received as any)).toEqual(expect.objectContaining({
      kind: 'image',
      imageId: 'ami-0123456789abcdef0',
      diskImageFormat: 'VMDK',
      roleName: 'the-service-role',
      s3Bucket: 'the-export-bucket',
      s3Prefix: 'nightly/',
      deadlineSeconds: NIGHTLY_IMAGE_DEADLINE.toSeconds(),
      clientToken: 'nightly-2026-12-01T02:00:00Z',
    }));
  });

  test('the nightly state machine may read that parameter only and start the export workflow only', () => {
    const statements = roleStatements(template, nightlyRoleId);
    const ssm = statements.filter((s) => asList(s.Action).some((a: string) => a.startsWith('ssm:')));
    expect(ssm).toHaveLength(1);
    expect(ssm[0].Action).toBe('ssm:GetParameter');
    expect(asList(ssm[0].Resource).map(flatten)).toEqual([parameterArn]);
    const starts = statements.filter((s) => asList(s.Action).includes('states:StartExecution'));
    expect(starts).toEqual([expect.objectContaining({ Resource: { Ref: workflowId } })]);
  });

  test('allowAnyImage: the workflow may export any AMI of the account and region (image/*), none granted by id', () => {
    const statements = roleStatements(template, /ExportTaskRole/);
    expect(exportableImages(statements)).toEqual(['*']);
    const onImages = statements
      .filter((s) => asList(s.Action).includes('ec2:ExportImage'))
      .flatMap((s) => asList(s.Resource).map(flatten))
      .filter((r) => r.includes(':image/'));
    expect(onImages).toEqual(['arn:${AWS::Partition}:ec2:eu-west-1::image/*']);
    expect(statements.filter((s) => s.Sid === 'ExportGrantedImages')).toEqual([]);
    const [fn] = Object.values(template.findResources('AWS::Lambda::Function', {
      Properties: { Role: { 'Fn::GetAtt': [Match.stringLikeRegexp('ExportTaskRole'), 'Arn'] } },
    })) as any[];
    expect(JSON.parse(fn.Properties.Environment.Variables.VM_EXPORT_GRANTS)).toEqual(expect.objectContaining({ anyImage: true, images: [] }));
  });

  test('the service role writes under nightly/ only, the workflow may pass it and read the bucket', () => {
    const roleStatementsOfService = roleStatements(template, serviceRoleId);
    const objectResources = roleStatementsOfService
      .filter((s) => asList(s.Action).includes('s3:PutObject'))
      .flatMap((s) => asList(s.Resource).map(flatten));
    expect(objectResources).toEqual([`\${${bucketId}.Arn}/nightly/*`]);
    const workflowStatements = roleStatements(template, /ExportTaskRole/);
    expect(workflowStatements).toEqual(expect.arrayContaining([
      expect.objectContaining({
        Action: 'iam:PassRole',
        Resource: { 'Fn::GetAtt': [serviceRoleId, 'Arn'] },
        Condition: { StringEquals: { 'iam:PassedToService': 'vmie.amazonaws.com' } },
      }),
      expect.objectContaining({
        Action: expect.arrayContaining(['s3:GetBucketLocation', 's3:GetBucketAcl']),
        Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] },
      }),
    ]));
  });

  test('cdk-nag (AwsSolutions, NIST 800-53 R5, HIPAA) reports nothing unacknowledged on the library\'s constructs', () => {
    const libraryPaths = stack.node.findAll().filter((c) => isLibraryConstruct(stack, c)).map((c) => c.node.path);
    for (const id of ['ExportBucket', 'Workflow', 'VmImportServiceRole', 'VmExportCustomResources']) {
      expect(libraryPaths).toContain(`${stack.node.path}/${id}`);
    }
    expect(libraryPaths).not.toContain(`${stack.node.path}/NightlyExport`);
    expect(libraryNagFindings(stack)).toEqual([]);
    const acks = acknowledgingConstructs(stack);
    expect(acks.length).toBeGreaterThan(0);
    for (const c of acks) {
      expect({ where: c.node.path, library: isLibraryConstruct(stack, c) }).toEqual({ where: c.node.path, library: true });
    }
  });
});

describe('examples/nightly-fleet-export.ts', () => {
  const { stack } = buildNightlyFleetApp();
  const template = Template.fromStack(stack);
  const fleetId: string = stack.resolve(stack.fleet.stateMachine.stateMachineArn).Ref;
  const bucketId = Object.keys(template.findResources('AWS::S3::Bucket')).find((id) => id.startsWith('ExportBucket'))!;
  const [schedule] = Object.values(template.findResources('AWS::Scheduler::Schedule')) as any[];
  const input = JSON.parse(flatten(schedule.Properties.Target.Input));

  test('EventBridge Scheduler starts the fleet every night at 01:00 Berlin, with the tag filter and the night\'s token', () => {
    expect(schedule.Properties.ScheduleExpression).toBe('cron(0 1 * * ? *)');
    expect(schedule.Properties.ScheduleExpressionTimezone).toBe('Europe/Berlin');
    expect(schedule.Properties.Target.Arn).toEqual({ Ref: fleetId });
    expect(input).toEqual({
      instanceFilters: [{ Name: `tag:${NIGHTLY_TAG.key}`, Values: [NIGHTLY_TAG.value] }],
      maxConcurrentExports: NIGHTLY_FLEET_CONCURRENCY,
      targetEnvironment: 'vmware',
      s3Bucket: `\${${bucketId}}`,
      s3Prefix: NIGHTLY_FLEET_PREFIX,
      deadlineSeconds: NIGHTLY_FLEET_DEADLINE.toSeconds(),
      clientToken: 'nightly-<aws.scheduler.scheduled-time>',
    });
    // The schedule's role starts the fleet and nothing else (not the export workflow itself).
    expect(roleStatements(template, schedule.Properties.Target.RoleArn['Fn::GetAtt'][0])).toEqual([
      expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: fleetId } }),
    ]);
  });

  test('what the fleet receives on a night is a fleet input its first step accepts', () => {
    const received = { ...input, s3Bucket: 'the-export-bucket', clientToken: 'nightly-2026-12-01T00:00:00Z' };
    const plan = prepareFleet(received, 'arn:aws:states:eu-west-1:111111111111:execution:Fleet:night');
    expect(plan).toMatchObject({ listInstances: true, maxConcurrentExports: 5, tokenPrefix: 'nightly-2026-12-01T00:00:00Z-' });
    expect(plan.filters[0]).toEqual({ Name: 'tag:vm-export', Values: ['nightly'] });
  });

  test('the workflow exports exactly the instances with the fleet\'s tag (and no instance by id)', () => {
    const statements = roleStatements(template, /ExportTaskRole/);
    const creates = statements.filter((st) => asList(st.Action).includes('ec2:CreateInstanceExportTask') && asList(st.Resource).map(flatten).some((r) => r.includes(':instance/')));
    expect(creates.map((st) => [asList(st.Resource).map(flatten), st.Condition])).toEqual([[
      ['arn:${AWS::Partition}:ec2:eu-west-1:111111111111:instance/*'],
      { StringEquals: { [`aws:ResourceTag/${NIGHTLY_TAG.key}`]: NIGHTLY_TAG.value } },
    ]]);
  });

  test('each night\'s report goes to the topic', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': ['cdk-vm-export'], 'detail-type': ['VM Export Fleet Finished'], 'resources': [{ Ref: fleetId }] },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('^FleetReports') } })],
    });
  });

  test('cdk-nag (AwsSolutions, NIST 800-53 R5, HIPAA) reports nothing unacknowledged on the library\'s constructs', () => {
    const libraryPaths = stack.node.findAll().filter((c) => isLibraryConstruct(stack, c)).map((c) => c.node.path);
    for (const id of ['ExportBucket', 'VmExportWorkflow', 'VmExportFleet']) {
      expect(libraryPaths).toContain(`${stack.node.path}/${id}`);
    }
    expect(libraryNagFindings(stack)).toEqual([]);
  });
});
