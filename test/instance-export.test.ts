import { App, CfnOutput, CfnParameter, CfnWaitConditionHandle, Duration, Stack, aws_ec2 as ec2 } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import {
  ContainerFormat,
  DiskImageFormat,
  InstanceExport,
  InstanceExportProps,
  TargetEnvironment,
  VmExportBucket,
} from '../src';
import { evaluateCfn } from './support/cfn-eval';
import { completedAttributeRefs } from './support/export-attributes';

const INSTANCE = 'i-0123456789abcdef0';

function newStack(env = { account: '123456789012', region: 'eu-west-1' }): Stack {
  return new Stack(new App(), 'Stack', { env });
}

function exportIn(stack: Stack, props: Partial<InstanceExportProps> = {}, id = 'Export'): InstanceExport {
  const bucket = (stack.node.tryFindChild('Bucket') as VmExportBucket | undefined) ?? new VmExportBucket(stack, 'Bucket');
  return new InstanceExport(stack, id, {
    instanceId: INSTANCE,
    bucket,
    targetEnvironment: TargetEnvironment.VMWARE,
    ...props,
  });
}

function resourcesOfType(template: Template, type: string): Array<[string, any]> {
  return Object.entries(template.findResources(type));
}

describe('InstanceExport in a stack', () => {
  const stack = newStack();
  const vm = exportIn(stack, { description: 'nightly' });
  new CfnOutput(stack, 'Uri', { value: vm.exportObjectUri });
  const template = Template.fromStack(stack);
  const json = template.toJSON();

  test('the custom resource carries the export, the handle and the deadline', () => {
    template.hasResourceProperties('Custom::VmInstanceExport', {
      StateMachineArn: { Ref: Match.stringLikeRegexp('VmExportWorkflowStateMachine') },
      InstanceId: INSTANCE,
      TargetEnvironment: 'vmware',
      DiskImageFormat: 'VMDK',
      ContainerFormat: 'ova',
      S3Bucket: { Ref: Match.stringLikeRegexp('^Bucket') },
      S3Prefix: 'exports/',
      Description: 'nightly',
      DeadlineSeconds: String(6 * 3600 - 300),
      WaitForCompletion: 'true',
      Preflight: 'true',
      DeleteObjectOnDelete: 'false',
      CanonicalId: 'c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322',
      // The handle's logical id, never its Ref (a presigned URL).
      WaitConditionHandle: Match.stringLikeRegexp('^ExportHandle[0-9A-F]+$'),
    });
    const [[handleId]] = resourcesOfType(template, 'AWS::CloudFormation::WaitConditionHandle');
    const [[, resource]] = resourcesOfType(template, 'Custom::VmInstanceExport');
    expect(resource.Properties.WaitConditionHandle).toBe(handleId);
  });

  test('the handle\'s logical id follows an override of it (the step that signals looks it up by that id)', () => {
    const other = newStack();
    const exp = exportIn(other);
    const handle = exp.node.children.find((c) => c instanceof CfnWaitConditionHandle) as CfnWaitConditionHandle;
    handle.overrideLogicalId('MyOwnHandleId');
    const [[, resource]] = resourcesOfType(Template.fromStack(other), 'Custom::VmInstanceExport');
    expect(resource.Properties.WaitConditionHandle).toBe('MyOwnHandleId');
    expect(Template.fromStack(other).toJSON().Resources.MyOwnHandleId.Type).toBe('AWS::CloudFormation::WaitConditionHandle');
  });

  test('the deployment waits 6 hours by default, after the export started', () => {
    const [[, waitCondition]] = resourcesOfType(template, 'AWS::CloudFormation::WaitCondition');
    const [[crId]] = resourcesOfType(template, 'Custom::VmInstanceExport');
    const [[handleId]] = resourcesOfType(template, 'AWS::CloudFormation::WaitConditionHandle');
    expect(waitCondition.Properties).toEqual({ Count: 1, Handle: { Ref: handleId }, Timeout: '21600' });
    expect(waitCondition.DependsOn).toEqual([crId]);
  });

  test('no export starts before the bucket grants and the handle it will signal exist', () => {
    const [[, resource]] = resourcesOfType(template, 'Custom::VmInstanceExport');
    const types = (resource.DependsOn as string[]).map((id) => json.Resources[id].Type);
    expect(types.sort()).toEqual(['AWS::CloudFormation::WaitConditionHandle', 'AWS::S3::BucketPolicy', 'Custom::VmExportBucketGrant']);
  });

  test('the workflow and the provider are ready before the export starts (through references)', () => {
    const [[, resource]] = resourcesOfType(template, 'Custom::VmInstanceExport');
    const [[machineId, machine]] = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
    expect(resource.Properties.StateMachineArn).toEqual({ Ref: machineId });
    // The state machine waits for its role's policy and references the export-task function,
    // which waits for its own role's policy (where the bucket's preflight reads are granted).
    const dependsOnPolicy = (r: any) => (r.DependsOn as string[]).some((id) => json.Resources[id].Type === 'AWS::IAM::Policy');
    expect(dependsOnPolicy(machine)).toBe(true);
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    const exportTask = functions.find(([id]) => JSON.stringify(machine.Properties).includes(id));
    expect(exportTask).toBeDefined();
    expect(dependsOnPolicy(exportTask![1])).toBe(true);
    // The service token is the handler function itself (no Provider framework in between).
    const [handlerId, attribute] = (resource.Properties.ServiceToken['Fn::GetAtt'] as string[]);
    expect(attribute).toBe('Arn');
    expect(json.Resources[handlerId].Type).toBe('AWS::Lambda::Function');
    expect(json.Resources[handlerId].Properties.Handler).toBe('index.handler');
    expect(dependsOnPolicy(json.Resources[handlerId])).toBe(true);
  });

  test('every attribute is a string attribute of a resource that reads the wait condition data', () => {
    const [[wcId]] = resourcesOfType(template, 'AWS::CloudFormation::WaitCondition');
    const [[attributesId, attributes]] = resourcesOfType(template, 'Custom::VmExportAttributes');
    const [[crId, resource]] = resourcesOfType(template, 'Custom::VmInstanceExport');
    // Served by the export provider (no new function); created only once the wait condition is.
    expect(attributes.Properties).toEqual({
      ServiceToken: resource.Properties.ServiceToken,
      WaitConditionData: { 'Fn::GetAtt': [wcId, 'Data'] },
      S3Bucket: { Ref: Object.keys(template.findResources('AWS::S3::Bucket'))[0] },
      S3Prefix: 'exports/',
      ObjectExtension: '.ova',
    });
    expect(attributes.DependsOn).toBeUndefined();
    expect(crId).not.toBe(attributesId);
    // No attribute takes the (object-typed) Data apart: each is a plain GetAtt of the resource.
    expect(json.Outputs.Uri.Value).toEqual({ 'Fn::GetAtt': [attributesId, 'ExportObjectUri'] });
    expect(stack.resolve(vm.exportTaskId)).toEqual({ 'Fn::GetAtt': [attributesId, 'ExportTaskId'] });
    expect(stack.resolve(vm.exportObjectKey)).toEqual({ 'Fn::GetAtt': [attributesId, 'ExportObjectKey'] });
    // The object-typed Data is used once in the whole template: as that resource's property.
    expect(JSON.stringify(json).split(`{"Fn::GetAtt":["${wcId}","Data"]}`)).toHaveLength(2);
  });

  test('the attributes resolve to the signalled task id and key (and the documented key for an older signal)', () => {
    const ctx = { region: 'eu-west-1', refs: { [Object.keys(template.findResources('AWS::S3::Bucket'))[0]]: 'my-exports' } };
    const evaluate = (value: string, signals: Record<string, string>) =>
      evaluateCfn(stack.resolve(value), { ...ctx, refs: { ...ctx.refs, ...completedAttributeRefs(json, ctx, signals) } });
    const older = { export: 'export-i-0a1b2c3d4e5f60718' };
    expect(evaluate(vm.exportObjectUri, older)).toBe('s3://my-exports/exports/export-i-0a1b2c3d4e5f60718.ova');
    expect(evaluate(vm.exportTaskId, older)).toBe('export-i-0a1b2c3d4e5f60718');
    expect(evaluate(vm.exportObjectKey, older)).toBe('exports/export-i-0a1b2c3d4e5f60718.ova');
    const current = { export: 'export-i-0a1b2c3d4e5f60718|exports/moved/export-i-0a1b2c3d4e5f60718.ova' };
    expect(evaluate(vm.exportObjectKey, current)).toBe('exports/moved/export-i-0a1b2c3d4e5f60718.ova');
    expect(evaluate(vm.exportObjectUri, current)).toBe('s3://my-exports/exports/moved/export-i-0a1b2c3d4e5f60718.ova');
  });

  test('the custom resource role: start and stop the workflow, describe, cancel only tagged tasks, read the bucket', () => {
    const [[, policy]] = resourcesOfType(template, 'AWS::IAM::Policy')
      .filter(([id]) => id.startsWith('VmExportCustomResourcesHandler'));
    const statements = policy.Properties.PolicyDocument.Statement;
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Sid: 'StartExportWorkflow', Action: 'states:StartExecution', Resource: { Ref: expect.stringMatching(/StateMachine/) } }),
      expect.objectContaining({ Sid: 'StopExportWorkflow', Action: ['states:DescribeExecution', 'states:StopExecution'] }),
      expect.objectContaining({ Sid: 'DescribeForPreflight', Resource: '*' }),
      expect.objectContaining({
        Sid: 'CancelManagedExportTasks',
        Action: 'ec2:CancelExportTask',
        Condition: { StringEquals: { 'aws:ResourceTag/vm-export:managed-by': 'cdk-vm-export' } },
      }),
      // The bucket's grant statement (same function) covers the preflight's reads: granted once.
      expect.objectContaining({
        Action: ['s3:GetBucketAcl', 's3:PutBucketAcl', 's3:GetBucketLocation', 's3:GetBucketOwnershipControls', 's3:GetEncryptionConfiguration'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Bucket/), 'Arn'] },
      }),
    ]));
    const bucketStatements = statements.filter((st: any) => JSON.stringify(st.Resource).includes('"Bucket'));
    expect(bucketStatements.map((st: any) => st.Action)).toEqual([
      ['s3:GetBucketAcl', 's3:PutBucketAcl', 's3:GetBucketLocation', 's3:GetBucketOwnershipControls', 's3:GetEncryptionConfiguration'],
      's3:GetBucketPolicy',
    ]);
    // Waiting exports never start a task from the provider, and nothing may delete objects.
    const actions = statements.flatMap((s: any) => [s.Action].flat());
    expect(actions).not.toContain('ec2:CreateInstanceExportTask');
    expect(actions).not.toContain('s3:DeleteObject');
    // Only the Describe calls (no resource-level permissions) use '*'.
    for (const s of statements.filter((st: any) => st.Resource === '*')) {
      expect([s.Action].flat().every((a: string) => a.startsWith('ec2:Describe'))).toBe(true);
    }
    expect(JSON.stringify(json)).not.toMatch(/arn:aws:/);
  });

  test('stop and describe are scoped to executions of this state machine', () => {
    const [[, policy]] = resourcesOfType(template, 'AWS::IAM::Policy')
      .filter(([id]) => id.startsWith('VmExportCustomResourcesHandler'));
    const stop = policy.Properties.PolicyDocument.Statement.find((s: any) => s.Sid === 'StopExportWorkflow');
    const arn = evaluateCfn(stop.Resource, {
      region: 'eu-west-1',
      refs: { [Object.keys(template.findResources('AWS::StepFunctions::StateMachine'))[0]]: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Workflow1' },
    });
    expect(arn).toBe('arn:aws:states:eu-west-1:123456789012:execution:Workflow1:*');
  });
});

