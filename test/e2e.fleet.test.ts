/**
 * End to end, the fleet workflow (InstanceExportFleet) in the local simulation on virtual time:
 * the SYNTHESIZED fleet and export state machines run in aws-local-stepfunctions, the fleet's
 * children through the `.sync:2` integration of the fake Step Functions, EC2 and S3 answered by
 * the fakes, the export-task handlers called in this process.
 */
import './setup/with-resolvers';
import { Duration } from 'aws-cdk-lib';
import { ENV_EXPORT_GRANTS } from '../lambda/shared/contract';
import { FleetExportInputs, TargetEnvironment } from '../src';
import { Errors, FleetErrors, FLEET_FINISHED } from './support/documented-names';
import { FakeExecution } from './support/fake-aws';
import { BUCKET } from './support/fake-aws/e2e-deploy';
import {
  deployFleetWorld,
  exportExecutions,
  FLEET_TAG,
  FleetWorld,
  HOUR,
  instanceIdOf,
  peakActiveExports,
  startExecution,
  taggedInstance,
} from './support/fake-aws/fleet-world';

const SETTINGS = { targetEnvironment: TargetEnvironment.VMWARE, s3Bucket: BUCKET, s3Prefix: 'nightly/' };
const id = instanceIdOf;

function startFleet(f: FleetWorld, input: Record<string, unknown>): FakeExecution {
  return startExecution(f, input, 'nightly');
}

function fleetEvents(f: FleetWorld): any[] {
  return f.fake.publishedEvents.filter((e) => e.DetailType === FLEET_FINISHED).map((e) => JSON.parse(e.Detail));
}

beforeAll(() => {
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
});

afterEach(() => {
  delete process.env[ENV_EXPORT_GRANTS];
});

test('a list: every instance exported, at most maxConcurrentExports at once, no Lambda while waiting', async () => {
  const f = await deployFleetWorld({ instances: [1, 2, 3, 4, 5].map((n) => taggedInstance(n)) });
  const fleet = startFleet(f, FleetExportInputs.toObject({ ...SETTINGS, instanceIds: [1, 2, 3, 4, 5].map(id), maxConcurrentExports: 2 }));
  await f.fake.settle();

  expect([fleet.status, fleet.error, fleet.cause]).toEqual(['SUCCEEDED', undefined, undefined]);
  const output = fleet.output as any;
  expect(output).toMatchObject({ status: 'SUCCEEDED', fleetExecutionArn: fleet.executionArn, total: 5, succeeded: 5, failed: 0 });
  expect(output.instances.map((i: any) => i.instanceId).sort()).toEqual([1, 2, 3, 4, 5].map(id));
  for (const instance of output.instances) {
    expect(instance).toMatchObject({ status: 'SUCCEEDED', s3Uri: expect.stringMatching(/^s3:\/\/.+\/nightly\/export-i-[0-9a-f]{17}\.ova$/) });
    expect([...f.fake.s3.bucket(BUCKET).objects.keys()]).toContain(instance.s3Key);
  }
  // Two at a time: 5 one-hour exports take 3 rounds (the floor), plus the polls' granularity.
  expect(peakActiveExports(f)).toBe(2);
  expect(f.fake.world.clock.now).toBeGreaterThanOrEqual(3 * HOUR);
  expect(f.fake.world.clock.now).toBeLessThan(3 * HOUR * 1.05);
  // Each child: Prepare, StartExport, Finish; the fleet: PrepareFleet, FinishFleet. Nothing else.
  for (const child of exportExecutions(f)) {
    expect(child.status).toBe('SUCCEEDED');
    expect(child.name).toMatch(/^fleet-[0-9a-f]{16}-i-[0-9a-f]{17}$/);
    expect(child.result!.lambdaInvocations).toBe(3);
  }
  expect(fleet.result!.lambdaInvocations).toBe(2);
  expect(fleetEvents(f)).toEqual([output]);
});

