/**
 * The confused-deputy guard of the workflow's `prepare` step (lambda/shared/export-grants.ts):
 * with the grants the construct writes into the export-task function's environment, an
 * execution for an instance the workflow was not granted fails in `prepare`, preflight or not,
 * before anything starts.
 */
import { DescribeInstancesCommand, DescribeVolumesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  GetBucketAclCommand,
  GetBucketLocationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { prepare } from '../lambda/export-task';
import { EXPORT_GRANTS_VARIABLE as ENV_EXPORT_GRANTS, Errors } from './support/documented-names';
import { mockExportableInstanceAndBucket } from './support/preflight-mocks';
import { WorkflowInput } from '../lambda/shared/contract';
import { checkExportGrant, checkImageExportGrant, matchingTagGrant, parseExportGrants } from '../lambda/shared/export-grants';

/** Expected error names: the README's, copied in test/support/documented-names.ts. */
const { INVALID_INPUT: ERROR_INVALID_INPUT, THROTTLED: ERROR_THROTTLED } = Errors;
const ec2Mock = mockClient(EC2Client);
const s3Mock = mockClient(S3Client);
const clients = { ec2: new EC2Client({ region: 'eu-west-1' }), s3: new S3Client({ region: 'eu-west-1' }) };

const INSTANCE = 'i-0123456789abcdef0';
const OTHER = 'i-0fedcba9876543210';
const input: WorkflowInput = { instanceId: INSTANCE, targetEnvironment: 'vmware', s3Bucket: 'my-exports', preflight: false };

function awsError(name: string, message = name): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

function instanceWithTags(tags: Array<{ Key: string; Value: string }>) {
  ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: INSTANCE, Tags: tags }] }] });
}

beforeEach(() => {
  ec2Mock.reset();
  s3Mock.reset();
  delete process.env[ENV_EXPORT_GRANTS];
});

afterAll(() => {
  delete process.env[ENV_EXPORT_GRANTS];
});

describe('prepare refuses an instance the workflow was not granted', () => {
  test('granted other instances only: VmExport.InvalidInput naming the instance and the grant to add, with no AWS call', async () => {
    process.env[ENV_EXPORT_GRANTS] = '{"anyInstance":false,"instances":["i-0fedcba9876543210"],"tags":[]}';
    await expect(prepare(input, clients, 'eu-west-1')).rejects.toMatchObject({
      name: ERROR_INVALID_INPUT,
      message: 'This export workflow may not export instance i-0123456789abcdef0: it was not granted to the workflow. ' +
        "Grant it in the CDK app and deploy again: call workflow.grantExportOf('i-0123456789abcdef0') (an InstanceExport of the instance does this itself), " +
        'or workflow.allowInstancesTagged(key, value) and tag the instance; allowAnyInstance: true on the InstanceExportWorkflow allows every instance.',
    });
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(s3Mock.calls()).toHaveLength(0);
  });

  test('the check runs before the preflight: no preflight call is made for an ungranted instance', async () => {
    process.env[ENV_EXPORT_GRANTS] = '{"anyInstance":false,"instances":[],"tags":[]}';
    await expect(prepare({ ...input, preflight: true }, clients, 'eu-west-1')).rejects.toMatchObject({ name: ERROR_INVALID_INPUT });
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeVolumesCommand);
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketLocationCommand);
  });

  test('a tag grant the instance lacks: the message lists the granted tags; one DescribeInstances call', async () => {
    process.env[ENV_EXPORT_GRANTS] = '{"anyInstance":false,"instances":[],"tags":[{"key":"vm-export","value":"allowed"},{"key":"team","value":"web"}]}';
    instanceWithTags([{ Key: 'vm-export', Value: 'Allowed' }, { Key: 'Name', Value: 'web-1' }]);
    await expect(prepare(input, clients, 'eu-west-1')).rejects.toMatchObject({
      name: ERROR_INVALID_INPUT,
      message: expect.stringContaining(
        'This export workflow may not export instance i-0123456789abcdef0: it was not granted to the workflow. ' +
        'It carries none of the granted tags (vm-export=allowed, team=web). Grant it in the CDK app'),
    });
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeInstancesCommand, { InstanceIds: [INSTANCE] });
  });

  test('an instance EC2 does not know, with tag grants: refused, saying so', async () => {
    process.env[ENV_EXPORT_GRANTS] = '{"anyInstance":false,"instances":[],"tags":[{"key":"vm-export","value":"allowed"}]}';
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('InvalidInstanceID.NotFound', "The instance ID 'i-0123456789abcdef0' does not exist"));
    await expect(prepare(input, clients, 'eu-west-1')).rejects.toMatchObject({
      name: ERROR_INVALID_INPUT,
      message: expect.stringContaining('DescribeInstances does not know it in this account and region, so none of the granted tags (vm-export=allowed) apply.'),
    });
  });

  test('throttling while reading the tags is VmExport.Throttled (the workflow retries prepare), not a refusal', async () => {
    process.env[ENV_EXPORT_GRANTS] = '{"anyInstance":false,"instances":[],"tags":[{"key":"vm-export","value":"allowed"}]}';
    ec2Mock.on(DescribeInstancesCommand).rejects(awsError('RequestLimitExceeded', 'Request limit exceeded.'));
    await expect(prepare(input, clients, 'eu-west-1')).rejects.toMatchObject({ name: ERROR_THROTTLED });
  });
});

