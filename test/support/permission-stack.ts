/**
 * TEST CODE ONLY: the stack the permission tests read (test/iam-*.test.ts): an owned bucket, an
 * imported one, an instance export and an image export that wait and one of each that does not
 * (with deleteObjectOnDelete), so that every role holds every permission any feature gives it.
 */
import { App, Stack } from 'aws-cdk-lib';
import { ImageExport, InstanceExport, TargetEnvironment, VmExportBucket } from '../../src';

/** The imported bucket's name. */
export const PERMISSION_STACK_IMPORTED_BUCKET = 'team-vm-exports';
/** The instance of the export that waits (the workflow starts it). */
export const PERMISSION_STACK_WAITING_INSTANCE = 'i-0123456789abcdef0';
/** The instance of the export that does not wait (the provider starts it). */
export const PERMISSION_STACK_NO_WAIT_INSTANCE = 'i-0fedcba9876543210';

/** The AMI of the image export that waits (the workflow starts it). */
export const PERMISSION_STACK_WAITING_IMAGE = 'ami-0123456789abcdef0';
/** The AMI of the image export that does not wait (the provider starts it), into the imported bucket under images/. */
export const PERMISSION_STACK_NO_WAIT_IMAGE = 'ami-0fedcba9876543210';

/** The stack, in `env` (environment-agnostic without one). */
export function buildPermissionStack(id: string, env?: { account: string; region: string }): Stack {
  const stack = new Stack(new App(), id, { env });
  const bucket = new VmExportBucket(stack, 'ExportBucket');
  const existing = VmExportBucket.fromBucketName(stack, 'Existing', PERMISSION_STACK_IMPORTED_BUCKET);
  new InstanceExport(stack, 'Web', { instanceId: PERMISSION_STACK_WAITING_INSTANCE, bucket, targetEnvironment: TargetEnvironment.VMWARE });
  new InstanceExport(stack, 'Db', {
    instanceId: PERMISSION_STACK_NO_WAIT_INSTANCE,
    bucket: existing,
    targetEnvironment: TargetEnvironment.CITRIX,
    waitForCompletion: false,
    deleteObjectOnDelete: true,
  });
  new ImageExport(stack, 'Golden', { imageId: PERMISSION_STACK_WAITING_IMAGE, bucket });
  new ImageExport(stack, 'Nightly', {
    imageId: PERMISSION_STACK_NO_WAIT_IMAGE,
    bucket: existing,
    prefix: 'images/',
    waitForCompletion: false,
    deleteObjectOnDelete: true,
  });
  return stack;
}

/** The stack's synthesized template (the cloud assembly's JSON). */
export function synthesizePermissionStack(id: string, env?: { account: string; region: string }): any {
  const stack = buildPermissionStack(id, env);
  return (stack.node.root as App).synth().getStackArtifact(stack.artifactId).template;
}
