/**
 * Image export tasks with aws-sdk-client-mock: the ClientToken, the ExportImage call, adoption
 * and lookup by tag over every page, state and progress, and how ExportImage's errors map to the
 * workflow's names (the service's own error codes and messages, from the facts' sources).
 */
import {
  CancelExportTaskCommand,
  DescribeExportImageTasksCommand,
  EC2Client,
  ExportImageCommand,
  ExportImageTask,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { Errors } from './support/documented-names';
import { awsError, ec2InternalError, throttlingError } from './support/fake-aws/errors';
import { TAG_CLIENT_TOKEN, TAG_EXPORT_HASH, TAG_MANAGED, TAG_MANAGED_VALUE } from '../lambda/shared/contract';
import { cancelExport } from '../lambda/shared/export-task';
import { NormalizedImageRequest } from '../lambda/shared/image-contract';
import {
  findImageTaskById,
  findImageTaskByTag,
  imageClientToken,
  imageObjectKeyFor,
  imageStateOf,
  mapImageStartError,
  progressOf,
  startImageExport,
} from '../lambda/shared/image-task';

const ec2Mock = mockClient(EC2Client);
const ec2 = new EC2Client({ region: 'eu-west-1' });

const IMAGE = 'ami-0123456789abcdef0';
const TASK = 'export-ami-1234567890abcdef0';
const TOKEN = 'token-1';

const request: NormalizedImageRequest = {
  kind: 'image',
  imageId: IMAGE,
  diskImageFormat: 'VMDK',
  roleName: 'vmimport',
  s3Bucket: 'my-exports',
  s3Prefix: 'exports/',
  description: 'nightly',
  tags: [{ Key: 'team', Value: 'infra' }],
  deadlineSeconds: 21600,
  clientToken: TOKEN,
  exportHash: 'hash-1',
  objectExtension: '.vmdk',
};

function task(id: string, Status: string, token = TOKEN): ExportImageTask {
  return { ExportImageTaskId: id, Status, Tags: [{ Key: TAG_CLIENT_TOKEN, Value: token }] };
}

async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

beforeEach(() => {
  ec2Mock.reset();
});

describe('imageClientToken', () => {
  test('is 64 lower-case hex characters (EC2 takes at most 64 ASCII characters)', () => {
    expect(imageClientToken({ clientToken: 'x'.repeat(256) })).toMatch(/^[0-9a-f]{64}$/);
  });

  test('is the same for the same token and differs for another', () => {
    expect(imageClientToken({ clientToken: TOKEN })).toBe(imageClientToken({ clientToken: TOKEN }));
    expect(imageClientToken({ clientToken: TOKEN })).not.toBe(imageClientToken({ clientToken: 'token-2' }));
  });

  test('is not the client token itself', () => {
    expect(imageClientToken({ clientToken: TOKEN })).not.toContain(TOKEN);
  });
});

describe('state, progress, key', () => {
  test.each([['active', 'active'], ['completed', 'completed'], ['deleting', 'cancelling'], ['deleted', 'cancelled'], ['COMPLETED', 'completed']])(
    'Status %s is state %s', (Status, state) => {
      expect(imageStateOf({ Status })).toBe(state);
    });

  test('an undocumented or absent Status is active (keep watching)', () => {
    expect(imageStateOf({ Status: 'converting' })).toBe('active');
    expect(imageStateOf({})).toBe('active');
    expect(imageStateOf(undefined)).toBe('active');
  });

  test.each([['0', 0], ['21', 21], ['85.5', 85.5], ['100', 100], ['101', 100], ['-1', 0], [' 7 ', 7]])('Progress %p is %p', (Progress, n) => {
    expect(progressOf({ Progress })).toBe(n);
  });

  test.each([undefined, '', 'abc', '5%', '1e2'])('Progress %p is undefined', (Progress) => {
    expect(progressOf({ Progress })).toBeUndefined();
  });

  test('the key is prefix + task id + extension, no slash inserted', () => {
    expect(imageObjectKeyFor('exports/', TASK, '.vmdk')).toBe(`exports/${TASK}.vmdk`);
    expect(imageObjectKeyFor('', TASK, '.raw')).toBe(`${TASK}.raw`);
    expect(imageObjectKeyFor('k-1-21-', TASK, '.raw')).toBe(`k-1-21-${TASK}.raw`);
  });
});

describe('findImageTaskById', () => {
  test('asks for the id and returns the task', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [task(TASK, 'active')] });
    expect((await findImageTaskById(ec2, TASK))?.ExportImageTaskId).toBe(TASK);
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeExportImageTasksCommand, { ExportImageTaskIds: [TASK] });
  });

  test('an answer without the id is undefined', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [task('export-ami-other', 'active')] });
    expect(await findImageTaskById(ec2, TASK)).toBeUndefined();
  });

  test.each(['InvalidExportImageTaskId.NotFound', 'InvalidExportTaskID.NotFound'])('%s is undefined (the exact code is undocumented)', async (code) => {
    ec2Mock.on(DescribeExportImageTasksCommand).rejects(awsError('ec2', code, `The export task ID '${TASK}' does not exist`));
    expect(await findImageTaskById(ec2, TASK)).toBeUndefined();
  });

  test('throttling is VmExport.Throttled, InternalError VmExport.Transient, others as they are', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).rejectsOnce(throttlingError('ec2')).rejectsOnce(ec2InternalError())
      .rejectsOnce(awsError('ec2', 'UnauthorizedOperation', 'You are not authorized to perform this operation.'));
    expect((await rejectionOf(findImageTaskById(ec2, TASK))).name).toBe(Errors.THROTTLED);
    expect((await rejectionOf(findImageTaskById(ec2, TASK))).name).toBe(Errors.TRANSIENT);
    expect((await rejectionOf(findImageTaskById(ec2, TASK))).name).toBe('UnauthorizedOperation');
  });
});

