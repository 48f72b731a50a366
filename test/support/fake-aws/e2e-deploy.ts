/**
 * TEST CODE ONLY: "deploys" a synthesized stack against the local AWS stand-in the way the
 * end-to-end tests need it: the bucket, the bucket grant (Create) and the export provider
 * (Create), with the state machines and the signal backstop rule registered; plus what a user
 * would look at afterwards (the wait condition's signals and Data). Both Creates are delivered as
 * CloudFormation delivers them (custom-resource.ts): the handler answers the response URL itself.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { CfnResponse, invokeCustomResource } from './custom-resource';
import { LocalDeployment } from './deployment';
import { createFakeAws, FakeAws, FakeAwsOptions } from './index';
import { SAMPLE_ACCOUNT, SAMPLE_INSTANCE } from './sample-stack';
import { onEvent as bucketGrantOnEvent } from '../../../lambda/bucket-grant';
import { onEvent as providerOnEvent, ProviderResponse } from '../../../lambda/export-provider';
import { completedAttributeRefs } from '../export-attributes';

/** The physical name the export bucket gets. */
export const BUCKET = 'e2e-vm-exports';

export interface Deployed {
  readonly fake: FakeAws;
  readonly dep: LocalDeployment;
  readonly exportId: string;
  readonly response: ProviderResponse;
  /** The export's Create as CloudFormation received it, and the invocations it took. */
  readonly answer: CfnResponse;
  readonly invocations: number;
}

/**
 * Delivers a custom resource event as CloudFormation does and returns the answer; a FAILED
 * answer rejects with its reason (as the handler's error would).
 */
export async function deliver(
  event: CloudFormationCustomResourceEvent,
  onEvent: (event: CloudFormationCustomResourceEvent) => Promise<{ PhysicalResourceId: string; Data?: object }>,
): Promise<{ answer: CfnResponse; invocations: number }> {
  const record = await invokeCustomResource(event, onEvent);
  if (!record.response) throw new Error(`no answer reached CloudFormation for ${event.RequestType} ${event.LogicalResourceId}`);
  if (record.response.Status !== 'SUCCESS') throw new Error(record.response.Reason);
  return { answer: record.response, invocations: record.invocations };
}

/** Creates the bucket, runs the bucket grant (Create) and the export provider (Create). */
export async function deploy(template: any, fakeOptions: FakeAwsOptions = {}, setup: (fake: FakeAws) => void = () => undefined): Promise<Deployed> {
  const fake = createFakeAws({ accountId: SAMPLE_ACCOUNT, ...fakeOptions });
  const dep = new LocalDeployment(fake, template, { bucketNames: { [bucketLogicalId(template)]: BUCKET } });
  dep.createBuckets();
  dep.registerStateMachines();
  fake.cfn.setStackStatus(dep.stackId, 'CREATE_IN_PROGRESS');
  fake.ec2.addInstance({ instanceId: SAMPLE_INSTANCE });
  setup(fake);
  const grantId = dep.only('Custom::VmExportBucketGrant');
  const grant = await deliver(dep.createEvent(grantId), (e) => bucketGrantOnEvent(e, fake.clients('bucket-grant').s3));
  // What CloudFormation then answers for Fn::GetAtt <grant>.<key> (the export reads CanonicalId).
  for (const [key, value] of Object.entries(grant.answer.Data ?? {})) dep.refs[`${grantId}.${key}`] = value;
  const exportId = dep.only('Custom::VmInstanceExport');
  const { answer, invocations } = await deliver(dep.createEvent(exportId), (e) => providerOnEvent(e, fake.clients('provider')));
  const response = { PhysicalResourceId: answer.PhysicalResourceId, Data: answer.Data } as ProviderResponse;
  return { fake, dep, exportId, response, answer, invocations };
}

function bucketLogicalId(template: any): string {
  const ids = Object.entries<any>(template.Resources).filter(([, r]) => r.Type === 'AWS::S3::Bucket').map(([id]) => id);
  if (ids.length !== 1) throw new Error(`expected one bucket, found ${ids.join(', ')}`);
  return ids[0];
}

/** The one signal sent to the wait condition handle of the export. */
export function onlySignal(d: Deployed) {
  expect(d.fake.signals).toHaveLength(1);
  const signal = d.fake.signals[0];
  expect(signal.method).toBe('PUT');
  // The resource names the handle by its logical id; the URL is the handle's Ref (physical id).
  expect(signal.url).toBe(d.dep.refs[d.dep.properties(d.exportId).WaitConditionHandle]);
  expect(signal.body.UniqueId).toBe('export');
  return signal.body;
}

/** A success signal's Data: `<task id>|<object key the task reported>`. */
export function signalled(body: { Data: string }): { taskId: string; key: string } {
  const [taskId, key, ...rest] = body.Data.split('|');
  expect(rest).toEqual([]);
  return { taskId, key };
}

/**
 * `Fn::GetAtt <WaitCondition>.Data` as CloudFormation would return it for the signals, and the
 * attributes the Custom::VmExportAttributes resource then returns (what the outputs read).
 */
export function waitConditionData(d: Deployed): Record<string, unknown> {
  d.dep.only('AWS::CloudFormation::WaitCondition');
  const data = Object.fromEntries(d.fake.signals.filter((s) => s.body.Status === 'SUCCESS').map((s) => [s.body.UniqueId, s.body.Data]));
  return completedAttributeRefs(d.dep.template, d.dep.context(), data);
}

/** Lets the local workflow run until `predicate` holds (bounded; no timers). */
export async function until(predicate: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 20000 && !predicate(); i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (!predicate()) throw new Error(`never reached: ${what}`);
}