describe('prepare lets a granted instance through', () => {
  test('granted by id: no DescribeInstances call for the grant', async () => {
    process.env[ENV_EXPORT_GRANTS] = '{"anyInstance":false,"instances":["i-0fedcba9876543210","i-0123456789abcdef0"],"tags":[]}';
    await expect(prepare(input, clients, 'eu-west-1')).resolves.toMatchObject({ instanceId: INSTANCE });
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('granted by tag: the key compares case-insensitively, the value exactly (as IAM does)', async () => {
    process.env[ENV_EXPORT_GRANTS] = '{"anyInstance":false,"instances":[],"tags":[{"key":"vm-export","value":"allowed"}]}';
    instanceWithTags([{ Key: 'VM-Export', Value: 'allowed' }]);
    await expect(prepare(input, clients, 'eu-west-1')).resolves.toMatchObject({ instanceId: INSTANCE });
  });

  test('allowAnyInstance: every instance, no call', async () => {
    process.env[ENV_EXPORT_GRANTS] = '{"anyInstance":true,"instances":[],"tags":[]}';
    await expect(prepare({ ...input, instanceId: OTHER }, clients, 'eu-west-1')).resolves.toMatchObject({ instanceId: OTHER });
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  test('no grants variable at all (the handler outside the construct): allowed, IAM decides', async () => {
    await expect(prepare(input, clients, 'eu-west-1')).resolves.toMatchObject({ instanceId: INSTANCE });
  });

  test('with the preflight on, a granted instance goes on to the preflight', async () => {
    process.env[ENV_EXPORT_GRANTS] = '{"anyInstance":false,"instances":["i-0123456789abcdef0"],"tags":[]}';
    // The commercial default ID (SPEC section 1): eu-west-1 has no row of its own.
    mockExportableInstanceAndBucket(ec2Mock, s3Mock,
      { instanceId: INSTANCE, region: 'eu-west-1', canonicalId: 'c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322' });
    await expect(prepare({ ...input, preflight: true }, clients, 'eu-west-1')).resolves.toMatchObject({ instanceId: INSTANCE });
    expect(s3Mock).toHaveReceivedCommand(GetBucketAclCommand);
  });
});

describe('the grants document', () => {
  test('parses the construct\'s shape', () => {
    expect(parseExportGrants('{"anyInstance":false,"instances":["i-01234567"],"tags":[{"key":"k","value":"v"}]}')).toEqual({
      anyInstance: false,
      instances: ['i-01234567'],
      tags: [{ key: 'k', value: 'v' }],
      // A document without image grants (written before image export, or a workflow without one).
      anyImage: false,
      images: [],
    });
    expect(parseExportGrants(undefined)).toBeUndefined();
  });

  test.each([
    ['not JSON', '{', 'is not JSON'],
    ['a list', '[]', 'is not of the shape { anyInstance, instances, tags }'],
    ['no tags', '{"anyInstance":false,"instances":[]}', 'is not of the shape { anyInstance, instances, tags }'],
    ['a number as instance', '{"anyInstance":false,"instances":[1],"tags":[]}', 'lists an instance that is not a string'],
    ['a tag without value', '{"anyInstance":false,"instances":[],"tags":[{"key":"k"}]}', 'has a tag grant without a string key and value'],
  ])('refuses %s (never guesses): the check fails closed', async (_name, raw, why) => {
    expect(() => parseExportGrants(raw)).toThrow(
      `The export-task function's VM_EXPORT_GRANTS environment variable ${why}; the InstanceExportWorkflow construct writes it. ` +
      'Deploy the stack again instead of editing the function\'s configuration.');
    await expect(checkExportGrant(clients.ec2, INSTANCE, raw)).rejects.toThrow(why);
  });

  test('matchingTagGrant: key case-insensitive, value case-sensitive, any one grant is enough', () => {
    const grants = [{ key: 'team', value: 'web' }, { key: 'vm-export', value: 'allowed' }];
    expect(matchingTagGrant(grants, [{ Key: 'Team', Value: 'web' }])).toEqual({ key: 'team', value: 'web' });
    expect(matchingTagGrant(grants, [{ Key: 'team', Value: 'Web' }])).toBeUndefined();
    expect(matchingTagGrant(grants, [{ Key: 'other', Value: 'web' }, { Key: 'vm-export', Value: 'allowed' }])).toEqual({ key: 'vm-export', value: 'allowed' });
    expect(matchingTagGrant(grants, [])).toBeUndefined();
  });
});

describe('image grants (ImageExport, grantExportOfImage, allowAnyImage)', () => {
  const AMI = 'ami-0123456789abcdef0';
  const doc = (extra: Record<string, unknown>) => JSON.stringify({ anyInstance: false, instances: [], tags: [], ...extra });

  test('a granted AMI passes; another is refused with the grant to add', () => {
    expect(() => checkImageExportGrant(AMI, doc({ anyImage: false, images: [AMI] }))).not.toThrow();
    expect(() => checkImageExportGrant('ami-0fedcba9876543210', doc({ anyImage: false, images: [AMI] })))
      .toThrow(/may not export AMI ami-0fedcba9876543210[\s\S]*grantExportOfImage\('ami-0fedcba9876543210'\)[\s\S]*allowAnyImage/);
  });

  test('a document without image grants refuses every AMI (instance grants do not cover AMIs)', () => {
    expect(() => checkImageExportGrant(AMI, doc({ anyInstance: true }))).toThrow(/may not export AMI/);
  });

  test('allowAnyImage passes every AMI; no document (outside the construct) leaves the refusal to IAM', () => {
    expect(() => checkImageExportGrant(AMI, doc({ anyImage: true, images: [] }))).not.toThrow();
    expect(() => checkImageExportGrant(AMI, undefined)).not.toThrow();
  });

  test.each([
    [{ anyImage: 'yes' }],
    [{ images: 'ami-0123456789abcdef0' }],
    [{ images: [1] }],
  ])('a broken image part (%j) is refused, never guessed', (extra) => {
    expect(() => parseExportGrants(doc(extra))).toThrow(/anyImage that is not a boolean or images that are not a list of strings/);
  });
});
