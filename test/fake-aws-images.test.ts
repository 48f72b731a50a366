/**
 * The local AWS stand-in's image side (test/support/fake-aws/fake-ec2-images.ts) and fake IAM
 * (fake-iam.ts), exercised through the REAL SDK v3 clients (createFakeClients): each documented
 * answer with its source, and every option-controlled undocumented answer tried.
 *
 * Sources (see /tmp/image-export-facts.md): [API-EI] EC2 API Reference ExportImage; [API-DEIT]
 * DescribeExportImageTasks; [API-EIT] ExportImageTask; [API-CET] CancelExportTask;
 * [VMIE-img] VM Import/Export User Guide, image export pages (limits, start, monitor, cancel);
 * [VMIE-perm] the guide's "Required service role"; [IAM] IAM API Reference.
 */
import './setup/with-resolvers';
import { CreateInstanceExportTaskCommand, DescribeExportImageTasksCommand, DescribeImagesCommand, EC2Client, ExportImageCommand, ExportImageCommandInput, CancelExportTaskCommand } from '@aws-sdk/client-ec2';
import { GetRoleCommand, GetRolePolicyCommand, IAMServiceException, ListRolePoliciesCommand, NoSuchEntityException, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { createFakeAws, DESCRIBE_EXPORT_IMAGE_TASKS_RESOURCE, FakeAws, FakeAwsOptions, FakeClients } from './support/fake-aws';
import { runLocal } from './support/local-sfn';

const AMI = 'ami-0123456789abcdef0';
const AMI2 = 'ami-0fedcba9876543210';
const BUCKET = 'exports';
const PREFIX = 'vms/';
const ACCOUNT = '123456789012';
const TASK_ID = /^export-ami-[0-9a-f]{17}$/;

interface Setup {
  readonly fake: FakeAws;
  readonly c: FakeClients;
  readonly ec2: EC2Client;
}

function setup(options: FakeAwsOptions = {}): Setup {
  const fake = createFakeAws({ accountId: ACCOUNT, ...options });
  fake.s3.createBucket(BUCKET);
  fake.iam.addVmImportRole('vmimport', { bucket: BUCKET, prefix: PREFIX });
  fake.ec2.addImage({ imageId: AMI });
  const c = fake.clients('test');
  return { fake, c, ec2: c.ec2 };
}

function exportInput(overrides: Partial<ExportImageCommandInput> = {}): ExportImageCommandInput {
  return { ImageId: AMI, DiskImageFormat: 'VMDK', S3ExportLocation: { S3Bucket: BUCKET, S3Prefix: PREFIX }, ...overrides };
}

async function startExport(s: Setup, overrides: Partial<ExportImageCommandInput> = {}) {
  return s.ec2.send(new ExportImageCommand(exportInput(overrides)));
}

async function listTasks(s: Setup, ids?: string[]) {
  return s.ec2.send(new DescribeExportImageTasksCommand(ids ? { ExportImageTaskIds: ids } : {}));
}

async function poll(s: Setup, id: string) {
  const out = await listTasks(s, [id]);
  return out.ExportImageTasks![0];
}

async function failure(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

async function objectExists(s: Setup, key: string): Promise<boolean> {
  try {
    await s.c.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    return true;
  } catch {
    return false;
  }
}

// -------------------------------------------------------------------------------------------------
describe('fake IAM', () => {
  test('GetRole: the service role as the guide describes it, trust policy URL-encoded ([IAM] API_Role)', async () => {
    const s = setup();
    const out = await s.c.iam.send(new GetRoleCommand({ RoleName: 'vmimport' }));
    expect(out.Role?.Arn).toBe(`arn:aws:iam::${ACCOUNT}:role/vmimport`);
    expect(out.Role?.RoleId).toMatch(/^AROA/);
    expect(out.Role?.AssumeRolePolicyDocument).toMatch(/^%7B/); // URL-encoded JSON
    const trust = JSON.parse(decodeURIComponent(out.Role!.AssumeRolePolicyDocument!));
    // [VMIE-perm] step 1: vmie.amazonaws.com, sts:AssumeRole, StringEquals sts:Externalid = vmimport.
    expect(trust.Statement[0]).toEqual({
      Effect: 'Allow',
      Principal: { Service: 'vmie.amazonaws.com' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'sts:Externalid': 'vmimport' } },
    });
    expect(s.fake.world.callsOf({ service: 'iam', operation: 'GetRole' })).toHaveLength(1);
  });

  test('GetRole of an unknown role: NoSuchEntity, 404, "The role with name <n> cannot be found."', async () => {
    const s = setup();
    const err = await failure(s.c.iam.send(new GetRoleCommand({ RoleName: 'nope' })));
    expect(err).toBeInstanceOf(NoSuchEntityException);
    expect(err).toBeInstanceOf(IAMServiceException);
    expect(err.name).toBe('NoSuchEntityException');
    expect(err.Code).toBe('NoSuchEntity');
    expect(err.$metadata.httpStatusCode).toBe(404);
    expect(err.message).toBe('The role with name nope cannot be found.');
  });

  test('ListRolePolicies / GetRolePolicy: the guide\'s role policy, URL-encoded', async () => {
    const s = setup();
    const names = await s.c.iam.send(new ListRolePoliciesCommand({ RoleName: 'vmimport' }));
    expect(names.PolicyNames).toEqual(['vmimport']);
    const policy = await s.c.iam.send(new GetRolePolicyCommand({ RoleName: 'vmimport', PolicyName: 'vmimport' }));
    const doc = JSON.parse(decodeURIComponent(policy.PolicyDocument!));
    expect(doc.Statement[0].Action).toEqual(['s3:GetBucketLocation', 's3:GetObject', 's3:ListBucket', 's3:PutObject', 's3:GetBucketAcl']);
    expect(doc.Statement[0].Resource).toEqual([`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/${PREFIX}*`]);
    expect(doc.Statement[1]).toEqual({
      Effect: 'Allow', Action: ['ec2:ModifySnapshotAttribute', 'ec2:CopySnapshot', 'ec2:RegisterImage', 'ec2:Describe*'], Resource: '*',
    });
    const err = await failure(s.c.iam.send(new GetRolePolicyCommand({ RoleName: 'vmimport', PolicyName: 'other' })));
    expect(err.Code).toBe('NoSuchEntity');
  });

  test('SimulatePrincipalPolicy: allowed / implicitDeny / explicitDeny, action and resource wildcards, one result per action', async () => {
    const s = setup();
    s.fake.iam.putRolePolicy('vmimport', 'deny-secret', {
      Statement: [{ Effect: 'Deny', Action: 's3:*', Resource: `arn:aws:s3:::${BUCKET}/${PREFIX}secret/*` }],
    });
    const arn = `arn:aws:iam::${ACCOUNT}:role/vmimport`;
    const out = await s.c.iam.send(new SimulatePrincipalPolicyCommand({
      PolicySourceArn: arn,
      ActionNames: ['s3:PutObject', 'EC2:DescribeImages', 'ec2:RunInstances'],
      ResourceArns: [`arn:aws:s3:::${BUCKET}/${PREFIX}a.vmdk`],
    }));
    expect(out.EvaluationResults?.map((r) => [r.EvalActionName, r.EvalDecision])).toEqual([
      ['s3:PutObject', 'allowed'],
      ['EC2:DescribeImages', 'allowed'], // actions match case-insensitively, ec2:Describe*
      ['ec2:RunInstances', 'implicitDeny'],
    ]);
    // [IAM] API_EvaluationResult: a single result per action; per resource in ResourceSpecificResults.
    const multi = await s.c.iam.send(new SimulatePrincipalPolicyCommand({
      PolicySourceArn: arn,
      ActionNames: ['s3:PutObject'],
      ResourceArns: [`arn:aws:s3:::${BUCKET}/${PREFIX}a.vmdk`, `arn:aws:s3:::${BUCKET}/other/a.vmdk`, `arn:aws:s3:::${BUCKET}/${PREFIX}secret/x`],
    }));
    expect(multi.EvaluationResults).toHaveLength(1);
    expect(multi.EvaluationResults![0].EvalDecision).toBe('explicitDeny'); // the most restrictive
    expect(multi.EvaluationResults![0].ResourceSpecificResults?.map((r) => r.EvalResourceDecision))
      .toEqual(['allowed', 'implicitDeny', 'explicitDeny']);
  });

  test('SimulatePrincipalPolicy option per-resource: the earlier answer (one result per action and resource)', async () => {
    const s = setup({ iam: { simulationResults: 'per-resource' } });
    const out = await s.c.iam.send(new SimulatePrincipalPolicyCommand({
      PolicySourceArn: `arn:aws:iam::${ACCOUNT}:role/vmimport`,
      ActionNames: ['s3:PutObject'],
      ResourceArns: [`arn:aws:s3:::${BUCKET}/${PREFIX}a.vmdk`, `arn:aws:s3:::${BUCKET}/other/a.vmdk`],
    }));
    expect(out.EvaluationResults?.map((r) => [r.EvalResourceName, r.EvalDecision])).toEqual([
      [`arn:aws:s3:::${BUCKET}/${PREFIX}a.vmdk`, 'allowed'],
      [`arn:aws:s3:::${BUCKET}/other/a.vmdk`, 'implicitDeny'],
    ]);
  });

  test('SimulatePrincipalPolicy of an unknown role: NoSuchEntity; conditions without context: implicitDeny with MissingContextValues', async () => {
    const s = setup();
    const err = await failure(s.c.iam.send(new SimulatePrincipalPolicyCommand({
      PolicySourceArn: `arn:aws:iam::${ACCOUNT}:role/ghost`, ActionNames: ['s3:PutObject'],
    })));
    expect(err.Code).toBe('NoSuchEntity');
    s.fake.iam.addRole({
      roleName: 'conditional',
      assumeRolePolicy: { Statement: [] },
      inlinePolicies: { p: { Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: '*', Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } } }] } },
    });
    const arn = `arn:aws:iam::${ACCOUNT}:role/conditional`;
    const out = await s.c.iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: arn, ActionNames: ['s3:PutObject'] }));
    expect(out.EvaluationResults![0].EvalDecision).toBe('implicitDeny');
    expect(out.EvaluationResults![0].MissingContextValues).toEqual(['aws:SourceAccount']);
    const withContext = await s.c.iam.send(new SimulatePrincipalPolicyCommand({
      PolicySourceArn: arn,
      ActionNames: ['s3:PutObject'],
      ContextEntries: [{ ContextKeyName: 'aws:SourceAccount', ContextKeyType: 'string', ContextKeyValues: [ACCOUNT] }],
    }));
    expect(withContext.EvaluationResults![0].EvalDecision).toBe('allowed');
  });

  test('addVmImportRole options: withoutActions, restrictToAccount; trusts() checks principal, action and conditions', () => {
    const s = setup();
    s.fake.iam.addVmImportRole('noput', { bucket: BUCKET, withoutActions: ['s3:PutObject'] });
    expect(s.fake.iam.evaluate('noput', 's3:PutObject', `arn:aws:s3:::${BUCKET}/x`)).toBe('implicitDeny');
    expect(s.fake.iam.evaluate('noput', 's3:GetObject', `arn:aws:s3:::${BUCKET}/x`)).toBe('allowed');
    s.fake.iam.addVmImportRole('strict', { bucket: BUCKET, restrictToAccount: true });
    const ctx = { 'sts:ExternalId': 'vmimport', 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': `arn:aws:vmie:us-east-1:${ACCOUNT}:x` };
    expect(s.fake.iam.trusts('strict', 'vmie.amazonaws.com', ctx)).toBe(true);
    expect(s.fake.iam.trusts('strict', 'vmie.amazonaws.com', { ...ctx, 'aws:SourceAccount': '999999999999' })).toBe(false);
    expect(s.fake.iam.trusts('strict', 'ec2.amazonaws.com', ctx)).toBe(false);
    expect(s.fake.iam.trusts('vmimport', 'vmie.amazonaws.com', { 'sts:ExternalId': 'other' })).toBe(false);
    expect(s.fake.iam.trusts('missing', 'vmie.amazonaws.com', ctx)).toBe(false);
  });

  test('throttling injection reaches IAM calls too', async () => {
    const s = setup();
    s.fake.world.throttle({ service: 'iam' }, 1);
    const err = await failure(s.c.iam.send(new GetRoleCommand({ RoleName: 'vmimport' })));
    expect(err.name).toBe('Throttling');
    await expect(s.c.iam.send(new GetRoleCommand({ RoleName: 'vmimport' }))).resolves.toBeDefined();
  });
});