describe('findImageTaskByTag', () => {
  test('reads every page (NextToken) with the largest page size', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand)
      .resolvesOnce({ ExportImageTasks: [task('export-ami-a', 'deleted', 'other')], NextToken: 'p2' })
      .resolvesOnce({ ExportImageTasks: [task('export-ami-b', 'active', 'other')], NextToken: 'p3' })
      .resolvesOnce({ ExportImageTasks: [task(TASK, 'active')] });
    expect((await findImageTaskByTag(ec2, TAG_CLIENT_TOKEN, TOKEN))?.ExportImageTaskId).toBe(TASK);
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeExportImageTasksCommand, 3);
    expect(ec2Mock.commandCalls(DescribeExportImageTasksCommand).map((c) => c.args[0].input)).toEqual([
      { MaxResults: 500 }, { MaxResults: 500, NextToken: 'p2' }, { MaxResults: 500, NextToken: 'p3' },
    ]);
  });

  test('a token answered twice ends the listing instead of looping', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [], NextToken: 'same' });
    expect(await findImageTaskByTag(ec2, TAG_CLIENT_TOKEN, TOKEN)).toBeUndefined();
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeExportImageTasksCommand, 2);
  });

  test('prefers completed, then active, deleting, deleted', async () => {
    const all = [task('export-ami-d', 'deleted'), task('export-ami-g', 'deleting'), task('export-ami-a', 'active'), task('export-ami-c', 'completed')];
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: all });
    expect((await findImageTaskByTag(ec2, TAG_CLIENT_TOKEN, TOKEN))?.ExportImageTaskId).toBe('export-ami-c');
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: all.slice(0, 3) });
    expect((await findImageTaskByTag(ec2, TAG_CLIENT_TOKEN, TOKEN))?.ExportImageTaskId).toBe('export-ami-a');
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: all.slice(0, 2) });
    expect((await findImageTaskByTag(ec2, TAG_CLIENT_TOKEN, TOKEN))?.ExportImageTaskId).toBe('export-ami-g');
  });

  test('tasks with another value or without tags are not it', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [task(TASK, 'completed', 'other'), { ExportImageTaskId: 'export-ami-x', Status: 'active' }] });
    expect(await findImageTaskByTag(ec2, TAG_CLIENT_TOKEN, TOKEN)).toBeUndefined();
  });
});

