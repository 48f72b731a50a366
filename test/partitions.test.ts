/**
 * Partitions without a documented VM Import/Export canonical ID (AWS European Sovereign Cloud
 * `aws-eusc`, the isolated `aws-iso*` partitions): the library refuses to default the ID there.
 * At synth time when the stack's region is concrete; at deploy time (bucket grant handler) when
 * an environment-agnostic stack defaulted it; in the workflow's preflight when a direct start
 * gives no canonicalId.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { GetBucketAclCommand, S3Client } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { BUCKET, OWNER, OWNER_FULL_CONTROL, createEvent, props, updateEvent } from './bucket-grant.fixtures';
import { Errors } from './support/documented-names';
import { onEvent } from '../lambda/bucket-grant/index';
import { parseProperties, refuseGuessedCanonicalId } from '../lambda/bucket-grant/properties';
import { runPreflight } from '../lambda/shared/preflight';
import { VmExportBucket, VmExportCanonicalIds } from '../src';
import { partitionWithoutCanonicalId } from '../src/bucket/canonical-id-table';

/** Expected error names: the README's, copied in test/support/documented-names.ts. */
const { INVALID_INPUT: ERROR_INVALID_INPUT } = Errors;
const DEFAULT_ID = 'c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322';
const GIVEN_ID = 'ab'.repeat(32);

function stackIn(region?: string): Stack {
  return new Stack(new App(), 'Sovereign', region ? { env: { account: '123456789012', region } } : {});
}

/**
 * The properties of the stack's only Custom::VmExportBucketGrant, from the cloud assembly
 * (Template.fromStack takes seconds for an environment-agnostic stack's conditions).
 */
function grantProperties(stack: Stack): Record<string, any> {
  const template = (stack.node.root as App).synth().getStackArtifact(stack.artifactId).template;
  const grants = Object.values<any>(template.Resources).filter((r) => r.Type === 'Custom::VmExportBucketGrant');
  expect(grants).toHaveLength(1);
  return grants[0].Properties;
}

const UNDOCUMENTED: Array<[string, string]> = [
  ['eusc-de-east-1', 'aws-eusc'],
  ['us-iso-east-1', 'aws-iso'],
  ['us-iso-west-1', 'aws-iso'],
  ['us-isob-east-1', 'aws-iso-b'],
  ['eu-isoe-west-1', 'aws-iso-e'],
  ['us-isof-south-1', 'aws-iso-f'],
  // Not (yet) in aws-cdk-lib's region table: judged by the prefix.
  ['eusc-de-west-9', 'aws-eusc'],
  ['us-isob-west-9', 'aws-iso-b'],
];

describe('VmExportCanonicalIds in partitions without a documented ID', () => {
  test.each(UNDOCUMENTED)('forRegion(%s) refuses to return the commercial default (%s)', (region, partition) => {
    expect(() => VmExportCanonicalIds.forRegion(region)).toThrow(
      `VmExportCanonicalIds.forRegion('${region}'): region ${region} is in partition ${partition}, for which AWS documents no VM Import/Export canonical ID; ` +
      'the commercial default (c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322) is almost certainly wrong there and the library does not guess. ' +
      `Ask AWS for the VM Import/Export canonical ID of ${partition} and pass it as canonicalId (VmExportBucket, VmExportBucket.fromBucketName) instead of looking it up.`);
  });

  test('of() in a stack whose region is eusc-de-east-1 refuses too', () => {
    expect(() => VmExportCanonicalIds.of(stackIn('eusc-de-east-1'))).toThrow(/region eusc-de-east-1 is in partition aws-eusc/);
  });

  test.each(['us-east-1', 'cn-north-1', 'us-gov-west-1', 'xx-future-9', 'eu-south-1'])('%s is unaffected', (region) => {
    expect(VmExportCanonicalIds.forRegion(region)).toMatch(/^[0-9a-f]{64}$/);
  });

  test('the handlers\' prefix rule: only eusc-* and <xx>-iso<letter>-* regions', () => {
    expect(partitionWithoutCanonicalId('eusc-de-east-1')).toBe('aws-eusc');
    expect(partitionWithoutCanonicalId('us-iso-east-1')).toBe('aws-iso');
    expect(partitionWithoutCanonicalId('us-isof-east-1')).toBe('aws-iso-f');
    expect(partitionWithoutCanonicalId('eu-isoe-west-1')).toBe('aws-iso-e');
    for (const region of ['us-east-1', 'eu-south-1', 'cn-north-1', 'us-gov-east-1', 'ap-southeast-7', 'mx-central-1']) {
      expect([region, partitionWithoutCanonicalId(region)]).toEqual([region, undefined]);
    }
  });
});

