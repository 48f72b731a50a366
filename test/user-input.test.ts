/**
 * Issue 10, item 3: what users pass in (buckets of the app, formats, an empty prefix, region
 * strings, the workflow input).
 */
import './setup/with-resolvers';
import { App, Duration, Stack, aws_s3 as s3, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { ContextAttribute } from 'aws-cdk-lib/aws-scheduler';
import { normalizeRequest } from '../lambda/shared/normalize';
import {
  ContainerFormat,
  DiskImageFormat,
  InstanceExport,
  IVmExportBucket,
  TargetEnvironment,
  VmExportBucket,
  VmExportCanonicalIds,
  WorkflowExportInputs,
} from '../src';
import { deploy, onlySignal, signalled, waitConditionData } from './support/fake-aws/e2e-deploy';
import { synthSampleStack } from './support/fake-aws/sample-stack';

const ENV = { account: '123456789012', region: 'eu-west-1' };
const INSTANCE = 'i-0123456789abcdef0';
const ID_EU_SOUTH_1 = '04636d9a349e458b0c1cbf1421858b9788b4ec28b066148d4907bb15c52b5b9c';

function newStack(env: { account: string; region: string } = ENV): Stack {
  return new Stack(new App(), 'Input', { env });
}

describe('VmExportBucket.fromBucket', () => {
  test('a KMS-encrypted bucket of the app is refused at synth', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Mine', { encryption: s3.BucketEncryption.KMS_MANAGED, objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED });
    expect(() => VmExportBucket.fromBucket(stack, 'Exports', bucket))
      .toThrow(/bucket 'Input\/Mine' has default encryption aws:kms: VM Import\/Export cannot write to a KMS-encrypted bucket\. Use encryption: s3\.BucketEncryption\.S3_MANAGED/);
  });

  test('BucketOwnerEnforced is refused at synth', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Mine', { objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED });
    expect(() => VmExportBucket.fromBucket(stack, 'Exports', bucket))
      .toThrow(/has object ownership BucketOwnerEnforced, which disables ACLs.*Set objectOwnership: s3\.ObjectOwnership\.BUCKET_OWNER_PREFERRED/);
  });

  test('a bucket of a stack in another region is refused at synth', () => {
    const app = new App();
    const bucket = new s3.Bucket(new Stack(app, 'Other', { env: { ...ENV, region: 'us-west-2' } }), 'Mine');
    const stack = new Stack(app, 'Input', { env: ENV });
    expect(() => VmExportBucket.fromBucket(stack, 'Exports', bucket))
      .toThrow(/bucket 'Other\/Mine' is in region us-west-2 but this stack is in eu-west-1: .*Use a bucket of eu-west-1/);
  });

  test('a usable bucket of the app: its own policy gets the statement, the grant verifies and waits for it', () => {
    const stack = newStack({ ...ENV, region: 'eu-south-1' });
    const bucket = new s3.Bucket(stack, 'Mine', { objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED });
    const exportBucket = VmExportBucket.fromBucket(stack, 'Exports', bucket);
    new InstanceExport(stack, 'Export', { instanceId: INSTANCE, bucket: exportBucket, targetEnvironment: TargetEnvironment.VMWARE });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'VmExportServiceAccess', Principal: { CanonicalUser: ID_EU_SOUTH_1 } })]) },
    });
    const grants = template.findResources('Custom::VmExportBucketGrant');
    const [grantId, grant] = Object.entries<any>(grants)[0];
    expect(grant.Properties).toMatchObject({ VerifyBucket: 'true', ManagePolicy: 'false', CanonicalId: ID_EU_SOUTH_1 });
    expect(grant.DependsOn).toEqual(expect.arrayContaining(['MinePolicyDA7C2A6A']));
    const [exportResource] = Object.values<any>(template.findResources('Custom::VmInstanceExport'));
    expect(exportResource.DependsOn).toEqual(expect.arrayContaining([grantId, 'MinePolicyDA7C2A6A']));
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('object ownership'))).toHaveLength(0);
  });

  test('a bucket of the app without object ownership settings gets a warning', () => {
    const stack = newStack();
    VmExportBucket.fromBucket(stack, 'Exports', new s3.Bucket(stack, 'Mine'));
    const warnings = Annotations.fromStack(stack).findWarning('/Input/Exports', Match.stringLikeRegexp('S3 creates new buckets with BucketOwnerEnforced'));
    expect(warnings).toHaveLength(1);
  });

  test('an imported IBucket: checked and merged at deploy time, like fromBucketName', () => {
    const stack = newStack();
    const exportBucket = VmExportBucket.fromBucket(stack, 'Exports', s3.Bucket.fromBucketName(stack, 'Theirs', 'team-vm-exports'));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::VmExportBucketGrant', { BucketName: 'team-vm-exports', VerifyBucket: 'true', ManagePolicy: 'true' });
    template.resourceCountIs('AWS::S3::BucketPolicy', 0);
    expect(exportBucket.bucketName).toBe('team-vm-exports');
  });

  test('a plain s3.Bucket where an IVmExportBucket belongs: a clear error, also from JavaScript', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Plain');
    expect(() => new InstanceExport(stack, 'Export', {
      instanceId: INSTANCE,
      bucket: bucket as unknown as IVmExportBucket,
      targetEnvironment: TargetEnvironment.VMWARE,
    })).toThrow(/bucket is the S3 bucket 'Input\/Plain', not an IVmExportBucket: wrap an existing bucket with VmExportBucket\.fromBucket\(this, id, bucket\)/);
  });
});

