import {
  CancelExportTaskCommand,
  CreateInstanceExportTaskCommand,
  DescribeExportTasksCommand,
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  GetBucketAclCommand,
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetBucketOwnershipControlsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { specCanonicalId } from './support/spec-canonical-ids';
import { normalizeBucketRegion } from '../lambda/shared/bucket-region';
import { causeText } from '../lambda/shared/cause';
import {
  ERROR_EXPORT_REJECTED,
  ERROR_INVALID_INPUT,
  ERROR_PREFLIGHT_FAILED,
  ERROR_QUOTA_FULL,
  ERROR_THROTTLED,
  ERROR_WORKFLOW_ERROR,
  NormalizedRequest,
  TAG_CLIENT_TOKEN,
  TAG_EXPORT_HASH,
  TAG_MANAGED,
  TAG_MANAGED_VALUE,
  WorkflowInput,
} from '../lambda/shared/contract';
import { errorCode, isQuotaFull, mapStartError, VmExportError } from '../lambda/shared/ec2-errors';
import { cancelExport, findTaskByTag, findTaskForRequest, isNothingToCancel, startExport } from '../lambda/shared/export-task';
import { clientTokenFor, clientTokenOfExecutionName, executionNameFor, exportHashFor, sha256Hex, shortHash } from '../lambda/shared/hash';
import { normalizeRequest, objectExtensionFor, objectKeyFor, s3UriFor } from '../lambda/shared/normalize';
import { checkBucket, runPreflight } from '../lambda/shared/preflight';
import { buildSignal, sendSignal } from '../lambda/shared/signal';
import { ELLIPSIS, truncate, truncateBytes } from '../lambda/shared/truncate';

const ec2Mock = mockClient(EC2Client);
const s3Mock = mockClient(S3Client);
const ec2 = new EC2Client({ region: 'eu-west-1' });
const s3 = new S3Client({ region: 'eu-west-1' });

const INSTANCE = 'i-0123456789abcdef0';
const BUCKET = 'my-exports';
const REGION = 'eu-west-1';
const CANONICAL = specCanonicalId(REGION);

function awsError(name: string, message = name, status = 400): Error {
  const e = new Error(message) as Error & { $metadata: { httpStatusCode: number } };
  e.name = name;
  e.$metadata = { httpStatusCode: status };
  return e;
}

function thrownBy(fn: () => unknown): VmExportError {
  try {
    fn();
  } catch (err) {
    return err as VmExportError;
  }
  throw new Error('expected an error');
}

async function rejectionOf(p: Promise<unknown>): Promise<Error & { name: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const baseInput: WorkflowInput = { instanceId: INSTANCE, targetEnvironment: 'vmware', s3Bucket: BUCKET };

beforeEach(() => {
  ec2Mock.reset();
  s3Mock.reset();
});

// ---------------------------------------------------------------------------------------------
/** A stack ARN and a SHA-256 hex for the wait condition keys. */
const STACK = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/app/5f1e';
const HASH = '5555555555555555555555555555555555555555555555555555555555555555';

describe('normalizeRequest', () => {
  test('vmware defaults: VMDK in ova, exports/, 6 h, a fresh token', () => {
    const r = normalizeRequest(baseInput, () => 'token-1');
    expect(r).toEqual({
      instanceId: INSTANCE,
      targetEnvironment: 'vmware',
      diskImageFormat: 'VMDK',
      containerFormat: 'ova',
      s3Bucket: BUCKET,
      s3Prefix: 'exports/',
      tags: [],
      deadlineSeconds: 21600,
      clientToken: 'token-1',
      objectExtension: '.ova',
    });
  });

  test('default token is a random UUID', () => {
    const a = normalizeRequest(baseInput).clientToken;
    const b = normalizeRequest(baseInput).clientToken;
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).not.toBe(b);
  });

  test.each([
    ['citrix', 'VHD', 'none', '.vhd'],
    ['microsoft', 'VHD', 'none', '.vhd'],
  ])('%s defaults to %s / %s', (target, disk, container, ext) => {
    const r = normalizeRequest({ ...baseInput, targetEnvironment: target });
    expect([r.diskImageFormat, r.containerFormat, r.objectExtension]).toEqual([disk, container, ext]);
  });

  test('vmware VMDK without container gives .vmdk; case is normalised', () => {
    const r = normalizeRequest({ ...baseInput, targetEnvironment: 'VMware', diskImageFormat: 'vmdk', containerFormat: 'none' });
    expect([r.targetEnvironment, r.diskImageFormat, r.containerFormat, r.objectExtension]).toEqual(['vmware', 'VMDK', 'none', '.vmdk']);
  });

  test('keeps optional fields', () => {
    const r = normalizeRequest({
      ...baseInput,
      s3Prefix: 'vms/',
      description: 'nightly',
      tags: [{ Key: 'team', Value: 'ops' }],
      deadlineSeconds: 3600,
      clientToken: 'tok',
      exportHash: 'hash',
      adoptExportTaskId: 'export-i-0123456789abcdef0',
      canonicalId: 'a'.repeat(64),
      waitConditionStackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/app/5f1e0c40-0000-4000-8000-000000000000',
      waitConditionHandleLogicalId: 'ExportHandle0a1b2c3d',
      waitConditionHandleHash: '5555555555555555555555555555555555555555555555555555555555555555',
    });
    expect(r).toMatchObject({
      s3Prefix: 'vms/',
      description: 'nightly',
      tags: [{ Key: 'team', Value: 'ops' }],
      deadlineSeconds: 3600,
      clientToken: 'tok',
      exportHash: 'hash',
      adoptExportTaskId: 'export-i-0123456789abcdef0',
      canonicalId: 'a'.repeat(64),
      waitConditionStackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/app/5f1e0c40-0000-4000-8000-000000000000',
      waitConditionHandleLogicalId: 'ExportHandle0a1b2c3d',
      waitConditionHandleHash: '5555555555555555555555555555555555555555555555555555555555555555',
    });
  });

  test('numeric string deadline is accepted', () => {
    expect(normalizeRequest({ ...baseInput, deadlineSeconds: '600' as unknown as number }).deadlineSeconds).toBe(600);
  });

  test.each<[string, Partial<WorkflowInput>, RegExp]>([
    ['missing instance', { instanceId: undefined as unknown as string }, /instanceId is required/],
    ['bad instance id', { instanceId: 'i-123' }, /instanceId 'i-123' is not an instance id: use i- followed by 8 or 17/],
    ['upper-case instance id', { instanceId: 'i-0123456789ABCDEF0' }, /instanceId 'i-0123456789ABCDEF0'/],
    ['missing target', { targetEnvironment: '' }, /targetEnvironment is required: use one of vmware, citrix, microsoft/],
    ['bad target', { targetEnvironment: 'kvm' }, /targetEnvironment 'kvm' is not supported/],
    ['RAW', { diskImageFormat: 'RAW', containerFormat: 'none' }, /diskImageFormat 'RAW' is only for AMI export \(ExportImage\)/],
    ['unknown disk format', { diskImageFormat: 'QCOW2' }, /diskImageFormat 'QCOW2' is not supported/],
    ['VMDK with citrix', { targetEnvironment: 'citrix', diskImageFormat: 'VMDK' }, /'VMDK' does not work with targetEnvironment 'citrix': use VHD/],
    ['VMDK with microsoft', { targetEnvironment: 'microsoft', diskImageFormat: 'VMDK' }, /'VMDK' does not work with targetEnvironment 'microsoft'/],
    ['VHD with vmware', { diskImageFormat: 'VHD', containerFormat: 'none' }, /'VHD' does not work with targetEnvironment 'vmware': use VMDK/],
    ['ova with VHD', { targetEnvironment: 'citrix', containerFormat: 'ova' }, /containerFormat 'ova' only holds VMDK disks/],
    ['bad container', { containerFormat: 'zip' }, /containerFormat 'zip' is not supported/],
    ['missing bucket', { s3Bucket: '' }, /s3Bucket is required/],
    ['bucket ARN', { s3Bucket: 'arn:aws:s3:::b' }, /s3Bucket 'arn:aws:s3:::b' is not a valid bucket name/],
    ['leading slash', { s3Prefix: '/vms/' }, /s3Prefix '\/vms\/' must not start with '\/'/],
    ['no trailing slash', { s3Prefix: 'vms' }, /s3Prefix 'vms' must end with '\/'.*e\.g\. 'vms\/'/],
    ['prefix too long', { s3Prefix: 'p'.repeat(1000) + '/' }, /s3Prefix is too long: .* 1031 bytes, S3 allows 1024/],
    ['description too long', { description: 'd'.repeat(256) }, /description has 256 characters, at most 255/],
    ['deadline too short', { deadlineSeconds: 59 }, /deadlineSeconds 59 is out of range: .* between 60 and 604800/],
    ['deadline too long', { deadlineSeconds: 604801 }, /deadlineSeconds 604801 is out of range/],
    ['deadline not whole', { deadlineSeconds: 100.5 }, /deadlineSeconds 100.5 is out of range/],
    ['deadline text', { deadlineSeconds: 'soon' as unknown as number }, /deadlineSeconds 'soon' is out of range/],
    ['tags not a list', { tags: 'x' as unknown as [] }, /tags must be a list/],
    ['reserved tag', { tags: [{ Key: TAG_CLIENT_TOKEN, Value: 'x' }] }, /the key 'vm-export:client-token' is reserved/],
    ['aws: tag', { tags: [{ Key: 'aws:x', Value: 'x' }] }, /the key 'aws:x' is reserved/],
    ['bad task id', { adoptExportTaskId: 'export-ami-1' }, /adoptExportTaskId 'export-ami-1' is not an instance export task id/],
    ['bad canonical id', { canonicalId: 'ABC' }, /canonicalId 'ABC' is not a canonical user id/],
    ['handle without stack', { waitConditionHandleLogicalId: 'ExportHandle0a1b2c3d', waitConditionHandleHash: HASH }, /waitConditionStackId, waitConditionHandleLogicalId and waitConditionHandleHash go together/],
    ['stack without handle', { waitConditionStackId: STACK, waitConditionHandleHash: HASH }, /waitConditionStackId, waitConditionHandleLogicalId and waitConditionHandleHash go together/],
    ['handle without hash', { waitConditionStackId: STACK, waitConditionHandleLogicalId: 'H1' }, /waitConditionStackId, waitConditionHandleLogicalId and waitConditionHandleHash go together/],
    ['a URL for the stack', { waitConditionStackId: 'https://x', waitConditionHandleLogicalId: 'H1', waitConditionHandleHash: HASH }, /waitConditionStackId 'https:\/\/x' is not a CloudFormation stack ARN/],
    ['a URL for the handle', { waitConditionStackId: STACK, waitConditionHandleLogicalId: 'https://x', waitConditionHandleHash: HASH }, /waitConditionHandleLogicalId 'https:\/\/x' is not a logical id/],
    ['the URL for the hash', { waitConditionStackId: STACK, waitConditionHandleLogicalId: 'H1', waitConditionHandleHash: 'https://x' }, /waitConditionHandleHash 'https:\/\/x' is not a SHA-256 hash/],
  ])('rejects %s', (_name, change, message) => {
    const err = thrownBy(() => normalizeRequest({ ...baseInput, ...change }));
    expect(err).toBeInstanceOf(VmExportError);
    expect(err.name).toBe(ERROR_INVALID_INPUT);
    expect(err.message).toMatch(message);
    expect(err.message.length).toBeLessThanOrEqual(1000);
  });

  test('reports every problem at once and names the instance', () => {
    const err = thrownBy(() => normalizeRequest({ ...baseInput, s3Prefix: 'vms', description: 'd'.repeat(300) }));
    expect(err.message).toMatch(/^Invalid input for the export of i-0123456789abcdef0: /);
    expect(err.message).toMatch(/s3Prefix 'vms' must end/);
    expect(err.message).toMatch(/description has 300 characters/);
  });

  test('prefix at the key length limit is accepted', () => {
    const prefix = 'p'.repeat(1024 - 26 - 4 - 1) + '/';
    expect(normalizeRequest({ ...baseInput, s3Prefix: prefix }).s3Prefix).toBe(prefix);
    expect(() => normalizeRequest({ ...baseInput, s3Prefix: 'p' + prefix })).toThrow(/too long/);
  });

  test('key helpers', () => {
    expect(objectExtensionFor('VHD', 'none')).toBe('.vhd');
    expect(objectExtensionFor('VMDK', 'ova')).toBe('.ova');
    expect(objectKeyFor('vms/', 'export-i-1234567890abcdef0', '.ova')).toBe('vms/export-i-1234567890abcdef0.ova');
    expect(s3UriFor('b', 'k/x.ova')).toBe('s3://b/k/x.ova');
  });
});

// ---------------------------------------------------------------------------------------------
describe('hash, truncate, cause', () => {
  test('client token is the first 32 hex of sha256(stack|logical|request)', () => {
    const t = clientTokenFor('stack', 'Export', 'req-1');
    expect(t).toBe(sha256Hex('stack|Export|req-1').slice(0, 32));
    expect(t).toMatch(/^[0-9a-f]{32}$/);
    expect(clientTokenFor('stack', 'Export', 'req-2')).not.toBe(t);
    expect(executionNameFor(t)).toBe('vmx-' + t);
    expect(clientTokenOfExecutionName('vmx-' + t)).toBe(t);
    expect(clientTokenOfExecutionName('other')).toBeUndefined();
  });

  test('export hash covers the listed keys only', () => {
    const keys = ['A', 'B'];
    const h = exportHashFor('s', 'L', { A: '1', B: '2', C: 'x' }, keys);
    expect(h).toBe(shortHash(['s', 'L', '1', '2']));
    expect(exportHashFor('s', 'L', { A: '1', B: '2', C: 'y' }, keys)).toBe(h);
    expect(exportHashFor('s', 'L', { A: '1', B: '3' }, keys)).not.toBe(h);
    expect(exportHashFor('s', 'L', { A: '1' }, keys)).toBe(shortHash(['s', 'L', '1', '']));
  });

  test('truncate keeps short text and marks cut text', () => {
    expect(truncate('abc', 10)).toBe('abc');
    const cut = truncate('x'.repeat(2000));
    expect(cut).toHaveLength(1000);
    expect(cut.endsWith(ELLIPSIS)).toBe(true);
  });

  test('truncateBytes counts UTF-8 bytes and never splits a character', () => {
    const text = 'é'.repeat(3000);
    const cut = truncateBytes(text, 4096);
    expect(Buffer.byteLength(cut, 'utf8')).toBeLessThanOrEqual(4096);
    expect(cut.endsWith(ELLIPSIS)).toBe(true);
    expect(cut).not.toContain('\uFFFD');
    expect(truncateBytes('short', 4096)).toBe('short');
  });

  test('causeText extracts a Lambda errorMessage', () => {
    expect(causeText(JSON.stringify({ errorType: 'VmExport.PreflightFailed', errorMessage: 'the instance is pending', trace: [] })))
      .toBe('the instance is pending');
    expect(causeText('plain text')).toBe('plain text');
    expect(causeText('{not json')).toBe('{not json');
    expect(causeText(undefined)).toBe('');
  });
});

// ---------------------------------------------------------------------------------------------
describe('error mapping', () => {
  test.each<[string, string, string, RegExp]>([
    ['RequestLimitExceeded', 'Request limit exceeded.', ERROR_THROTTLED, /throttled/],
    ['ResourceLimitExceeded', 'You have reached the limit', ERROR_QUOTA_FULL, /5 concurrent tasks per region.*20 via Service Quotas/],
    ['InvalidParameterValue', 'The maximum number of active conversion tasks has been reached', ERROR_QUOTA_FULL, /quota/],
    ['AuthFailure', 'vmie.amazonaws.com must have WRITE and READ_ACL permission on the S3 bucket', ERROR_EXPORT_REJECTED,
      /AuthFailure: vmie.amazonaws.com must have WRITE and READ_ACL permission.*READ_ACP and WRITE to the VM Import\/Export canonical ID/],
    ['NotExportable', 'This instance has multiple volumes attached', ERROR_EXPORT_REJECTED, /multiple volumes attached.*exactly one volume/],
    ['NotExportable', 'ami-1 is a marketplace AMI and is not exportable', ERROR_EXPORT_REJECTED, /Marketplace/],
    ['InvalidParameter', 'The given S3 object is not local to the region', ERROR_EXPORT_REJECTED, /same region/],
    ['Unsupported', 'diskImageFormat \'raw\' not supported for targetEnvironment \'citrix\'', ERROR_EXPORT_REJECTED, /citrix and microsoft take VHD/],
    ['InvalidInstanceID.NotFound', 'The instance ID does not exist', ERROR_EXPORT_REJECTED, /Check the instance id/],
  ])('%s (%s) -> %s', (code, message, name, text) => {
    const mapped = mapStartError(awsError(code, message), INSTANCE) as Error;
    expect(mapped.name).toBe(name);
    expect(mapped.message).toMatch(text);
    expect(mapped.message).toContain(INSTANCE);
  });

  test('unknown client errors are returned as they are', () => {
    const err = awsError('SomethingNew', 'boom', 400);
    expect(mapStartError(err, INSTANCE)).toBe(err);
  });

  test('errorCode and isQuotaFull', () => {
    expect(errorCode({ Code: 'X' })).toBe('X');
    expect(errorCode('text')).toBe('UnknownError');
    expect(isQuotaFull(awsError('Other', 'too many conversion tasks in progress, limit exceeded'))).toBe(true);
    expect(isQuotaFull(awsError('Other', 'something else'))).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
const request: NormalizedRequest = normalizeRequest({
  ...baseInput,
  s3Prefix: 'vms/',
  description: 'nightly',
  tags: [{ Key: 'team', Value: 'ops' }],
  clientToken: 'tok-1',
  exportHash: 'hash-1',
});

describe('startExport', () => {
  test('creates the task with the exact input and tags', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    ec2Mock.on(CreateInstanceExportTaskCommand).resolves({ ExportTask: { ExportTaskId: 'export-i-0aaaaaaaaaaaaaaaa', State: 'active' } });
    await expect(startExport(ec2, request)).resolves.toEqual({ exportTaskId: 'export-i-0aaaaaaaaaaaaaaaa', state: 'active' });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeExportTasksCommand, {});
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateInstanceExportTaskCommand, 1);
    expect(ec2Mock.commandCalls(CreateInstanceExportTaskCommand)[0].args[0].input).toEqual({
      InstanceId: INSTANCE,
      TargetEnvironment: 'vmware',
      Description: 'nightly',
      ExportToS3Task: { DiskImageFormat: 'VMDK', ContainerFormat: 'ova', S3Bucket: BUCKET, S3Prefix: 'vms/' },
      TagSpecifications: [{
        ResourceType: 'export-instance-task',
        Tags: [
          { Key: TAG_MANAGED, Value: TAG_MANAGED_VALUE },
          { Key: TAG_CLIENT_TOKEN, Value: 'tok-1' },
          { Key: TAG_EXPORT_HASH, Value: 'hash-1' },
          { Key: 'team', Value: 'ops' },
        ],
      }],
    });
  });

  test('omits ContainerFormat for none, Description and the hash tag when absent', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    ec2Mock.on(CreateInstanceExportTaskCommand).resolves({ ExportTask: { ExportTaskId: 'export-i-0bbbbbbbbbbbbbbbb', State: 'active' } });
    await startExport(ec2, normalizeRequest({ ...baseInput, targetEnvironment: 'microsoft', clientToken: 't' }));
    expect(ec2Mock.commandCalls(CreateInstanceExportTaskCommand)[0].args[0].input).toEqual({
      InstanceId: INSTANCE,
      TargetEnvironment: 'microsoft',
      ExportToS3Task: { DiskImageFormat: 'VHD', S3Bucket: BUCKET, S3Prefix: 'exports/' },
      TagSpecifications: [{
        ResourceType: 'export-instance-task',
        Tags: [{ Key: TAG_MANAGED, Value: TAG_MANAGED_VALUE }, { Key: TAG_CLIENT_TOKEN, Value: 't' }],
      }],
    });
  });

  test('a task tagged with the client token is returned, nothing is created', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({
      ExportTasks: [
        { ExportTaskId: 'export-i-0ccccccccccccccc0', State: 'active', Tags: [{ Key: TAG_CLIENT_TOKEN, Value: 'other' }] },
        { ExportTaskId: 'export-i-0ccccccccccccccc1', State: 'active', Tags: [{ Key: TAG_CLIENT_TOKEN, Value: 'tok-1' }] },
      ],
    });
    await expect(startExport(ec2, request)).resolves.toEqual({ exportTaskId: 'export-i-0ccccccccccccccc1', state: 'active' });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateInstanceExportTaskCommand);
  });

  test('adopts a task by id', async () => {
    ec2Mock.on(DescribeExportTasksCommand, { ExportTaskIds: ['export-i-0dddddddddddddddd'] })
      .resolves({ ExportTasks: [{ ExportTaskId: 'export-i-0dddddddddddddddd', State: 'completed' }] });
    await expect(startExport(ec2, { ...request, adoptExportTaskId: 'export-i-0dddddddddddddddd' }))
      .resolves.toEqual({ exportTaskId: 'export-i-0dddddddddddddddd', state: 'completed' });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateInstanceExportTaskCommand);
  });

  test('adopting a missing task is rejected', async () => {
    ec2Mock.on(DescribeExportTasksCommand).rejects(awsError('InvalidExportTaskID.NotFound'));
    const err = await rejectionOf(startExport(ec2, { ...request, adoptExportTaskId: 'export-i-0dddddddddddddddd' }));
    expect(err.name).toBe(ERROR_EXPORT_REJECTED);
    expect(err.message).toMatch(/export-i-0dddddddddddddddd .* does not exist/);
  });

  test.each<[string, string, string]>([
    ['RequestLimitExceeded', 'Request limit exceeded.', ERROR_THROTTLED],
    ['ResourceLimitExceeded', 'limit', ERROR_QUOTA_FULL],
    ['AuthFailure', 'must have WRITE and READ_ACL permission', ERROR_EXPORT_REJECTED],
    ['NotExportable', 'This instance has multiple volumes attached', ERROR_EXPORT_REJECTED],
  ])('CreateInstanceExportTask %s -> %s', async (code, message, name) => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    ec2Mock.on(CreateInstanceExportTaskCommand).rejects(awsError(code, message));
    const err = await rejectionOf(startExport(ec2, request));
    expect(err.name).toBe(name);
    expect(err.message).toContain(message);
  });

  test('unknown create errors are rethrown as they are', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    ec2Mock.on(CreateInstanceExportTaskCommand).rejects(awsError('SomethingNew', 'opaque', 400));
    const err = await rejectionOf(startExport(ec2, request));
    expect(err.name).toBe('SomethingNew');
  });

  test('an InternalError (500) on create is transient: VmExport.Transient, which the workflow retries', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    ec2Mock.on(CreateInstanceExportTaskCommand).rejects(awsError('InternalError', 'opaque', 500));
    const err = await rejectionOf(startExport(ec2, request));
    expect(err.name).toBe('VmExport.Transient');
    expect(err.message).toContain('InternalError: opaque');
  });

  test('throttled lookup -> VmExport.Throttled', async () => {
    ec2Mock.on(DescribeExportTasksCommand).rejects(awsError('RequestLimitExceeded'));
    expect((await rejectionOf(startExport(ec2, request))).name).toBe(ERROR_THROTTLED);
  });
});

