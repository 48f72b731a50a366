/**
 * Fault injection on the custom resource handlers (bucket grant; export provider in wait and
 * no-wait modes), delivered as CloudFormation and Lambda deliver them (one asynchronous
 * invocation per event, retried by Lambda when it fails; the handler answers the ResponseURL
 * itself: test/support/fake-aws/custom-resource.ts) against the local AWS stand-in.
 *
 * For every handler path a clean run is recorded first; then each SDK call the path makes (the
 * 1st, the 2nd, ...) gets every fault in turn:
 * - `throw-before`: the call fails (InternalError, HTTP 500) before the service acts;
 * - `throw-after`: the service acts, then the response is lost (the SDK sees InternalError);
 * - `empty-response`: the service acts and answers `{}` (every field missing);
 * - `empty-arrays`: every list in the answer is empty;
 * - `wrong-types`: strings become numbers and lists become strings;
 * - `oversize`: export tasks carry a 10 KB StatusMessage; other calls fail with a 10 KB message;
 * - `hang`: the call never settles; the Lambda timeout ends the invocation (the request never
 *   reached the service: a hang after the service acted is not modelled) and Lambda invokes the
 *   handler again with the same event.
 *
 * Every injected fault must produce a response: SUCCESS, or FAILED with a non-empty reason, the
 * whole response at most 4096 bytes. After a failed Create no active export task and no running
 * execution may remain; after a failed Delete the task must still be findable by its tag (and a
 * retried Delete must clean up); the bucket owner's FULL_CONTROL grant must survive every fault.
 */
import './setup/with-resolvers';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { onEvent as bucketGrantOnEvent } from '../lambda/bucket-grant';
import { onEvent as providerOnEvent } from '../lambda/export-provider';
import { awsError, createFakeAws, FakeAws, FakeCall } from './support/fake-aws';
import { TAG_CLIENT_TOKEN } from '../lambda/shared/contract';
import { clientTokenFor } from '../lambda/shared/hash';
import { CfnResponse, invokeCustomResource, LambdaTimeout, responseBytes } from './support/fake-aws/custom-resource';
import { LocalDeployment } from './support/fake-aws/deployment';
import { SAMPLE_ACCOUNT, SAMPLE_IMAGE, SAMPLE_INSTANCE, synthSampleImageStack, synthSampleStack } from './support/fake-aws/sample-stack';

const BUCKET = 'fault-vm-exports';
const CALLER = 'handler-under-test';
const KINDS = ['throw-before', 'throw-after', 'empty-response', 'empty-arrays', 'wrong-types', 'oversize', 'hang'] as const;
type FaultKind = (typeof KINDS)[number];

beforeAll(() => {
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
  jest.spyOn(console, 'error').mockImplementation(() => undefined);
});

// -------------------------------------------------------------------------------------------------
// Faults
// -------------------------------------------------------------------------------------------------

function deepMap(value: any, leaf: (v: any) => any, list: (v: any[]) => any): any {
  if (Array.isArray(value)) return list(value.map((v) => deepMap(v, leaf, list)));
  if (value instanceof Date) return value;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepMap(v, leaf, list)]));
  }
  return leaf(value);
}

const TEN_KB = 'x'.repeat(10 * 1024);

async function applyFault(kind: FaultKind, call: FakeCall, proceed: () => Promise<any>, onHang: () => void): Promise<any> {
  switch (kind) {
    case 'throw-before':
      throw awsError(call.service, 'InternalError', 'We encountered an internal error. Please try again.', 500);
    case 'throw-after':
      await proceed();
      throw awsError(call.service, 'InternalError', 'We encountered an internal error. Please try again.', 500);
    case 'empty-response':
      await proceed();
      return {};
    case 'empty-arrays':
      return deepMap(await proceed(), (v) => v, () => []);
    case 'wrong-types':
      return deepMap(await proceed(), (v) => (typeof v === 'string' ? 12345 : v), () => 'not-a-list');
    case 'oversize': {
      const out = await proceed();
      if (out.ExportTasks || out.ExportTask) {
        for (const task of [...(out.ExportTasks ?? []), ...(out.ExportTask ? [out.ExportTask] : [])]) task.StatusMessage = TEN_KB;
        return out;
      }
      if (out.ExportImageTasks || out.ExportImageTaskId) {
        // DescribeExportImageTasks' tasks, and ExportImage's answer (the task's fields at the top).
        for (const task of [...(out.ExportImageTasks ?? []), ...(out.ExportImageTaskId ? [out] : [])]) task.StatusMessage = TEN_KB;
        return out;
      }
      throw awsError(call.service, 'InternalError', `Internal error: ${TEN_KB}`, 500);
    }
    case 'hang':
      onHang();
      return new Promise(() => undefined);
  }
}