describe('VmExportBucket.fromBucketName with a bucket the app knows', () => {
  test('a KMS-encrypted bucket of the same name is caught at synth', () => {
    const app = new App();
    const stack = new Stack(app, 'Input', { env: ENV });
    new s3.Bucket(stack, 'Mine', { bucketName: 'team-vm-exports', encryption: s3.BucketEncryption.KMS, objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED });
    VmExportBucket.fromBucketName(stack, 'Exports', 'team-vm-exports');
    expect(() => app.synth()).toThrow(/bucket 'team-vm-exports' \(created by 'Input\/Mine\/Resource'\) has default encryption aws:kms/);
  });

  test('BucketOwnerEnforced on a bucket of the same name is caught at synth', () => {
    const app = new App();
    const stack = new Stack(app, 'Input', { env: ENV });
    new s3.Bucket(stack, 'Mine', { bucketName: 'team-vm-exports', objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED });
    VmExportBucket.fromBucketName(stack, 'Exports', 'team-vm-exports');
    expect(() => app.synth()).toThrow(/has object ownership BucketOwnerEnforced/);
  });

  test('a bucket policy the app manages for it is refused (the merge would race it)', () => {
    const app = new App();
    const stack = new Stack(app, 'Input', { env: ENV });
    VmExportBucket.fromBucketName(stack, 'Exports', 'team-vm-exports');
    const policy = new s3.BucketPolicy(stack, 'TheirPolicy', { bucket: s3.Bucket.fromBucketName(stack, 'Theirs', 'team-vm-exports') });
    policy.document.addStatements();
    expect(() => app.synth()).toThrow(/the policy of bucket 'team-vm-exports' is managed by CloudFormation \(AWS::S3::BucketPolicy 'Input\/TheirPolicy\/Resource'\).*VmExportBucket\.fromBucket\(bucket\)/s);
  });
});

