/**
 * ImageExport and VmImportServiceRole: the resources, the properties handed to the handler,
 * the IAM shape (the service role scoped to the exports' prefixes, PassRole scoped to the role
 * and the service, ExportImage only on granted AMIs and tagged tasks), cdk-nag, and synth-time
 * errors.
 */
import { App, Duration, Stack, aws_imagebuilder as imagebuilder } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks } from 'cdk-nag';
import {
  DiskImageFormat,
  ImageExport,
  ImageExportProps,
  InstanceExport,
  InstanceExportWorkflow,
  TargetEnvironment,
  VmExportBucket,
  VmImportServiceRole,
} from '../src';

const AMI = 'ami-0123456789abcdef0';
const ENV = { account: '123456789012', region: 'eu-west-1' };

/** An ARN as the template writes it: the partition through AWS::Partition. */
function arn(rest: string, ...tail: unknown[]): unknown {
  return { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, rest, ...tail]] };
}

function newStack(env: typeof ENV | undefined = ENV): Stack {
  return new Stack(new App(), 'ImageStack', { env });
}

function imageExportIn(stack: Stack, props: Partial<ImageExportProps> = {}, id = 'GoldenImage'): ImageExport {
  const bucket = (stack.node.tryFindChild('ExportBucket') as VmExportBucket | undefined) ?? new VmExportBucket(stack, 'ExportBucket');
  return new ImageExport(stack, id, { imageId: AMI, bucket, ...props });
}

function ofType(template: Template, type: string): Array<[string, any]> {
  return Object.entries(template.findResources(type));
}

