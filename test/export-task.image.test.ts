/**
 * The export-task function's steps for an image export (an input with imageId): prepare refuses
 * an AMI the workflow was not granted before any call, start never creates a task after the
 * deadline, finish reports the AMI, the kind, the key `<prefix><task id>.<format>` and the
 * progress, and cancels an active image task at the deadline.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CancelExportTaskCommand, DescribeExportImageTasksCommand, EC2Client, ExportImageCommand } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { finish, IAM_PROPAGATION_GRACE_MS, prepare, start } from '../lambda/export-task';
import { ENV_EXPORT_GRANTS, INTERNAL_COMPLETED } from '../lambda/shared/contract';
import { isCancellable } from '../lambda/shared/export-task';
import { NormalizedImageRequest } from '../lambda/shared/image-contract';
import { normalizeImageRequest } from '../lambda/shared/image-normalize';

const ec2Mock = mockClient(EC2Client);
const iamMock = mockClient(IAMClient);
const s3Mock = mockClient(S3Client);
const clients = { ec2: new EC2Client({ region: 'eu-west-1' }), s3: new S3Client({ region: 'eu-west-1' }), iam: new IAMClient({ region: 'eu-west-1' }) };
const cfn = new CloudFormationClient({ region: 'eu-west-1' });

const AMI = 'ami-0123456789abcdef0';
const TASK = 'export-ami-0fedcba9876543210';
const input = { imageId: AMI, s3Bucket: 'my-exports', s3Prefix: 'golden/', diskImageFormat: 'raw', clientToken: '0123456789abcdef0123456789abcdef', deadlineSeconds: 3600 };
const request: NormalizedImageRequest = normalizeImageRequest(input);

beforeEach(() => {
  ec2Mock.reset();
  iamMock.reset();
  s3Mock.reset();
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
  jest.spyOn(console, 'error').mockImplementation(() => undefined);
});

afterEach(() => {
  delete process.env[ENV_EXPORT_GRANTS];
  jest.restoreAllMocks();
});

describe('prepare', () => {
  test('an AMI the workflow was not granted is refused before any AWS call, naming the grant to add', async () => {
    process.env[ENV_EXPORT_GRANTS] = JSON.stringify({ anyInstance: false, instances: [], tags: [], anyImage: false, images: ['ami-0aaaaaaaaaaaaaaaa'] });
    await expect(prepare(input, clients, 'eu-west-1', '123456789012')).rejects.toThrow(/may not export AMI ami-0123456789abcdef0[\s\S]*grantExportOfImage/);
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(iamMock.calls()).toHaveLength(0);
  });

  test('preflight: false: the normalized image request, kind image, upper-case format, .raw, a deadline', async () => {
    const out = await prepare({ ...input, preflight: false }, clients, 'eu-west-1', '123456789012');
    expect(out).toMatchObject({ kind: 'image', imageId: AMI, diskImageFormat: 'RAW', objectExtension: '.raw', roleName: 'vmimport' });
    expect(out.notAfter).toBeGreaterThan(Date.now());
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('instance-only keys with imageId are refused as input errors', async () => {
    await expect(prepare({ ...input, targetEnvironment: 'vmware' } as never, clients, 'eu-west-1', '123456789012'))
      .rejects.toThrow(/targetEnvironment/);
  });
});

describe('start', () => {
  test('after the deadline no ExportImage is called, and the message names the AMI', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [] });
    await expect(start({ ...request, notAfter: 1000 }, clients, () => 2000)).rejects.toThrow(/export of ami-0123456789abcdef0 could start; no task was created/);
    expect(ec2Mock).not.toHaveReceivedCommand(ExportImageCommand);
  });

  test('before the deadline: ExportImage with the request\'s format, location, role and a ClientToken', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [] });
    ec2Mock.on(ExportImageCommand).resolves({ ExportImageTaskId: TASK, Status: 'active', Progress: '0' });
    await expect(start({ ...request, notAfter: 3000 }, clients, () => 2000)).resolves.toEqual({ exportTaskId: TASK, state: 'active' });
    expect(ec2Mock).toHaveReceivedCommandWith(ExportImageCommand, {
      ImageId: AMI,
      DiskImageFormat: 'RAW',
      RoleName: 'vmimport',
      S3ExportLocation: { S3Bucket: 'my-exports', S3Prefix: 'golden/' },
      ClientToken: expect.stringMatching(/^[\x21-\x7e]{1,64}$/),
    });
  });
});

describe('start: what IAM propagation explains is retried for a while', () => {
  const roleRefusal = Object.assign(new Error('The service role vmimport provided does not exist or does not have sufficient permissions'), { name: 'InvalidParameter' });
  const preparedAt = 1_000_000;
  const prepared = { ...request, notAfter: preparedAt + request.deadlineSeconds * 1000 };

  test.each([
    ['the role refusal', roleRefusal],
    ['UnauthorizedOperation', Object.assign(new Error('You are not authorized to perform this operation.'), { name: 'UnauthorizedOperation' })],
  ])('%s within the grace after prepare: VmExport.Transient (retried); after it: VmExport.ExportRejected', async (_name, error) => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [] });
    ec2Mock.on(ExportImageCommand).rejects(error);
    await expect(start(prepared, clients, () => preparedAt + 30_000)).rejects.toMatchObject({ name: 'VmExport.Transient' });
    await expect(start(prepared, clients, () => preparedAt + IAM_PROPAGATION_GRACE_MS + 1)).rejects.toMatchObject({ name: 'VmExport.ExportRejected' });
  });

  test('other refusals are never retried (an encrypted AMI)', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [] });
    ec2Mock.on(ExportImageCommand).rejects(Object.assign(new Error(`The image ID (${AMI}) provided has encrypted EBS block devices and is not exportable.`), { name: 'InvalidParameter' }));
    await expect(start(prepared, clients, () => preparedAt + 1000)).rejects.toMatchObject({ name: 'VmExport.ExportRejected' });
  });
});

describe('a task found by the client token', () => {
  test('that exported another AMI or to another place is not adopted: the token was reused', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({
      ExportImageTasks: [{
        ExportImageTaskId: TASK,
        ImageId: 'ami-0bbbbbbbbbbbbbbbb',
        Status: 'completed',
        S3ExportLocation: { S3Bucket: 'my-exports', S3Prefix: 'golden/' },
        Tags: [{ Key: 'vm-export:client-token', Value: request.clientToken }],
      }],
    });
    await expect(start(request, clients)).rejects.toThrow(/client token .* already started export image task export-ami-0fedcba9876543210 with another AMI ami-0bbbbbbbbbbbbbbbb/);
    expect(ec2Mock).not.toHaveReceivedCommand(ExportImageCommand);
  });

  test('that exported this AMI to this place (a retried start) is adopted; a task without ImageId is judged by its location', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({
      ExportImageTasks: [{
        ExportImageTaskId: TASK,
        Status: 'active',
        S3ExportLocation: { S3Bucket: 'my-exports', S3Prefix: 'golden/' },
        Tags: [{ Key: 'vm-export:client-token', Value: request.clientToken }],
      }],
    });
    await expect(start(request, clients)).resolves.toEqual({ exportTaskId: TASK, state: 'active' });
  });
});

describe('cancelling image tasks', () => {
  test('only an active image task is cancelled; deleting is already going away (instance cancelling still is)', () => {
    expect(isCancellable({ ExportTaskId: TASK, State: 'active' })).toBe(true);
    expect(isCancellable({ ExportTaskId: TASK, State: 'cancelling' })).toBe(false);
    expect(isCancellable({ ExportTaskId: 'export-i-0123456789abcdef0', State: 'cancelling' })).toBe(true);
  });
});

describe('finish', () => {
  const run = (error: { Error: string; Cause?: string }, req: object = request) =>
    finish({ action: 'finish', request: req as never, error }, { ec2: clients.ec2, cfn }, { sleep: async () => undefined, lateStartGraceMs: 0 });

  test('completed (as the poll saw it): SUCCEEDED with kind, AMI, key <prefix><task id>.raw and progress 100', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [] });
    const out = await run({ Error: INTERNAL_COMPLETED, Cause: `${TASK}|golden/${TASK}.raw` });
    expect(out).toEqual({
      status: 'SUCCEEDED',
      kind: 'image',
      imageId: AMI,
      exportTaskId: TASK,
      s3Bucket: 'my-exports',
      s3Key: `golden/${TASK}.raw`,
      s3Uri: `s3://my-exports/golden/${TASK}.raw`,
      state: 'completed',
      progress: 100,
    });
  });

  test('the deadline while the image task is active: it is cancelled, the output keeps the last progress', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({
      ExportImageTasks: [{ ExportImageTaskId: TASK, Status: 'active', Progress: '42', Tags: [{ Key: 'vm-export:client-token', Value: request.clientToken }] }],
    });
    ec2Mock.on(CancelExportTaskCommand).resolves({});
    const out = await run({ Error: 'VmExport.DeadlinePassed', Cause: 'The deadline passed before the export task finished.' });
    expect(out).toMatchObject({ status: 'FAILED', kind: 'image', errorName: 'VmExport.DeadlinePassed', progress: 42, state: 'active' });
    expect(out.cause).toMatch(/ImageExport timeout/);
    expect(ec2Mock).toHaveReceivedCommandWith(CancelExportTaskCommand, { ExportTaskId: TASK });
  });

  test('a raw image input (prepare failed) is reported with its AMI and kind', async () => {
    const out = await run({ Error: 'VmExport.InvalidInput', Cause: 'bad' }, { imageId: AMI, s3Bucket: 'my-exports' });
    expect(out).toEqual({ status: 'FAILED', kind: 'image', imageId: AMI, s3Bucket: 'my-exports', state: 'none', errorName: 'VmExport.InvalidInput', cause: 'bad' });
  });
});
