/**
 * End-to-end scenarios of ImageExport: a stack synthesized with the library is "deployed" against
 * the local AWS stand-in (test/support/fake-aws: EC2's ExportImage / DescribeExportImageTasks
 * as documented, IAM's GetRole / SimulatePrincipalPolicy for the service role), the custom
 * resource handler runs with real SDK clients wired to the fake, the synthesized state machine
 * runs in aws-local-stepfunctions on a simulated clock, and the checks are what a user would see:
 * the wait condition's signal, the object in S3, the task, the events.
 */
import './setup/with-resolvers';
import { onEvent as bucketGrantOnEvent } from '../lambda/bucket-grant';
import { onEvent as providerOnEvent } from '../lambda/export-provider';
import { awsError, CALLERS, createFakeAws, FakeAws, FakeAwsOptions } from './support/fake-aws';
import { ENV_EXPORT_GRANTS, TAG_CLIENT_TOKEN } from '../lambda/shared/contract';
import { DiskImageFormat } from '../src';
import { WorkflowStateNames as N } from '../src/workflow/export-workflow-names';
import { LocalDeployment } from './support/fake-aws/deployment';
import { BUCKET, Deployed, deliver, onlySignal, signalled, until, waitConditionData, deploy } from './support/fake-aws/e2e-deploy';
import { SAMPLE_ACCOUNT, SAMPLE_IMAGE as AMI, synthSampleImageStack, synthSampleStack } from './support/fake-aws/sample-stack';


const synthImageStack = synthSampleImageStack;

/**
 * The bucket, its grant (Create), the service role in the fake IAM as the template creates it
 * (trusts vmie.amazonaws.com, writes under golden/), the AMI, and the export's Create.
 */
async function deployImage(
  template: any,
  fakeOptions: FakeAwsOptions = {},
  setup: (fake: FakeAws, roleName: string) => void = () => undefined,
): Promise<Deployed> {
  const fake = createFakeAws({ accountId: SAMPLE_ACCOUNT, ...fakeOptions });
  const bucketId = Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'AWS::S3::Bucket')!;
  const dep = new LocalDeployment(fake, template, { bucketNames: { [bucketId]: BUCKET } });
  dep.createBuckets();
  dep.registerStateMachines();
  fake.cfn.setStackStatus(dep.stackId, 'CREATE_IN_PROGRESS');
  fake.ec2.addImage({ imageId: AMI });
  const exportId = dep.only('Custom::VmImageExport');
  const roleName = String(dep.properties(exportId).RoleName);
  fake.iam.addVmImportRole(roleName, { bucket: BUCKET, prefix: 'golden/' });
  setup(fake, roleName);
  // The export-task function runs with the grants the template gives it.
  const fn = Object.entries<any>(template.Resources).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith('VmExportWorkflowExportTask'))!;
  process.env[ENV_EXPORT_GRANTS] = String(dep.properties(fn[0]).Environment.Variables[ENV_EXPORT_GRANTS]);
  const grantId = dep.only('Custom::VmExportBucketGrant');
  const grant = await deliver(dep.createEvent(grantId), (e) => bucketGrantOnEvent(e, fake.clients('bucket-grant').s3));
  for (const [k, value] of Object.entries(grant.answer.Data ?? {})) dep.refs[`${grantId}.${k}`] = value;
  const { answer, invocations } = await deliver(dep.createEvent(exportId), (e) => providerOnEvent(e, fake.clients('provider')));
  const response = { PhysicalResourceId: answer.PhysicalResourceId, Data: answer.Data } as Deployed['response'];
  return { fake, dep, exportId, response, answer, invocations };
}

beforeAll(() => {
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
});

afterEach(() => {
  delete process.env[ENV_EXPORT_GRANTS];
});