/** Every statement of every policy attached to the role with this logical id. */
function statementsOfRole(template: Template, roleLogicalId: string): any[] {
  return ofType(template, 'AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(roleLogicalId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

function roleIdOf(template: Template, pattern: RegExp): string {
  const found = ofType(template, 'AWS::IAM::Role').map(([id]) => id).filter((id) => pattern.test(id));
  expect(found).toHaveLength(1);
  return found[0];
}

describe('ImageExport in a stack', () => {
  const stack = newStack();
  const vm = imageExportIn(stack, { diskImageFormat: DiskImageFormat.RAW, prefix: 'golden/', description: 'nightly', tags: { team: 'ops' } });
  const template = Template.fromStack(stack);

  test('the custom resource carries the AMI, the format, the role, the handle and the deadline', () => {
    const [[, resource]] = ofType(template, 'Custom::VmImageExport');
    const [[handleId]] = ofType(template, 'AWS::CloudFormation::WaitConditionHandle');
    expect(resource.Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': [expect.stringMatching(/^VmExportCustomResourcesHandler/), 'Arn'] },
      StateMachineArn: { Ref: expect.stringMatching(/^VmExportWorkflowStateMachine/) },
      ImageId: AMI,
      DiskImageFormat: 'RAW',
      S3Bucket: { Ref: expect.stringMatching(/^ExportBucket/) },
      S3Prefix: 'golden/',
      RoleName: { Ref: expect.stringMatching(/^VmImportServiceRole/) },
      Revision: '',
      Description: 'nightly',
      Tags: [{ Key: 'team', Value: 'ops' }],
      DeadlineSeconds: String(6 * 3600 - 300),
      WaitForCompletion: 'true',
      Preflight: 'true',
      DeleteObjectOnDelete: 'false',
      WaitConditionHandle: handleId,
    });
    expect(resource.Properties).not.toHaveProperty('CanonicalId');
  });

  test('the export waits for the handle, the bucket grants and the service role with its policy', () => {
    const [[, resource]] = ofType(template, 'Custom::VmImageExport');
    const role = roleIdOf(template, /^VmImportServiceRole/);
    const [[policy]] = ofType(template, 'AWS::IAM::Policy').filter(([id]) => id.startsWith('VmImportServiceRoleDefaultPolicy'));
    expect(resource.DependsOn).toEqual(expect.arrayContaining([role, policy, expect.stringMatching(/Handle/), expect.stringMatching(/^ExportBucketServiceGrant/)]));
  });

  test('the attributes are the wait condition\'s, with the format\'s extension', () => {
    const [[, attributes]] = ofType(template, 'Custom::VmExportAttributes');
    expect(attributes.Properties.ObjectExtension).toBe('.raw');
    expect(attributes.Properties.S3Prefix).toBe('golden/');
    expect(stack.resolve(vm.exportObjectUri)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^GoldenImageAttributes/), 'ExportObjectUri'] });
    expect(stack.resolve(vm.exportImageTaskId)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^GoldenImageAttributes/), 'ExportTaskId'] });
  });

  test('the service role trusts vmie.amazonaws.com with the external id vmimport, for this account only', () => {
    const role = roleIdOf(template, /^VmImportServiceRole/);
    expect(template.toJSON().Resources[role].Properties.AssumeRolePolicyDocument.Statement).toEqual([{
      Effect: 'Allow',
      Action: 'sts:AssumeRole',
      Principal: { Service: 'vmie.amazonaws.com' },
      Condition: {
        StringEquals: { 'sts:ExternalId': 'vmimport', 'aws:SourceAccount': '123456789012' },
        ArnLike: { 'aws:SourceArn': arn(':vmie:*:123456789012:*') },
      },
    }]);
  });

  test('the service role may read the bucket and write only under the export\'s prefix', () => {
    const statements = statementsOfRole(template, roleIdOf(template, /^VmImportServiceRole/));
    expect(statements).toEqual([
      { Sid: 'ExportBuckets', Effect: 'Allow', Action: ['s3:GetBucketLocation', 's3:GetBucketAcl', 's3:ListBucket'], Resource: { 'Fn::GetAtt': [expect.any(String), 'Arn'] } },
      {
        Sid: 'ExportObjects',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject'],
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.any(String), 'Arn'] }, '/golden/*']] },
      },
      // The guide's service role policy ("Required service role"): the snapshots the service copies.
      { Sid: 'ExportSnapshots', Effect: 'Allow', Action: ['ec2:CopySnapshot', 'ec2:ModifySnapshotAttribute', 'ec2:Describe*'], Resource: '*' },
    ]);
  });

  test('the workflow may export this AMI only, create and cancel only tagged image tasks, pass only the service role', () => {
    const statements = statementsOfRole(template, roleIdOf(template, /^VmExportWorkflowExportTaskRole/));
    const bySid = (sid: string) => statements.find((s) => s.Sid === sid);
    expect(bySid('ExportGrantedImages')).toEqual({
      Sid: 'ExportGrantedImages',
      Effect: 'Allow',
      Action: 'ec2:ExportImage',
      Resource: arn(':ec2:eu-west-1::image/*'),
      Condition: { StringEquals: { 'ec2:ImageID': [AMI] } },
    });
    expect(bySid('CreateTaggedExportImageTasks')).toMatchObject({
      Action: 'ec2:ExportImage',
      Resource: arn(':ec2:eu-west-1:123456789012:export-image-task/*'),
      Condition: { StringEquals: { 'aws:RequestTag/vm-export:managed-by': 'cdk-vm-export' } },
    });
    expect(bySid('TagExportImageTasksOnCreate')).toMatchObject({ Action: 'ec2:CreateTags', Condition: { StringEquals: { 'ec2:CreateAction': 'ExportImage' } } });
    expect(bySid('CancelManagedExportImageTasks')).toMatchObject({
      Action: 'ec2:CancelExportTask',
      Resource: arn(':ec2:eu-west-1:123456789012:export-image-task/*'),
      Condition: { StringEquals: { 'aws:ResourceTag/vm-export:managed-by': 'cdk-vm-export' } },
    });
    const passRole = statements.filter((s) => s.Action === 'iam:PassRole');
    expect(passRole).toEqual([{
      Effect: 'Allow',
      Action: 'iam:PassRole',
      Resource: { 'Fn::GetAtt': [roleIdOf(template, /^VmImportServiceRole/), 'Arn'] },
      Condition: { StringEquals: { 'iam:PassedToService': 'vmie.amazonaws.com' } },
    }]);
    expect(bySid('ReadServiceRolesForPreflight')).toMatchObject({ Action: ['iam:GetRole', 'iam:SimulatePrincipalPolicy'] });
    // image/* only with the ec2:ImageID condition.
    expect(statements.filter((s) => JSON.stringify(s.Resource ?? '').includes('image/*') && !s.Condition?.StringEquals?.['ec2:ImageID'])).toEqual([]);
  });

  test('the custom resource function may look up and cancel tagged image tasks, but not start one (the workflow does)', () => {
    const statements = statementsOfRole(template, roleIdOf(template, /^VmExportCustomResourcesHandlerRole/));
    const actions = statements.flatMap((s) => [].concat(s.Action));
    expect(actions).toEqual(expect.arrayContaining(['ec2:DescribeExportImageTasks', 'ec2:DescribeImages', 'ec2:CancelExportTask']));
    expect(actions).not.toContain('ec2:ExportImage');
    expect(actions).not.toContain('iam:PassRole');
  });

  test('the state machine polls DescribeExportImageTasks through the SDK integration', () => {
    const statements = statementsOfRole(template, roleIdOf(template, /^VmExportWorkflowStateMachineRole/));
    expect(statements).toContainEqual({ Effect: 'Allow', Action: 'ec2:DescribeExportImageTasks', Resource: '*' });
  });
});

