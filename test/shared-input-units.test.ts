/**
 * Unit tests of the input validation (lambda/shared/normalize.ts) and of the export-task helpers
 * (lambda/shared/export-task.ts). Expected values come from the README's input table and error
 * names, and from SPEC section 3 (CreateInstanceExportTask, DescribeExportTasks, CancelExportTask).
 */
import {
  CancelExportTaskCommand,
  CreateInstanceExportTaskCommand,
  DescribeExportTasksCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { NormalizedRequest, WorkflowInput } from '../lambda/shared/contract';
import { cancelExport, findTaskById, findTaskByTag, isNothingToCancel, startExport } from '../lambda/shared/export-task';
import { normalizeRequest } from '../lambda/shared/normalize';

const ec2Mock = mockClient(EC2Client);
const ec2 = new EC2Client({ region: 'eu-west-1' });

const INSTANCE = 'i-0123456789abcdef0';
const BUCKET = 'my-exports';
const TOKEN_TAG = 'vm-export:client-token';
const VALID_FIELDS = 'instanceId, targetEnvironment, s3Bucket, diskImageFormat, containerFormat, s3Prefix, description, tags, deadlineSeconds, preflight, clientToken, canonicalId';
const base: WorkflowInput = { instanceId: INSTANCE, targetEnvironment: 'vmware', s3Bucket: BUCKET };

function awsError(name: string, message = name, status = 400): Error {
  const e = new Error(message) as Error & { $metadata: { httpStatusCode: number } };
  e.name = name;
  e.$metadata = { httpStatusCode: status };
  return e;
}

/** The error normalizeRequest throws for an input. */
function invalid(input: unknown): { name: string; message: string } {
  try {
    normalizeRequest(input as WorkflowInput, () => 'new-token');
  } catch (err) {
    return { name: (err as Error).name, message: (err as Error).message };
  }
  throw new Error('expected VmExport.InvalidInput');
}

function ok(input: Record<string, unknown>): NormalizedRequest {
  return normalizeRequest({ ...base, ...input } as WorkflowInput, () => 'new-token');
}

async function rejectionOf(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const REQUIRED_INSTANCE = 'instanceId is required: pass the id of a running or stopped EC2 instance (i- followed by 8 or 17 hex characters).';
const REQUIRED_TARGET = 'targetEnvironment is required: use one of vmware, citrix, microsoft.';
const REQUIRED_BUCKET = 's3Bucket is required: pass the name of the export bucket.';

beforeEach(() => {
  ec2Mock.reset();
});

describe('normalizeRequest: the shape of the input', () => {
  test('a string instead of an object is refused as a whole, without unknown-field noise', () => {
    expect(invalid('abc')).toEqual({
      name: 'VmExport.InvalidInput',
      message: `Invalid input for the export: the input must be a JSON object of the documented fields (${VALID_FIELDS}), got 'abc'. ${REQUIRED_INSTANCE} ${REQUIRED_TARGET} ${REQUIRED_BUCKET}`,
    });
  });

  test('an array instead of an object is refused', () => {
    expect(invalid([])).toEqual({
      name: 'VmExport.InvalidInput',
      message: `Invalid input for the export: the input must be a JSON object of the documented fields (${VALID_FIELDS}), got []. ${REQUIRED_INSTANCE} ${REQUIRED_TARGET} ${REQUIRED_BUCKET}`,
    });
  });

  test('a value JSON cannot show is reported as undefined', () => {
    expect(invalid(() => 1).message).toContain(`the input must be a JSON object of the documented fields (${VALID_FIELDS}), got undefined.`);
  });

  test('one misspelt field names the field it probably meant', () => {
    expect(invalid({ ...base, s3prefix: 'vms/' })).toEqual({
      name: 'VmExport.InvalidInput',
      message: `Invalid input for the export of ${INSTANCE}: unknown input field 's3prefix' (did you mean 's3Prefix'?): the workflow would ignore it and use its defaults. The valid fields are ${VALID_FIELDS}.`,
    });
  });

  test('one unknown field without a near match is named alone', () => {
    expect(invalid({ ...base, foo: 1 }).message).toBe(
      `Invalid input for the export of ${INSTANCE}: unknown input field 'foo': the workflow would ignore it and use its defaults. The valid fields are ${VALID_FIELDS}.`);
  });

  test('several unknown fields, deadline suggesting deadlineSeconds', () => {
    expect(invalid({ ...base, deadline: 600, foo: 1 }).message).toBe(
      `Invalid input for the export of ${INSTANCE}: unknown input fields 'deadline' (did you mean 'deadlineSeconds'?), 'foo': the workflow would ignore them and use its defaults. The valid fields are ${VALID_FIELDS}.`);
  });

  test('a field that is not a string is refused', () => {
    expect(invalid({ ...base, description: 123 }).message).toBe(
      `Invalid input for the export of ${INSTANCE}: description must be a string, got 123.`);
  });

  test('null counts as absent', () => {
    const r = ok({ description: null, s3Prefix: null, clientToken: null, tags: null, deadlineSeconds: null });
    expect(r.s3Prefix).toBe('exports/');
    expect(r.clientToken).toBe('new-token');
    expect(r.tags).toEqual([]);
    expect(r.deadlineSeconds).toBe(21600);
    expect(Object.keys(r)).not.toContain('description');
  });
});

describe('normalizeRequest: instance id', () => {
  test('missing instance id', () => {
    expect(invalid({ targetEnvironment: 'vmware', s3Bucket: BUCKET }).message).toBe(`Invalid input for the export: ${REQUIRED_INSTANCE}`);
  });

  test('empty instance id', () => {
    expect(invalid({ ...base, instanceId: '' }).message).toBe(`Invalid input for the export: ${REQUIRED_INSTANCE}`);
  });

  test.each(['i-01234567', 'i-0123456789abcdef0'])('%s (8 or 17 hex) is accepted', (id) => {
    expect(ok({ instanceId: id }).instanceId).toBe(id);
  });

  test('an id with text before i- is refused, and the message does not name it as the export', () => {
    expect(invalid({ ...base, instanceId: 'xi-01234567' }).message).toBe(
      "Invalid input for the export: instanceId 'xi-01234567' is not an instance id: use i- followed by 8 or 17 lower-case hex characters, e.g. i-0123456789abcdef0.");
  });

  test('a long bad value is shown shortened to 80 characters', () => {
    const id = 'x'.repeat(100);
    expect(invalid({ ...base, instanceId: id }).message).toBe(
      `Invalid input for the export: instanceId '${'x'.repeat(76)}... is not an instance id: use i- followed by 8 or 17 lower-case hex characters, e.g. i-0123456789abcdef0.`);
  });

  test('a bad value of exactly 80 characters shown is not shortened, 81 is', () => {
    expect(invalid({ ...base, instanceId: 'y'.repeat(78) }).message).toContain(`instanceId '${'y'.repeat(78)}' is not`);
    expect(invalid({ ...base, instanceId: 'y'.repeat(79) }).message).toContain(`instanceId '${'y'.repeat(76)}... is not`);
  });
});

describe('normalizeRequest: target, formats', () => {
  test('an unsupported target lists the supported ones, and adds no format problem', () => {
    expect(invalid({ ...base, targetEnvironment: 'hyperv', diskImageFormat: 'VMDK', containerFormat: 'none' }).message).toBe(
      `Invalid input for the export of ${INSTANCE}: targetEnvironment 'hyperv' is not supported: use one of vmware, citrix, microsoft.`);
  });

  test('vmware with VHD: one problem about the disk, no default ova container', () => {
    expect(invalid({ ...base, diskImageFormat: 'VHD' }).message).toBe(
      `Invalid input for the export of ${INSTANCE}: diskImageFormat 'VHD' does not work with targetEnvironment 'vmware': use VMDK (or target citrix / microsoft).`);
  });

  test('citrix with VMDK: the key length counts the .vmdk extension (no ova container by default)', () => {
    // 994 + 'export-i-' + 17 characters + '.vmdk' = 1025 bytes, one more than S3 allows.
    const s3Prefix = 'p'.repeat(993) + '/';
    expect(invalid({ ...base, targetEnvironment: 'citrix', diskImageFormat: 'VMDK', s3Prefix }).message).toBe(
      `Invalid input for the export of ${INSTANCE}: diskImageFormat 'VMDK' does not work with targetEnvironment 'citrix': use VHD (or target vmware). `
      + 's3Prefix is too long: the object key (prefix + task id + extension) would take 1025 bytes, S3 allows 1024; shorten the prefix.');
  });

  test('defaults: vmware gets VMDK in ova, citrix VHD without container', () => {
    expect(ok({})).toMatchObject({ diskImageFormat: 'VMDK', containerFormat: 'ova', objectExtension: '.ova' });
    expect(ok({ targetEnvironment: 'citrix' })).toMatchObject({ diskImageFormat: 'VHD', containerFormat: 'none', objectExtension: '.vhd' });
  });
});

describe('normalizeRequest: bucket and prefix', () => {
  test('a bucket ARN is refused', () => {
    expect(invalid({ ...base, s3Bucket: 'arn:aws:s3:::my-exports' }).message).toBe(
      `Invalid input for the export of ${INSTANCE}: s3Bucket 'arn:aws:s3:::my-exports' is not a valid bucket name: use the bucket's name (e.g. my-exports), not its ARN or URL.`);
  });

  test('a prefix with forbidden characters names each of them', () => {
    expect(invalid({ ...base, s3Prefix: 'a|"b/' }).message).toBe(
      `Invalid input for the export of ${INSTANCE}: s3Prefix 'a|"b/' contains '|', '"': a prefix may not contain '|', '"', '\\' (the library reports the object key through a CloudFormation wait condition, which cannot carry them); choose a prefix without them.`);
  });

  test("'' is the bucket's root", () => {
    expect(ok({ s3Prefix: '' }).s3Prefix).toBe('');
  });

  test('a prefix must end with /', () => {
    expect(invalid({ ...base, s3Prefix: 'vms' }).message).toBe(
      `Invalid input for the export of ${INSTANCE}: s3Prefix 'vms' must end with '/': the object key is the prefix followed by the task id (no slash inserted), e.g. 'vms/'.`);
  });
});

describe('normalizeRequest: description', () => {
  test('255 characters are accepted, 256 are not', () => {
    expect(ok({ description: 'd'.repeat(255) }).description).toBe('d'.repeat(255));
    expect(invalid({ ...base, description: 'd'.repeat(256) }).message).toBe(
      `Invalid input for the export of ${INSTANCE}: description has 256 characters, at most 255 are allowed: shorten it.`);
  });

  test('an absent or empty description is left out of the request', () => {
    expect(Object.keys(ok({}))).not.toContain('description');
    expect(Object.keys(ok({ description: '' }))).not.toContain('description');
    expect(ok({ description: 'nightly' }).description).toBe('nightly');
  });
});

describe('normalizeRequest: deadline', () => {
  test.each([
    [undefined, 21600],
    ['', 21600],
    [60, 60],
    [604800, 604800],
    ['120', 120],
    [' 120 ', 120],
  ])('deadlineSeconds %p -> %p', (value, expected) => {
    expect(ok({ deadlineSeconds: value }).deadlineSeconds).toBe(expected);
  });

  test.each([59, 604801, '+120', '0x100', '1e3', 90.5])('deadlineSeconds %p is refused', (value) => {
    const shown = typeof value === 'string' ? `'${value}'` : String(value);
    expect(invalid({ ...base, deadlineSeconds: value }).message).toBe(
      `Invalid input for the export of ${INSTANCE}: deadlineSeconds ${shown} is out of range: use a whole number of seconds between 60 and 604800 (7 days; InstanceExport waits at most 12 hours).`);
  });
});

describe('normalizeRequest: tags and client token', () => {
  test.each([
    [[{ Key: 'a' }], '{"Key":"a"}'],
    [[null], 'null'],
    [[{ Key: '', Value: 'v' }], '{"Key":"","Value":"v"}'],
  ])('tags %j: not a pair of strings', (tags, shown) => {
    expect(invalid({ ...base, tags }).message).toBe(
      `Invalid input for the export of ${INSTANCE}: tags: ${shown} is not a { Key, Value } pair of strings.`);
  });

  test('47 tags are accepted, 48 are not', () => {
    const tags = (n: number) => Array.from({ length: n }, (_, i) => ({ Key: `k${i}`, Value: `v${i}` }));
    expect(ok({ tags: tags(47) }).tags).toHaveLength(47);
    expect(invalid({ ...base, tags: tags(48) }).message).toBe(
      `Invalid input for the export of ${INSTANCE}: tags has 48 entries, at most 47 are allowed (the library adds its own): drop some.`);
  });

  test('an absent or empty client token gets a new one', () => {
    expect(ok({}).clientToken).toBe('new-token');
    expect(ok({ clientToken: '' }).clientToken).toBe('new-token');
  });

  test('a client token of 256 characters (a tag value) is accepted, 257 are not', () => {
    expect(ok({ clientToken: 't'.repeat(256) }).clientToken).toBe('t'.repeat(256));
    expect(invalid({ ...base, clientToken: 't'.repeat(257) }).message).toBe(
      `Invalid input for the export of ${INSTANCE}: clientToken is longer than 256 characters (a tag value): use a shorter token.`);
  });
});

// ---------------------------------------------------------------------------------------------
// export-task.ts
// ---------------------------------------------------------------------------------------------

const request: NormalizedRequest = {
  instanceId: INSTANCE,
  targetEnvironment: 'vmware',
  diskImageFormat: 'VMDK',
  containerFormat: 'ova',
  s3Bucket: BUCKET,
  s3Prefix: 'exports/',
  tags: [],
  deadlineSeconds: 21600,
  clientToken: 'tok-1',
  objectExtension: '.ova',
};
const TASK = 'export-i-0aaaaaaaaaaaaaaaa';
const tagged = (id: string, state?: string) => ({
  ExportTaskId: id,
  ...(state ? { State: state as never } : {}),
  Tags: [{ Key: TOKEN_TAG, Value: 'tok-1' }],
});

describe('findTaskById / findTaskByTag', () => {
  test('a listed task with another id is not the one asked for', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [{ ExportTaskId: 'export-i-0bbbbbbbbbbbbbbbb', State: 'active' }] });
    await expect(findTaskById(ec2, TASK)).resolves.toBeUndefined();
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeExportTasksCommand, { ExportTaskIds: [TASK] });
  });

  test('InvalidExportTaskID.NotFound means no such task', async () => {
    ec2Mock.on(DescribeExportTasksCommand).rejects(awsError('InvalidExportTaskID.NotFound', 'The export task ID does not exist'));
    await expect(findTaskById(ec2, TASK)).resolves.toBeUndefined();
  });

  test('another error of the lookup is thrown', async () => {
    ec2Mock.on(DescribeExportTasksCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403));
    const err = await rejectionOf(findTaskById(ec2, TASK));
    expect(err.name).toBe('UnauthorizedOperation');
    expect(err.message).toBe('You are not authorized to perform this operation.');
  });

  test('throttled lookup -> VmExport.Throttled naming DescribeExportTasks', async () => {
    ec2Mock.on(DescribeExportTasksCommand).rejects(awsError('RequestLimitExceeded', 'Request limit exceeded.'));
    const err = await rejectionOf(findTaskByTag(ec2, TOKEN_TAG, 'tok-1'));
    expect(err.name).toBe('VmExport.Throttled');
    expect(err.message).toContain('AWS throttled DescribeExportTasks (RequestLimitExceeded: Request limit exceeded.)');
  });

  test('active is preferred to cancelled', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [tagged('export-i-0cccccccccccccccc', 'cancelled'), tagged(TASK, 'active')] });
    expect((await findTaskByTag(ec2, TOKEN_TAG, 'tok-1'))?.ExportTaskId).toBe(TASK);
  });

  test('active is preferred to cancelling, in either order', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [tagged(TASK, 'active'), tagged('export-i-0cccccccccccccccc', 'cancelling')] });
    expect((await findTaskByTag(ec2, TOKEN_TAG, 'tok-1'))?.ExportTaskId).toBe(TASK);
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [tagged('export-i-0cccccccccccccccc', 'cancelling'), tagged(TASK, 'active')] });
    expect((await findTaskByTag(ec2, TOKEN_TAG, 'tok-1'))?.ExportTaskId).toBe(TASK);
  });

  test('states limit the tasks considered', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [tagged('export-i-0cccccccccccccccc', 'completed'), tagged(TASK, 'active')] });
    expect((await findTaskByTag(ec2, TOKEN_TAG, 'tok-1', ['active', 'cancelling']))?.ExportTaskId).toBe(TASK);
    await expect(findTaskByTag(ec2, TOKEN_TAG, 'tok-1', ['cancelled'])).resolves.toBeUndefined();
  });

  test('a task without a state matches the state ""', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [tagged(TASK)] });
    expect((await findTaskByTag(ec2, TOKEN_TAG, 'tok-1', ['']))?.ExportTaskId).toBe(TASK);
  });
});

