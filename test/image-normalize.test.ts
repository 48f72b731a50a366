/**
 * normalizeImageRequest: the defaults of an image export, every rule just inside and just outside
 * its limit, the instance-only keys, and every problem of an input reported at once.
 */
import { Errors } from './support/documented-names';
import { TAG_CLIENT_TOKEN, TAG_EXPORT_HASH, TAG_MANAGED } from '../lambda/shared/contract';
import { ImageWorkflowInput } from '../lambda/shared/image-contract';
import { DOCUMENTED_IMAGE_INPUT_KEYS, imageObjectExtension, normalizeImageRequest } from '../lambda/shared/image-normalize';

const IMAGE = 'ami-0123456789abcdef0';
const BUCKET = 'my-exports';
const base: ImageWorkflowInput = { imageId: IMAGE, s3Bucket: BUCKET };

/** The error normalizeImageRequest throws for an input (fails the test when it throws none). */
function errorFor(input: unknown): Error {
  try {
    normalizeImageRequest(input as ImageWorkflowInput, () => 'token');
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected VmExport.InvalidInput');
}

function ok(extra: Record<string, unknown>) {
  return normalizeImageRequest({ ...base, ...extra } as ImageWorkflowInput, () => 'fresh-token');
}

describe('defaults', () => {
  test('a minimal input gets VMDK, vmimport, exports/, 6 h, a fresh token and no optional keys', () => {
    expect(normalizeImageRequest(base, () => 'fresh-token')).toEqual({
      kind: 'image',
      imageId: IMAGE,
      diskImageFormat: 'VMDK',
      roleName: 'vmimport',
      s3Bucket: BUCKET,
      s3Prefix: 'exports/',
      tags: [],
      deadlineSeconds: 21600,
      clientToken: 'fresh-token',
      objectExtension: '.vmdk',
    });
  });

  test('every documented and internal key is kept', () => {
    const stackId = 'arn:aws:cloudformation:eu-west-1:111122223333:stack/my-stack/0a1b2c3d-0000-1111-2222-333344445555';
    const hash = 'a'.repeat(64);
    const r = ok({
      diskImageFormat: 'raw',
      roleName: 'my-export-role',
      s3Prefix: 'vms/',
      description: 'nightly',
      tags: [{ Key: 'team', Value: 'infra' }],
      deadlineSeconds: 3600,
      preflight: false,
      clientToken: 'tok',
      exportHash: 'h1',
      adoptExportTaskId: 'export-ami-0123456789abcdef0',
      completedExportS3Key: 'vms/export-ami-0123456789abcdef0.raw',
      waitConditionStackId: stackId,
      waitConditionHandleLogicalId: 'Handle1',
      waitConditionHandleHash: hash,
    });
    expect(r).toEqual({
      kind: 'image',
      imageId: IMAGE,
      diskImageFormat: 'RAW',
      roleName: 'my-export-role',
      s3Bucket: BUCKET,
      s3Prefix: 'vms/',
      description: 'nightly',
      tags: [{ Key: 'team', Value: 'infra' }],
      deadlineSeconds: 3600,
      clientToken: 'tok',
      exportHash: 'h1',
      adoptExportTaskId: 'export-ami-0123456789abcdef0',
      completedExportS3Key: 'vms/export-ami-0123456789abcdef0.raw',
      waitConditionStackId: stackId,
      waitConditionHandleLogicalId: 'Handle1',
      waitConditionHandleHash: hash,
      objectExtension: '.raw',
    });
  });

  test('the documented keys are the README\'s image column', () => {
    expect([...DOCUMENTED_IMAGE_INPUT_KEYS].sort()).toEqual(
      ['clientToken', 'deadlineSeconds', 'description', 'diskImageFormat', 'imageId', 'preflight', 'roleName', 's3Bucket', 's3Prefix', 'tags'].sort());
  });
});

describe('imageId', () => {
  test.each(['ami-12345678', 'ami-0123456789abcdef0'])('%s (8 or 17 hex) is accepted', (imageId) => {
    expect(ok({ imageId }).imageId).toBe(imageId);
  });

  test.each(['ami-1234567', 'ami-123456789', 'ami-0123456789abcdef', 'ami-0123456789ABCDEF0', 'i-0123456789abcdef0'])('%s is refused, naming the value and the form', (imageId) => {
    const err = errorFor({ ...base, imageId });
    expect(err.name).toBe(Errors.INVALID_INPUT);
    expect(err.message).toContain(`imageId '${imageId}' is not an AMI id: use ami- followed by 8 or 17 lower-case hex characters`);
  });

  test('a missing imageId is required', () => {
    expect(errorFor({ s3Bucket: BUCKET }).message).toContain('imageId is required: pass the id of an AMI owned by this account');
  });
});

describe('diskImageFormat', () => {
  test.each([['vmdk', 'VMDK', '.vmdk'], ['Vhd', 'VHD', '.vhd'], ['RAW', 'RAW', '.raw'], ['raw', 'RAW', '.raw']])('%s is stored as %s with %s', (given, stored, ext) => {
    const r = ok({ diskImageFormat: given });
    expect(r.diskImageFormat).toBe(stored);
    expect(r.objectExtension).toBe(ext);
  });

  test('an empty format takes the default VMDK', () => {
    expect(ok({ diskImageFormat: '' }).diskImageFormat).toBe('VMDK');
  });

  test('an unknown format is refused with the three the API takes', () => {
    expect(errorFor({ ...base, diskImageFormat: 'qcow2' }).message)
      .toContain('diskImageFormat \'qcow2\' is not supported by ExportImage: use VMDK, VHD, RAW.');
  });

  test('ova is refused as instance export\'s container', () => {
    expect(errorFor({ ...base, diskImageFormat: 'ova' }).message)
      .toContain('diskImageFormat \'ova\' is not supported by ExportImage (OVA is a container of instance export; ExportImage writes a bare VMDK)');
  });

  test('imageObjectExtension is the lower-case format', () => {
    expect(imageObjectExtension('VHD')).toBe('.vhd');
  });
});

describe('roleName', () => {
  test('a 64-character name is accepted, 65 characters are not', () => {
    expect(ok({ roleName: 'r'.repeat(64) }).roleName).toBe('r'.repeat(64));
    expect(errorFor({ ...base, roleName: 'r'.repeat(65) }).message).toContain('is not an IAM role name: use 1 to 64 letters, digits and + = , . @ _ -');
  });

  test('the characters IAM allows are accepted', () => {
    expect(ok({ roleName: 'a+b=c,d.e@f_g-h' }).roleName).toBe('a+b=c,d.e@f_g-h');
  });

  test('an ARN is refused with the name to pass instead', () => {
    const message = errorFor({ ...base, roleName: 'arn:aws:iam::111122223333:role/service/my-export-role' }).message;
    expect(message).toContain('roleName \'arn:aws:iam::111122223333:role/service/my-export-role\' is a role ARN: ExportImage takes the role\'s NAME');
    expect(message).toContain('e.g. \'my-export-role\'');
  });

  test('a path is refused', () => {
    expect(errorFor({ ...base, roleName: 'service/vmimport' }).message).toContain('roleName \'service/vmimport\' is not an IAM role name');
  });

  test('an empty name takes the default vmimport', () => {
    expect(ok({ roleName: '' }).roleName).toBe('vmimport');
  });
});

describe('instance-only and unknown keys', () => {
  test.each([
    ['instanceId', 'i-0123456789abcdef0', 'an input exports either an instance (instanceId) or an AMI (imageId), not both: start one execution per export'],
    ['targetEnvironment', 'vmware', 'ExportImage takes no target environment, only diskImageFormat (VMDK, VHD or RAW)'],
    ['containerFormat', 'ova', 'ExportImage writes a bare disk image, never an OVA container'],
    ['canonicalId', 'c'.repeat(64), 'ExportImage writes through the service role (roleName), not through a bucket ACL grant to a canonical ID'],
  ])('%s is refused as belonging to instance export', (key, value, why) => {
    const message = errorFor({ ...base, [key]: value }).message;
    expect(message).toContain(`${key} belongs to instance export, not to image export (imageId): ${why}; drop ${key}.`);
    expect(message).not.toContain('unknown input field');
  });

  test('all four instance keys are reported at once', () => {
    const message = errorFor({ ...base, instanceId: 'i-0123456789abcdef0', targetEnvironment: 'vmware', containerFormat: 'ova', canonicalId: 'x' }).message;
    expect(message.match(/belongs to instance export/g)).toHaveLength(4);
  });

  test('an unknown key is named with the nearest valid one and the list of valid fields', () => {
    const message = errorFor({ ...base, imageid: IMAGE, deadline: 60, colour: 'red' }).message;
    expect(message).toContain('unknown input fields \'imageid\' (did you mean \'imageId\'?), \'deadline\' (did you mean \'deadlineSeconds\'?), \'colour\'');
    expect(message).toContain(`The valid fields of an image export are ${DOCUMENTED_IMAGE_INPUT_KEYS.join(', ')}.`);
  });

  test('the key Step Functions adds to a child execution is not unknown', () => {
    expect(ok({ AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: 'arn:aws:states:eu-west-1:111122223333:execution:sm:x' }).imageId).toBe(IMAGE);
  });

  test('an input that is not an object is refused', () => {
    expect(errorFor(['ami-0123456789abcdef0']).message).toContain('the input must be a JSON object of the documented fields');
  });

  test('a field that is not a string is refused with its value', () => {
    expect(errorFor({ ...base, roleName: 42 }).message).toContain('roleName must be a string, got 42.');
  });
});

describe('s3Bucket and s3Prefix', () => {
  test('a missing bucket is required; an ARN is not a name', () => {
    expect(errorFor({ imageId: IMAGE }).message).toContain('s3Bucket is required');
    expect(errorFor({ ...base, s3Bucket: 'arn:aws:s3:::b' }).message).toContain('s3Bucket \'arn:aws:s3:::b\' is not a valid bucket name');
  });

  test('\'\' is the bucket\'s root; a prefix must end with / and not start with it', () => {
    expect(ok({ s3Prefix: '' }).s3Prefix).toBe('');
    expect(errorFor({ ...base, s3Prefix: 'vms' }).message).toContain('s3Prefix \'vms\' must end with \'/\'');
    expect(errorFor({ ...base, s3Prefix: '/vms/' }).message).toContain('s3Prefix \'/vms/\' must not start with \'/\'');
  });

  test('a prefix with a character the wait condition cannot carry is refused', () => {
    expect(errorFor({ ...base, s3Prefix: 'a|b/' }).message).toContain('s3Prefix \'a|b/\' contains \'|\'');
  });

  // The key is prefix + 'export-ami-' + 17 hex (28 characters) + extension, at most 1024 bytes.
  test('VMDK: a 991-byte prefix fits (1024 bytes), 992 bytes do not', () => {
    expect(ok({ s3Prefix: 'p'.repeat(990) + '/' }).s3Prefix).toHaveLength(991);
    expect(errorFor({ ...base, s3Prefix: 'p'.repeat(991) + '/' }).message)
      .toContain('s3Prefix is too long: the object key (prefix + 28-character task id + \'.vmdk\') would take 1025 bytes, S3 allows 1024; shorten the prefix by 1 bytes.');
  });

  test('RAW has a shorter extension: a 992-byte prefix fits', () => {
    expect(ok({ diskImageFormat: 'RAW', s3Prefix: 'p'.repeat(991) + '/' }).s3Prefix).toHaveLength(992);
    expect(errorFor({ ...base, diskImageFormat: 'RAW', s3Prefix: 'p'.repeat(992) + '/' }).message).toContain('would take 1025 bytes');
  });

  test('the limit counts bytes, not characters', () => {
    expect(errorFor({ ...base, s3Prefix: 'é'.repeat(496) + '/' }).message).toContain('would take 1026 bytes');
  });
});

describe('description, deadline, tags, client token', () => {
  test('a 255-character description is accepted, 256 are not', () => {
    expect(ok({ description: 'd'.repeat(255) }).description).toHaveLength(255);
    expect(errorFor({ ...base, description: 'd'.repeat(256) }).message).toContain('description has 256 characters, ExportImage takes at most 255: shorten it.');
  });

  test.each([60, 604800, '120'])('deadlineSeconds %p is accepted', (deadlineSeconds) => {
    expect(ok({ deadlineSeconds }).deadlineSeconds).toBe(Number(deadlineSeconds));
  });

  test.each([59, 604801, 90.5, 'soon'])('deadlineSeconds %p is refused with the range', (deadlineSeconds) => {
    expect(errorFor({ ...base, deadlineSeconds }).message).toContain('is out of range: use a whole number of seconds between 60 and 604800');
  });

  test('47 tags are accepted, 48 are not', () => {
    const tags = (n: number) => Array.from({ length: n }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    expect(ok({ tags: tags(47) }).tags).toHaveLength(47);
    expect(errorFor({ ...base, tags: tags(48) }).message).toContain('tags has 48 entries, at most 47 are allowed');
  });

  test.each([TAG_CLIENT_TOKEN, TAG_EXPORT_HASH, TAG_MANAGED, 'aws:cloudformation:stack-id', 'AWS:x'])('the tag key %s is reserved', (Key) => {
    expect(errorFor({ ...base, tags: [{ Key, Value: 'v' }] }).message).toContain(`tags: the key '${Key}' is reserved`);
  });

  test('a tag that is not a { Key, Value } pair of strings is refused, and tags that are not a list', () => {
    expect(errorFor({ ...base, tags: [{ Key: 'k' }] }).message).toContain('tags: {"Key":"k"} is not a { Key, Value } pair of strings.');
    expect(errorFor({ ...base, tags: { k: 'v' } }).message).toContain('tags must be a list of { Key, Value }');
  });

  test('a 256-character client token is kept, 257 are refused', () => {
    expect(ok({ clientToken: 't'.repeat(256) }).clientToken).toHaveLength(256);
    expect(errorFor({ ...base, clientToken: 't'.repeat(257) }).message).toContain('clientToken is longer than 256 characters');
  });
});

describe('internal keys', () => {
  test('adoptExportTaskId must be an image task id', () => {
    expect(ok({ adoptExportTaskId: 'export-ami-1' }).adoptExportTaskId).toBe('export-ami-1');
    const message = errorFor({ ...base, adoptExportTaskId: 'export-i-0123456789abcdef0' }).message;
    expect(message).toContain('adoptExportTaskId \'export-i-0123456789abcdef0\' is not an image export task id: use export-ami- followed by 1 to 64 letters or digits');
  });

  test('completedExportS3Key needs adoptExportTaskId', () => {
    expect(errorFor({ ...base, completedExportS3Key: 'exports/export-ami-1.vmdk' }).message)
      .toContain('completedExportS3Key is only valid with adoptExportTaskId');
  });

  test('the wait condition keys go together, as for instance export', () => {
    expect(errorFor({ ...base, waitConditionHandleLogicalId: 'Handle' }).message)
      .toContain('waitConditionStackId, waitConditionHandleLogicalId and waitConditionHandleHash go together');
  });
});

test('every problem of an input is reported at once, in one VmExport.InvalidInput', () => {
  // The message is cut at 1000 characters (a Step Functions cause): seven problems fit.
  const err = errorFor({
    imageId: 'ami-x',
    diskImageFormat: 'qcow2',
    roleName: 'arn:aws:iam::111122223333:role/r',
    s3Prefix: 'vms',
    description: 'd'.repeat(256),
    deadlineSeconds: 1,
  });
  expect(err.name).toBe(Errors.INVALID_INPUT);
  expect(err.message.startsWith('Invalid input for the image export: ')).toBe(true);
  expect(err.message).not.toContain('[...]');
  for (const part of ['imageId \'ami-x\'', 'diskImageFormat \'qcow2\'', 'is a role ARN', 's3Bucket is required', 's3Prefix \'vms\' must end with',
    'description has 256', 'deadlineSeconds 1 is out of range']) {
    expect(err.message).toContain(part);
  }
});

test('instance keys and unknown keys are reported with the other problems', () => {
  const message = errorFor({ ...base, instanceId: 'i-0123456789abcdef0', extra: 1, diskImageFormat: 'qcow2' }).message;
  expect(message).toContain('unknown input field \'extra\'');
  expect(message).toContain('instanceId belongs to instance export');
  expect(message).toContain('diskImageFormat \'qcow2\'');
});

test('the error names the AMI when its id is valid', () => {
  expect(errorFor({ ...base, diskImageFormat: 'x' }).message.startsWith(`Invalid input for the export of ${IMAGE}: `)).toBe(true);
});