describe('waitForCompletion: false', () => {
  const stack = newStack();
  const vm = imageExportIn(stack, { waitForCompletion: false, deleteObjectOnDelete: true });
  const template = Template.fromStack(stack);

  test('no wait condition; the attributes come from the custom resource at once', () => {
    expect(ofType(template, 'AWS::CloudFormation::WaitCondition')).toEqual([]);
    expect(stack.resolve(vm.exportObjectKey)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^GoldenImage/), 'ExportObjectKey'] });
  });

  test('the custom resource function may start an export of this AMI only, tagged, and pass the role', () => {
    const statements = statementsOfRole(template, roleIdOf(template, /^VmExportCustomResourcesHandlerRole/));
    expect(statements).toContainEqual({ Effect: 'Allow', Action: 'ec2:ExportImage', Resource: arn(`:ec2:eu-west-1::image/${AMI}`) });
    expect(statements.find((s) => s.Sid === 'CreateTaggedExportImageTasks')).toBeDefined();
    expect(statements.filter((s) => s.Action === 'iam:PassRole')).toHaveLength(1);
  });
});

describe('the stack\'s service role and workflow are shared', () => {
  test('two image exports: one role, one workflow, one function, one statement for both AMIs; 4 resources per extra image export', () => {
    const one = newStack();
    imageExportIn(one);
    const two = newStack();
    imageExportIn(two);
    imageExportIn(two, { imageId: 'ami-0fedcba9876543210', prefix: 'other/' }, 'Second');
    const count = (s: Stack) => Object.keys(Template.fromStack(s).toJSON().Resources).length;
    expect(count(two) - count(one)).toBe(4);
    const template = Template.fromStack(two);
    expect(ofType(template, 'AWS::IAM::Role').filter(([id]) => id.startsWith('VmImportServiceRole'))).toHaveLength(1);
    expect(ofType(template, 'AWS::StepFunctions::StateMachine')).toHaveLength(1);
    const granted = statementsOfRole(template, roleIdOf(template, /^VmExportWorkflowExportTaskRole/)).filter((s) => s.Sid === 'ExportGrantedImages');
    expect(granted.map((s) => s.Condition.StringEquals['ec2:ImageID'])).toEqual([[AMI, 'ami-0fedcba9876543210']]);
    const objects = statementsOfRole(template, roleIdOf(template, /^VmImportServiceRole/)).find((s) => s.Sid === 'ExportObjects');
    expect(JSON.stringify(objects.Resource)).toContain('/exports/*');
    expect(JSON.stringify(objects.Resource)).toContain('/other/*');
  });

  test('an instance export and an image export run on the same workflow', () => {
    const stack = newStack();
    const image = imageExportIn(stack);
    const instance = new InstanceExport(stack, 'Web', {
      instanceId: 'i-0123456789abcdef0',
      bucket: stack.node.findChild('ExportBucket') as VmExportBucket,
      targetEnvironment: TargetEnvironment.VMWARE,
    });
    expect(image.workflow).toBe(instance.workflow);
    expect(image.serviceRole).toBe(VmImportServiceRole.of(stack));
  });
});

