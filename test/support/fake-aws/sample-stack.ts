/**
 * TEST CODE ONLY: synthesizes the stack the end-to-end tests deploy against the fake: one
 * VmExportBucket and one InstanceExport (plus outputs of its attributes), cached per option set.
 */
import { App, CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import { VmExportBucket } from '../../../src/bucket/vm-export-bucket';
import { ImageExport } from '../../../src/image-export/image-export';
import { InstanceExport } from '../../../src/instance-export/instance-export';
import { ContainerFormat, DiskImageFormat, TargetEnvironment } from '../../../src/workflow/export-formats';

export const SAMPLE_INSTANCE = 'i-0123456789abcdef0';
export const SAMPLE_ACCOUNT = '123456789012';
export const SAMPLE_IMAGE = 'ami-0123456789abcdef0';

export interface SampleStackOptions {
  /** null: environment-agnostic. @default 'us-east-1' */
  readonly region?: string | null;
  readonly target?: TargetEnvironment;
  readonly disk?: DiskImageFormat;
  readonly container?: ContainerFormat;
  readonly preflight?: boolean;
  readonly waitForCompletion?: boolean;
  readonly timeout?: Duration;
  readonly instanceId?: string;
  readonly deleteObjectOnDelete?: boolean;
  /** @default 'vms/' */
  readonly prefix?: string;
}

const cache = new Map<string, any>();

export function synthSampleStack(options: SampleStackOptions = {}): any {
  const key = JSON.stringify(options);
  const cached = cache.get(key);
  if (cached) return cached;
  const app = new App();
  const region = options.region === undefined ? 'us-east-1' : options.region;
  const stack = new Stack(app, 'E2eStack', region === null ? {} : { env: { account: SAMPLE_ACCOUNT, region } });
  const bucket = new VmExportBucket(stack, 'ExportBucket');
  const vm = new InstanceExport(stack, 'Export', {
    instanceId: options.instanceId ?? SAMPLE_INSTANCE,
    bucket,
    targetEnvironment: options.target ?? TargetEnvironment.VMWARE,
    diskImageFormat: options.disk,
    containerFormat: options.container,
    prefix: options.prefix ?? 'vms/',
    preflight: options.preflight,
    waitForCompletion: options.waitForCompletion,
    timeout: options.timeout,
    deleteObjectOnDelete: options.deleteObjectOnDelete,
  });
  new CfnOutput(stack, 'ImageKey', { value: vm.exportObjectKey });
  new CfnOutput(stack, 'ImageTaskId', { value: vm.exportTaskId });
  // The cloud assembly's template: Template.fromStack is far slower for the
  // environment-agnostic variant (about 20 s under jest).
  const template = app.synth().getStackArtifact(stack.artifactId).template;
  cache.set(key, template);
  return template;
}

export interface SampleImageStackOptions {
  readonly disk?: DiskImageFormat;
  readonly waitForCompletion?: boolean;
  readonly timeout?: Duration;
  readonly preflight?: boolean;
  readonly imageId?: string;
  readonly deleteObjectOnDelete?: boolean;
}

/** One VmExportBucket and one ImageExport `Golden` (prefix `golden/`), with outputs of its attributes. */
export function synthSampleImageStack(options: SampleImageStackOptions = {}): any {
  const key = `image:${JSON.stringify(options)}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const app = new App();
  const stack = new Stack(app, 'E2eImageStack', { env: { account: SAMPLE_ACCOUNT, region: 'us-east-1' } });
  const bucket = new VmExportBucket(stack, 'ExportBucket');
  const vm = new ImageExport(stack, 'Golden', {
    imageId: options.imageId ?? SAMPLE_IMAGE,
    bucket,
    prefix: 'golden/',
    diskImageFormat: options.disk,
    waitForCompletion: options.waitForCompletion,
    timeout: options.timeout,
    preflight: options.preflight,
    deleteObjectOnDelete: options.deleteObjectOnDelete,
  });
  new CfnOutput(stack, 'ImageKey', { value: vm.exportObjectKey });
  new CfnOutput(stack, 'ImageTaskId', { value: vm.exportImageTaskId });
  const template = app.synth().getStackArtifact(stack.artifactId).template;
  cache.set(key, template);
  return template;
}
