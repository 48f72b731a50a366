/**
 * End-to-end scenarios: a stack synthesized with the library is "deployed" against the local
 * AWS stand-in (test/support/fake-aws): the bucket grant handler and the export provider handler
 * run with real SDK clients wired to the fake, the synthesized state machine runs in
 * aws-local-stepfunctions on a simulated clock, and the checks are what a user would see (the
 * wait-condition signal, the object in S3, the export task).
 */
import './setup/with-resolvers';
import { Duration } from 'aws-cdk-lib';
import { onEvent as providerOnEvent } from '../lambda/export-provider';
import { ManagedTag, StateNames as N } from './support/documented-names';
import { CALLERS, createFakeAws } from './support/fake-aws';
import { SPEC_DEFAULT_CANONICAL_ID, specCanonicalId } from './support/spec-canonical-ids';
// The client-token tag is internal (no document names it): it still comes from lambda/.
import { TAG_CLIENT_TOKEN } from '../lambda/shared/contract';
import { TargetEnvironment } from '../src/workflow/export-formats';
import { LocalDeployment } from './support/fake-aws/deployment';
import { BUCKET, deploy, onlySignal, signalled, until, waitConditionData } from './support/fake-aws/e2e-deploy';
import { synthSampleStack } from './support/fake-aws/sample-stack';

const synth = synthSampleStack;

beforeAll(() => {
  // The handlers log one JSON line per step; keep the test output readable.
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
});