describe('an existing service role', () => {
  test('by name: RoleName is the name, the grants go into a policy attached to it', () => {
    const stack = newStack();
    const serviceRole = VmImportServiceRole.fromRoleName(stack, 'Vmimport', 'vmimport');
    imageExportIn(stack, { serviceRole });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::VmImageExport', { RoleName: 'vmimport' });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: ['vmimport'],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'ExportObjects' })]) },
    });
    expect(ofType(template, 'AWS::IAM::Role').filter(([id]) => id.startsWith('VmImportServiceRole'))).toEqual([]);
    const passRole = ofType(template, 'AWS::IAM::Policy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement).filter((s: any) => s.Action === 'iam:PassRole');
    expect(passRole.map((s: any) => s.Resource)).toEqual([{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:role/vmimport']] }]);
  });

  test('addGrants: false attaches nothing to the role (the preflight checks it can write)', () => {
    const stack = newStack();
    const serviceRole = VmImportServiceRole.fromRoleName(stack, 'Vmimport', 'vmimport', { addGrants: false });
    imageExportIn(stack, { serviceRole });
    const template = Template.fromStack(stack);
    expect(ofType(template, 'AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Properties.Roles).includes('vmimport'))).toEqual([]);
  });

  test.each([
    ['arn:aws:iam::123456789012:role/vmimport', /not an IAM role name.*NAME, without a path/],
    ['service-role/vmimport', /not an IAM role name.*without a path/],
    ['a'.repeat(65), /not an IAM role name.*1 to 64/],
  ])('%s is refused with the fix', (name, message) => {
    expect(() => VmImportServiceRole.fromRoleName(newStack(), 'Vmimport', name)).toThrow(message);
  });

  test('by ARN, for a role with a path: RoleName is the last part, PassRole and the grants use the full ARN', () => {
    const stack = newStack();
    const serviceRole = VmImportServiceRole.fromRoleArn(stack, 'Vmimport', 'arn:aws:iam::123456789012:role/service-role/vmimport');
    imageExportIn(stack, { serviceRole });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::VmImageExport', { RoleName: 'vmimport' });
    const statements = ofType(template, 'AWS::IAM::Policy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    expect(statements.filter((s: any) => s.Action === 'iam:PassRole').map((s: any) => s.Resource)).toEqual(['arn:aws:iam::123456789012:role/service-role/vmimport']);
    expect(statements.find((s: any) => s.Sid === 'ReadServiceRolesForPreflight').Resource).toBe('arn:aws:iam::123456789012:role/service-role/vmimport');
  });

  test.each(['vmimport', 'arn:aws:iam::123456789012:user/vmimport', 'arn:aws:s3:::bucket'])('fromRoleArn refuses %s with the fix', (notARoleArn) => {
    expect(() => VmImportServiceRole.fromRoleArn(newStack(), 'Vmimport', notARoleArn)).toThrow(/is not the ARN of an IAM role: pass a literal 'arn:<partition>:iam::<account>:role\/<path>\/<name>'/);
  });

  test('restrictToAccount: false keeps only the external id condition', () => {
    const stack = newStack();
    new VmImportServiceRole(stack, 'Open', { restrictToAccount: false, roleName: 'vmimport' });
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'vmimport',
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Condition: { StringEquals: { 'sts:ExternalId': 'vmimport' } } })] },
    });
  });
});