describe('find and cancel', () => {
  test('findTaskByTag prefers completed, filters states', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({
      ExportTasks: [
        { ExportTaskId: 'export-i-000000001', State: 'cancelled', Tags: [{ Key: TAG_EXPORT_HASH, Value: 'h' }] },
        { ExportTaskId: 'export-i-000000002', State: 'completed', Tags: [{ Key: TAG_EXPORT_HASH, Value: 'h' }] },
        { ExportTaskId: 'export-i-000000003', State: 'active', Tags: [{ Key: TAG_EXPORT_HASH, Value: 'h' }] },
      ],
    });
    expect((await findTaskByTag(ec2, TAG_EXPORT_HASH, 'h'))?.ExportTaskId).toBe('export-i-000000002');
    expect((await findTaskByTag(ec2, TAG_EXPORT_HASH, 'h', ['active']))?.ExportTaskId).toBe('export-i-000000003');
    expect(await findTaskByTag(ec2, TAG_EXPORT_HASH, 'x')).toBeUndefined();
  });

  test('findTaskForRequest without id or token looks nothing up', async () => {
    expect(await findTaskForRequest(ec2, {})).toBeUndefined();
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('cancel calls CancelExportTask with the id', async () => {
    ec2Mock.on(CancelExportTaskCommand).resolves({});
    await expect(cancelExport(ec2, 'export-i-000000001')).resolves.toBe('cancelled');
    expect(ec2Mock).toHaveReceivedCommandWith(CancelExportTaskCommand, { ExportTaskId: 'export-i-000000001' });
  });

  test.each<[string, string]>([
    ['InvalidExportTaskID.NotFound', 'The export task ID \'export-i-1\' does not exist'],
    ['IncorrectState', 'Export task is in state completed'],
    ['InvalidParameterValue', 'Cannot cancel an export task that is transferring the final disk image'],
    ['Client.UnknownError', 'The task has already completed'],
  ])('%s is nothing to cancel', async (code, message) => {
    ec2Mock.on(CancelExportTaskCommand).rejects(awsError(code, message));
    await expect(cancelExport(ec2, 'export-i-000000001')).resolves.toBe('nothing-to-cancel');
  });

  test('other cancel errors are rethrown; throttling is named', async () => {
    ec2Mock.on(CancelExportTaskCommand).rejectsOnce(awsError('UnauthorizedOperation', 'not allowed')).rejectsOnce(awsError('RequestLimitExceeded'));
    expect((await rejectionOf(cancelExport(ec2, 'export-i-000000001'))).name).toBe('UnauthorizedOperation');
    expect((await rejectionOf(cancelExport(ec2, 'export-i-000000001'))).name).toBe(ERROR_THROTTLED);
    expect(isNothingToCancel(awsError('UnauthorizedOperation', 'not allowed'))).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
const VOLUME = 'vol-0123456789abcdef0';
function goodInstance(overrides: Record<string, unknown> = {}) {
  return {
    InstanceId: INSTANCE,
    State: { Name: 'stopped' },
    RootDeviceType: 'ebs',
    BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: VOLUME } }],
    NetworkInterfaces: [{ NetworkInterfaceId: 'eni-1' }],
    ProductCodes: [],
    PlatformDetails: 'Linux/UNIX',
    UsageOperation: 'RunInstances',
    ...overrides,
  };
}

function goodSetup(instance: Record<string, unknown> = goodInstance()) {
  ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance as never] }] });
  ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: VOLUME, Encrypted: false, Size: 8 }] });
  s3Mock.on(GetBucketLocationCommand).resolves({ LocationConstraint: 'EU' });
  s3Mock.on(GetBucketOwnershipControlsCommand).resolves({ OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] } });
  s3Mock.on(GetBucketEncryptionCommand).resolves({
    ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
  });
  s3Mock.on(GetBucketAclCommand).resolves({
    Grants: [
      { Grantee: { Type: 'CanonicalUser', ID: 'owner' }, Permission: 'FULL_CONTROL' },
      { Grantee: { Type: 'CanonicalUser', ID: CANONICAL }, Permission: 'READ_ACP' },
      { Grantee: { Type: 'CanonicalUser', ID: CANONICAL }, Permission: 'WRITE' },
    ],
  });
}

