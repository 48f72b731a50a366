/**
 * WorkflowImageExportInputs: the typed input of an image export started from a pipeline, a
 * schedule or another state machine; what it writes is what the workflow's first step accepts.
 */
import { App, Duration, Stack, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { ContextAttribute } from 'aws-cdk-lib/aws-scheduler';
import { normalizeImageRequest } from '../lambda/shared/image-normalize';
import { DiskImageFormat, WorkflowImageExportInput, WorkflowImageExportInputs } from '../src';

const input: WorkflowImageExportInput = {
  imageId: 'ami-0123456789abcdef0',
  s3Bucket: 'my-exports',
  diskImageFormat: DiskImageFormat.RAW,
  roleName: 'vmimport',
  s3Prefix: 'nightly/',
  description: 'nightly',
  tags: { team: 'ops' },
  deadline: Duration.hours(2),
  preflight: true,
  clientToken: 'nightly-2026-12-01',
};

test('toObject writes the README\'s image keys, and the workflow\'s first step accepts them as they are', () => {
  const object = WorkflowImageExportInputs.toObject(input);
  expect(object).toEqual({
    imageId: 'ami-0123456789abcdef0',
    s3Bucket: 'my-exports',
    diskImageFormat: 'RAW',
    roleName: 'vmimport',
    s3Prefix: 'nightly/',
    description: 'nightly',
    tags: [{ Key: 'team', Value: 'ops' }],
    deadlineSeconds: 7200,
    preflight: true,
    clientToken: 'nightly-2026-12-01',
  });
  expect(normalizeImageRequest(object as never)).toMatchObject({ kind: 'image', imageId: input.imageId, diskImageFormat: 'RAW', deadlineSeconds: 7200, objectExtension: '.raw' });
  // Unset optional keys are left out (the workflow applies its defaults).
  expect(WorkflowImageExportInputs.toObject({ imageId: input.imageId, s3Bucket: 'b-1' })).toEqual({ imageId: input.imageId, s3Bucket: 'b-1' });
});

test('every problem known at synth at once, each naming the value and the fix', () => {
  expect(() => WorkflowImageExportInputs.toObject({
    imageId: 'i-0123456789abcdef0',
    s3Bucket: 'b-1',
    roleName: 'arn:aws:iam::123456789012:role/vmimport',
    s3Prefix: 'nightly',
    description: 'd'.repeat(256),
    deadline: Duration.days(8),
    tags: { 'aws:x': 'y' },
  })).toThrow(new RegExp([
    'imageId \'i-0123456789abcdef0\' is not an AMI id',
    'roleName \'arn:aws:iam::123456789012:role/vmimport\' is not an IAM role name: ExportImage takes the role\'s NAME',
    's3Prefix \'nightly\' does not end with \'/\'',
    'description is 256 characters long',
    'deadline is 8 days',
    'tags has the key \'aws:x\'',
  ].join('[\\s\\S]*')));
  expect(() => WorkflowImageExportInputs.toObject({ s3Bucket: 'b-1' } as never)).toThrow(/imageId is required/);
});

test('tokens and placeholders are left to the workflow; each way of starting gets the same keys', () => {
  const stack = new Stack(new App(), 'S');
  const fromState = WorkflowImageExportInputs.toTaskInput({ ...input, imageId: sfn.JsonPath.stringAt('$.latest.imageId') });
  expect(stack.resolve(sfn.FieldUtils.renderObject(fromState.value))).toMatchObject({ 'imageId.$': '$.latest.imageId', 'roleName': 'vmimport', 'deadlineSeconds': 7200 });
  const fromSchedule = WorkflowImageExportInputs.toScheduleTargetInput({ ...input, clientToken: ContextAttribute.executionId });
  expect(JSON.parse(stack.resolve(fromSchedule.bind(stack as never)))).toMatchObject({ clientToken: '<aws.scheduler.execution-id>', imageId: input.imageId });
  expect(JSON.parse(WorkflowImageExportInputs.toStateMachineInput(input).input)).toEqual(WorkflowImageExportInputs.toObject(input));
});
