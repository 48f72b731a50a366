/**
 * lambda/shared/task-lookup.ts: which kind a request is, an image export task seen as an export
 * task (state mapped, key computed, fields kept or left out as the task has them), and the
 * lookups that route by kind.
 */
import { DescribeExportImageTasksCommand, DescribeExportTasksCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  findAnyTaskById,
  findAnyTaskByTag,
  findTaskForAnyRequest,
  imageTaskAsExportTask,
  kindOf,
  kindOfTaskId,
} from '../lambda/shared/task-lookup';

const ec2Mock = mockClient(EC2Client);
const ec2 = new EC2Client({ region: 'eu-west-1' });
const TASK = 'export-ami-0123456789abcdef0';

beforeEach(() => ec2Mock.reset());

describe('kindOf', () => {
  test.each([
    [{ kind: 'image' }, 'image'],
    [{ kind: 'instance', imageId: 'ami-1' }, 'instance'],
    [{ kind: 'image', instanceId: 'i-1' }, 'image'],
    [{ imageId: 'ami-1' }, 'image'],
    [{ imageId: 'ami-1', instanceId: 'i-1' }, 'instance'],
    [{ instanceId: 'i-1' }, 'instance'],
    [{}, 'instance'],
    [{ kind: 'other', imageId: 'ami-1' }, 'image'],
  ])('%j is %s', (hints, kind) => {
    expect(kindOf(hints)).toBe(kind);
  });

  test('a task id tells its kind', () => {
    expect(kindOfTaskId(TASK)).toBe('image');
    expect(kindOfTaskId('export-i-0123456789abcdef0')).toBe('instance');
  });
});

describe('imageTaskAsExportTask', () => {
  test('every field the task has, the state in the instance vocabulary, the key from the task\'s prefix', () => {
    expect(imageTaskAsExportTask({
      ExportImageTaskId: TASK,
      Status: 'deleted',
      StatusMessage: 'gone',
      Description: 'd',
      Progress: '40',
      Tags: [{ Key: 'k', Value: 'v' }],
      S3ExportLocation: { S3Bucket: 'b', S3Prefix: 'p/' },
    }, '.vmdk', 'other/')).toEqual({
      ExportTaskId: TASK,
      State: 'cancelled',
      StatusMessage: 'gone',
      Description: 'd',
      Progress: '40',
      Tags: [{ Key: 'k', Value: 'v' }],
      ExportToS3Task: { S3Bucket: 'b', S3Key: `p/${TASK}.vmdk` },
    });
  });

  test('what the task leaves out stays out; the request\'s prefix serves when the task has none; no key without an extension', () => {
    expect(imageTaskAsExportTask({ ExportImageTaskId: TASK, Status: 'completed' }, '.raw', 'golden/')).toEqual({
      ExportTaskId: TASK, State: 'completed', Tags: [], ExportToS3Task: { S3Bucket: undefined, S3Key: `golden/${TASK}.raw` },
    });
    expect(imageTaskAsExportTask({ ExportImageTaskId: TASK, Status: 'active' })).toEqual({
      ExportTaskId: TASK, State: 'active', Tags: [], ExportToS3Task: { S3Bucket: undefined },
    });
    expect(imageTaskAsExportTask({ ExportImageTaskId: TASK, Status: 'active' }, '.vhd').ExportToS3Task).toEqual({ S3Bucket: undefined, S3Key: `${TASK}.vhd` });
  });
});

describe('lookups by kind', () => {
  const imageTask = (status: string, token = 'tok') => ({
    ExportImageTaskId: TASK,
    Status: status,
    S3ExportLocation: { S3Bucket: 'b', S3Prefix: 'p/' },
    Tags: [{ Key: 'vm-export:client-token', Value: token }],
  });

  test('an image task id is looked up with DescribeExportImageTasks and keyed with the extension', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [imageTask('active')] });
    await expect(findAnyTaskById(ec2, TASK, '.vmdk')).resolves.toMatchObject({ ExportTaskId: TASK, State: 'active', ExportToS3Task: { S3Key: `p/${TASK}.vmdk` } });
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeExportTasksCommand);
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [] });
    await expect(findAnyTaskById(ec2, TASK)).resolves.toBeUndefined();
  });

  test('an instance task id is looked up with DescribeExportTasks', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [{ ExportTaskId: 'export-i-0123456789abcdef0', State: 'active' }] });
    await expect(findAnyTaskById(ec2, 'export-i-0123456789abcdef0')).resolves.toMatchObject({ State: 'active' });
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeExportImageTasksCommand);
  });

  test('by tag: the image task in the wanted states only', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [imageTask('deleted')] });
    await expect(findAnyTaskByTag(ec2, 'image', 'vm-export:client-token', 'tok', { states: ['completed', 'active'] })).resolves.toBeUndefined();
    await expect(findAnyTaskByTag(ec2, 'image', 'vm-export:client-token', 'tok')).resolves.toMatchObject({ State: 'cancelled' });
    await expect(findAnyTaskByTag(ec2, 'image', 'vm-export:client-token', 'other')).resolves.toBeUndefined();
  });

  test('the task of a request: the adopted id first, else the client token tag (with the request\'s extension), else none', async () => {
    ec2Mock.on(DescribeExportImageTasksCommand).resolves({ ExportImageTasks: [imageTask('completed')] });
    await expect(findTaskForAnyRequest(ec2, { kind: 'image', adoptExportTaskId: TASK, objectExtension: '.raw' }))
      .resolves.toMatchObject({ ExportToS3Task: { S3Key: `p/${TASK}.raw` } });
    await expect(findTaskForAnyRequest(ec2, { kind: 'image', clientToken: 'tok', objectExtension: '.vhd' }))
      .resolves.toMatchObject({ ExportToS3Task: { S3Key: `p/${TASK}.vhd` } });
    await expect(findTaskForAnyRequest(ec2, { kind: 'image' })).resolves.toBeUndefined();
    expect(ec2Mock.commandCalls(DescribeExportImageTasksCommand)).toHaveLength(2);
  });
});