// -------------------------------------------------------------------------------------------------
// Handler paths
// -------------------------------------------------------------------------------------------------

interface PathRun {
  readonly fake: FakeAws;
  readonly event: CloudFormationCustomResourceEvent;
  readonly invoke: (event: CloudFormationCustomResourceEvent) => Promise<any>;
  readonly timeoutSeconds: number;
  /** For export paths: the client token whose task must stay cancellable. */
  readonly clientToken?: string;
}

interface PathSpec {
  readonly name: string;
  readonly kind: 'grant' | 'export';
  readonly requestType: 'Create' | 'Update' | 'Delete';
  setup(): Promise<PathRun>;
}

const OTHER_IMAGE = 'ami-00000000000000abc';

function newFake(): { fake: FakeAws; dep: (template: any) => LocalDeployment } {
  const fake = createFakeAws({
    accountId: SAMPLE_ACCOUNT,
    defaultExportBehaviour: { outcome: 'never' },
    imageExport: { defaultBehaviour: { outcome: 'never' } },
  });
  fake.ec2.addInstance({ instanceId: SAMPLE_INSTANCE });
  fake.ec2.addInstance({ instanceId: 'i-00000000000000abc' });
  fake.ec2.addImage({ imageId: SAMPLE_IMAGE });
  fake.ec2.addImage({ imageId: OTHER_IMAGE });
  const dep = (template: any) => {
    const d = new LocalDeployment(fake, template, { bucketNames: { [bucketId(template)]: BUCKET } });
    if (!fake.s3.buckets.has(BUCKET)) d.createBuckets();
    d.registerStateMachines();
    fake.cfn.setStackStatus(d.stackId, 'UPDATE_IN_PROGRESS');
    // The image export's service role, as the template creates it (the same name in every template).
    for (const id of d.logicalIdsOf('Custom::VmImageExport')) {
      const roleName = String(d.properties(id).RoleName);
      if (!fake.iam.roles.has(roleName)) fake.iam.addVmImportRole(roleName, { bucket: BUCKET, prefix: 'golden/' });
    }
    return d;
  };
  return { fake, dep };
}

/**
 * The export tasks still running: instance tasks `active` (and `cancelling` with
 * `withCancelling`: the instance fake cancels at once, so a cancelling task was left behind);
 * image tasks `active` (a cancelled image task shows `deleting` for a while: the cancellation
 * itself, not a task left running).
 */
function activeTasks(fake: FakeAws, withCancelling: boolean): number {
  return fake.ec2.tasksIn('active', ...(withCancelling ? ['cancelling' as const] : [])).length
    + fake.ec2.images.tasksIn('active').length;
}

/** The export tasks of both kinds tagged with the client token. */
function taggedTasks(fake: FakeAws, clientToken: string): number {
  return fake.ec2.tasksTagged(TAG_CLIENT_TOKEN, clientToken).length + fake.ec2.images.tasksTagged(TAG_CLIENT_TOKEN, clientToken).length;
}

function bucketId(template: any): string {
  return Object.entries<any>(template.Resources).find(([, r]) => r.Type === 'AWS::S3::Bucket')![0];
}

const grantInvoke = (fake: FakeAws) => (event: CloudFormationCustomResourceEvent) => bucketGrantOnEvent(event, fake.clients(CALLER).s3);
const providerInvoke = (fake: FakeAws) => (event: CloudFormationCustomResourceEvent) => providerOnEvent(event, fake.clients(CALLER));