describe('startImageExport', () => {
  test('calls ExportImage once with every parameter, the derived ClientToken and the library\'s tags', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [] });
    ec2Mock.on(ExportImageCommand).resolves({ ExportImageTaskId: TASK, Status: 'active', Progress: '0', StatusMessage: 'validating' });
    await expect(startImageExport(ec2, request)).resolves.toEqual({ exportTaskId: TASK, state: 'active' });
    expect(ec2Mock).toHaveReceivedCommandTimes(ExportImageCommand, 1);
    expect(ec2Mock.commandCalls(ExportImageCommand)[0].args[0].input).toEqual({
      ImageId: IMAGE,
      DiskImageFormat: 'VMDK',
      S3ExportLocation: { S3Bucket: 'my-exports', S3Prefix: 'exports/' },
      RoleName: 'vmimport',
      Description: 'nightly',
      ClientToken: imageClientToken(request),
      TagSpecifications: [{
        ResourceType: 'export-image-task',
        Tags: [
          { Key: TAG_MANAGED, Value: TAG_MANAGED_VALUE },
          { Key: TAG_CLIENT_TOKEN, Value: TOKEN },
          { Key: TAG_EXPORT_HASH, Value: 'hash-1' },
          { Key: 'team', Value: 'infra' },
        ],
      }],
    });
  });

  test('no Description without a description', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({});
    ec2Mock.on(ExportImageCommand).resolves({ ExportImageTaskId: TASK, Status: 'active' });
    await startImageExport(ec2, { ...request, description: undefined });
    expect(ec2Mock.commandCalls(ExportImageCommand)[0].args[0].input).not.toHaveProperty('Description');
  });

  test('a task tagged with the client token is adopted, ExportImage and beforeCreate are not called', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [task(TASK, 'completed')] });
    const beforeCreate = jest.fn();
    await expect(startImageExport(ec2, request, beforeCreate)).resolves.toEqual({ exportTaskId: TASK, state: 'completed' });
    expect(beforeCreate).not.toHaveBeenCalled();
    expect(ec2Mock).not.toHaveReceivedCommand(ExportImageCommand);
  });

  test('beforeCreate runs before ExportImage and can refuse it', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({});
    const err = await rejectionOf(startImageExport(ec2, request, () => {
      throw new Error('deadline passed');
    }));
    expect(err.message).toBe('deadline passed');
    expect(ec2Mock).not.toHaveReceivedCommand(ExportImageCommand);
  });

  test('adoptExportTaskId: the listed task, with its state', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [task(TASK, 'deleting')] });
    await expect(startImageExport(ec2, { ...request, adoptExportTaskId: TASK })).resolves.toEqual({ exportTaskId: TASK, state: 'cancelling' });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeExportImageTasksCommand, { ExportImageTaskIds: [TASK] });
    expect(ec2Mock).not.toHaveReceivedCommand(ExportImageCommand);
  });

  test('adoptExportTaskId no longer listed: completed with completedExportS3Key, else rejected', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [] });
    await expect(startImageExport(ec2, { ...request, adoptExportTaskId: TASK, completedExportS3Key: `exports/${TASK}.vmdk` }))
      .resolves.toEqual({ exportTaskId: TASK, state: 'completed' });
    const err = await rejectionOf(startImageExport(ec2, { ...request, adoptExportTaskId: TASK }));
    expect(err.name).toBe(Errors.EXPORT_REJECTED);
    expect(err.message).toBe(`Export image task ${TASK} (to adopt for ${IMAGE}) does not exist: pass the id of an existing image export task, or omit adoptExportTaskId to start one.`);
    expect(ec2Mock).not.toHaveReceivedCommand(ExportImageCommand);
  });

  test('an answer without a task id: the task is looked up by its client token', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolvesOnce({ ExportImageTasks: [] }).resolvesOnce({ ExportImageTasks: [task(TASK, 'active')] });
    ec2Mock.on(ExportImageCommand).resolves({});
    await expect(startImageExport(ec2, request)).resolves.toEqual({ exportTaskId: TASK, state: 'active' });
  });

  test('an answer without a task id and no tagged task is an error', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [] });
    ec2Mock.on(ExportImageCommand).resolves({ ExportImageTaskId: '' });
    expect((await rejectionOf(startImageExport(ec2, request))).message).toBe(`ExportImage for ${IMAGE} returned no task id`);
  });

  test('a rejection of ExportImage is VmExport.ExportRejected with the hint', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({});
    ec2Mock.on(ExportImageCommand).rejects(awsError('ec2', 'NotExportable', `The image ID provided (${IMAGE}) is a marketplace AMI and is not exportable.`));
    const err = await rejectionOf(startImageExport(ec2, request));
    expect(err.name).toBe(Errors.EXPORT_REJECTED);
    expect(err.message).toContain('AWS Marketplace');
  });

  test('throttled ExportImage is VmExport.Throttled', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({});
    ec2Mock.on(ExportImageCommand).rejects(throttlingError('ec2'));
    expect((await rejectionOf(startImageExport(ec2, request))).name).toBe(Errors.THROTTLED);
  });
});