const target = { instanceId: INSTANCE, s3Bucket: BUCKET };

describe('preflight', () => {
  test('a good instance and bucket pass; exact read-only calls', async () => {
    goodSetup();
    await expect(runPreflight(ec2, s3, target, REGION)).resolves.toBeUndefined();
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeInstancesCommand, { InstanceIds: [INSTANCE] });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeVolumesCommand, { VolumeIds: [VOLUME] });
    expect(s3Mock).toHaveReceivedCommandWith(GetBucketLocationCommand, { Bucket: BUCKET });
    expect(s3Mock).toHaveReceivedCommandWith(GetBucketOwnershipControlsCommand, { Bucket: BUCKET });
    expect(s3Mock).toHaveReceivedCommandWith(GetBucketEncryptionCommand, { Bucket: BUCKET });
    expect(s3Mock).toHaveReceivedCommandWith(GetBucketAclCommand, { Bucket: BUCKET });
  });

  test('missing ownership controls and encryption configuration are fine', async () => {
    goodSetup();
    s3Mock.on(GetBucketOwnershipControlsCommand).rejects(awsError('OwnershipControlsNotFoundError', 'none', 404));
    s3Mock.on(GetBucketEncryptionCommand).rejects(awsError('ServerSideEncryptionConfigurationNotFoundError', 'none', 404));
    await expect(runPreflight(ec2, s3, target, REGION)).resolves.toBeUndefined();
  });

  test('FULL_CONTROL to the canonical ID is enough; a given canonical ID is used', async () => {
    goodSetup();
    const custom = 'b'.repeat(64);
    s3Mock.on(GetBucketAclCommand).resolves({ Grants: [{ Grantee: { Type: 'CanonicalUser', ID: custom }, Permission: 'FULL_CONTROL' }] });
    await expect(runPreflight(ec2, s3, { ...target, canonicalId: custom }, REGION)).resolves.toBeUndefined();
    await expect(runPreflight(ec2, s3, target, REGION)).rejects.toThrow(CANONICAL);
  });

  test.each<[string, Record<string, unknown>, RegExp]>([
    ['pending', { State: { Name: 'pending' } }, /the instance is pending: it must be running or stopped/],
    ['terminated', { State: { Name: 'terminated' } }, /is terminated/],
    ['two volumes', { BlockDeviceMappings: [{ Ebs: { VolumeId: VOLUME } }, { Ebs: { VolumeId: 'vol-2' } }] }, /has 2 volumes .* exactly one/],
    ['two network interfaces', { NetworkInterfaces: [{}, {}] }, /has 2 network interfaces: only one/],
    ['instance store', { RootDeviceType: 'instance-store' }, /instance store volume/],
    ['marketplace', { ProductCodes: [{ ProductCodeId: 'abc', ProductCodeType: 'marketplace' }] }, /AWS Marketplace AMI/],
    ['windows', { PlatformDetails: 'Windows', Platform: 'windows', UsageOperation: 'RunInstances:0002' }, /runs Windows/],
    ['sql server on linux', { PlatformDetails: 'Linux with SQL Server Standard', UsageOperation: 'RunInstances:0004' }, /includes SQL Server/],
    ['sql server by usage code', { PlatformDetails: 'Linux/UNIX', UsageOperation: 'RunInstances:0100' }, /includes SQL Server/],
  ])('instance rule: %s', async (_name, change, message) => {
    goodSetup(goodInstance(change));
    const err = await rejectionOf(runPreflight(ec2, s3, target, REGION));
    expect(err.name).toBe(ERROR_PREFLIGHT_FAILED);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(INSTANCE);
    expect(err.message).toContain(BUCKET);
  });

  test('missing instance (error or empty answer)', async () => {
    goodSetup();
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound', 'The instance ID does not exist'));
    await expect(runPreflight(ec2, s3, target, REGION)).rejects.toThrow(/instance i-0123456789abcdef0 does not exist in this account and region/);
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    await expect(runPreflight(ec2, s3, target, REGION)).rejects.toThrow(/does not exist/);
  });

  test.each<[string, Record<string, unknown>, RegExp]>([
    ['encrypted', { Encrypted: true }, /vol-0123456789abcdef0 is encrypted/],
    ['too big', { Size: 1025 }, /has 1025 GiB: at most 1024 GiB/],
  ])('volume rule: %s', async (_name, change, message) => {
    goodSetup();
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: VOLUME, Encrypted: false, Size: 8, ...change }] });
    await expect(runPreflight(ec2, s3, target, REGION)).rejects.toThrow(message);
  });

  test('a 1024 GiB volume passes', async () => {
    goodSetup();
    ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: VOLUME, Encrypted: false, Size: 1024 }] });
    await expect(runPreflight(ec2, s3, target, REGION)).resolves.toBeUndefined();
  });

  test('missing bucket stops the bucket checks', async () => {
    goodSetup();
    s3Mock.on(GetBucketLocationCommand).rejects(awsError('NoSuchBucket', 'The specified bucket does not exist', 404));
    await expect(runPreflight(ec2, s3, target, REGION)).rejects.toThrow(/bucket my-exports does not exist/);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketAclCommand);
  });

  test('bucket in another region (null = us-east-1)', async () => {
    goodSetup();
    s3Mock.on(GetBucketLocationCommand).resolves({});
    await expect(runPreflight(ec2, s3, target, REGION)).rejects.toThrow(/bucket my-exports is in us-east-1, not in eu-west-1/);
    expect(normalizeBucketRegion(null)).toBe('us-east-1');
    expect(normalizeBucketRegion('')).toBe('us-east-1');
    expect(normalizeBucketRegion('EU')).toBe('eu-west-1');
    expect(normalizeBucketRegion('ap-south-1')).toBe('ap-south-1');
  });

  test.each<[string, () => void, RegExp]>([
    ['BucketOwnerEnforced', () => s3Mock.on(GetBucketOwnershipControlsCommand).resolves({ OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } }),
      /BucketOwnerEnforced .* set it to BucketOwnerPreferred/],
    ['SSE-KMS', () => s3Mock.on(GetBucketEncryptionCommand).resolves({ ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] } }),
      /default encryption aws:kms/],
    ['DSSE-KMS', () => s3Mock.on(GetBucketEncryptionCommand).resolves({ ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms:dsse' } }] } }),
      /default encryption aws:kms:dsse/],
    ['no WRITE grant', () => s3Mock.on(GetBucketAclCommand).resolves({ Grants: [{ Grantee: { Type: 'CanonicalUser', ID: CANONICAL }, Permission: 'READ_ACP' }] }),
      /does not grant WRITE to the VM Import\/Export canonical ID/],
    ['no grant at all', () => s3Mock.on(GetBucketAclCommand).resolves({ Grants: [] }),
      /does not grant READ_ACP and WRITE to .* c4d8eabf|does not grant READ_ACP and WRITE/],
  ])('bucket rule: %s', async (_name, change, message) => {
    goodSetup();
    change();
    const err = await rejectionOf(runPreflight(ec2, s3, target, REGION));
    expect(err.name).toBe(ERROR_PREFLIGHT_FAILED);
    expect(err.message).toMatch(message);
  });

  test('all broken rules are reported together, numbered', async () => {
    goodSetup(goodInstance({ State: { Name: 'pending' }, ProductCodes: [{ ProductCodeId: 'x' }] }));
    s3Mock.on(GetBucketOwnershipControlsCommand).resolves({ OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } });
    const err = await rejectionOf(runPreflight(ec2, s3, target, REGION));
    expect(err.message).toMatch(/\(1\) the instance is pending.*\(2\) .*Marketplace.*\(3\) bucket my-exports has object ownership BucketOwnerEnforced/);
  });

  test('the region\'s canonical ID is checked by default', async () => {
    goodSetup();
    s3Mock.on(GetBucketLocationCommand).resolves({ LocationConstraint: 'af-south-1' });
    const problems = await checkBucket(s3, BUCKET, 'af-south-1', specCanonicalId('af-south-1'));
    expect(problems).toEqual([expect.stringContaining(specCanonicalId('af-south-1'))]);
  });

  test('throttling -> VmExport.Throttled (EC2 and S3)', async () => {
    goodSetup();
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('RequestLimitExceeded'));
    expect((await rejectionOf(runPreflight(ec2, s3, target, REGION))).name).toBe(ERROR_THROTTLED);
    goodSetup();
    s3Mock.on(GetBucketAclCommand).rejects(awsError('SlowDown', 'Please reduce your request rate.', 503));
    expect((await rejectionOf(runPreflight(ec2, s3, target, REGION))).name).toBe(ERROR_THROTTLED);
  });
});