function grantPaths(imported: boolean): PathSpec[] {
  const label = imported ? 'imported bucket' : 'owned bucket';
  const prepare = () => {
    const { fake, dep } = newFake();
    const d = dep(synthSampleStack());
    const id = d.only('Custom::VmExportBucketGrant');
    const adjust = (props: any) => (imported ? { ...props, VerifyBucket: 'true', ManagePolicy: 'true' } : props);
    if (imported) {
      fake.s3.bucket(BUCKET).policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'Theirs', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*' }] });
    }
    return { fake, d, id, adjust };
  };
  const common = { kind: 'grant' as const, timeoutSeconds: 120 };
  return [
    {
      name: `bucket-grant Create (${label})`,
      kind: 'grant',
      requestType: 'Create',
      async setup() {
        const { fake, d, id, adjust } = prepare();
        const event = d.createEvent(id);
        return { ...common, fake, event: { ...event, ResourceProperties: adjust(event.ResourceProperties) }, invoke: grantInvoke(fake) };
      },
    },
    {
      name: `bucket-grant Update (${label}, new canonical ID)`,
      kind: 'grant',
      requestType: 'Update',
      async setup() {
        const { fake, d, id, adjust } = prepare();
        const oldProps = adjust({ ...d.properties(id), CanonicalId: 'cd'.repeat(32) });
        await bucketGrantOnEvent({ ...d.createEvent(id), ResourceProperties: oldProps }, fake.clients('setup').s3);
        const event = d.updateEvent(id, `vm-export-grant:${BUCKET}`, oldProps);
        return { ...common, fake, event: { ...event, ResourceProperties: adjust(event.ResourceProperties) }, invoke: grantInvoke(fake) };
      },
    },
    {
      name: `bucket-grant Delete (${label})`,
      kind: 'grant',
      requestType: 'Delete',
      async setup() {
        const { fake, d, id, adjust } = prepare();
        const create = d.createEvent(id);
        await bucketGrantOnEvent({ ...create, ResourceProperties: adjust(create.ResourceProperties) }, fake.clients('setup').s3);
        const event = d.deleteEvent(id, `vm-export-grant:${BUCKET}`);
        return { ...common, fake, event: { ...event, ResourceProperties: adjust(event.ResourceProperties) }, invoke: grantInvoke(fake) };
      },
    },
  ];
}

function exportPaths(wait: boolean, image = false): PathSpec[] {
  const mode = `${image ? 'image, ' : ''}${wait ? 'wait' : 'no-wait'}`;
  const common = { kind: 'export' as const, timeoutSeconds: 300 };
  const resourceType = image ? 'Custom::VmImageExport' : 'Custom::VmInstanceExport';
  const template = () => (image ? synthSampleImageStack({ waitForCompletion: wait }) : synthSampleStack({ waitForCompletion: wait }));
  const changedTemplate = () => (image
    ? synthSampleImageStack({ waitForCompletion: wait, imageId: OTHER_IMAGE })
    : synthSampleStack({ waitForCompletion: wait, instanceId: 'i-00000000000000abc' }));
  /** Grants the bucket and creates the export (clean), until its task is active. */
  const created = async () => {
    const { fake, dep } = newFake();
    const d = dep(template());
    await bucketGrantOnEvent(d.createEvent(d.only('Custom::VmExportBucketGrant')), fake.clients('setup').s3);
    const id = d.only(resourceType);
    const create = d.createEvent(id);
    const out = await providerOnEvent(create, fake.clients('setup'));
    await until(() => activeTasks(fake, false) === 1);
    return { fake, d, id, physicalId: out.PhysicalResourceId, token: clientTokenFor(d.stackId, id, create.RequestId) };
  };
  return [
    {
      name: `export-provider Create (${mode})`,
      kind: 'export',
      requestType: 'Create',
      async setup() {
        const { fake, dep } = newFake();
        const d = dep(template());
        await bucketGrantOnEvent(d.createEvent(d.only('Custom::VmExportBucketGrant')), fake.clients('setup').s3);
        const id = d.only(resourceType);
        const event = d.createEvent(id);
        return { ...common, fake, event, invoke: providerInvoke(fake), clientToken: clientTokenFor(d.stackId, id, event.RequestId) };
      },
    },
    {
      name: `export-provider Update (${mode}, new ${image ? 'AMI' : 'instance'})`,
      kind: 'export',
      requestType: 'Update',
      async setup() {
        const { fake, d, id, physicalId } = await created();
        const newTemplate = changedTemplate();
        const d2 = new LocalDeployment(fake, newTemplate, { bucketNames: { [bucketId(newTemplate)]: BUCKET } });
        d2.registerStateMachines();
        const event = d2.updateEvent(id, physicalId, d.properties(id));
        return { ...common, fake, event, invoke: providerInvoke(fake), clientToken: clientTokenFor(d.stackId, id, event.RequestId) };
      },
    },
    ...(wait ? [] : [{
      name: `export-provider Update (${mode}, unchanged)`,
      kind: 'export' as const,
      requestType: 'Update' as const,
      async setup() {
        const { fake, d, id, physicalId, token } = await created();
        const event = d.updateEvent(id, physicalId, d.properties(id));
        return { ...common, fake, event, invoke: providerInvoke(fake), clientToken: token };
      },
    }]),
    {
      name: `export-provider Delete (${mode}, export active)`,
      kind: 'export',
      requestType: 'Delete',
      async setup() {
        const { fake, d, id, physicalId, token } = await created();
        return { ...common, fake, event: d.deleteEvent(id, physicalId), invoke: providerInvoke(fake), clientToken: token };
      },
    },
  ];
}