describe('VmExportBucket in a concrete region of such a partition', () => {
  test.each(UNDOCUMENTED.slice(0, 6))('%s: no canonicalId is a synth error naming the partition and the fix', (region, partition) => {
    expect(() => new VmExportBucket(stackIn(region), 'ExportBucket')).toThrow(
      'Sovereign/ExportBucket: invalid properties:\n' +
      `- canonicalId is not set and region ${region} is in partition ${partition}, for which AWS documents no VM Import/Export canonical ID; ` +
      'the commercial default (c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322) is almost certainly wrong there and the library does not guess. ' +
      `Ask AWS for the VM Import/Export canonical ID of ${partition} and pass it as canonicalId.`);
  });

  test('the error is collected with the others', () => {
    expect(() => new VmExportBucket(stackIn('eusc-de-east-1'), 'ExportBucket', { bucketName: 'Bad_Name' }))
      .toThrow(/invalid properties:\n- canonicalId is not set and region eusc-de-east-1 is in partition aws-eusc[^\n]*\n- bucketName/);
  });

  test('fromBucketName refuses the default the same way', () => {
    expect(() => VmExportBucket.fromBucketName(stackIn('us-isob-east-1'), 'Existing', 'team-vm-exports')).toThrow(
      /Sovereign\/Existing: invalid properties:\n- canonicalId is not set and region us-isob-east-1 is in partition aws-iso-b/);
  });

  test('an explicit canonicalId is used as given', () => {
    const stack = stackIn('eusc-de-east-1');
    const bucket = new VmExportBucket(stack, 'ExportBucket', { canonicalId: GIVEN_ID });
    VmExportBucket.fromBucketName(stack, 'Existing', 'team-vm-exports', { canonicalId: GIVEN_ID });
    expect(bucket.canonicalId).toBe(GIVEN_ID);
    const grants = Object.values(Template.fromStack(stack).findResources('Custom::VmExportBucketGrant'));
    expect(grants.map((g) => [g.Properties.CanonicalId, g.Properties.CanonicalIdDefaulted])).toEqual([
      [GIVEN_ID, undefined],
      [GIVEN_ID, undefined],
    ]);
  });

  test('a commercial region keeps its template: no CanonicalIdDefaulted property', () => {
    const stack = stackIn('eu-west-1');
    new VmExportBucket(stack, 'ExportBucket');
    expect(grantProperties(stack).CanonicalId).toBe(DEFAULT_ID);
    expect(grantProperties(stack).CanonicalIdDefaulted).toBeUndefined();
  });
});

describe('an environment-agnostic stack: the deploy-time default stays, the grant handler decides', () => {
  test('a defaulted ID is marked CanonicalIdDefaulted; an explicit one is not', () => {
    const defaulted = stackIn();
    new VmExportBucket(defaulted, 'ExportBucket');
    expect(grantProperties(defaulted).CanonicalIdDefaulted).toBe('true');
    expect(grantProperties(defaulted).Partition).toEqual({ Ref: 'AWS::Partition' });

    const explicit = stackIn();
    new VmExportBucket(explicit, 'ExportBucket', { canonicalId: GIVEN_ID });
    expect(grantProperties(explicit).CanonicalIdDefaulted).toBeUndefined();

    const imported = stackIn();
    VmExportBucket.fromBucketName(imported, 'Existing', 'team-vm-exports');
    expect(grantProperties(imported).CanonicalIdDefaulted).toBe('true');
  });

  describe('the bucket grant handler', () => {
    const s3Mock = mockClient(S3Client);
    const s3 = new S3Client({ region: 'eusc-de-east-1' });
    beforeEach(() => {
      s3Mock.reset();
      s3Mock.on(GetBucketAclCommand).resolves({ Owner: OWNER, Grants: [OWNER_FULL_CONTROL] });
    });

    test.each(['aws-eusc', 'aws-iso', 'aws-iso-b', 'aws-iso-e', 'aws-iso-f'])('refuses a defaulted ID in %s on Create and Update, changing nothing', async (partition) => {
      const p = props({ Partition: partition, ExpectedRegion: 'eusc-de-east-1', CanonicalIdDefaulted: 'true' });
      const message = `Refusing to grant the default VM Import/Export canonical ID c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322 on bucket '${BUCKET}': ` +
        `the stack is deployed to partition ${partition}, for which AWS documents no VM Import/Export canonical ID, and the stack did not set one ` +
        '(the commercial default is almost certainly wrong there). Ask AWS for the canonical ID of this partition and pass it as canonicalId to VmExportBucket (or VmExportBucket.fromBucketName).';
      await expect(onEvent(createEvent(p), s3)).rejects.toThrow(message);
      await expect(onEvent(updateEvent(p, p), s3)).rejects.toThrow(message);
      expect(s3Mock.calls()).toHaveLength(0);
    });

    test('lets a defaulted ID through in the commercial partition, and an explicit ID in aws-eusc', () => {
      expect(() => refuseGuessedCanonicalId(parseProperties({ ...props({ CanonicalIdDefaulted: 'true' }) }))).not.toThrow();
      expect(() => refuseGuessedCanonicalId(parseProperties({ ...props({ Partition: 'aws-eusc', CanonicalId: GIVEN_ID }) }))).not.toThrow();
      // The stack's template without the marker (a concrete region, or an older version of the library).
      expect(() => refuseGuessedCanonicalId(parseProperties({ ...props({ Partition: 'aws-eusc' }) }))).not.toThrow();
    });

    test('Delete is never refused: reading the properties of a refused grant works', () => {
      const settings = parseProperties({ ...props({ Partition: 'aws-eusc', CanonicalIdDefaulted: 'true' }) });
      expect(settings).toMatchObject({ partition: 'aws-eusc', canonicalIdDefaulted: true, canonicalId: DEFAULT_ID });
    });
  });
});

describe('a workflow started directly in such a region without canonicalId', () => {
  test('the preflight fails with VmExport.InvalidInput before any call, naming the fix', async () => {
    const ec2Mock = mockClient(EC2Client);
    const s3Mock = mockClient(S3Client);
    const target = { instanceId: 'i-0123456789abcdef0', s3Bucket: 'exports' };
    await expect(runPreflight(new EC2Client({}), new S3Client({}), target, 'eusc-de-east-1')).rejects.toMatchObject({
      name: ERROR_INVALID_INPUT,
      message: 'canonicalId is required in region eusc-de-east-1: AWS documents no VM Import/Export canonical ID for partition aws-eusc, ' +
        'so the preflight cannot tell which grant the bucket needs. Pass the ID AWS gives for this partition as canonicalId in the input ' +
        '(the one the bucket grants), or set preflight to false.',
    });
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(s3Mock.calls()).toHaveLength(0);
    ec2Mock.restore();
    s3Mock.restore();
  });
});