// ---------------------------------------------------------------------------------------------
describe('signal', () => {
  const URL = 'https://cloudformation-waitcondition-eu-west-1.s3.eu-west-1.amazonaws.com/arn%3Aaws/secret?X-Amz-Signature=abc';
  const noSleep = async () => undefined;

  test('PUT with an empty content type and the exact body', async () => {
    const fetch = jest.fn().mockResolvedValue({ ok: true, status: 200 });
    await sendSignal(URL, buildSignal(true, 'export-i-1', 'done'), { fetch, sleep: noSleep });
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(fetch).toHaveBeenCalledWith(URL, {
      method: 'PUT',
      headers: { 'Content-Type': '' },
      body: JSON.stringify({ Status: 'SUCCESS', UniqueId: 'export', Data: 'export-i-1', Reason: 'done' }),
      // Each attempt can be abandoned (per-attempt timeout).
      signal: expect.any(AbortSignal),
    });
  });

  test('failure reason is truncated to 1000 characters', () => {
    const s = buildSignal(false, 'VmExport.ExportFailed', 'x'.repeat(5000));
    expect(s.Status).toBe('FAILURE');
    expect(s.Reason).toHaveLength(1000);
  });

  test('retries network errors and 5xx, then succeeds', async () => {
    const fetch = jest.fn()
      .mockRejectedValueOnce(new TypeError(`fetch failed ${URL}`))
      .mockResolvedValueOnce({ ok: false, status: 503 })
      .mockResolvedValueOnce({ ok: true, status: 200 });
    const sleep = jest.fn(noSleep);
    await sendSignal(URL, buildSignal(true, 'd', 'r'), { fetch, sleep });
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(sleep).toHaveBeenCalledTimes(2);
  });

  test('gives up on 4xx at once; the error does not contain the URL', async () => {
    const fetch = jest.fn().mockResolvedValue({ ok: false, status: 403 });
    const err = await rejectionOf(sendSignal(URL, buildSignal(true, 'd', 'r'), { fetch, sleep: noSleep }));
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(err.name).toBe(ERROR_WORKFLOW_ERROR);
    expect(err.message).toContain('HTTP 403');
    expect(err.message).not.toContain('secret');
  });

  test('gives up after the last network error without leaking the URL', async () => {
    const fetch = jest.fn().mockRejectedValue(new TypeError(`fetch failed for ${URL}`));
    const err = await rejectionOf(sendSignal(URL, buildSignal(false, 'e', 'r'), { fetch, sleep: noSleep, attempts: 3 }));
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(err.message).toContain('network error (TypeError)');
    expect(err.message).not.toContain('X-Amz-Signature');
  });

  test('uses the global fetch by default', async () => {
    const spy = jest.spyOn(globalThis, 'fetch').mockResolvedValue(new Response(null, { status: 200 }));
    try {
      await sendSignal(URL, buildSignal(true, 'd', 'r'), { sleep: noSleep });
      expect(spy).toHaveBeenCalledWith(URL, expect.objectContaining({ method: 'PUT', headers: { 'Content-Type': '' } }));
    } finally {
      spy.mockRestore();
    }
  });
});