test('tag filters over several pages: the tagged instances that can be exported, each once', async () => {
  const instances = [
    ...Array.from({ length: 23 }, (_, i) => taggedInstance(i + 1, { exportBehaviour: { outcome: 'complete', afterSeconds: 600 } })),
    { instanceId: id(100), tags: { [FLEET_TAG.key]: 'weekly' } },
    { instanceId: id(101) },
    taggedInstance(102, { state: 'terminated' }),
  ];
  const f = await deployFleetWorld({ instances });
  const byTag = { [FLEET_TAG.key]: FLEET_TAG.value };
  const fleet = startFleet(f, FleetExportInputs.toObject({ ...SETTINGS, instanceTags: byTag, maxConcurrentExports: 5 }));
  await f.fake.settle();

  expect(fleet.status).toBe('SUCCEEDED');
  expect(fleet.result!.entered('ListInstances')).toBe(1);
  // 24 instances carry the tag; the terminated one is filtered out: 23 in pages of 10.
  expect(fleet.result!.entered('ListMoreInstances')).toBe(2);
  const listing = f.fake.world.callsOf({ service: 'ec2', operation: 'DescribeInstances' }).filter((c) => c.input.Filters);
  expect(listing[0].input.Filters).toEqual([
    { Name: 'tag:vm-export', Values: ['nightly'] },
    { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
  ]);
  const exported = (fleet.output as any).instances.map((i: any) => i.instanceId).sort();
  expect(exported).toEqual(Array.from({ length: 23 }, (_, i) => id(i + 1)).sort());
  expect(peakActiveExports(f)).toBe(5);
});

test('filters that match more than 100 instances stop the listing early: VmExport.InvalidInput, nothing started', async () => {
  const f = await deployFleetWorld({ instances: Array.from({ length: 135 }, (_, i) => taggedInstance(i + 1)) });
  const fleet = startFleet(f, FleetExportInputs.toObject({ ...SETTINGS, instanceTags: { [FLEET_TAG.key]: FLEET_TAG.value } }));
  await f.fake.settle();
  expect(fleet.error).toBe(Errors.INVALID_INPUT);
  expect(fleet.cause).toContain('The instance filters matched more than 100 instances (110 listed when the listing stopped)');
  // 11 pages of 10, not 14.
  expect(fleet.result!.entered('ListMoreInstances')).toBe(10);
  expect(exportExecutions(f)).toEqual([]);
  expect(fleetEvents(f)).toEqual([expect.objectContaining({ status: 'FAILED', errorName: Errors.INVALID_INPUT, total: 0 })]);
});

test('a fleet whose filters match nothing succeeds with no instance', async () => {
  const f = await deployFleetWorld({ instances: [{ instanceId: id(1) }] });
  const fleet = startFleet(f, FleetExportInputs.toObject({ ...SETTINGS, instanceTags: { [FLEET_TAG.key]: FLEET_TAG.value } }));
  await f.fake.settle();
  expect(fleet.status).toBe('SUCCEEDED');
  expect(fleet.output).toMatchObject({ total: 0, instances: [] });
  expect(exportExecutions(f)).toEqual([]);
});

test('a partial failure: every instance tried, the fleet fails with a summary naming each failure', async () => {
  const f = await deployFleetWorld({
    grants: (wf) => [1, 2, 3, 4].forEach((n) => wf.grantExportOf(id(n))),
    instances: [
      taggedInstance(1),
      taggedInstance(2, { volumeCount: 2 }), // the preflight refuses it
      taggedInstance(3, { exportBehaviour: { outcome: 'cancel', afterSeconds: 1800, statusMessage: 'conversion failed' } }),
      taggedInstance(4),
      taggedInstance(5), // not granted: refused before anything starts
    ],
  });
  const fleet = startFleet(f, FleetExportInputs.toObject({ ...SETTINGS, instanceIds: [1, 2, 3, 4, 5].map(id) }));
  await f.fake.settle();

  expect(fleet.status).toBe('FAILED');
  expect(fleet.error).toBe(FleetErrors.FLEET_FAILED);
  expect(fleet.cause).toMatch(/^3 of 5 instance exports failed: /);
  const byId = Object.fromEntries(fleetEvents(f)[0].instances.map((i: any) => [i.instanceId, i]));
  expect(byId[id(1)]).toMatchObject({ status: 'SUCCEEDED' });
  expect(byId[id(4)]).toMatchObject({ status: 'SUCCEEDED' });
  expect(byId[id(2)]).toMatchObject({ status: 'FAILED', errorName: Errors.PREFLIGHT_FAILED, reason: expect.stringContaining('volume') });
  expect(byId[id(3)]).toMatchObject({ status: 'FAILED', errorName: Errors.EXPORT_FAILED, reason: expect.stringContaining('conversion failed') });
  expect(byId[id(5)]).toMatchObject({ status: 'FAILED', errorName: Errors.INVALID_INPUT });
  for (const n of [2, 3, 5]) expect(fleet.cause).toContain(`${id(n)} (${byId[id(n)].errorName}: `);
  // The refused instance never got a task.
  expect([...f.fake.ec2.tasks.values()].filter((t) => t.InstanceExportDetails.InstanceId === id(5))).toEqual([]);
});

test('a deadline in one child: that export is cancelled, the others complete', async () => {
  const f = await deployFleetWorld({ instances: [taggedInstance(1), taggedInstance(2, { exportBehaviour: { outcome: 'never' } }), taggedInstance(3)] });
  const fleet = startFleet(f, FleetExportInputs.toObject({ ...SETTINGS, instanceIds: [1, 2, 3].map(id), deadline: Duration.hours(2) }));
  await f.fake.settle();

  expect(fleet.error).toBe(FleetErrors.FLEET_FAILED);
  const outcomes = fleetEvents(f)[0].instances;
  expect(outcomes.filter((i: any) => i.status === 'SUCCEEDED').map((i: any) => i.instanceId).sort()).toEqual([id(1), id(3)]);
  expect(outcomes.find((i: any) => i.instanceId === id(2))).toMatchObject({ errorName: Errors.DEADLINE_PASSED });
  const stuck = [...f.fake.ec2.tasks.values()].find((t) => t.InstanceExportDetails.InstanceId === id(2))!;
  expect(stuck.State).toBe('cancelled');
});

test('slots held by exports outside the fleet: the children wait for them with no Lambda, then start at once', async () => {
  const f = await deployFleetWorld({ instances: [1, 2].map((n) => taggedInstance(n)) });
  // The region's 5 slots are taken by another team's exports until 2 h.
  f.fake.ec2.occupySlots(5, 2 * HOUR);
  const fleet = startFleet(f, FleetExportInputs.toObject({ ...SETTINGS, instanceIds: [1, 2].map(id) }));
  await f.fake.settle();

  expect(fleet.status).toBe('SUCCEEDED');
  for (const child of exportExecutions(f)) {
    const r = child.result!;
    // Prepare, StartExport (quota full: the holders), StartExport again once a holder ended, Finish.
    expect(r.lambdaInvocations).toBe(4);
    expect(r.entered('WaitForSlot')).toBeGreaterThanOrEqual(110);
    const starts = r.callsOf('StartExport').map((c) => c.at);
    expect(starts[1]).toBeGreaterThanOrEqual(2 * HOUR);
    // A freed slot waits at most one look (60 s) plus the look itself.
    expect(starts[1]).toBeLessThanOrEqual(2 * HOUR + 61);
    // The wait costs 4 transitions a minute (the first 3 h) and no Lambda invocation.
    const waiting = r.timeline.filter((t) => t.at > starts[0] && t.at < starts[1]);
    expect(new Set(waiting.map((t) => t.state))).toEqual(new Set(['CountSlotLook', 'WaitForSlot', 'DescribeSlotHolders', 'CheckSlotFreed']));
    expect(r.calls.filter((c) => c.lambda && c.at > starts[0] && c.at < starts[1])).toEqual([]);
  }
});

test('a fleet stopped midway: its running children are stopped and their tasks cancelled; the rest never start', async () => {
  const f = await deployFleetWorld({ instances: [1, 2, 3, 4].map((n) => taggedInstance(n)) });
  const fleet = startFleet(f, FleetExportInputs.toObject({ ...SETTINGS, instanceIds: [1, 2, 3, 4].map(id), maxConcurrentExports: 2 }));
  let stopped = false;
  f.fake.world.clock.onAdvance(() => {
    if (!stopped && f.fake.world.clock.now >= 1800) {
      stopped = true;
      f.fake.sfn.handle('StopExecution', { executionArn: fleet.executionArn, error: 'Operator', cause: 'stopped by hand' });
    }
  });
  await f.fake.settle();

  expect(fleet.status).toBe('ABORTED');
  const started = exportExecutions(f);
  expect(started).toHaveLength(2);
  for (const child of started) expect(child.status).toBe('ABORTED');
  const tasks = [...f.fake.ec2.tasks.values()];
  expect(tasks).toHaveLength(2);
  for (const task of tasks) expect(task.State).toBe('cancelled');
  // Stopped from outside: no fleet event, no object left.
  expect(fleetEvents(f)).toEqual([]);
  expect([...f.fake.s3.bucket(BUCKET).objects.keys()].filter((k) => k.startsWith('nightly/'))).toEqual([]);
});

test('an invalid fleet input fails with VmExport.InvalidInput before anything is listed or started', async () => {
  const f = await deployFleetWorld({ instances: [taggedInstance(1)] });
  const fleet = startFleet(f, { ...SETTINGS, instanceIds: [id(1)], maxConcurrentExports: 40 });
  await f.fake.settle();
  expect(fleet.status).toBe('FAILED');
  expect(fleet.error).toBe(Errors.INVALID_INPUT);
  expect(fleet.cause).toContain('maxConcurrentExports 40 must be a whole number from 1 to 20');
  expect(exportExecutions(f)).toEqual([]);
  expect(fleetEvents(f)).toEqual([expect.objectContaining({ status: 'FAILED', errorName: Errors.INVALID_INPUT, total: 0 })]);
});