describe('many exports share one workflow and one provider', () => {
  test('each extra export adds four resources (export, handle, wait condition, attributes)', () => {
    const counts = [1, 2, 5].map((n) => {
      const stack = newStack();
      for (let i = 0; i < n; i++) {
        exportIn(stack, { instanceId: `i-0123456789abcdef${i}` }, `Export${i}`);
      }
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
      template.resourceCountIs('Custom::VmInstanceExport', n);
      template.resourceCountIs('Custom::VmExportAttributes', n);
      return Object.keys(template.toJSON().Resources).length;
    });
    expect(counts[1] - counts[0]).toBe(4);
    expect(counts[2] - counts[0]).toBe(16);
  });
});

describe('wait condition logical ids', () => {
  function ids(props: Partial<InstanceExportProps>): string[] {
    const template = Template.fromStack((() => {
      const stack = newStack();
      exportIn(stack, props);
      return stack;
    })());
    return [
      ...Object.keys(template.findResources('AWS::CloudFormation::WaitCondition')),
      ...Object.keys(template.findResources('AWS::CloudFormation::WaitConditionHandle')),
    ];
  }
  const base = ids({});

  test.each<[string, Partial<InstanceExportProps>]>([
    ['instance', { instanceId: 'i-0fedcba9876543210' }],
    ['target', { targetEnvironment: TargetEnvironment.CITRIX }],
    ['container', { containerFormat: ContainerFormat.NONE }],
    ['prefix', { prefix: 'vms/' }],
    ['timeout', { timeout: Duration.hours(2) }],
    ['revision', { revision: '2' }],
  ])('change with the %s', (_what, props) => {
    const changed = ids(props);
    expect(changed[0]).not.toBe(base[0]);
    expect(changed[1]).not.toBe(base[1]);
  });

  test.each<[string, Partial<InstanceExportProps>]>([
    ['description', { description: 'another text' }],
    ['preflight', { preflight: false }],
    ['tags', { tags: { team: 'infra' } }],
    ['object deletion', { deleteObjectOnDelete: true }],
  ])('stay the same when only the %s changes', (_what, props) => {
    expect(ids(props)).toEqual(base);
  });

  test('a reference to an instance hashes as the reference', () => {
    const stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0 });
    const instance = new ec2.Instance(stack, 'Instance', {
      vpc,
      instanceType: new ec2.InstanceType('t3.micro'),
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
    });
    exportIn(stack, { instanceId: instance.instanceId });
    Template.fromStack(stack).hasResourceProperties('Custom::VmInstanceExport', {
      InstanceId: { Ref: Match.stringLikeRegexp('Instance') },
    });
  });
});