describe('an EC2 Image Builder image exported as a VMDK', () => {
  test('the image id is the Image Builder image\'s attribute, and the URI can be handed on', () => {
    const stack = newStack();
    const image = new imagebuilder.CfnImage(stack, 'Golden', {
      imageRecipeArn: 'arn:aws:imagebuilder:eu-west-1:123456789012:image-recipe/golden/1.0.0',
      infrastructureConfigurationArn: 'arn:aws:imagebuilder:eu-west-1:123456789012:infrastructure-configuration/golden',
    });
    const vm = imageExportIn(stack, { imageId: image.attrImageId });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::VmImageExport', { ImageId: { 'Fn::GetAtt': ['Golden', 'ImageId'] }, DiskImageFormat: 'VMDK' });
    expect(vm.diskImageFormat).toBe(DiskImageFormat.VMDK);
    const exportImage = statementsOfRole(template, roleIdOf(template, /^VmExportWorkflowExportTaskRole/)).find((s) => s.Sid === 'ExportGrantedImages');
    expect(exportImage.Condition).toEqual({ StringEquals: { 'ec2:ImageID': [{ 'Fn::GetAtt': ['Golden', 'ImageId'] }] } });
  });
});

describe('cdk-nag', () => {
  test.each([['with an env', ENV], ['environment-agnostic', undefined]] as const)('%s: AwsSolutions, NIST 800-53 R5 and HIPAA report nothing unacknowledged', (_n, env) => {
    const stack = newStack(env);
    imageExportIn(stack);
    imageExportIn(stack, { waitForCompletion: false, deleteObjectOnDelete: true, prefix: 'raw/' }, 'Raw');
    const workflowStack = newStack(env);
    new InstanceExportWorkflow(workflowStack, 'Any', { allowAnyImage: true });
    VmImportServiceRole.fromRoleName(workflowStack, 'Existing', 'vmimport');
    for (const s of [stack, workflowStack]) {
      const violations = [new AwsSolutionsChecks(), new NIST80053R5Checks(), new HIPAASecurityChecks()]
        .flatMap((pack) => pack.validateScope(s).violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`));
      expect(violations).toEqual([]);
    }
  });
});

describe('synth-time errors name the prop, the value and the fix, all at once', () => {
  test('several problems in one message', () => {
    expect(() => imageExportIn(newStack(), {
      imageId: 'ami-XYZ',
      prefix: '/golden',
      description: 'd'.repeat(256),
      timeout: Duration.minutes(5),
      tags: { 'vm-export:x': 'y' },
    })).toThrow(new RegExp([
      'imageId \'ami-XYZ\' is not an AMI id',
      'description is 256 characters long',
      'prefix \'/golden\' starts with \'/\'',
      'prefix \'/golden\' does not end with \'/\'',
      'timeout is 5 minutes',
      'tags has the key \'vm-export:x\'',
    ].join('[\\s\\S]*')));
  });

  test('grantExportOfImage refuses a value that is not an AMI id', () => {
    const workflow = new InstanceExportWorkflow(newStack(), 'Wf');
    expect(() => workflow.grantExportOfImage('i-0123456789abcdef0')).toThrow(/'i-0123456789abcdef0' is not an AMI id.*ami-0123456789abcdef0/);
  });

  test('preflight: false warns that problems surface only when the task fails', () => {
    const stack = newStack();
    imageExportIn(stack, { preflight: false });
    Annotations.fromStack(stack).hasWarning('/ImageStack/GoldenImage', Match.stringLikeRegexp('preflight is false'));
  });

  test('a service role used by two exports is passed with one statement', () => {
    const stack = newStack();
    const role = new VmImportServiceRole(stack, 'Mine');
    imageExportIn(stack, { serviceRole: role });
    imageExportIn(stack, { serviceRole: role, prefix: 'b/' }, 'B');
    const template = Template.fromStack(stack);
    const passRole = ofType(template, 'AWS::IAM::Policy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement)
      .filter((s: any) => s.Action === 'iam:PassRole' && JSON.stringify(s.Resource).includes('Mine'));
    expect(passRole).toHaveLength(1);
  });
});