describe('e2e: deploy against the local AWS stand-in', () => {
  test('1 happy path vmware + ova: the object lands at the reported key, which equals exportObjectKey', async () => {
    const d = await deploy(synth());
    await d.fake.settle();

    const signal = onlySignal(d);
    expect(signal.Status).toBe('SUCCESS');
    const { taskId, key } = signalled(signal);
    expect(taskId).toMatch(/^export-i-[0-9a-f]{17}$/);
    expect(key).toBe(`vms/${taskId}.ova`);
    expect(signal.Reason).toContain(`s3://${BUCKET}/${key}`);
    // The object is there, written by the export service.
    expect(d.fake.s3.bucket(BUCKET).objects.get(key)?.writer).toBe('vm-import-export');
    // What the construct's attributes evaluate to with the wait condition's Data.
    expect(d.dep.output('ImageKey', waitConditionData(d))).toBe(key);
    expect(d.dep.output('ImageTaskId', waitConditionData(d))).toBe(taskId);
    // The task: completed, tagged, with the requested formats.
    const task = d.fake.ec2.tasks.get(taskId)!;
    expect(task.State).toBe('completed');
    expect(task.ExportToS3Task).toEqual({ ContainerFormat: 'ova', DiskImageFormat: 'VMDK', S3Bucket: BUCKET, S3Key: key });
    expect(task.Tags).toEqual(expect.arrayContaining([{ Key: ManagedTag.KEY, Value: ManagedTag.VALUE }]));
    // The execution ended in Succeed, and the bucket ACL holds the service's grant.
    const execution = d.fake.sfn.execution(d.response.PhysicalResourceId);
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.result!.entered(N.SUCCEEDED)).toBe(1);
    const serviceId = specCanonicalId('us-east-1');
    expect(d.fake.s3.grants(BUCKET, serviceId, 'READ_ACP') && d.fake.s3.grants(BUCKET, serviceId, 'WRITE')).toBe(true);
  });

  test.each([
    ['citrix', TargetEnvironment.CITRIX],
    ['microsoft', TargetEnvironment.MICROSOFT],
  ])('2 %s VHD: bare .vhd image at the reported key', async (name, target) => {
    const d = await deploy(synth({ target }));
    await d.fake.settle();

    const signal = onlySignal(d);
    expect(signal.Status).toBe('SUCCESS');
    const { taskId, key } = signalled(signal);
    expect(key).toBe(`vms/${taskId}.vhd`);
    expect(d.dep.output('ImageKey', waitConditionData(d))).toBe(key);
    expect(d.fake.s3.bucket(BUCKET).objects.has(key)).toBe(true);
    const task = d.fake.ec2.tasks.get(taskId)!;
    // The EC2 API's value: SPEC section 3, CreateInstanceExportTask `TargetEnvironment`: `vmware` | `citrix` | `microsoft`.
    expect(task.InstanceExportDetails.TargetEnvironment).toBe(name);
    expect(task.ExportToS3Task).toEqual({ DiskImageFormat: 'VHD', S3Bucket: BUCKET, S3Key: key });
  });

  test('3 the bucket grants the wrong canonical ID (bad table entry, preflight off): FAILURE with the service\'s AuthFailure', async () => {
    const realServiceId = 'ab'.repeat(32);
    const d = await deploy(synth({ preflight: false }), { serviceCanonicalId: realServiceId });
    await d.fake.settle();

    const signal = onlySignal(d);
    expect(signal.Status).toBe('FAILURE');
    expect(signal.Reason).toContain('VmExport.ExportRejected');
    expect(signal.Reason).toContain('AuthFailure: vm-import-export@amazon.com must have WRITE and READ_ACL permission on the S3 bucket');
    expect(d.fake.ec2.tasks.size).toBe(0);
    expect(d.fake.world.callsOf({ operation: 'CreateInstanceExportTask' }).map((c) => c.error)).toEqual(['AuthFailure']);
    expect(d.fake.sfn.execution(d.response.PhysicalResourceId).error).toBe('VmExport.ExportRejected');
  });

  test('4 the service cancels the task ("Task expired and automatically canceled"): FAILURE with that text', async () => {
    const d = await deploy(synth(), {
      defaultExportBehaviour: { outcome: 'cancel', afterSeconds: 3 * 3600, statusMessage: 'Task expired and automatically canceled' },
    });
    await d.fake.settle();

    const signal = onlySignal(d);
    expect(signal.Status).toBe('FAILURE');
    expect(signal.Reason).toContain('VmExport.ExportFailed');
    expect(signal.Reason).toContain('Task expired and automatically canceled');
    const [task] = d.fake.ec2.tasks.values();
    expect(task.State).toBe('cancelled');
    expect(d.fake.s3.bucket(BUCKET).objects.size).toBe(0);
    expect(d.fake.sfn.execution(d.response.PhysicalResourceId).error).toBe('VmExport.ExportFailed');
  });

  test('5 the export never finishes: deadline, CancelExportTask, FAILURE, nothing left in the bucket', async () => {
    // The deadline (6 h - 5 min) passes on the simulated clock while the export never ends.
    const d = await deploy(synth(), { defaultExportBehaviour: { outcome: 'never' } });
    await until(() => d.fake.s3.bucket(BUCKET).uploads.size > 0, 'the export started');
    await d.fake.settle();

    const signal = onlySignal(d);
    expect(signal.Status).toBe('FAILURE');
    expect(signal.Reason).toContain('VmExport.DeadlinePassed');
    expect(signal.Reason).toMatch(/task export-i-[0-9a-f]{17} was cancelled/);
    expect(d.fake.world.callsOf({ operation: 'CancelExportTask' }).map((c) => c.outcome)).toEqual(['ok']);
    const [task] = d.fake.ec2.tasks.values();
    expect(task.State).toBe('cancelled');
    const bucket = d.fake.s3.bucket(BUCKET);
    expect(bucket.objects.size + bucket.uploads.size).toBe(0);
    expect(d.fake.sfn.execution(d.response.PhysicalResourceId).error).toBe('VmExport.DeadlinePassed');
  });

  test('6 stack rollback while the export is active: Delete cancels the task and stops the execution', async () => {
    const d = await deploy(synth(), { defaultExportBehaviour: { outcome: 'never' } });
    await until(() => d.fake.ec2.tasksIn('active').length === 1, 'the task is active');

    d.fake.cfn.setStackStatus(d.dep.stackId, 'ROLLBACK_IN_PROGRESS');
    const physicalId = d.response.PhysicalResourceId;
    const out = await providerOnEvent(d.dep.deleteEvent(d.exportId, physicalId), d.fake.clients('provider'));
    expect(out.PhysicalResourceId).toBe(physicalId);
    await d.fake.settle();

    const execution = d.fake.sfn.execution(physicalId);
    expect(execution.status).toBe('ABORTED');
    const [task] = d.fake.ec2.tasks.values();
    expect(task.State).toBe('cancelled');
    expect(d.fake.ec2.tasksIn('active')).toHaveLength(0);
    expect(d.fake.sfn.running()).toHaveLength(0);
    const bucket = d.fake.s3.bucket(BUCKET);
    expect(bucket.objects.size + bucket.uploads.size).toBe(0);
    // No step ran after the stop: the workflow sent no signal.
    expect(d.fake.signals).toHaveLength(0);
  });

  test('7 a duplicate Create with the same RequestId: one execution, one task', async () => {
    const template = synth();
    const d = await deploy(template);
    const again = await providerOnEvent(d.dep.createEvent(d.exportId, 'request-2'), d.fake.clients('provider'));
    // request-2 is the RequestId the first Create used (the grant took request-1).
    expect(again).toEqual(d.response);
    await d.fake.settle();

    expect(d.fake.sfn.executions.size).toBe(1);
    expect(d.fake.ec2.tasks.size).toBe(1);
    expect(onlySignal(d).Status).toBe('SUCCESS');
  });

  test.each([['generic' as const], ['specific' as const]])(
    '8 DescribeExportTasks throttled three times (%s error names): still succeeds', async (naming) => {
      const d = await deploy(synth(), { sfnErrorNaming: naming }, (fake) => {
        fake.world.throttle({ operation: 'DescribeExportTasks', caller: CALLERS.SFN_INTEGRATION }, 3);
      });
      await d.fake.settle();

      expect(onlySignal(d).Status).toBe('SUCCESS');
      const polls = d.fake.world.callsOf({ operation: 'DescribeExportTasks', caller: CALLERS.SFN_INTEGRATION });
      expect(polls.slice(0, 3).map((c) => c.error)).toEqual(['RequestLimitExceeded', 'RequestLimitExceeded', 'RequestLimitExceeded']);
      const result = d.fake.sfn.execution(d.response.PhysicalResourceId).result!;
      const names = result.callsOf(N.DESCRIBE_EXPORT_TASK).filter((c) => c.error).map((c) => c.error!.name);
      expect(names).toEqual(Array(3).fill(naming === 'generic' ? 'Ec2.Ec2Exception' : 'Ec2.RequestLimitExceededException'));
      // Three failures are absorbed by the poll's quick retries: no failed poll is counted.
      expect(result.entered(N.COUNT_FAILED_POLL)).toBe(0);
    });

  test('9 the conversion-task quota is full for 20 simulated minutes: the workflow waits for a holder to end, then succeeds', async () => {
    const d = await deploy(synth(), {}, (fake) => {
      fake.ec2.occupySlots(5, 20 * 60);
    });
    await d.fake.settle();

    expect(onlySignal(d).Status).toBe('SUCCESS');
    const creates = d.fake.world.callsOf({ operation: 'CreateInstanceExportTask' });
    // One refusal; then the slot loop watches the 5 holders (no Lambda) and starts once one ended.
    expect(creates.filter((c) => c.error === 'ResourceLimitExceeded').length).toBe(1);
    const created = creates.find((c) => c.outcome === 'ok')!;
    expect(created.at).toBeGreaterThanOrEqual(20 * 60);
    expect(created.at).toBeLessThanOrEqual(20 * 60 + 60);
    const result = d.fake.sfn.execution(d.response.PhysicalResourceId).result!;
    expect(result.entered(N.WAIT_FOR_SLOT)).toBe(20);
    expect(result.callsOf(N.START_EXPORT)).toHaveLength(2);
    expect(d.fake.ec2.tasksTagged(ManagedTag.KEY, ManagedTag.VALUE)[0].State).toBe('completed');
  });

  test('9b the quota stays full for 10 hours: looks every 60 s for 3 h, then every 300 s; no Lambda while waiting', async () => {
    const d = await deploy(synth({ timeout: Duration.hours(12) }), {}, (fake) => {
      fake.ec2.occupySlots(5, 10 * 3600);
    });
    await d.fake.settle();

    expect(onlySignal(d).Status).toBe('SUCCESS');
    const result = d.fake.sfn.execution(d.response.PhysicalResourceId).result!;
    expect(result.entered(N.WAIT_FOR_SLOT)).toBe(180);
    // (10 h - 3 h) / 300 s = 84 long looks; the 84th sees a holder ended.
    expect(result.entered(N.WAIT_LONG_FOR_SLOT)).toBe(84);
    const starts = result.callsOf(N.START_EXPORT).map((c) => c.at);
    expect(starts).toHaveLength(2);
    expect(starts[1]).toBeGreaterThanOrEqual(10 * 3600);
    expect(starts[1]).toBeLessThanOrEqual(10 * 3600 + 300);
    // Prepare, the refused StartExport, the StartExport once a holder ended, Finish.
    expect(result.lambdaInvocations).toBe(4);
  });

  test('10 environment-agnostic stack in an unlisted region: default canonical ID granted and accepted', async () => {
    const template = synth({ region: null });
    const d = await deploy(template, { region: 'xx-future-1' });
    await d.fake.settle();

    const grant = d.dep.properties(d.dep.only('Custom::VmExportBucketGrant'));
    expect(grant.CanonicalId).toBe(SPEC_DEFAULT_CANONICAL_ID);
    expect(grant.ExpectedRegion).toBe('xx-future-1');
    expect(d.fake.ec2.serviceCanonicalId).toBe(SPEC_DEFAULT_CANONICAL_ID);
    expect(d.fake.s3.grants(BUCKET, SPEC_DEFAULT_CANONICAL_ID, 'WRITE')).toBe(true);
    const signal = onlySignal(d);
    expect(signal.Status).toBe('SUCCESS');
    expect(d.fake.s3.bucket(BUCKET).objects.has(`vms/${signalled(signal).taskId}.ova`)).toBe(true);
    // The same template in a listed region evaluates to that region's ID.
    const milan = new LocalDeployment(createFakeAws({ region: 'eu-south-1' }), template);
    expect(milan.properties(milan.only('Custom::VmExportBucketGrant')).CanonicalId).toBe(specCanonicalId('eu-south-1'));
    expect(d.fake.ec2.tasksTagged(TAG_CLIENT_TOKEN, d.fake.ec2.tasks.values().next().value!.Tags
      .find((t) => t.Key === TAG_CLIENT_TOKEN)!.Value)).toHaveLength(1);
  });
});