async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 20000 && !predicate(); i++) await new Promise<void>((r) => setImmediate(r));
  if (!predicate()) throw new Error('setup never reached the expected state');
}

/** Stops every execution directly in the fake and waits for the local runs to end. */
async function cleanup(fake: FakeAws): Promise<void> {
  for (const e of fake.sfn.running()) fake.sfn.handle('StopExecution', { executionArn: e.executionArn });
  await fake.settle();
}

// -------------------------------------------------------------------------------------------------
// The run
// -------------------------------------------------------------------------------------------------

interface Outcome {
  readonly path: string;
  readonly call: string;
  readonly kind: FaultKind;
  readonly response: CfnResponse;
  readonly problems: string[];
}

interface PathResult {
  readonly response: CfnResponse;
  readonly calls: FakeCall[];
  readonly problems: string[];
}

/** Stands for "no answer": FAILED without a reason fails every check below. */
const NO_ANSWER: CfnResponse = { Status: 'FAILED', Reason: '', PhysicalResourceId: '', StackId: '', RequestId: '', LogicalResourceId: '' };

async function runPath(path: PathSpec, fault?: { index: number; kind: FaultKind }): Promise<PathResult> {
  const run = await path.setup();
  const { fake } = run;
  let seen = 0;
  let hangNoticed!: () => void;
  const timeout = new Promise<never>((_resolve, reject) => {
    hangNoticed = () => reject(new LambdaTimeout(run.timeoutSeconds));
  });
  timeout.catch(() => undefined);
  fake.world.interceptor = async (call, proceed) => {
    if (call.caller !== CALLER) return proceed();
    seen++;
    if (!fault || seen !== fault.index) return proceed();
    return applyFault(fault.kind, call, proceed, hangNoticed);
  };
  const record = await invokeCustomResource(run.event, run.invoke, { timeout });
  fake.world.interceptor = undefined;
  const calls = fake.world.callsOf({ caller: CALLER });
  const problems: string[] = [];
  if (!record.response) problems.push(`no answer reached CloudFormation after ${record.invocations} invocations`);
  const response = record.response ?? NO_ANSWER;

  // The bucket owner keeps FULL_CONTROL, whatever happened.
  const bucket = fake.s3.bucket(BUCKET);
  if (!bucket.grants.some((g) => g.Grantee.ID === bucket.owner.ID && g.Permission === 'FULL_CONTROL')) {
    problems.push('the bucket owner lost FULL_CONTROL');
  }
  if (path.kind === 'export' && response.Status === 'FAILED') {
    if (path.requestType === 'Create') {
      if (fake.sfn.running().length > 0) {
        problems.push('a failed Create left a running execution');
      } else {
        await fake.settle();
      }
      if (activeTasks(fake, true) > 0) problems.push('a failed Create left an active export task');
    }
    if (path.requestType === 'Delete') {
      if (taggedTasks(fake, run.clientToken!) === 0) problems.push('after a failed Delete the task cannot be found by its tag');
      // CloudFormation retries the Delete; a clean retry must leave nothing running.
      const retry = (await invokeCustomResource({ ...run.event, RequestId: 'retry' }, run.invoke)).response ?? NO_ANSWER;
      await fake.settle();
      if (retry.Status !== 'SUCCESS') problems.push(`the retried Delete failed: ${retry.Reason.split('\n')[0]}`);
      if (activeTasks(fake, false) > 0) problems.push('after the retried Delete an export task is still active');
    }
  }
  await cleanup(fake);
  return { response, calls, problems };
}

