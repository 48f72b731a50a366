/**
 * The wait condition handle's URL is presigned: whoever reads it can signal the wait condition and
 * choose the export's attributes. It must appear in no custom resource property, no log line of
 * any handler, no answer to CloudFormation and no execution input, output or result of the local
 * simulation, in every way an export ends (completed, failed by the service, stopped from outside
 * and signalled by the backstop, watched again after an update, deleted). The signal itself must
 * still reach it (positive control: the search would find the URL where it belongs).
 */
import './setup/with-resolvers';
import { createHash } from 'crypto';
import { StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { Duration } from 'aws-cdk-lib';
import { onEvent as providerOnEvent } from '../lambda/export-provider';
import { FakeAws } from './support/fake-aws';
import { LocalDeployment } from './support/fake-aws/deployment';
import { BUCKET, deliver, deploy, Deployed, until } from './support/fake-aws/e2e-deploy';
import { SAMPLE_INSTANCE, synthSampleStack } from './support/fake-aws/sample-stack';

/** Heavy: each scenario runs a workflow in the local interpreter. */
const HEAVY = 60_000;

let logged: string[] = [];
beforeEach(() => {
  logged = [];
  for (const method of ['log', 'info', 'warn', 'error'] as const) {
    jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      logged.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    });
  }
});
afterEach(() => jest.restoreAllMocks());

/** The handle URLs of a deployment (the Refs the fake CloudFormation gave the handles). */
function handleUrls(dep: LocalDeployment): string[] {
  return dep.logicalIdsOf('AWS::CloudFormation::WaitConditionHandle').map((id) => String(dep.refs[id]));
}

/** Every text the URL must not be in: logs, answers, properties, executions. */
function everywhereButTheSignal(fake: FakeAws, deps: LocalDeployment[], answers: unknown[]): Array<[string, string]> {
  const places: Array<[string, string]> = logged.map((line, i) => [`log line ${i + 1}`, line]);
  answers.forEach((a, i) => places.push([`answer ${i + 1} to CloudFormation`, JSON.stringify(a)]));
  for (const dep of deps) {
    for (const id of [...dep.logicalIdsOf('Custom::VmInstanceExport'), ...dep.logicalIdsOf('Custom::VmExportBucketGrant')]) {
      places.push([`properties of ${id}`, JSON.stringify(dep.properties(id))]);
    }
  }
  for (const e of fake.sfn.executions.values()) {
    places.push([`input of ${e.name}`, e.input]);
    places.push([`output of ${e.name}`, JSON.stringify(e.output ?? null)]);
    places.push([`result of ${e.name}`, JSON.stringify(e.result ?? null)]);
    places.push([`error and cause of ${e.name}`, `${e.error ?? ''} ${e.cause ?? ''}`]);
  }
  fake.events.deliveries.forEach((d, i) => places.push([`event delivery ${i + 1}`, JSON.stringify(d)]));
  return places;
}

/** Where any of the URLs (or its signature) appears. */
function leaks(urls: string[], places: Array<[string, string]>): string[] {
  const needles = urls.flatMap((u) => [u, u.split('?')[0], encodeURIComponent(u)]);
  return places.filter(([, text]) => needles.some((n) => text.includes(n))).map(([where]) => where);
}

function expectNoLeak(d: Deployed, deps: LocalDeployment[] = [d.dep], answers: unknown[] = [d.answer]): void {
  const urls = deps.flatMap(handleUrls);
  expect(urls.length).toBeGreaterThan(0);
  const places = everywhereButTheSignal(d.fake, deps, answers);
  // The search can find a URL: it finds the one every accepted signal went to.
  expect(leaks(urls, d.fake.signals.map((s, i) => [`signal ${i + 1}`, s.url]))).toEqual(d.fake.signals.map((_s, i) => `signal ${i + 1}`));
  expect(d.fake.sfn.executions.size).toBeGreaterThan(0);
  expect(places.filter(([where]) => where.startsWith('log line')).length).toBeGreaterThan(0);
  expect(leaks(urls, places)).toEqual([]);
}