describe('formats', () => {
  test.each<[TargetEnvironment, DiskImageFormat | undefined, ContainerFormat | undefined, string, string]>([
    [TargetEnvironment.VMWARE, undefined, undefined, 'VMDK', 'ova'],
    [TargetEnvironment.VMWARE, DiskImageFormat.VMDK, ContainerFormat.NONE, 'VMDK', 'none'],
    [TargetEnvironment.CITRIX, undefined, undefined, 'VHD', 'none'],
    [TargetEnvironment.MICROSOFT, undefined, undefined, 'VHD', 'none'],
  ])('%s %s %s exports %s in %s', (target, disk, container, expectedDisk, expectedContainer) => {
    const stack = newStack();
    const vm = exportIn(stack, { targetEnvironment: target, diskImageFormat: disk, containerFormat: container });
    Template.fromStack(stack).hasResourceProperties('Custom::VmInstanceExport', {
      DiskImageFormat: expectedDisk,
      ContainerFormat: expectedContainer,
    });
    const extension = expectedContainer === 'ova' ? '.ova' : `.${expectedDisk.toLowerCase()}`;
    expect(stack.resolve(vm.exportObjectKey)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^ExportAttributes/), 'ExportObjectKey'] });
    Template.fromStack(stack).hasResourceProperties('Custom::VmExportAttributes', { ObjectExtension: extension });
  });
});