const PATHS: PathSpec[] = [
  ...grantPaths(false), ...grantPaths(true), ...exportPaths(true), ...exportPaths(false), ...exportPaths(true, true), ...exportPaths(false, true),
];

/*
 * No known gap is left. (With the Provider framework, a StartExecution that never answered in
 * no-wait mode let Lambda's timeout end the handler before it could cancel the task it had
 * started; now Lambda runs the timed-out event again, and the retry, with the same RequestId and
 * so the same client token, adopts that task and answers SUCCESS.)
 */

/** A fault-injection run of one path takes seconds, and more on a busy machine. */
const PATH_TIMEOUT_MS = 120_000;

describe('fault injection on the custom resource handlers', () => {
  // Collected for the printed summary only; every test asserts its own path.
  const outcomes: Outcome[] = [];
  const cleanRuns: Array<{ path: string; calls: string[] }> = [];

  test.each(PATHS.map((p) => [p.name, p] as const))('%s: every fault of every call gets an answer', async (_name, path) => {
    const clean = await runPath(path);
    expect(clean.problems).toEqual([]);
    expect(clean.response.Status).toBe('SUCCESS');
    expect(clean.calls.length).toBeGreaterThan(0);
    const callNames = clean.calls.map((c) => `${c.service}:${c.operation}`);
    cleanRuns.push({ path: path.name, calls: callNames });
    const mine: Outcome[] = [];
    for (let index = 1; index <= clean.calls.length; index++) {
      for (const kind of KINDS) {
        const { response, problems } = await runPath(path, { index, kind });
        mine.push({ path: path.name, call: `#${index} ${callNames[index - 1]}`, kind, response, problems });
      }
    }
    outcomes.push(...mine);

    // Each call got every kind of fault, and every fault got an answer: SUCCESS, or FAILED with
    // a reason, within CloudFormation's 4096 bytes, and nothing left running unnoticed.
    expect(mine).toHaveLength(clean.calls.length * KINDS.length);
    const unanswered = mine.filter((o) => !(o.response.Status === 'SUCCESS' || (o.response.Status === 'FAILED' && o.response.Reason.trim() !== '')));
    expect(unanswered.map((o) => `${o.call} ${o.kind}`)).toEqual([]);
    expect(mine.filter((o) => responseBytes(o.response) > 4096).map((o) => `${o.call} ${o.kind}: ${responseBytes(o.response)} bytes`)).toEqual([]);
    const left = mine.filter((o) => o.problems.length > 0).map((o) => `${o.path} ${o.call} ${o.kind}: ${o.problems.join('; ')}`);
    expect(left).toEqual([]);
  }, PATH_TIMEOUT_MS);

  afterAll(() => {
    // The record (no assertions: each path's test asserts its own faults).
    const injected = outcomes.length;
    if (injected === 0) return;
    const answered = outcomes.filter((o) => o.response.Status === 'SUCCESS' || (o.response.Status === 'FAILED' && o.response.Reason.trim() !== ''));
    const small = outcomes.filter((o) => responseBytes(o.response) <= 4096);
    const clean = outcomes.filter((o) => o.problems.length === 0);
    const failed = outcomes.filter((o) => o.response.Status === 'FAILED').length;
    const largest = Math.max(...outcomes.map((o) => responseBytes(o.response)));
    const byKind = KINDS.map((k) => `${k} ${outcomes.filter((o) => o.kind === k).length}`).join(', ');
    const lines = cleanRuns.map((r) => `  ${r.path}: ${r.calls.length} calls (${r.calls.join(', ')})`);
    // eslint-disable-next-line no-console
    console.info([
      `fault injection: ${injected} faults injected over ${cleanRuns.length} handler paths (${byKind})`,
      `  answered (SUCCESS or FAILED with a reason): ${answered.length}/${injected} (${(100 * answered.length / injected).toFixed(1)} %)`,
      `  response <= 4096 bytes: ${small.length}/${injected} (largest ${largest} bytes); FAILED ${failed}, SUCCESS ${injected - failed}`,
      `  no export left running without a way to cancel it: ${clean.length}/${injected}`,
      'fault injection: clean runs',
      ...lines,
    ].join('\n'));
  });
});