describe('the wait condition handle URL is written nowhere', () => {
  test('the search finds the URL wherever it is planted (control)', async () => {
    const d = await deploy(synthSampleStack());
    await d.fake.settle();
    const url = handleUrls(d.dep)[0];
    console.log(JSON.stringify({ planted: url }));
    expect(leaks([url], everywhereButTheSignal(d.fake, [d.dep], [d.answer]))).toEqual([`log line ${logged.length}`]);
  }, HEAVY);

  test('a completed export: one SUCCESS signal, one invocation for the Create, the URL nowhere else', async () => {
    const d = await deploy(synthSampleStack());
    await d.fake.settle();
    expect(d.invocations).toBe(1);
    expect(d.fake.signals.map((s) => [s.url, s.body.Status])).toEqual([[handleUrls(d.dep)[0], 'SUCCESS']]);
    expectNoLeak(d);
  }, HEAVY);

  test('an export the service cancels: one FAILURE signal from the finish step, the URL nowhere else', async () => {
    const d = await deploy(synthSampleStack(), { defaultExportBehaviour: { outcome: 'cancel', afterPolls: 2 } });
    await d.fake.settle();
    expect(d.fake.signals.map((s) => s.body.Status)).toEqual(['FAILURE']);
    expectNoLeak(d);
  }, HEAVY);

  test('an execution stopped from outside: the backstop signals, the URL nowhere else', async () => {
    const d = await deploy(synthSampleStack(), { defaultExportBehaviour: { outcome: 'never' } });
    await until(() => d.fake.ec2.tasksIn('active').length === 1, 'the task is active');
    await d.fake.clients('operator').sfn.send(new StopExecutionCommand({ executionArn: d.response.PhysicalResourceId }));
    await d.fake.settle();
    expect(d.fake.events.deliveries.map((e) => (e.result as { action?: string }).action)).toEqual(['signalled']);
    expect(d.fake.signals.map((s) => s.body.Status)).toEqual(['FAILURE']);
    expectNoLeak(d);
  }, HEAVY);

  test('a new timeout (new handle) watched by a new execution, then a delete: the URLs nowhere else', async () => {
    const d = await deploy(synthSampleStack());
    await d.fake.settle();
    const later = new LocalDeployment(d.fake, synthSampleStack({ timeout: Duration.hours(8) }), { bucketNames: d.dep.bucketNames });
    const update = await deliver(later.updateEvent(d.exportId, d.response.PhysicalResourceId, d.dep.properties(d.exportId)),
      (e) => providerOnEvent(e, d.fake.clients('provider')));
    await d.fake.settle();
    const remove = await deliver(later.deleteEvent(d.exportId, update.answer.PhysicalResourceId), (e) => providerOnEvent(e, d.fake.clients('provider')));
    await d.fake.settle();
    expect([update.invocations, remove.invocations]).toEqual([1, 1]);
    expect(d.fake.signals.map((s) => s.url)).toEqual([...handleUrls(d.dep), ...handleUrls(later)]);
    expectNoLeak(d, [d.dep, later], [d.answer, update.answer, remove.answer]);
  }, HEAVY);
});

describe('only the execution its export resource started may have a handle signalled', () => {
  /** The input an outsider with states:StartExecution could send: the handle's logical id is in the template. */
  function forgedInput(d: Deployed, urlHash: string) {
    return {
      instanceId: SAMPLE_INSTANCE,
      targetEnvironment: 'vmware',
      s3Bucket: BUCKET,
      s3Prefix: 'vms/',
      preflight: false,
      waitConditionStackId: d.dep.stackId,
      waitConditionHandleLogicalId: d.dep.only('AWS::CloudFormation::WaitConditionHandle'),
      waitConditionHandleHash: urlHash,
    };
  }

  test.each([
    ['the hash of another URL', createHash('sha256').update('https://example.com/forged').digest('hex')],
    ['a made-up hash', 'f'.repeat(64)],
  ])('an execution started by someone else with %s: its export runs, but only the resource\'s own execution signals the handle', async (_what, urlHash) => {
    const d = await deploy(synthSampleStack());
    const machine = [...d.fake.sfn.stateMachines.keys()][0];
    await d.fake.clients('operator').sfn.send(new StartExecutionCommand({ stateMachineArn: machine, name: 'outsider', input: JSON.stringify(forgedInput(d, urlHash)) }));
    await d.fake.settle();

    // One signal: the resource's own, with the task its execution started.
    const own = d.fake.sfn.executions.get(d.response.PhysicalResourceId)!;
    const outsider = [...d.fake.sfn.executions.values()].find((e) => e.name === 'outsider')!;
    expect(d.fake.signals.map((s) => [s.body.Status, s.body.Data.split('|')[0]])).toEqual([['SUCCESS', (own.output as { exportTaskId: string }).exportTaskId]]);
    expect((outsider.output as { exportTaskId?: string } | undefined)?.exportTaskId).not.toBe((own.output as { exportTaskId: string }).exportTaskId);
    // The outsider's finish step and the backstop both refused, and said why.
    expect(outsider.status).toBe('FAILED');
    const refusal = /is not this execution's to signal/;
    expect(`${outsider.cause ?? ''}`).toMatch(refusal);
    expect(d.fake.events.deliveries.map((e) => e.error ?? '')).toEqual([expect.stringMatching(refusal)]);
  }, HEAVY);

  test('the stack was deleted while the export ran (DescribeStackResource still answers, DELETE_COMPLETE): no signal, the outcome stands', async () => {
    const d = await deploy(synthSampleStack(), { defaultExportBehaviour: { outcome: 'complete', afterPolls: 3 } });
    d.fake.cfn.deleteStack(d.dep.stackId);
    await d.fake.settle();
    expect(d.fake.signals).toEqual([]);
    const [execution] = [...d.fake.sfn.executions.values()];
    expect(execution.status).toBe('SUCCEEDED');
    expect(logged.some((l) => l.includes('no signal sent: the wait condition handle no longer exists'))).toBe(true);
  }, HEAVY);
});