describe('e2e: ImageExport against the local AWS stand-in', () => {
  test.each([
    [DiskImageFormat.VMDK, '.vmdk'],
    [DiskImageFormat.VHD, '.vhd'],
    [DiskImageFormat.RAW, '.raw'],
  ])('completes as %s: the object lands at <prefix><task id>%s, which the attributes report', async (disk, extension) => {
    const d = await deployImage(synthImageStack({ disk }));
    await d.fake.settle();

    const signal = onlySignal(d);
    expect(signal.Status).toBe('SUCCESS');
    const { taskId, key } = signalled(signal);
    expect(taskId).toMatch(/^export-ami-[0-9a-f]{17}$/);
    expect(key).toBe(`golden/${taskId}${extension}`);
    expect(d.fake.s3.bucket(BUCKET).objects.has(key)).toBe(true);
    expect(d.dep.output('ImageKey', waitConditionData(d))).toBe(key);
    expect(d.dep.output('ImageTaskId', waitConditionData(d))).toBe(taskId);
    const task = d.fake.ec2.images.tasks.get(taskId)!;
    expect(task.Status).toBe('completed');
    expect(task.DiskImageFormat.toUpperCase()).toBe(disk);
    const execution = d.fake.sfn.execution(d.response.PhysicalResourceId);
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.output).toMatchObject({ status: 'SUCCEEDED', kind: 'image', imageId: AMI, exportTaskId: taskId, s3Key: key, progress: 100 });
    // No Lambda ran while the image export was polled: the three Lambda steps ran once each,
    // however many polls there were (the AWS SDK integration polls).
    const result = execution.result!;
    expect(result.entered(N.DESCRIBE_EXPORT_IMAGE_TASK)).toBeGreaterThanOrEqual(3);
    expect(result.entered(N.DESCRIBE_EXPORT_TASK)).toBe(0);
    expect([N.PREPARE, N.START_EXPORT, N.FINISH].map((state) => result.entered(state))).toEqual([1, 1, 1]);
  });

  test('the progress appears in events while the export runs, each value once, and in the output', async () => {
    const d = await deployImage(synthImageStack(), { imageExport: { defaultBehaviour: { outcome: 'complete', afterPolls: 6 } } });
    await d.fake.settle();

    const progress = d.fake.publishedEvents.filter((e) => e.DetailType === 'VM Export Progress').map((e) => JSON.parse(e.Detail));
    expect(progress.length).toBeGreaterThan(0);
    const values = progress.map((p) => p.progress);
    expect(new Set(values).size).toBe(values.length);
    expect(progress[0]).toMatchObject({ kind: 'image', imageId: AMI, status: 'RUNNING', exportTaskId: expect.stringMatching(/^export-ami-/) });
    const outcome = d.fake.publishedEvents.filter((e) => e.DetailType === 'VM Export Succeeded').map((e) => JSON.parse(e.Detail));
    expect(outcome).toEqual([expect.objectContaining({ kind: 'image', imageId: AMI, progress: 100 })]);
  });

  test('the service gives the task up (Status deleted): FAILURE with the service\'s StatusMessage', async () => {
    const d = await deployImage(synthImageStack(), {
      imageExport: { defaultBehaviour: { outcome: 'fail', afterPolls: 3, statusMessage: 'ClientError: Unsupported kernel version' } },
    });
    await d.fake.settle();

    const signal = onlySignal(d);
    expect(signal.Status).toBe('FAILURE');
    expect(signal.Reason).toContain('VmExport.ExportFailed');
    expect(signal.Reason).toContain('ClientError: Unsupported kernel version');
    expect(signal.Reason).toContain('Check the AMI against the VM Import/Export requirements');
    expect(d.fake.sfn.execution(d.response.PhysicalResourceId).error).toBe('VmExport.ExportFailed');
  });

  test('an encrypted Marketplace AMI: the preflight refuses it before any task exists, with both problems', async () => {
    let fake: FakeAws | undefined;
    const failure = deployImage(synthImageStack(), {}, (f) => {
      fake = f;
      f.ec2.images.images.delete(AMI);
      f.ec2.addImage({ imageId: AMI, encrypted: true, productCodes: ['abc123'] });
    });
    await expect(failure).rejects.toThrow(/^VmExport\.PreflightFailed: Preflight checks failed for the export of ami-0123456789abcdef0 to bucket e2e-vm-exports: \(1\) .*\(2\) /);
    await expect(failure).rejects.toThrow(/encrypted EBS snapshots/);
    await expect(failure).rejects.toThrow(/AWS Marketplace/);
    expect(fake!.ec2.images.tasks.size).toBe(0);
    expect(fake!.sfn.executions.size).toBe(0);
  });

  test('the service role cannot write under the prefix: the preflight names the action and the key', async () => {
    await expect(deployImage(synthImageStack(), {}, (fake, roleName) => {
      fake.iam.deleteRole(roleName);
      fake.iam.addVmImportRole(roleName, { bucket: BUCKET, prefix: 'golden/', withoutActions: ['s3:PutObject'] });
    })).rejects.toThrow(/s3:PutObject[\s\S]*golden\//);
  });

  test('preflight off, encrypted AMI: FAILURE with the service\'s own InvalidParameter text', async () => {
    const d = await deployImage(synthImageStack({ preflight: false }), {}, (fake) => {
      fake.ec2.images.images.delete(AMI);
      fake.ec2.addImage({ imageId: AMI, encrypted: true });
    });
    await d.fake.settle();

    const signal = onlySignal(d);
    expect(signal.Status).toBe('FAILURE');
    expect(signal.Reason).toContain('VmExport.ExportRejected');
    expect(signal.Reason).toContain('has encrypted EBS block devices and is not exportable');
    expect(d.fake.ec2.images.tasks.size).toBe(0);
  });

  test('the conversion-task quota is full for 20 simulated minutes: the workflow waits, then succeeds', async () => {
    const d = await deployImage(synthImageStack(), {}, (fake) => {
      fake.ec2.occupySlots(5, 20 * 60);
    });
    await d.fake.settle();

    expect(onlySignal(d).Status).toBe('SUCCESS');
    const exports = d.fake.world.callsOf({ operation: 'ExportImage' });
    // Refused once; the slot loop then watches the (instance export) tasks holding the slots.
    expect(exports.filter((c) => c.outcome === 'error').length).toBe(1);
    expect(exports.find((c) => c.outcome === 'ok')!.at).toBeGreaterThanOrEqual(20 * 60);
    expect(exports.find((c) => c.outcome === 'ok')!.at).toBeLessThanOrEqual(20 * 60 + 60);
  });

  test('DescribeExportImageTasks throttled three times: still succeeds, no failed poll counted', async () => {
    const d = await deployImage(synthImageStack(), {}, (fake) => {
      fake.world.throttle({ operation: 'DescribeExportImageTasks', caller: CALLERS.SFN_INTEGRATION }, 3);
    });
    await d.fake.settle();

    expect(onlySignal(d).Status).toBe('SUCCESS');
    const result = d.fake.sfn.execution(d.response.PhysicalResourceId).result!;
    expect(result.entered(N.COUNT_FAILED_IMAGE_POLL)).toBe(0);
  });

  test('the export never finishes: deadline, CancelExportTask, FAILURE, nothing left in the bucket', async () => {
    const d = await deployImage(synthImageStack(), { imageExport: { defaultBehaviour: { outcome: 'never' } } });
    await d.fake.settle();

    const signal = onlySignal(d);
    expect(signal.Status).toBe('FAILURE');
    expect(signal.Reason).toContain('VmExport.DeadlinePassed');
    expect(signal.Reason).toMatch(/task export-ami-[0-9a-f]{17} was cancelled/);
    expect(d.fake.world.callsOf({ operation: 'CancelExportTask' }).map((c) => c.outcome)).toEqual(['ok']);
    expect(d.fake.ec2.images.tasksIn('active')).toHaveLength(0);
    const bucket = d.fake.s3.bucket(BUCKET);
    expect(bucket.objects.size).toBe(0);
  });

  test('deleted while running (rollback): the task is cancelled and the execution stopped, no signal', async () => {
    const d = await deployImage(synthImageStack(), { imageExport: { defaultBehaviour: { outcome: 'never' } } });
    await until(() => d.fake.ec2.images.tasksIn('active').length === 1, 'the task is active');

    d.fake.cfn.setStackStatus(d.dep.stackId, 'ROLLBACK_IN_PROGRESS');
    const physicalId = d.response.PhysicalResourceId;
    await providerOnEvent(d.dep.deleteEvent(d.exportId, physicalId), d.fake.clients('provider'));
    await d.fake.settle();

    expect(d.fake.sfn.execution(physicalId).status).toBe('ABORTED');
    expect(d.fake.ec2.images.tasksIn('active')).toHaveLength(0);
    expect(d.fake.signals).toHaveLength(0);
  });

  test('a retried Create (same RequestId): one execution, one task', async () => {
    const d = await deployImage(synthImageStack());
    const again = await providerOnEvent(d.dep.createEvent(d.exportId, 'request-2'), d.fake.clients('provider'));
    expect(again).toEqual(d.response);
    await d.fake.settle();

    expect(d.fake.sfn.executions.size).toBe(1);
    expect(d.fake.ec2.images.tasks.size).toBe(1);
    expect(onlySignal(d).Status).toBe('SUCCESS');
  });

  test('waitForCompletion: false: the task starts in the Create, tagged with the client token; the attributes are there at once', async () => {
    const d = await deployImage(synthImageStack({ waitForCompletion: false }));
    const data = d.response.Data as unknown as Record<string, string>;
    expect(data.ExportTaskId).toMatch(/^export-ami-[0-9a-f]{17}$/);
    expect(data.ExportObjectKey).toBe(`golden/${data.ExportTaskId}.vmdk`);
    expect(data.ExportObjectUri).toBe(`s3://${BUCKET}/golden/${data.ExportTaskId}.vmdk`);
    const task = d.fake.ec2.images.tasks.get(data.ExportTaskId)!;
    expect(task.Tags.some((t) => t.Key === TAG_CLIENT_TOKEN)).toBe(true);
    await d.fake.settle();
    expect(d.fake.s3.bucket(BUCKET).objects.has(data.ExportObjectKey)).toBe(true);
  });

  test('rollback to the earlier properties reuses the earlier export instead of starting another', async () => {
    const template = synthImageStack({ waitForCompletion: false });
    const d = await deployImage(template);
    await d.fake.settle();
    const first = d.response.Data as unknown as Record<string, string>;

    d.fake.cfn.setStackStatus(d.dep.stackId, 'UPDATE_ROLLBACK_IN_PROGRESS');
    // Rolling back from a RAW export (another execution) to the properties of the first one.
    const props = d.dep.properties(d.exportId);
    const rawExport = d.response.PhysicalResourceId.replace(/vmx-[^:]*$/, 'vmx-0123456789abcdef0123456789abcdef');
    const update = d.dep.updateEvent(d.exportId, rawExport, { ...props, DiskImageFormat: 'RAW' });
    const out = await providerOnEvent(update, d.fake.clients('provider'));

    expect((out.Data as unknown as Record<string, string>).ExportTaskId).toBe(first.ExportTaskId);
    expect((out.Data as unknown as Record<string, string>).ExportObjectKey).toBe(first.ExportObjectKey);
    expect(d.fake.ec2.images.tasks.size).toBe(1);
  });

  test('10 failed polls in a row: VmExport.WatchLost, the image task is NOT cancelled, one FAILURE that says so', async () => {
    const d = await deployImage(synthImageStack(), { imageExport: { defaultBehaviour: { outcome: 'never' } } }, (fake) => {
      let remaining = 40; // 10 polls of 4 attempts (1 + 3 quick retries) each
      fake.world.interceptor = async (call, proceed) => {
        if (call.operation === 'DescribeExportImageTasks' && call.caller === CALLERS.SFN_INTEGRATION && call.at >= 3600 && remaining > 0) {
          remaining--;
          throw awsError('ec2', 'InternalError', 'An internal error has occurred', 500);
        }
        return proceed();
      };
    });
    await d.fake.settle();

    const signal = onlySignal(d);
    expect(signal.Status).toBe('FAILURE');
    expect(signal.Reason).toContain('VmExport.WatchLost');
    expect(signal.Reason).toContain('DescribeExportImageTasks failed 10 times in a row');
    expect(signal.Reason).toContain('was NOT cancelled');
    expect(signal.Reason).toContain('aws ec2 describe-export-image-tasks --export-image-task-ids export-ami-');
    expect(d.fake.world.callsOf({ operation: 'CancelExportTask' })).toHaveLength(0);
    expect(d.fake.ec2.images.tasksIn('active')).toHaveLength(1);
    const result = d.fake.sfn.execution(d.response.PhysicalResourceId).result!;
    expect(result.entered(N.COUNT_FAILED_IMAGE_POLL)).toBe(10);
    expect(result.entered(N.IMAGE_WATCH_LOST)).toBe(1);
  });

  test('an answer without the task counts as a failed poll; a listed task resets the count', async () => {
    const d = await deployImage(synthImageStack(), { imageExport: { defaultBehaviour: { outcome: 'complete', afterPolls: 8 } } }, (fake) => {
      let emptyAnswers = 2;
      fake.world.interceptor = async (call, proceed) => {
        const out = await proceed();
        if (call.operation === 'DescribeExportImageTasks' && call.caller === CALLERS.SFN_INTEGRATION && emptyAnswers > 0) {
          emptyAnswers--;
          return { ...out, ExportImageTasks: [] };
        }
        return out;
      };
    });
    await d.fake.settle();

    expect(onlySignal(d).Status).toBe('SUCCESS');
    const result = d.fake.sfn.execution(d.response.PhysicalResourceId).result!;
    expect(result.entered(N.IMAGE_TASK_NOT_LISTED)).toBe(2);
    expect(result.entered(N.COUNT_FAILED_IMAGE_POLL)).toBe(2);
  });

  test('waiting costs what an instance export costs: the same transitions per hour, no Lambda invocation while polling', async () => {
    const hours = 3;
    const image = await deployImage(synthImageStack(), {
      // Progress changes 3 times (the fake's stages), each published once (2 more transitions each).
      imageExport: { defaultBehaviour: { outcome: 'complete', afterSeconds: hours * 3600 } },
    });
    await image.fake.settle();
    // The instance export runs without the image stack's grants (deploy() sets none).
    delete process.env[ENV_EXPORT_GRANTS];
    const instance = await deploy(synthSampleStack(), { defaultExportBehaviour: { outcome: 'complete', afterSeconds: hours * 3600 } });
    await instance.fake.settle();
    const of = (d: Deployed) => d.fake.sfn.execution(d.response.PhysicalResourceId).result!;
    const [img, inst] = [of(image), of(instance)];
    expect([img.status, inst.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    // The three Lambda steps only, in both kinds: none while polling.
    expect([img.lambdaInvocations, inst.lambdaInvocations]).toEqual([3, 3]);
    for (const h of [1, 2]) {
      expect(img.lambdaInvocationsPerHour[h]).toBe(0);
    }
    const published = img.entered(N.PUBLISH_PROGRESS);
    expect(published).toBeGreaterThan(0);
    // Per hour of polling, an image export costs the instance export's transitions; the only
    // extra ones are the published progress changes (PublishProgress, RecordProgress, CheckImagePollCount).
    expect(img.transitions - 3 * published).toBeLessThanOrEqual(inst.transitions + 2);
    // eslint-disable-next-line no-console
    console.info(`waiting cost, ${hours} h export: image ${img.transitions} transitions (${published} progress events), instance ${inst.transitions}`);
  });
});