describe('waitForCompletion: false', () => {
  const stack = newStack();
  const vm = exportIn(stack, { waitForCompletion: false, deleteObjectOnDelete: true });
  const template = Template.fromStack(stack);

  test('no wait condition; attributes come from the custom resource at once', () => {
    template.resourceCountIs('AWS::CloudFormation::WaitCondition', 0);
    template.resourceCountIs('AWS::CloudFormation::WaitConditionHandle', 0);
    expect(stack.resolve(vm.exportObjectUri)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/Export/), 'ExportObjectUri'] });
    expect(stack.resolve(vm.exportTaskId)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/Export/), 'ExportTaskId'] });
  });

  test('the provider may start an export of this instance only, tagged, and delete under the prefix', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 's3:DeleteObject',
            Effect: 'Allow',
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^Bucket'), 'Arn'] }, '/exports/*']] },
          },
          {
            Action: 'ec2:CreateInstanceExportTask',
            Effect: 'Allow',
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ec2:eu-west-1:123456789012:instance/${INSTANCE}`]] },
          },
          Match.objectLike({
            Sid: 'CreateTaggedExportTasks',
            Condition: { StringEquals: { 'aws:RequestTag/vm-export:managed-by': 'cdk-vm-export' } },
          }),
          Match.objectLike({
            Sid: 'TagExportTasksOnCreate',
            Action: 'ec2:CreateTags',
            Condition: { StringEquals: { 'ec2:CreateAction': 'CreateInstanceExportTask' } },
          }),
        ]),
      },
    });
  });
});

test('preflight: false adds a synth warning', () => {
  const stack = newStack();
  exportIn(stack, { preflight: false });
  Annotations.fromStack(stack).hasWarning('/Stack/Export', Match.stringLikeRegexp('preflight is false'));
});

describe('synth-time errors name the prop, the value and the fix', () => {
  test.each<[string, Partial<InstanceExportProps>, RegExp[]]>([
    ['RAW', { diskImageFormat: DiskImageFormat.RAW }, [/diskImageFormat RAW/, /ExportImage/, /use VMDK/]],
    ['VMDK with citrix', { targetEnvironment: TargetEnvironment.CITRIX, diskImageFormat: DiskImageFormat.VMDK }, [/VMDK does not work with targetEnvironment 'citrix'/, /DiskImageFormat\.VHD/]],
    ['VMDK with microsoft', { targetEnvironment: TargetEnvironment.MICROSOFT, diskImageFormat: DiskImageFormat.VMDK }, [/'microsoft'/]],
    ['VHD with vmware', { diskImageFormat: DiskImageFormat.VHD }, [/VHD does not work with targetEnvironment 'vmware'/, /DiskImageFormat\.VMDK/]],
    ['OVA with VHD', { targetEnvironment: TargetEnvironment.CITRIX, containerFormat: ContainerFormat.OVA }, [/containerFormat OVA only wraps VMDK images, not VHD/, /ContainerFormat\.NONE/]],
    ['malformed instance id', { instanceId: 'i-xyz' }, [/instanceId 'i-xyz'/, /8 or 17/]],
    ['instance id of 12 hex', { instanceId: 'i-0123456789ab' }, [/instanceId 'i-0123456789ab'/]],
    ['description over 255', { description: 'd'.repeat(256) }, [/description is 256 characters/, /at most 255/]],
    ['leading slash', { prefix: '/vms/' }, [/prefix '\/vms\/' starts with '\/'/, /Use 'vms\/'/]],
    ['no trailing slash', { prefix: 'vms' }, [/prefix 'vms' does not end with '\/'/, /Use 'vms\/'/]],
    ['key too long', { prefix: 'p'.repeat(1000) + '/' }, [/object key would be 1031 bytes/, /1024/]],
    ['timeout over 12 h', { timeout: Duration.hours(13) }, [/timeout is 13 hours/, /10 minutes to 12 hours/, /InstanceExportWorkflow directly with deadlineSeconds up to 7 days/]],
    ['timeout under 10 min', { timeout: Duration.minutes(5) }, [/timeout is 5 minutes/]],
    ['reserved tag key', { tags: { 'vm-export:client-token': 'x' } }, [/tags has the key 'vm-export:client-token'/, /reserved/]],
  ])('%s', (_name, props, patterns) => {
    let message = '';
    try {
      exportIn(newStack(), props);
    } catch (e) {
      message = (e as Error).message;
    }
    for (const pattern of patterns) {
      expect(message).toMatch(pattern);
    }
  });

  test('a bucket in another region or account', () => {
    const app = new App();
    const other = new Stack(app, 'Other', { env: { account: '210987654321', region: 'us-east-1' } });
    const bucket = new VmExportBucket(other, 'Bucket');
    const here = new Stack(app, 'Here', { env: { account: '123456789012', region: 'eu-west-1' } });
    expect(() => new InstanceExport(here, 'Export', {
      instanceId: INSTANCE,
      bucket,
      targetEnvironment: TargetEnvironment.VMWARE,
    })).toThrow(/bucket is in region us-east-1 but the export runs in eu-west-1[\s\S]*bucket is in account 210987654321/);
  });

  test('tokens are left to deploy time', () => {
    const stack = newStack();
    const instanceId = new CfnParameter(stack, 'InstanceId').valueAsString;
    const prefix = new CfnParameter(stack, 'Prefix').valueAsString;
    expect(() => exportIn(stack, { instanceId, prefix })).not.toThrow();
    Template.fromStack(stack).hasResourceProperties('Custom::VmInstanceExport', {
      InstanceId: { Ref: 'InstanceId' },
      S3Prefix: { Ref: 'Prefix' },
    });
  });
});