describe('startExport', () => {
  test('an adopted task without a state is active', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [{ ExportTaskId: TASK }] });
    await expect(startExport(ec2, { ...request, adoptExportTaskId: TASK })).resolves.toStrictEqual({ exportTaskId: TASK, state: 'active' });
  });

  test('an adopted task EC2 no longer lists, with its recorded key, is completed', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    await expect(startExport(ec2, { ...request, adoptExportTaskId: TASK, completedExportS3Key: `exports/${TASK}.ova` }))
      .resolves.toStrictEqual({ exportTaskId: TASK, state: 'completed' });
  });

  test('an adopted task that does not exist -> VmExport.ExportRejected', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    const err = await rejectionOf(startExport(ec2, { ...request, adoptExportTaskId: TASK }));
    expect(err.name).toBe('VmExport.ExportRejected');
  });

  test.each([
    [{}, 'no id'],
    [{ ExportTaskId: '', State: 'active' }, 'an empty id'],
  ])('a created task with %j (%s) is found again by its client token', async (created: object, _what: string) => {
    ec2Mock.on(DescribeExportTasksCommand)
      .resolvesOnce({ ExportTasks: [] })
      .resolves({ ExportTasks: [{ ...tagged(TASK, 'active'), ExportToS3Task: { S3Key: `exports/${TASK}.ova` } }] });
    ec2Mock.on(CreateInstanceExportTaskCommand).resolves({ ExportTask: created as never });
    await expect(startExport(ec2, request)).resolves.toStrictEqual({ exportTaskId: TASK, state: 'active', s3Key: `exports/${TASK}.ova` });
  });

  test('a created task without id that cannot be found fails', async () => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({ ExportTasks: [] });
    ec2Mock.on(CreateInstanceExportTaskCommand).resolves({ ExportTask: {} });
    const err = await rejectionOf(startExport(ec2, request));
    expect(err.message).toBe(`CreateInstanceExportTask for ${INSTANCE} returned no task id`);
  });

  test.each([
    [undefined, { exportTaskId: TASK, state: 'active' }],
    ['', { exportTaskId: TASK, state: 'active' }],
    [`exports/${TASK}.ova`, { exportTaskId: TASK, state: 'active', s3Key: `exports/${TASK}.ova` }],
  ])('an existing task without state and with S3Key %p', async (s3Key, expected) => {
    ec2Mock.on(DescribeExportTasksCommand).resolves({
      ExportTasks: [{ ...tagged(TASK), ...(s3Key !== undefined ? { ExportToS3Task: { S3Key: s3Key } } : {}) }],
    });
    await expect(startExport(ec2, request)).resolves.toStrictEqual(expected);
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateInstanceExportTaskCommand, 0);
  });
});

describe('cancelExport / isNothingToCancel', () => {
  test('InvalidExportTaskID.NotFound: nothing to cancel', () => {
    expect(isNothingToCancel(awsError('InvalidExportTaskID.NotFound', 'Bad id'))).toBe(true);
  });

  test.each(['InvalidExportTaskID.Malformed', 'InvalidInstanceID.NotFound'])('%s (message without a hint) is not "nothing to cancel"', (code) => {
    expect(isNothingToCancel(awsError(code, 'Bad id'))).toBe(false);
  });

  test('throttled cancel -> VmExport.Throttled naming the task', async () => {
    ec2Mock.on(CancelExportTaskCommand).rejects(awsError('RequestLimitExceeded', 'Request limit exceeded.'));
    const err = await rejectionOf(cancelExport(ec2, TASK));
    expect(err.name).toBe('VmExport.Throttled');
    expect(err.message).toContain(`AWS throttled CancelExportTask ${TASK} (RequestLimitExceeded: Request limit exceeded.)`);
  });
});