describe('mapImageStartError', () => {
  const map = (err: Error, roleName?: string) => mapImageStartError(err, IMAGE, roleName) as Error;

  test('marketplace (NotExportable, the service\'s words)', () => {
    const err = map(awsError('ec2', 'NotExportable', `The image ID provided (${IMAGE}) is a marketplace AMI and is not exportable.`));
    expect(err.name).toBe(Errors.EXPORT_REJECTED);
    expect(err.message).toContain(`EC2 refused to export ${IMAGE}: NotExportable: The image ID provided (${IMAGE}) is a marketplace AMI and is not exportable.`);
    expect(err.message).toContain('AMIs created from an AWS Marketplace image cannot be exported');
  });

  test('encrypted (InvalidParameter, the service\'s words): build from unencrypted volumes', () => {
    const err = map(awsError('ec2', 'InvalidParameter', `The image ID (${IMAGE}) provided has encrypted EBS block devices and is not exportable.`));
    expect(err.name).toBe(Errors.EXPORT_REJECTED);
    expect(err.message).toContain('AMIs with encrypted EBS snapshots in the block device mapping cannot be exported');
    expect(err.message).toContain('build the AMI from unencrypted volumes');
  });

  test('service role missing (InvalidParameter): create it or name another, trust and permissions, named role', () => {
    const err = map(awsError('ec2', 'InvalidParameter', 'The service role my-role provided does not exist or does not have sufficient permissions'), 'my-role');
    expect(err.name).toBe(Errors.EXPORT_REJECTED);
    expect(err.message).toContain('The service role \'my-role\' must exist in this account (create it, e.g. with a VmImportServiceRole, or name an existing role in roleName)');
    expect(err.message).toContain('trust vmie.amazonaws.com (sts:AssumeRole with the condition sts:ExternalId = vmimport)');
    expect(err.message).toContain('s3:PutObject on arn:<partition>:s3:::<bucket>/<prefix>*');
  });

  test('IdempotentParameterMismatch: a new client token', () => {
    const err = map(awsError('ec2', 'IdempotentParameterMismatch', 'The client token you have provided is associated with a resource that is already deleted. Please use a different client token.'));
    expect(err.name).toBe(Errors.EXPORT_REJECTED);
    expect(err.message).toContain('pass a new clientToken (or omit it)');
  });

  test.each(['InvalidAMIID.NotFound', 'InvalidAMIID.Malformed', 'InvalidAMIID.Unavailable'])('%s: check imageId', (code) => {
    const err = map(awsError('ec2', code, `The image id '[${IMAGE}]' does not exist`));
    expect(err.name).toBe(Errors.EXPORT_REJECTED);
    expect(err.message).toContain('Check imageId: the AMI must exist in this region and be owned by this account.');
  });

  test('UnauthorizedOperation: the permissions the export function lacks', () => {
    const err = map(awsError('ec2', 'UnauthorizedOperation', 'You are not authorized to perform this operation. Encoded authorization failure message: x'));
    expect(err.name).toBe(Errors.EXPORT_REJECTED);
    expect(err.message).toContain('ec2:ExportImage on image/<ami> and export-image-task/*');
    expect(err.message).toContain('iam:PassRole on the service role');
  });

  test('AuthFailure: the role hint', () => {
    expect(map(awsError('ec2', 'AuthFailure', 'AWS was not able to validate the provided access credentials')).message).toContain('The service role \'vmimport\' must exist');
  });

  test('Windows and a bucket in another region get their hints; an unknown reason the guide\'s list', () => {
    expect(map(awsError('ec2', 'NotExportable', 'This image contains Windows and is not exportable.')).message).toContain('Windows and SQL Server AMIs');
    expect(map(awsError('ec2', 'InvalidParameter', 'The given S3 object is not local to the region.')).message).toContain('The bucket must exist in the region of the AMI');
    expect(map(awsError('ec2', 'NotExportable', 'Not exportable.')).message).toContain('no AMIs shared from another account, no volumes over 1 TiB');
  });

  test('another task of the AMI in progress', () => {
    expect(map(awsError('ec2', 'InvalidParameter', `An export image task is already in progress for ${IMAGE}.`)).message).toContain('Only one export image task per AMI may be in progress');
  });

  test('throttling, transient and quota errors are the retryable names', () => {
    expect(map(throttlingError('ec2')).name).toBe(Errors.THROTTLED);
    expect(map(ec2InternalError()).name).toBe(Errors.TRANSIENT);
    const quota = map(awsError('ec2', 'ResourceLimitExceeded', 'You have reached the maximum number of active conversion tasks.'));
    expect(quota.name).toBe(Errors.QUOTA_FULL);
    expect(quota.message).toContain(`the export of ${IMAGE} waits for a free slot`);
  });

  test('an unknown error is returned as it is', () => {
    const err = awsError('ec2', 'SomethingNew', 'new');
    expect(mapImageStartError(err, IMAGE)).toBe(err);
  });
});

describe('cancelling an image task with export-task.ts\'s cancelExport', () => {
  test('sends the export-ami id to CancelExportTask', async () => {
    ec2Mock.on(CancelExportTaskCommand).resolves({});
    await expect(cancelExport(ec2, TASK)).resolves.toBe('cancelled');
    expect(ec2Mock).toHaveReceivedCommandWith(CancelExportTaskCommand, { ExportTaskId: TASK });
  });

  test('a finished or unknown task is nothing to cancel', async () => {
    ec2Mock.on(CancelExportTaskCommand)
      .rejectsOnce(awsError('ec2', 'IncorrectState', `Export task ${TASK} is completed and cannot be cancelled.`))
      .rejectsOnce(awsError('ec2', 'InvalidExportTaskID.NotFound', `The export task ID '${TASK}' does not exist`));
    await expect(cancelExport(ec2, TASK)).resolves.toBe('nothing-to-cancel');
    await expect(cancelExport(ec2, TASK)).resolves.toBe('nothing-to-cancel');
  });
});