describe('errors only about what the user set', () => {
  test.each([
    ['VHD', DiskImageFormat.VHD, /diskImageFormat VHD does not work with targetEnvironment 'vmware'/],
    ['RAW', DiskImageFormat.RAW, /diskImageFormat RAW is not supported for instance export/],
  ])('%s with VMware and no containerFormat: one error, none about the container', (_name, diskImageFormat, expected) => {
    const stack = newStack();
    const bucket = new VmExportBucket(stack, 'Exports');
    let message = '';
    try {
      new InstanceExport(stack, 'Export', { instanceId: INSTANCE, bucket, targetEnvironment: TargetEnvironment.VMWARE, diskImageFormat });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(expected);
    expect(message).not.toMatch(/containerFormat/);
  });

  test.each([['VHD'], ['RAW']])('workflow input %s for vmware without containerFormat: nothing about the container', (disk) => {
    expect(() => normalizeRequest({ instanceId: INSTANCE, targetEnvironment: 'vmware', s3Bucket: 'team-vm-exports', diskImageFormat: disk }))
      .toThrow(expect.objectContaining({ message: expect.not.stringMatching(/containerFormat/) }));
  });
});

describe('the bucket root as the destination', () => {
  test('prefix \'\' is valid in the construct and reaches the resource as \'\'', () => {
    const stack = newStack();
    const bucket = new VmExportBucket(stack, 'Exports');
    new InstanceExport(stack, 'Export', { instanceId: INSTANCE, bucket, targetEnvironment: TargetEnvironment.VMWARE, prefix: '' });
    Template.fromStack(stack).hasResourceProperties('Custom::VmInstanceExport', { S3Prefix: '' });
  });

  test('prefix \'/\' points to \'\' (the bucket\'s root), which is accepted', () => {
    const stack = newStack();
    const bucket = new VmExportBucket(stack, 'Exports');
    expect(() => new InstanceExport(stack, 'Export', { instanceId: INSTANCE, bucket, targetEnvironment: TargetEnvironment.VMWARE, prefix: '/' }))
      .toThrow(/prefix '\/' starts with '\/': S3 keys have no leading slash\. Use '' \(the bucket's root\)\./);
  });

  test('s3Prefix \'\' in the workflow input stays \'\'; an absent one defaults', () => {
    const base = { instanceId: INSTANCE, targetEnvironment: 'vmware', s3Bucket: 'team-vm-exports' };
    expect(normalizeRequest({ ...base, s3Prefix: '' }).s3Prefix).toBe('');
    expect(normalizeRequest(base).s3Prefix).toBe('exports/');
  });

  test('end to end: the image lands at the bucket root and the attributes say so', async () => {
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const d = await deploy(synthSampleStack({ prefix: '' }));
    await d.fake.settle();
    const signal = onlySignal(d);
    expect(signal.Status).toBe('SUCCESS');
    const { taskId, key } = signalled(signal);
    expect(key).toBe(`${taskId}.ova`);
    expect(d.fake.s3.bucket('e2e-vm-exports').objects.has(key)).toBe(true);
    expect(d.dep.output('ImageKey', waitConditionData(d))).toBe(key);
  }, 60_000);

  test('end to end without waiting: the provider reports the root key', async () => {
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const d = await deploy(synthSampleStack({ prefix: '', waitForCompletion: false }));
    expect(d.response.Data?.ExportObjectKey).toBe(`${d.response.Data?.ExportTaskId}.ova`);
    expect(d.response.Data?.ExportObjectUri).toBe(`s3://e2e-vm-exports/${d.response.Data?.ExportTaskId}.ova`);
    await d.fake.settle();
    expect(d.fake.s3.bucket('e2e-vm-exports').objects.has(d.response.Data!.ExportObjectKey!)).toBe(true);
  }, 60_000);
});

describe('VmExportCanonicalIds.forRegion with malformed region strings', () => {
  test.each(['EU-SOUTH-1', ' eu-south-1 ', 'Eu-South-1'])('%j is normalised to eu-south-1', (region) => {
    expect(VmExportCanonicalIds.forRegion(region)).toBe(ID_EU_SOUTH_1);
  });

  test.each(['', 'eu_south_1', 'Europe (Milan)', 'eu-south', 'eu-south-1a', 'eusouth1'])('%j is refused', (region) => {
    expect(() => VmExportCanonicalIds.forRegion(region)).toThrow(/not a region code\. Pass a code such as 'eu-south-1'/);
  });
});

describe('the workflow input', () => {
  const base = { instanceId: INSTANCE, targetEnvironment: 'vmware', s3Bucket: 'team-vm-exports' };

  test.each([
    ['s3prefix', { s3prefix: 'vms/' }, /'s3prefix' \(did you mean 's3Prefix'\?\)/],
    ['deadline', { deadline: 7200 }, /'deadline' \(did you mean 'deadlineSeconds'\?\)/],
    ['bucket', { bucket: 'x' }, /unknown input field 'bucket'/],
  ])('an unknown key (%s) is refused with the valid ones', (_name, extra, named) => {
    expect(() => normalizeRequest({ ...base, ...extra } as any)).toThrow(named);
    expect(() => normalizeRequest({ ...base, ...extra } as any))
      .toThrow(/The valid fields are instanceId, targetEnvironment, s3Bucket, diskImageFormat, containerFormat, s3Prefix, description, tags, deadlineSeconds, preflight, clientToken, canonicalId\./);
  });

  test('the keys the library itself sends are accepted', () => {
    const request = normalizeRequest({
      ...base,
      exportHash: 'abc',
      adoptExportTaskId: 'export-i-0123456789abcdef0',
      completedExportS3Key: 'exports/export-i-0123456789abcdef0.ova',
      waitConditionStackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/app/5f1e0c40-0000-4000-8000-000000000000',
      waitConditionHandleLogicalId: 'ExportHandle0a1b2c3d',
      waitConditionHandleHash: '5555555555555555555555555555555555555555555555555555555555555555',
      AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: 'arn:aws:states:eu-west-1:123456789012:execution:parent:run',
    } as any);
    expect(request.adoptExportTaskId).toBe('export-i-0123456789abcdef0');
  });
});

describe('WorkflowExportInputs', () => {
  const input = {
    instanceId: INSTANCE,
    targetEnvironment: TargetEnvironment.MICROSOFT,
    s3Bucket: 'team-vm-exports',
    s3Prefix: 'nightly/',
    tags: { team: 'ops' },
    deadline: Duration.hours(3),
    preflight: false,
  };

  test('toObject gives the documented keys, which the workflow accepts', () => {
    const object = WorkflowExportInputs.toObject(input);
    expect(object).toEqual({
      instanceId: INSTANCE,
      targetEnvironment: 'microsoft',
      s3Bucket: 'team-vm-exports',
      s3Prefix: 'nightly/',
      tags: [{ Key: 'team', Value: 'ops' }],
      deadlineSeconds: 10800,
      preflight: false,
    });
    expect(normalizeRequest(object as any)).toMatchObject({ deadlineSeconds: 10800, s3Prefix: 'nightly/', containerFormat: 'none' });
  });

  test('toTaskInput renders JSON paths as paths', () => {
    const stack = newStack();
    const taskInput = WorkflowExportInputs.toTaskInput({ ...input, instanceId: sfn.JsonPath.stringAt('$.instanceId') });
    expect(stack.resolve(sfn.FieldUtils.renderObject(taskInput.value))).toMatchObject({ 'instanceId.$': '$.instanceId', 'deadlineSeconds': 10800 });
  });

  test('toScheduleTargetInput passes scheduler context attributes through', () => {
    const stack = newStack();
    const scheduleInput = WorkflowExportInputs.toScheduleTargetInput({ ...input, clientToken: ContextAttribute.executionId });
    expect(JSON.parse(stack.resolve(scheduleInput.bind(stack as any)))).toMatchObject({ clientToken: '<aws.scheduler.execution-id>', instanceId: INSTANCE });
  });

  test('toStateMachineInput is a literal input', () => {
    const stateMachineInput = WorkflowExportInputs.toStateMachineInput(input);
    expect(JSON.parse(stateMachineInput.input)).toMatchObject({ instanceId: INSTANCE, deadlineSeconds: 10800 });
  });

  test('known bad values are refused, all at once', () => {
    expect(() => WorkflowExportInputs.toObject({
      ...input,
      instanceId: 'web-1',
      s3Prefix: 'vms',
      deadline: Duration.days(8),
      targetEnvironment: TargetEnvironment.VMWARE,
      diskImageFormat: DiskImageFormat.VHD,
      containerFormat: ContainerFormat.NONE,
    })).toThrow(/instanceId 'web-1' is not an instance id.*\n- diskImageFormat VHD does not work.*\n- s3Prefix 'vms' does not end with '\/'.*\n- deadline is 8 days/s);
  });
});