// -------------------------------------------------------------------------------------------------
describe('DescribeImages', () => {
  test('the AMI\'s fields: owner, state, block devices (EBS and instance store), product codes, platform, architecture, boot mode', async () => {
    const s = setup();
    s.fake.ec2.addImage({
      imageId: AMI2,
      ownerId: '210987654321',
      devices: [{ sizeGiB: 30, encrypted: true, snapshotId: 'snap-0123456789abcdef0' }, { virtualName: 'ephemeral0' }],
      productCodes: ['abc123marketplace'],
      platform: 'windows',
      platformDetails: 'Windows',
      usageOperation: 'RunInstances:0002',
      architecture: 'arm64',
      bootMode: 'uefi',
      public: true,
    });
    const out = await s.ec2.send(new DescribeImagesCommand({ ImageIds: [AMI2] }));
    const image = out.Images![0];
    expect(image).toMatchObject({
      ImageId: AMI2,
      OwnerId: '210987654321',
      State: 'available',
      Architecture: 'arm64',
      BootMode: 'uefi',
      Public: true,
      Platform: 'windows',
      PlatformDetails: 'Windows',
      UsageOperation: 'RunInstances:0002',
      RootDeviceType: 'ebs',
      ProductCodes: [{ ProductCodeId: 'abc123marketplace', ProductCodeType: 'marketplace' }],
    });
    expect(image.BlockDeviceMappings).toEqual([
      { DeviceName: '/dev/xvda', Ebs: { DeleteOnTermination: true, SnapshotId: 'snap-0123456789abcdef0', VolumeSize: 30, VolumeType: 'gp3', Encrypted: true } },
      { DeviceName: '/dev/xvdb', VirtualName: 'ephemeral0' },
    ]);
    const own = await s.ec2.send(new DescribeImagesCommand({ ImageIds: [AMI] }));
    expect(own.Images![0]).toMatchObject({ OwnerId: ACCOUNT, Architecture: 'x86_64', PlatformDetails: 'Linux/UNIX', Public: false });
    expect(own.Images![0].Platform).toBeUndefined();
    expect(own.Images![0].BootMode).toBeUndefined();
    expect(own.Images![0].ProductCodes).toBeUndefined();
    const mine = await s.ec2.send(new DescribeImagesCommand({ Owners: ['self'] }));
    expect(mine.Images!.map((i) => i.ImageId)).toEqual([AMI]);
  });

  test('unknown id: InvalidAMIID.NotFound "The image id \'[ami-...]\' does not exist"; malformed: InvalidAMIID.Malformed', async () => {
    const s = setup();
    const err = await failure(s.ec2.send(new DescribeImagesCommand({ ImageIds: [AMI2] })));
    expect(err.name).toBe('InvalidAMIID.NotFound');
    expect(err.message).toBe(`The image id '[${AMI2}]' does not exist`);
    const bad = await failure(s.ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-xyz'] })));
    expect(bad.name).toBe('InvalidAMIID.Malformed');
    expect(bad.message).toBe('Invalid id: "ami-xyz" (expecting "ami-...")');
  });
});

// -------------------------------------------------------------------------------------------------
describe('ExportImage', () => {
  test('the answer: a new active task ([API-EI]; "validating" and Progress "0" on the start page)', async () => {
    const s = setup();
    const out = await startExport(s, { Description: 'nightly', RoleName: 'vmimport' });
    expect(out.ExportImageTaskId).toMatch(TASK_ID);
    expect(out).toMatchObject({
      Status: 'active',
      StatusMessage: 'validating',
      Progress: '0',
      DiskImageFormat: 'VMDK',
      RoleName: 'vmimport',
      ImageId: AMI,
      Description: 'nightly',
      S3ExportLocation: { S3Bucket: BUCKET, S3Prefix: PREFIX },
      Tags: [],
    });
    expect(typeof out.Progress).toBe('string');
    // The upload is in progress under <prefix><task id>.vmdk.
    expect([...s.fake.s3.bucket(BUCKET).uploads.keys()]).toEqual([`${PREFIX}${out.ExportImageTaskId}.vmdk`]);
  });

  test('RoleName defaults to vmimport ([API-EI]); the format is case-insensitive; option responseFormatCase lower (the CLI example)', async () => {
    const s = setup({ imageExport: { responseFormatCase: 'lower' } });
    const out = await startExport(s, { DiskImageFormat: 'vhd' as any });
    expect(out.RoleName).toBe('vmimport');
    expect(out.DiskImageFormat).toBe('vhd');
    const bad = await failure(startExport(setup(), { DiskImageFormat: 'OVA' as any }));
    expect(bad.name).toBe('InvalidParameterValue');
  });

  test('required parameters: MissingParameter; Description over 255 characters; ClientToken over 64 characters', async () => {
    const s = setup();
    expect((await failure(s.ec2.send(new ExportImageCommand({ DiskImageFormat: 'VMDK', S3ExportLocation: { S3Bucket: BUCKET } } as any)))).name)
      .toBe('MissingParameter');
    expect((await failure(startExport(s, { Description: 'x'.repeat(256) }))).name).toBe('InvalidParameterValue');
    expect((await failure(startExport(s, { ClientToken: 't'.repeat(65) }))).name).toBe('InvalidParameterValue');
    expect((await failure(startExport(s, { ImageId: 'ami-123' }))).name).toBe('InvalidAMIID.Malformed');
  });

  test('DryRun: DryRunOperation, without checking the role ([API-EI] DryRun; aws/aws-cli#8873)', async () => {
    const s = setup();
    s.fake.iam.deleteRole('vmimport');
    const err = await failure(startExport(s, { DryRun: true }));
    expect(err.name).toBe('DryRunOperation');
    expect(s.fake.ec2.images.tasks.size).toBe(0);
  });

  test('unknown AMI: InvalidAMIID.NotFound', async () => {
    const s = setup();
    const err = await failure(startExport(s, { ImageId: AMI2 }));
    expect(err.name).toBe('InvalidAMIID.NotFound');
    expect(err.message).toBe(`The image id '[${AMI2}]' does not exist`);
  });

  test('encrypted EBS snapshot: InvalidParameter "... provided has encrypted EBS block devices and is not exportable." (tommybobbins/super-duper-doodle)', async () => {
    const s = setup();
    s.fake.ec2.addImage({ imageId: AMI2, devices: [{}, { encrypted: true }] });
    const err = await failure(startExport(s, { ImageId: AMI2 }));
    expect(err.name).toBe('InvalidParameter');
    expect(err.message).toBe(`The image ID (${AMI2}) provided has encrypted EBS block devices and is not exportable.`);
  });

  test('Marketplace product code: NotExportable "The image ID provided (<ami>) is a marketplace AMI and is not exportable." (aws/aws-sdk#203)', async () => {
    const s = setup();
    s.fake.ec2.addImage({ imageId: AMI2, productCodes: ['prodcode123'] });
    const err = await failure(startExport(s, { ImageId: AMI2 }));
    expect(err.name).toBe('NotExportable');
    expect(err.message).toBe(`The image ID provided (${AMI2}) is a marketplace AMI and is not exportable.`);
  });

  test('the role must exist and trust vmie.amazonaws.com: InvalidParameter with the guide\'s role text (assumed for ExportImage)', async () => {
    const text = (name: string) => `The service role ${name} provided does not exist or does not have sufficient permissions`;
    const s = setup();
    let err = await failure(startExport(s, { RoleName: 'missing' }));
    expect([err.name, err.message]).toEqual(['InvalidParameter', text('missing')]);
    s.fake.iam.addVmImportRole('ec2trust', { bucket: BUCKET, servicePrincipal: 'ec2.amazonaws.com' });
    err = await failure(startExport(s, { RoleName: 'ec2trust' }));
    expect([err.name, err.message]).toEqual(['InvalidParameter', text('ec2trust')]);
    s.fake.iam.addVmImportRole('strict', { bucket: BUCKET, prefix: PREFIX, restrictToAccount: true });
    await expect(startExport(s, { RoleName: 'strict' })).resolves.toMatchObject({ Status: 'active' });
  });

  test('option checkRolePermissionsAtStart: a role that may not write under the prefix is refused at once', async () => {
    const s = setup({ imageExport: { checkRolePermissionsAtStart: true } });
    s.fake.iam.addVmImportRole('noput', { bucket: BUCKET, withoutActions: ['s3:PutObject'] });
    const err = await failure(startExport(s, { RoleName: 'noput' }));
    expect(err.name).toBe('InvalidParameter');
    await expect(startExport(s)).resolves.toBeDefined();
  });

  test('the bucket must exist and be in the region ("The destination bucket must exist."; texts as for instance export)', async () => {
    const s = setup();
    const missing = await failure(startExport(s, { S3ExportLocation: { S3Bucket: 'nope' } }));
    expect([missing.name, missing.message]).toEqual(['InvalidParameter', 'The given S3 bucket does not exist']);
    s.fake.s3.createBucket('far', { region: 'eu-west-1' });
    const far = await failure(startExport(s, { S3ExportLocation: { S3Bucket: 'far' } }));
    expect([far.name, far.message]).toEqual(['InvalidParameter', 'The given S3 object is not local to the region']);
  });

  test('ClientToken: the same token and parameters return the same task; other parameters: IdempotentParameterMismatch (EC2 idempotency)', async () => {
    const s = setup();
    const first = await startExport(s, { ClientToken: 'token-1' });
    const again = await startExport(s, { ClientToken: 'token-1' });
    expect(again.ExportImageTaskId).toBe(first.ExportImageTaskId);
    expect(s.fake.ec2.images.tasks.size).toBe(1);
    const err = await failure(startExport(s, { ClientToken: 'token-1', DiskImageFormat: 'RAW' }));
    expect(err.name).toBe('IdempotentParameterMismatch');
    // The repeat is answered even though the same AMI now has an active task.
    s.fake.ec2.images.forgetFinished();
    expect((await startExport(s, { ClientToken: 'token-1' })).ExportImageTaskId).toBe(first.ExportImageTaskId);
  });

  test('ClientToken: a repeat after the task was forgotten gets the first answer again, and starts nothing', async () => {
    const s = setup({ imageExport: { defaultBehaviour: { afterPolls: 1 } } });
    const first = await startExport(s, { ClientToken: 'token-2' });
    await poll(s, first.ExportImageTaskId!);
    s.fake.ec2.forgetFinished();
    const again = await startExport(s, { ClientToken: 'token-2' });
    expect(again).toMatchObject({ ExportImageTaskId: first.ExportImageTaskId, Status: 'active' });
    expect(s.fake.ec2.images.tasks.size).toBe(0);
  });

  test('TagSpecifications of resource type export-image-task become the task\'s Tags', async () => {
    const s = setup();
    const out = await startExport(s, {
      TagSpecifications: [
        { ResourceType: 'export-image-task', Tags: [{ Key: 'owner', Value: 'team' }] },
        { ResourceType: 'image', Tags: [{ Key: 'ignored', Value: 'x' }] },
      ],
    });
    expect(out.Tags).toEqual([{ Key: 'owner', Value: 'team' }]);
    expect((await poll(s, out.ExportImageTaskId!)).Tags).toEqual([{ Key: 'owner', Value: 'team' }]);
    expect(s.fake.ec2.images.tasksTagged('owner', 'team')).toHaveLength(1);
  });

  test('one active task per AMI ([VMIE-img] limits): default InvalidParameter (assumed), the option\'s answer, allowed again once finished', async () => {
    const s = setup();
    const first = await startExport(s);
    const err = await failure(startExport(s, { DiskImageFormat: 'RAW' }));
    expect([err.name, err.message]).toEqual(['InvalidParameter', `An export image task is already in progress for ${AMI}.`]);
    for (let i = 0; i < 3; i++) await poll(s, first.ExportImageTaskId!);
    await expect(startExport(s, { DiskImageFormat: 'RAW' })).resolves.toBeDefined();

    const other = setup({ imageExport: { sameImageActiveError: { code: 'IncorrectState', message: 'Task for <ami> in progress' } } });
    await startExport(other);
    const e2 = await failure(startExport(other));
    expect([e2.name, e2.message]).toEqual(['IncorrectState', `Task for ${AMI} in progress`]);
  });

  test('quota shared with instance export by default: 5 active conversion tasks per Region ([VMIE-img] limits)', async () => {
    const s = setup();
    s.fake.ec2.occupySlots(5, 3600);
    const err = await failure(startExport(s));
    expect(err.name).toBe('ResourceLimitExceeded');
    // ... and image tasks occupy the instance side's slots.
    const t = setup();
    t.fake.ec2.images.occupySlots(5, 3600);
    t.fake.s3.createBucket('inst', { grants: [{ Grantee: { Type: 'CanonicalUser', ID: t.fake.ec2.serviceCanonicalId }, Permission: 'FULL_CONTROL' }] });
    t.fake.ec2.addInstance({ instanceId: 'i-0123456789abcdef0' });
    const inst = await failure(t.ec2.send(new CreateInstanceExportTaskCommand({
      InstanceId: 'i-0123456789abcdef0',
      TargetEnvironment: 'vmware',
      ExportToS3Task: { DiskImageFormat: 'VMDK', ContainerFormat: 'ova', S3Bucket: 'inst', S3Prefix: 'x/' },
    })));
    expect(inst.name).toBe('ResourceLimitExceeded');
    expect((await failure(startExport(t))).name).toBe('ResourceLimitExceeded');
  });

  test('option imageQuotaShared false: a separate counter (imageQuota); the quotaError option applies', async () => {
    const s = setup({ imageExport: { imageQuotaShared: false, imageQuota: 1 }, quotaError: { code: 'MaxConversionTasksExceeded', message: 'too many' } });
    s.fake.ec2.occupySlots(5, 3600);
    await startExport(s);
    s.fake.ec2.addImage({ imageId: AMI2 });
    const err = await failure(startExport(s, { ImageId: AMI2 }));
    expect([err.name, err.message]).toEqual(['MaxConversionTasksExceeded', 'too many']);
  });

  test.each([
    ['licenseIncluded', { platform: 'windows', platformDetails: 'Windows', usageOperation: 'RunInstances:0002' }, 'NotExportable'],
    ['licenseIncluded', { platformDetails: 'Linux/UNIX with SQL Server Standard', usageOperation: 'RunInstances:0004' }, 'NotExportable'],
    ['sharedFromOtherAccount', { ownerId: '210987654321' }, 'NotExportable'],
    ['volumeTooLarge', { volumeSizeGiB: 1025 }, 'InvalidParameter'],
    ['arm64', { architecture: 'arm64' }, 'InvalidParameter'],
    ['notAvailable', { state: 'pending' }, 'InvalidAMIID.Unavailable'],
  ] as const)('documented limit %s (code undocumented): refused at start by default with %j', async (kind, spec, code) => {
    const s = setup();
    s.fake.ec2.addImage({ imageId: AMI2, ...spec });
    const err = await failure(startExport(s, { ImageId: AMI2 }));
    expect(err.name).toBe(code);
    expect(err.message).toContain(AMI2);
    // The other answers: the task ends deleted with the message on its first poll, or no refusal.
    const t = setup({ imageExport: { refusals: { [kind]: { at: 'task', message: 'refused <ami> later' } } } });
    t.fake.ec2.addImage({ imageId: AMI2, ...spec });
    const task = await startExport(t, { ImageId: AMI2 });
    expect(task.Status).toBe('active');
    expect(await poll(t, task.ExportImageTaskId!)).toMatchObject({ Status: 'deleting', StatusMessage: `refused ${AMI2} later` });
    expect((await poll(t, task.ExportImageTaskId!)).Status).toBe('deleted');
    const n = setup({ imageExport: { refusals: { [kind]: { at: 'never' } } } });
    n.fake.ec2.addImage({ imageId: AMI2, ...spec });
    const ok = await startExport(n, { ImageId: AMI2 });
    for (let i = 0; i < 3; i++) await poll(n, ok.ExportImageTaskId!);
    expect((await poll(n, ok.ExportImageTaskId!)).Status).toBe('completed');
  });

  test('Windows BYOL (RunInstances:0800) is not license-included: accepted', async () => {
    const s = setup();
    s.fake.ec2.addImage({ imageId: AMI2, platform: 'windows', platformDetails: 'Windows BYOL', usageOperation: 'RunInstances:0800' });
    await expect(startExport(s, { ImageId: AMI2 })).resolves.toMatchObject({ Status: 'active' });
  });

  test('SSE-KMS bucket ([VMIE-img] limits): by default the task is accepted and ends deleted; option: refused at start', async () => {
    const s = setup();
    s.fake.s3.createBucket('kms', { encryption: 'aws:kms' });
    s.fake.iam.addVmImportRole('kmsrole', { bucket: 'kms' });
    const task = await startExport(s, { RoleName: 'kmsrole', S3ExportLocation: { S3Bucket: 'kms' } });
    expect((await poll(s, task.ExportImageTaskId!)).StatusMessage).toContain('SSE-KMS');
    const t = setup({ imageExport: { refusals: { kmsBucket: { at: 'start' } } } });
    t.fake.s3.createBucket('kms', { encryption: 'aws:kms' });
    t.fake.iam.addVmImportRole('kmsrole', { bucket: 'kms' });
    const err = await failure(startExport(t, { RoleName: 'kmsrole', S3ExportLocation: { S3Bucket: 'kms' } }));
    expect([err.name, err.message]).toEqual(['InvalidParameter', 'ClientError: The S3 bucket kms uses SSE-KMS encryption, which is not supported.']);
  });
});

// -------------------------------------------------------------------------------------------------
describe('DescribeExportImageTasks', () => {
  test('an active task advances: Progress a STRING "0" -> "21" -> "85", StatusMessage validating / updating / converting ([API-EIT]; monitor page; a real run)', async () => {
    const s = setup();
    const { ExportImageTaskId: id } = await startExport(s, { Description: 'd' });
    const first = await poll(s, id!);
    expect(first).toEqual({
      Description: 'd',
      ExportImageTaskId: id,
      ImageId: AMI,
      Progress: '21',
      S3ExportLocation: { S3Bucket: BUCKET, S3Prefix: PREFIX },
      Status: 'active',
      StatusMessage: 'updating',
      Tags: [],
    });
    expect(await poll(s, id!)).toMatchObject({ Progress: '85', StatusMessage: 'converting' });
    expect(await objectExists(s, `${PREFIX}${id}.vmdk`)).toBe(false);
    const done = await poll(s, id!);
    // A completed task: no Progress, no StatusMessage, no ImageId (the real run), no format, role or key ([API-EIT]).
    expect(done).toEqual({ Description: 'd', ExportImageTaskId: id, S3ExportLocation: { S3Bucket: BUCKET, S3Prefix: PREFIX }, Status: 'completed', Tags: [] });
    // The object: <prefix>export-ami-<id>.<format lower case> ([VMIE-img] start page).
    expect(await objectExists(s, `${PREFIX}${id}.vmdk`)).toBe(true);
  });

  test('the key per format (.vmdk / .vhd / .raw) and without a prefix (no "/" inserted); option imageIdOnCompleted', async () => {
    const s = setup({ imageExport: { imageIdOnCompleted: true, defaultBehaviour: { afterPolls: 1 } } });
    s.fake.iam.addVmImportRole('vmimport', { bucket: BUCKET });
    const keys: string[] = [];
    for (const [i, format] of (['VHD', 'RAW'] as const).entries()) {
      const ami = `ami-${String(i).repeat(17)}`;
      s.fake.ec2.addImage({ imageId: ami });
      const out = await startExport(s, { ImageId: ami, DiskImageFormat: format, S3ExportLocation: { S3Bucket: BUCKET } });
      expect(out.S3ExportLocation).toEqual({ S3Bucket: BUCKET });
      const done = await poll(s, out.ExportImageTaskId!);
      expect(done).toMatchObject({ Status: 'completed', ImageId: ami });
      keys.push(`${out.ExportImageTaskId}.${format.toLowerCase()}`);
    }
    expect([...s.fake.s3.bucket(BUCKET).objects.keys()]).toEqual(keys);
  });

  test('behaviour afterSeconds: the clock completes the task; Progress follows the elapsed share', async () => {
    const s = setup({ imageExport: { defaultBehaviour: { afterSeconds: 600 } } });
    const { ExportImageTaskId: id } = await startExport(s);
    s.fake.world.clock.advance(250);
    expect(s.fake.ec2.images.tasksIn('active')[0].Progress).toBe('21');
    s.fake.world.clock.advance(350);
    expect(s.fake.ec2.images.tasksIn('completed').map((t) => t.ExportImageTaskId)).toEqual([id]);
    expect(await objectExists(s, `${PREFIX}${id}.vmdk`)).toBe(true);
  });

  test('behaviour fail: Status deleting, then deleted, with its StatusMessage; no object (AWS\'s own script: deleted = failed)', async () => {
    const s = setup();
    s.fake.ec2.addImage({ imageId: AMI2, exportBehaviour: { outcome: 'fail', afterPolls: 1, statusMessage: 'ClientError: boom' } });
    const { ExportImageTaskId: id } = await startExport(s, { ImageId: AMI2 });
    const deleting = await poll(s, id!);
    expect(deleting).toMatchObject({ Status: 'deleting', StatusMessage: 'ClientError: boom', ImageId: AMI2 });
    expect(deleting.Progress).toBeUndefined();
    expect(await poll(s, id!)).toMatchObject({ Status: 'deleted', StatusMessage: 'ClientError: boom' });
    expect(s.fake.s3.bucket(BUCKET).uploads.size).toBe(0);
    expect(s.fake.s3.bucket(BUCKET).objects.size).toBe(0);
    // Option deletingPolls 0: straight to deleted; default message.
    const t = setup({ imageExport: { deletingPolls: 0, defaultBehaviour: { outcome: 'fail', afterPolls: 1 } } });
    const other = await startExport(t);
    expect(await poll(t, other.ExportImageTaskId!)).toMatchObject({ Status: 'deleted', StatusMessage: 'ClientError: The export failed.' });
  });

  test('behaviour never: stays active at the last stage', async () => {
    const s = setup({ imageExport: { defaultBehaviour: { outcome: 'never' } } });
    const { ExportImageTaskId: id } = await startExport(s);
    for (let i = 0; i < 10; i++) await poll(s, id!);
    expect(await poll(s, id!)).toMatchObject({ Status: 'active', Progress: '85', StatusMessage: 'converting' });
  });

  test('a role that lost s3:PutObject: the task ends deleted when it writes (assumed behaviour)', async () => {
    const s = setup();
    s.fake.iam.addVmImportRole('noput', { bucket: BUCKET, withoutActions: ['s3:PutObject'] });
    const { ExportImageTaskId: id } = await startExport(s, { RoleName: 'noput' });
    for (let i = 0; i < 3; i++) await poll(s, id!);
    const end = await poll(s, id!);
    expect(end.Status).toBe('deleted');
    expect(end.StatusMessage).toBe(`ClientError: The service role does not have permission to write to s3://${BUCKET}/${PREFIX}${id}.vmdk.`);
    expect(await objectExists(s, `${PREFIX}${id}.vmdk`)).toBe(false);
  });

  test('the AMI deregistered during the export: the export fails ([VMIE-img] "If you have deleted the AMI, the export fails.")', async () => {
    const s = setup({ imageExport: { deregisteredMessage: 'gone: <ami>' } });
    const { ExportImageTaskId: id } = await startExport(s);
    s.fake.ec2.images.deregisterImage(AMI);
    expect(await poll(s, id!)).toMatchObject({ Status: 'deleting', StatusMessage: `gone: ${AMI}` });
  });

  test('unknown task id: an error by default (assumed code), or an empty list (option)', async () => {
    const s = setup();
    const err = await failure(listTasks(s, ['export-ami-00000000000000abc']));
    expect([err.name, err.message]).toEqual(['InvalidExportImageTaskId.NotFound', "The export image task ID 'export-ami-00000000000000abc' does not exist"]);
    const t = setup({ imageExport: { unknownTaskAnswer: 'empty' } });
    const known = await startExport(t);
    const out = await listTasks(t, ['export-ami-00000000000000abc', known.ExportImageTaskId!]);
    expect(out.ExportImageTasks!.map((x) => x.ExportImageTaskId)).toEqual([known.ExportImageTaskId]);
    const none = await listTasks(t, ['export-ami-00000000000000abc']);
    expect(none.ExportImageTasks).toEqual([]);
  });

  test('Filters task-state ([API-DEIT]: the only documented filter); another filter: InvalidParameterValue', async () => {
    const s = setup({ imageExport: { defaultBehaviour: { afterPolls: 1 } } });
    const first = await startExport(s);
    await poll(s, first.ExportImageTaskId!);
    s.fake.ec2.addImage({ imageId: AMI2 });
    const second = await startExport(s, { ImageId: AMI2 });
    const active = await s.ec2.send(new DescribeExportImageTasksCommand({ Filters: [{ Name: 'task-state', Values: ['active'] }] }));
    // The listing itself is a poll: the second task completes on it and is no longer active.
    expect(active.ExportImageTasks).toEqual([]);
    const completed = await s.ec2.send(new DescribeExportImageTasksCommand({ Filters: [{ Name: 'task-state', Values: ['completed'] }] }));
    expect(completed.ExportImageTasks!.map((t) => t.ExportImageTaskId)).toEqual([first.ExportImageTaskId, second.ExportImageTaskId]);
    const err = await failure(s.ec2.send(new DescribeExportImageTasksCommand({ Filters: [{ Name: 'image-id', Values: [AMI] }] })));
    expect(err.name).toBe('InvalidParameterValue');
  });

  test('MaxResults 1..500 and NextToken ([API-DEIT]); option maxPageSize forces pages; a page request is not another poll', async () => {
    const s = setup({ quota: 20, imageExport: { maxPageSize: 2, defaultBehaviour: { outcome: 'never' } } });
    for (let i = 0; i < 5; i++) {
      const ami = `ami-${String(i).repeat(17)}`;
      s.fake.ec2.addImage({ imageId: ami });
      await startExport(s, { ImageId: ami });
    }
    const ids: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await s.ec2.send(new DescribeExportImageTasksCommand({ MaxResults: 500, NextToken: token }));
      ids.push(...out.ExportImageTasks!.map((t) => t.ExportImageTaskId!));
      token = out.NextToken;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(new Set(ids).size).toBe(5);
    expect([...s.fake.ec2.images.tasks.values()].map((t) => t.polls)).toEqual([1, 1, 1, 1, 1]);
    const one = await s.ec2.send(new DescribeExportImageTasksCommand({ MaxResults: 1 }));
    expect(one.ExportImageTasks).toHaveLength(1);
    expect(one.NextToken).toBeDefined();
    for (const bad of [0, 501]) {
      expect((await failure(s.ec2.send(new DescribeExportImageTasksCommand({ MaxResults: bad }))))).toMatchObject({ name: 'InvalidParameterValue' });
    }
    expect((await failure(s.ec2.send(new DescribeExportImageTasksCommand({ NextToken: 'garbage' })))).name).toBe('InvalidPaginationToken');
    // DryRun ([API-DEIT] DryRun).
    expect((await failure(s.ec2.send(new DescribeExportImageTasksCommand({ DryRun: true })))).name).toBe('DryRunOperation');
  });

  test('finished tasks stay listed, or are forgotten after forgetFinishedAfterSeconds (as on the instance side)', async () => {
    const s = setup({ forgetFinishedAfterSeconds: 3600, imageExport: { defaultBehaviour: { afterPolls: 1 } } });
    const { ExportImageTaskId: id } = await startExport(s);
    expect((await poll(s, id!)).Status).toBe('completed');
    s.fake.world.clock.advance(3599);
    expect((await poll(s, id!)).Status).toBe('completed');
    s.fake.world.clock.advance(1);
    expect((await failure(listTasks(s, [id!]))).name).toBe('InvalidExportImageTaskId.NotFound');
    const t = setup({ imageExport: { defaultBehaviour: { afterPolls: 1 } } });
    const other = await startExport(t);
    await poll(t, other.ExportImageTaskId!);
    t.fake.world.clock.advance(10 * 86400);
    expect((await poll(t, other.ExportImageTaskId!)).Status).toBe('completed');
    t.fake.ec2.forgetFinished();
    expect((await listTasks(t)).ExportImageTasks).toEqual([]);
  });
});

// -------------------------------------------------------------------------------------------------
describe('CancelExportTask of export-ami- tasks', () => {
  test('active: deleting, then deleted, "Canceled by user" (assumed text); the partial object is removed ([API-CET])', async () => {
    const s = setup();
    const { ExportImageTaskId: id } = await startExport(s);
    await poll(s, id!);
    await s.ec2.send(new CancelExportTaskCommand({ ExportTaskId: id }));
    expect(s.fake.s3.bucket(BUCKET).uploads.size).toBe(0);
    expect(await poll(s, id!)).toMatchObject({ Status: 'deleting', StatusMessage: 'Canceled by user' });
    expect(await poll(s, id!)).toMatchObject({ Status: 'deleted', StatusMessage: 'Canceled by user' });
    for (let i = 0; i < 3; i++) await poll(s, id!);
    expect(await objectExists(s, `${PREFIX}${id}.vmdk`)).toBe(false);
    // Cancelling again: the instance side's answer.
    expect((await failure(s.ec2.send(new CancelExportTaskCommand({ ExportTaskId: id }))))).toMatchObject({ name: 'IncorrectState' });
  });

  test('a deleting task becomes deleted after deletingSeconds without polls', async () => {
    const s = setup({ imageExport: { cancelStatusMessage: 'cancelled', deletingSeconds: 30 } });
    const { ExportImageTaskId: id } = await startExport(s);
    await s.ec2.send(new CancelExportTaskCommand({ ExportTaskId: id }));
    s.fake.world.clock.advance(30);
    expect(await poll(s, id!)).toMatchObject({ Status: 'deleted', StatusMessage: 'cancelled' });
  });

  test.each([
    ['incorrect-state', 'IncorrectState'],
    ['invalid-parameter', 'InvalidParameterValue'],
  ] as const)('completed, cancelCompletedAnswer %s: %s and the object stays', async (answer, code) => {
    const s = setup({ cancelCompletedAnswer: answer, imageExport: { defaultBehaviour: { afterPolls: 1 } } });
    const { ExportImageTaskId: id } = await startExport(s);
    await poll(s, id!);
    expect((await failure(s.ec2.send(new CancelExportTaskCommand({ ExportTaskId: id }))))).toMatchObject({ name: code });
    expect(await objectExists(s, `${PREFIX}${id}.vmdk`)).toBe(true);
  });

  test('completed, cancelCompletedAnswer succeeds: the task is deleted and the object removed', async () => {
    const s = setup({ cancelCompletedAnswer: 'succeeds', imageExport: { defaultBehaviour: { afterPolls: 1 } } });
    const { ExportImageTaskId: id } = await startExport(s);
    await poll(s, id!);
    await s.ec2.send(new CancelExportTaskCommand({ ExportTaskId: id }));
    expect((await poll(s, id!)).Status).toBe('deleted');
    expect(await objectExists(s, `${PREFIX}${id}.vmdk`)).toBe(false);
  });

  test('unknown: InvalidExportTaskID.NotFound as on the instance side; option finalTransferStage: the documented refusal while transferring', async () => {
    const s = setup({ imageExport: { finalTransferStage: 2 } });
    const err = await failure(s.ec2.send(new CancelExportTaskCommand({ ExportTaskId: 'export-ami-0000000000000dead' })));
    expect([err.name, err.message]).toEqual(['InvalidExportTaskID.NotFound', "The export task ID 'export-ami-0000000000000dead' does not exist"]);
    const { ExportImageTaskId: id } = await startExport(s);
    await poll(s, id!);
    await poll(s, id!); // stage 2: "85" converting
    expect((await failure(s.ec2.send(new CancelExportTaskCommand({ ExportTaskId: id }))))).toMatchObject({ name: 'IncorrectState' });
  });
});

// -------------------------------------------------------------------------------------------------
describe('Step Functions SDK integration ec2:describeExportImageTasks', () => {
  test('the handler keyed by the Task resource answers as the integration does (JSON, Ec2.Ec2Exception on errors)', async () => {
    const s = setup();
    const { ExportImageTaskId: id } = await startExport(s);
    const handler = s.fake.workflowHandlers()[DESCRIBE_EXPORT_IMAGE_TASKS_RESOURCE];
    const context = { clock: s.fake.world.clock, stateName: 'X', callIndex: 0 };
    const out = await handler({ ExportImageTaskIds: [id] }, context);
    expect(out.ExportImageTasks[0]).toMatchObject({ ExportImageTaskId: id, Status: 'active', Progress: '21' });
    expect(out.$metadata).toBeUndefined();
    const err = await failure(Promise.resolve(handler({ ExportImageTaskIds: ['export-ami-0000000000000dead'] }, context)));
    expect(err.name).toBe('Ec2.Ec2Exception');
    expect(err.message).toMatch(/^The export image task ID 'export-ami-0000000000000dead' does not exist \(Service: Ec2, Status Code: 400, Request ID: /);
    expect(s.fake.world.callsOf({ caller: 'sfn-integration', operation: 'DescribeExportImageTasks' })).toHaveLength(2);
  });

  test('runLocal serves any Task state with that Resource (any state name, any partition) from the resource-keyed handler', async () => {
    const s = setup();
    const { ExportImageTaskId: id } = await startExport(s);
    const handlers = s.fake.workflowHandlers();
    const definition: any = {
      StartAt: 'AnyName',
      States: {
        AnyName: {
          Type: 'Task',
          Resource: 'arn:aws-cn:states:::aws-sdk:ec2:describeExportImageTasks',
          Parameters: { 'ExportImageTaskIds.$': '$.ids' },
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Failed' }],
          End: true,
        },
        Failed: { Type: 'Pass', End: true },
      },
    };
    const only = { [DESCRIBE_EXPORT_IMAGE_TASKS_RESOURCE]: handlers[DESCRIBE_EXPORT_IMAGE_TASKS_RESOURCE] };
    const ok = await runLocal(definition, { ids: [id] }, { handlers: only, clock: s.fake.world.clock });
    expect(ok.status).toBe('SUCCEEDED');
    expect(ok.output.ExportImageTasks[0].ExportImageTaskId).toBe(id);
    const bad = await runLocal(definition, { ids: ['export-ami-0000000000000dead'] }, { handlers: only, clock: s.fake.world.clock });
    expect(bad.output.error.Error).toBe('Ec2.Ec2Exception');
    // A resource key that no state uses is not an error (an instance-only workflow).
    const plain: any = { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } };
    await expect(runLocal(plain, {}, { handlers: only })).resolves.toMatchObject({ status: 'SUCCEEDED' });
  });
});
