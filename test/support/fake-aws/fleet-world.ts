/**
 * TEST CODE ONLY: a stack with a bucket, the export workflow and the fleet workflow, deployed
 * into a fresh fake on virtual time (test/e2e.fleet.test.ts, bench/fleet.ts): the synthesized
 * state machines registered, the bucket created and granted, the instances added, and the
 * export-task function's environment (its grants) set for the handlers that run in this process.
 */
import { App, Stack } from 'aws-cdk-lib';
import { LocalDeployment } from './deployment';
import { BUCKET, deliver } from './e2e-deploy';
import { FakeInstanceSpec } from './fake-ec2';
import { FakeExecution } from './fake-sfn';
import { createFakeAws, FakeAws, FakeAwsOptions } from './index';
import { onEvent as bucketGrantOnEvent } from '../../../lambda/bucket-grant';
import { ENV_EXPORT_GRANTS } from '../../../lambda/shared/contract';
import { InstanceExportFleet, InstanceExportWorkflow, VmExportBucket } from '../../../src';
import { ManagedTag } from '../documented-names';

export const FLEET_ACCOUNT = '123456789012';
export const HOUR = 3600;
/** The tag the fleet tests select and the default grant allows. */
export const FLEET_TAG = { key: 'vm-export', value: 'nightly' } as const;

/** `i-` and 17 hex digits from a number. */
export const instanceIdOf = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;

/** An instance carrying FLEET_TAG whose export completes after `seconds` (default 1 h). */
export function taggedInstance(n: number, extra: Partial<FakeInstanceSpec> = {}, seconds = HOUR): FakeInstanceSpec {
  return { instanceId: instanceIdOf(n), tags: { [FLEET_TAG.key]: FLEET_TAG.value }, exportBehaviour: { outcome: 'complete', afterSeconds: seconds }, ...extra };
}

export interface FleetWorld {
  readonly fake: FakeAws;
  readonly dep: LocalDeployment;
  /** The fleet state machine's ARN. */
  readonly fleetArn: string;
  /** The export workflow's state machine ARN. */
  readonly exportArn: string;
}

export interface FleetWorldOptions {
  /** Grants of the export workflow. @default allowInstancesTagged(FLEET_TAG) */
  readonly grants?: (workflow: InstanceExportWorkflow) => void;
  readonly instances: FakeInstanceSpec[];
  /** Options of the fake (virtualTime is always on). */
  readonly fake?: FakeAwsOptions;
}

/** Synthesizes the stack and deploys it into a fresh fake. */
export async function deployFleetWorld(options: FleetWorldOptions): Promise<FleetWorld> {
  const app = new App();
  const stack = new Stack(app, 'FleetStack', { env: { account: FLEET_ACCOUNT, region: 'us-east-1' } });
  new VmExportBucket(stack, 'ExportBucket');
  const workflow = InstanceExportWorkflow.of(stack);
  (options.grants ?? ((wf) => wf.allowInstancesTagged(FLEET_TAG.key, FLEET_TAG.value)))(workflow);
  InstanceExportFleet.of(stack);
  const template = app.synth().getStackArtifact(stack.artifactId).template;

  const fake = createFakeAws({ accountId: FLEET_ACCOUNT, ...options.fake, virtualTime: true });
  const bucketId = Object.keys(template.Resources).find((r) => template.Resources[r].Type === 'AWS::S3::Bucket')!;
  const dep = new LocalDeployment(fake, template, { bucketNames: { [bucketId]: BUCKET } });
  dep.createBuckets();
  dep.registerStateMachines();
  await deliver(dep.createEvent(dep.only('Custom::VmExportBucketGrant')), (e) => bucketGrantOnEvent(e, fake.clients('bucket-grant').s3));
  for (const instance of options.instances) fake.ec2.addInstance(instance);
  const fn = Object.values<any>(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.[ENV_EXPORT_GRANTS]);
  process.env[ENV_EXPORT_GRANTS] = fn.Properties.Environment.Variables[ENV_EXPORT_GRANTS];
  const machines = dep.logicalIdsOf('AWS::StepFunctions::StateMachine');
  const arnOf = (prefix: string) => String(dep.refs[machines.find((m) => m.startsWith(prefix))!]);
  return { fake, dep, fleetArn: arnOf('VmExportFleet'), exportArn: arnOf('VmExportWorkflow') };
}

/** Starts an execution of `stateMachineArn` (the fleet's by default). */
export function startExecution(w: FleetWorld, input: Record<string, unknown>, name: string, stateMachineArn = w.fleetArn): FakeExecution {
  const { executionArn } = w.fake.sfn.handle('StartExecution', { stateMachineArn, name, input: JSON.stringify(input) });
  return w.fake.sfn.execution(executionArn);
}

/** The executions of the export workflow (a fleet's children, or executions started directly). */
export function exportExecutions(w: FleetWorld): FakeExecution[] {
  return [...w.fake.sfn.executions.values()].filter((e) => e.stateMachineArn === w.exportArn);
}

/** The most export tasks of the library that were active at once (from the fake's task records). */
export function peakActiveExports(w: FleetWorld): number {
  const tasks = [...w.fake.ec2.tasks.values()].filter((t) => t.Tags.some((tag) => tag.Key === ManagedTag.KEY));
  const edges = tasks.flatMap((t) => [[t.createdAt, 1], [t.finishedAt ?? Infinity, -1]] as Array<[number, number]>)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let active = 0;
  let peak = 0;
  for (const [, delta] of edges) {
    active += delta;
    peak = Math.max(peak, active);
  }
  return peak;
}
