/**
 * A failed Create undoes what it may have started although a call failed (found by
 * test/fault-injection.test.ts): the Delete after a failed Create does nothing (its physical id is
 * the create-failed marker).
 */
import './setup/with-resolvers';
import { onEvent } from '../lambda/export-provider';
import { awsError, createFakeAws, FakeAws } from './support/fake-aws';
import { startExport } from '../lambda/shared/export-task';
import { normalizeRequest } from '../lambda/shared/normalize';
import { LocalDeployment } from './support/fake-aws/deployment';
import { SAMPLE_INSTANCE, synthSampleStack } from './support/fake-aws/sample-stack';

beforeAll(() => {
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
  jest.spyOn(console, 'error').mockImplementation(() => undefined);
});

/** The response of `operation` is lost after the fake acted on it. */
function loseAnswer(fake: FakeAws, operation: string): void {
  fake.world.interceptor = async (call, proceed) => {
    const out = await proceed();
    if (call.caller === 'provider' && call.operation === operation) {
      throw awsError(call.service, 'InternalError', 'We encountered an internal error. Please try again.', 500);
    }
    return out;
  };
}

async function setup(waitForCompletion: boolean) {
  const fake = createFakeAws({ defaultExportBehaviour: { outcome: 'never' } });
  fake.ec2.addInstance({ instanceId: SAMPLE_INSTANCE });
  const template = synthSampleStack({ waitForCompletion });
  const d = new LocalDeployment(fake, template);
  d.createBuckets();
  d.registerStateMachines();
  const bucket = d.properties(d.only('Custom::VmInstanceExport')).S3Bucket;
  const grant = fake.s3.bucket(bucket).grants;
  grant.push({ Grantee: { Type: 'CanonicalUser', ID: fake.ec2.serviceCanonicalId }, Permission: 'READ_ACP' },
    { Grantee: { Type: 'CanonicalUser', ID: fake.ec2.serviceCanonicalId }, Permission: 'WRITE' });
  return { fake, event: d.createEvent(d.only('Custom::VmInstanceExport')) };
}

test('wait mode: StartExecution started the execution but its answer was lost: the execution is stopped', async () => {
  const { fake, event } = await setup(true);
  loseAnswer(fake, 'StartExecution');
  await expect(onEvent(event, fake.clients('provider'))).rejects.toThrow(/internal error/);
  expect([...fake.sfn.executions.values()].map((e) => e.status)).toEqual(['ABORTED']);
  await fake.settle();
  expect(fake.ec2.tasksIn('active')).toHaveLength(0);
});

test('no-wait mode: CreateInstanceExportTask created the task but its answer was lost: the task is cancelled', async () => {
  const { fake, event } = await setup(false);
  loseAnswer(fake, 'CreateInstanceExportTask');
  await expect(onEvent(event, fake.clients('provider'))).rejects.toThrow(/internal error/);
  expect([...fake.ec2.tasks.values()].map((t) => t.State)).toEqual(['cancelled']);
  expect(fake.sfn.executions.size).toBe(0);
});

test('no-wait mode: StartExecution answer lost after the task started: execution stopped, task cancelled', async () => {
  const { fake, event } = await setup(false);
  loseAnswer(fake, 'StartExecution');
  await expect(onEvent(event, fake.clients('provider'))).rejects.toThrow(/internal error/);
  expect([...fake.sfn.executions.values()].map((e) => e.status)).toEqual(['ABORTED']);
  expect([...fake.ec2.tasks.values()].map((t) => t.State)).toEqual(['cancelled']);
  await fake.settle();
});

test('startExport: a CreateInstanceExportTask answer without a task id falls back to the task tagged with the client token', async () => {
  const fake = createFakeAws();
  fake.ec2.addInstance({ instanceId: SAMPLE_INSTANCE });
  fake.s3.createBucket('undo-bucket', {
    grants: ['READ_ACP', 'WRITE'].map((Permission) => ({ Grantee: { Type: 'CanonicalUser', ID: fake.ec2.serviceCanonicalId }, Permission })),
  });
  fake.world.interceptor = async (call, proceed) => {
    const out = await proceed();
    return call.operation === 'CreateInstanceExportTask' ? {} : out;
  };
  const request = normalizeRequest({ instanceId: SAMPLE_INSTANCE, targetEnvironment: 'vmware', s3Bucket: 'undo-bucket', clientToken: 'token-1' });
  const result = await startExport(fake.clients('t').ec2, request);
  const id = [...fake.ec2.tasks.keys()][0];
  expect(result).toEqual({ exportTaskId: id, state: 'active', s3Key: `exports/${id}.ova` });
  expect(fake.ec2.tasks.size).toBe(1);
});
