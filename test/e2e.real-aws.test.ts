/**
 * End-to-end scenarios for what the real AWS does and our first fakes did not: EC2 errors that
 * reach the workflow's poll as `Ec2.Ec2Exception` with no error code in the Cause, transient
 * errors in every Lambda step, an unpublished quota error code, lost wait-condition signals and
 * DescribeExportTasks forgetting finished tasks. Everything runs against the local AWS stand-in
 * (test/support/fake-aws), whose answers follow SPEC sections 3 to 5.
 */
import './setup/with-resolvers';
import { StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { Duration } from 'aws-cdk-lib';
import { onEvent as providerOnEvent } from '../lambda/export-provider';
import { StateNames as N } from './support/documented-names';
import { awsError, CALLERS, CancelCompletedAnswer, ec2InternalError, ec2PermanentError, FakeAws, throttlingError } from './support/fake-aws';
import { LocalDeployment } from './support/fake-aws/deployment';
import { BUCKET, deploy, Deployed, signalled, until, waitConditionData } from './support/fake-aws/e2e-deploy';
import { SAMPLE_INSTANCE, synthSampleStack } from './support/fake-aws/sample-stack';

const HOUR = 3600;
/** Heavy tests: a local deployment plus a simulated multi-hour run; generous on a busy machine. */
const HEAVY = 60_000;

beforeAll(() => {
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
  jest.spyOn(console, 'error').mockImplementation(() => undefined);
});

/** The next `times` polls of the workflow (the SDK integration) from `fromSecond` on fail with `error()`. */
function failPolls(fake: FakeAws, fromSecond: number, times: number, error: () => Error): void {
  let remaining = times;
  fake.world.interceptor = async (call, proceed) => {
    if (call.operation === 'DescribeExportTasks' && call.caller === CALLERS.SFN_INTEGRATION && call.at >= fromSecond && remaining > 0) {
      remaining--;
      throw error();
    }
    return proceed();
  };
}

function accepted(d: Deployed) {
  return d.fake.signals.filter((s) => s.accepted);
}

function cancels(d: Deployed) {
  return d.fake.world.callsOf({ operation: 'CancelExportTask' });
}

function execution(d: Deployed) {
  return d.fake.sfn.execution(d.response.PhysicalResourceId);
}

// -------------------------------------------------------------------------------------------------
// Item 1: a failed poll never cancels a running export.
// -------------------------------------------------------------------------------------------------

describe('failed polls (Ec2.Ec2Exception, no error code in the Cause)', () => {
  test.each([
    ['throttling (503)', () => throttlingError('ec2')],
    ['InternalError (500)', ec2InternalError],
    ['a permanent error (400)', ec2PermanentError],
  ])('%s on 9 polls in a row in the middle of a 6 h export: it completes, nothing is cancelled', async (_kind, error) => {
    // A deployment timeout of 8 h: the deadline (simulated, like every wait) is after the export.
    const d = await deploy(synthSampleStack({ timeout: Duration.hours(8) }), { defaultExportBehaviour: { outcome: 'complete', afterSeconds: 6 * HOUR } }, (fake) => {
      failPolls(fake, 3 * HOUR, 36, error); // 9 polls of 4 attempts each
    });
    await d.fake.settle();

    const [signal] = accepted(d);
    expect(accepted(d)).toHaveLength(1);
    expect(signal.body.Status).toBe('SUCCESS');
    expect(cancels(d)).toHaveLength(0);
    const [task] = d.fake.ec2.tasks.values();
    expect(task.State).toBe('completed');
    expect(d.fake.s3.bucket(BUCKET).objects.has(signalled(signal.body).key)).toBe(true);
    const result = execution(d).result!;
    expect(result.entered(N.COUNT_FAILED_POLL)).toBe(9);
    // What the poll saw: the generic name and a Cause without the error code (SPEC section 4).
    const failed = result.callsOf(N.DESCRIBE_EXPORT_TASK).filter((c) => c.error);
    expect(new Set(failed.map((c) => c.error!.name))).toEqual(new Set(['Ec2.Ec2Exception']));
    expect(failed[0].error!.message).toMatch(/^.+ \(Service: Ec2, Status Code: \d{3}, Request ID: [^)]+\)$/);
    expect(failed[0].error!.message).not.toMatch(/RequestLimitExceeded|InternalError|UnauthorizedOperation/);
  }, HEAVY);

  test('10 failed polls in a row: VmExport.WatchLost, the task is NOT cancelled, one FAILURE signal that says so', async () => {
    const d = await deploy(synthSampleStack(), { defaultExportBehaviour: { outcome: 'never' } }, (fake) => {
      failPolls(fake, HOUR, 40, ec2InternalError);
    });
    await d.fake.settle();

    expect(accepted(d)).toHaveLength(1);
    const body = accepted(d)[0].body;
    expect(body.Status).toBe('FAILURE');
    expect(body.Reason).toContain('VmExport.WatchLost');
    expect(body.Reason).toContain('was NOT cancelled');
    expect(cancels(d)).toHaveLength(0);
    expect(d.fake.ec2.tasksIn('active')).toHaveLength(1);
    expect(execution(d).error).toBe('VmExport.WatchLost');
  }, HEAVY);
});

describe('transient errors in the Lambda steps are retried', () => {
  test.each([
    ['start: CreateInstanceExportTask', 'CreateInstanceExportTask', CALLERS.EXPORT_TASK],
    ['finish: DescribeExportTasks', 'DescribeExportTasks', CALLERS.EXPORT_TASK],
  ])('%s answers InternalError (500), Unavailable (503) and RequestLimitExceeded: the export completes', async (_name, operation, caller) => {
    const template = synthSampleStack({ preflight: true });
    const d = await deploy(template, {}, (fake) => {
      const errors = [
        () => ec2InternalError(),
        () => awsError('ec2', 'Unavailable', 'The service is unavailable. Please try again shortly.', 503),
        () => throttlingError('ec2'),
      ];
      fake.world.interceptor = async (call, proceed) => {
        // The provider's own preflight runs first; only the workflow's calls fail.
        if (call.operation === operation && call.caller === caller && errors.length > 0) throw errors.shift()!();
        return proceed();
      };
    });
    await d.fake.settle();

    expect(accepted(d).map((s) => s.body.Status)).toEqual(['SUCCESS']);
    expect(d.fake.world.callsOf({ operation, caller }).filter((c) => c.outcome === 'error')).toHaveLength(3);
    expect(d.fake.world.callsOf({ operation: 'CreateInstanceExportTask', caller: CALLERS.EXPORT_TASK }).filter((c) => c.outcome === 'ok')).toHaveLength(1);
  }, HEAVY);

  test('prepare (a workflow started directly, preflight on): DescribeInstances fails transiently 3 times, then the export completes', async () => {
    const d = await deploy(synthSampleStack());
    await d.fake.settle();
    const errors = [ec2InternalError, () => awsError('ec2', 'Unavailable', 'The service is unavailable.', 503), () => throttlingError('ec2')];
    d.fake.world.interceptor = async (call, proceed) => {
      if (call.operation === 'DescribeInstances' && call.caller === CALLERS.EXPORT_TASK && errors.length > 0) throw errors.shift()!();
      return proceed();
    };
    const stateMachineArn = String(d.dep.refs[d.dep.only('AWS::StepFunctions::StateMachine')]);
    const input = { instanceId: SAMPLE_INSTANCE, targetEnvironment: 'vmware', s3Bucket: BUCKET, s3Prefix: 'direct/' };
    const { executionArn } = await d.fake.clients('operator').sfn.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }));
    await d.fake.settle();

    const direct = d.fake.sfn.execution(executionArn!);
    expect(direct.status).toBe('SUCCEEDED');
    expect(direct.result!.callsOf(N.PREPARE).map((c) => c.error?.name)).toEqual(['VmExport.Transient', 'VmExport.Transient', 'VmExport.Throttled', undefined]);
  }, HEAVY);

  // The quota's error code is unpublished (SPEC section 3): every plausible answer means "wait".
  test.each([
    ['ResourceLimitExceeded', 'You have reached the maximum number of concurrent conversion tasks (5).'],
    ['ConversionTaskLimitExceeded', 'Conversion task limit exceeded.'],
    ['ExportTaskLimitExceeded', 'Export task limit exceeded.'],
    ['InvalidParameter', 'There are too many active export tasks in this region.'],
    ['IncorrectState', 'Too many concurrent conversion tasks.'],
  ])('quota full answered as %s: the export waits for a free slot, then completes', async (code, message) => {
    const d = await deploy(synthSampleStack(), { quotaError: { code, message } }, (fake) => {
      fake.ec2.occupySlots(5, 20 * 60);
    });
    await d.fake.settle();

    expect(accepted(d).map((s) => s.body.Status)).toEqual(['SUCCESS']);
    const creates = d.fake.world.callsOf({ operation: 'CreateInstanceExportTask' });
    // Refused once; the slot loop then watches the tasks holding the slots until one ends.
    expect(creates.filter((c) => c.error === code).length).toBe(1);
    expect(creates.find((c) => c.outcome === 'ok')!.at).toBeGreaterThanOrEqual(20 * 60);
    expect(creates.find((c) => c.outcome === 'ok')!.at).toBeLessThanOrEqual(20 * 60 + 60);
  }, HEAVY);
});

// -------------------------------------------------------------------------------------------------
// Item 2: no deployment waits out its timeout because a signal was lost.
// -------------------------------------------------------------------------------------------------

describe('every ending without a signal gets exactly one FAILURE signal (signal backstop)', () => {
  test('the finish step cannot signal (the handle answers 500 four times): the backstop signals FinishFailed', async () => {
    const d = await deploy(synthSampleStack(), { signalAnswers: [500, 500, 500, 500] });
    await d.fake.settle();

    expect(execution(d).error).toBe('VmExport.FinishFailed');
    expect(accepted(d)).toHaveLength(1);
    expect(accepted(d)[0].body).toMatchObject({ Status: 'FAILURE', UniqueId: 'export', Data: 'VmExport.FinishFailed' });
    expect(accepted(d)[0].body.Reason).toContain('ended FAILED with VmExport.FinishFailed');
  }, HEAVY);

  test('the signal PUT hangs: each attempt is abandoned, the finish step fails, the backstop signals', async () => {
    const d = await deploy(synthSampleStack(), { signalAnswers: ['hang', 'hang', 'hang', 'hang'] });
    await d.fake.settle();

    expect(d.fake.signals.filter((s) => s.answer === 'hang')).toHaveLength(4);
    expect(accepted(d)).toHaveLength(1);
    expect(accepted(d)[0].body.Status).toBe('FAILURE');
    expect(accepted(d)[0].body.Reason).toContain('VmExport.FinishFailed');
  }, HEAVY);

  test.each([
    ['a States.Runtime error', (d: Deployed) => d.fake.sfn.endExecution(d.response.PhysicalResourceId, 'FAILED', 'States.Runtime',
      'An error occurred while executing the state \'CheckExportState\'. Invalid path \'$.describe.ExportTasks[0].State\'.'), 'ended FAILED with States.Runtime'],
    ['the execution\'s own timeout', (d: Deployed) => d.fake.sfn.endExecution(d.response.PhysicalResourceId, 'TIMED_OUT'), 'ended TIMED_OUT'],
    ['a stop from outside (console, CLI)', (d: Deployed) => void d.fake.clients('operator').sfn.send(
      new StopExecutionCommand({ executionArn: d.response.PhysicalResourceId })), 'ended ABORTED'],
  ])('%s while the export runs: one FAILURE signal with the reason', async (_name, end, reason) => {
    const d = await deploy(synthSampleStack(), { defaultExportBehaviour: { outcome: 'never' } });
    await until(() => d.fake.ec2.tasksIn('active').length === 1, 'the task is active');
    end(d);
    await d.fake.settle();

    expect(accepted(d)).toHaveLength(1);
    expect(accepted(d)[0].body.Status).toBe('FAILURE');
    expect(accepted(d)[0].body.Reason).toContain(reason);
    expect(d.fake.events.deliveries).toHaveLength(1);
  }, HEAVY);

  test('an execution stopped by the export resource itself (delete) gets no signal: its wait condition goes with it', async () => {
    const d = await deploy(synthSampleStack(), { defaultExportBehaviour: { outcome: 'never' } });
    await until(() => d.fake.ec2.tasksIn('active').length === 1, 'the task is active');
    await providerOnEvent(d.dep.deleteEvent(d.exportId, d.response.PhysicalResourceId), d.fake.clients('provider'));
    await d.fake.settle();

    expect(d.fake.signals).toHaveLength(0);
    expect(d.fake.events.deliveries).toHaveLength(1);
    expect(d.fake.events.deliveries[0].result).toMatchObject({ action: 'none' });
  }, HEAVY);

  test('an export that fails the normal way gets only the finish step\'s signal', async () => {
    const d = await deploy(synthSampleStack(), { defaultExportBehaviour: { outcome: 'cancel', afterPolls: 2 } });
    await d.fake.settle();

    expect(d.fake.signals).toHaveLength(1);
    expect(d.fake.signals[0].body.Data).toBe('VmExport.ExportFailed');
    expect(d.fake.events.deliveries.map((e) => e.result)).toEqual([expect.objectContaining({ action: 'none' })]);
  }, HEAVY);
});

// -------------------------------------------------------------------------------------------------
// Item 3: nothing depends on DescribeExportTasks remembering old tasks.
// -------------------------------------------------------------------------------------------------

/** How long EC2 keeps listing finished tasks is undocumented: at once, after a day, never. */
const RETENTIONS: Array<[string, number | undefined]> = [['forgotten at once', 0], ['forgotten after a day', 24 * HOUR], ['never forgotten', undefined]];

/** A completed export, then EC2 forgets every finished task (when the retention says so). */
async function completedThenForgotten(retention: number | undefined, options: { deleteObjectOnDelete?: boolean; waitForCompletion?: boolean } = {}) {
  const d = await deploy(synthSampleStack(options), { forgetFinishedAfterSeconds: retention });
  await d.fake.settle();
  if (retention !== undefined) d.fake.ec2.forgetFinished();
  return d;
}

describe('EC2 forgetting finished tasks', () => {
  test.each(RETENTIONS)('%s: the export still succeeds with the key the task reported, and the attributes resolve', async (_name, retention) => {
    const d = await completedThenForgotten(retention);
    const [signal] = accepted(d);
    expect(signal.body.Status).toBe('SUCCESS');
    const { taskId, key } = signalled(signal.body);
    expect(d.dep.output('ImageKey', waitConditionData(d))).toBe(key);
    expect(d.dep.output('ImageTaskId', waitConditionData(d))).toBe(taskId);
    expect(d.fake.s3.bucket(BUCKET).objects.has(key)).toBe(true);
  }, HEAVY);

  test.each(RETENTIONS)('%s: a new timeout (new wait condition) signals the same export again, no second export', async (_name, retention) => {
    const d = await completedThenForgotten(retention);
    const first = signalled(accepted(d)[0].body);
    const later = new LocalDeployment(d.fake, synthSampleStack({ timeout: Duration.hours(8) }), { bucketNames: d.dep.bucketNames });
    const oldProps = d.dep.properties(d.exportId);
    const out = await providerOnEvent(later.updateEvent(d.exportId, d.response.PhysicalResourceId, oldProps), d.fake.clients('provider'));
    await d.fake.settle();

    expect(out.PhysicalResourceId).toBe(d.response.PhysicalResourceId);
    expect(d.fake.world.callsOf({ operation: 'CreateInstanceExportTask' }).filter((c) => c.outcome === 'ok')).toHaveLength(1);
    const newHandle = later.refs[later.properties(d.exportId).WaitConditionHandle];
    const again = accepted(d).filter((s) => s.url === newHandle);
    expect(again).toHaveLength(1);
    expect(again[0].body.Status).toBe('SUCCESS');
    expect(signalled(again[0].body)).toEqual(first);
  }, HEAVY);

  test.each(RETENTIONS)('%s: delete with deleteObjectOnDelete removes the exported object; nothing is cancelled', async (_name, retention) => {
    const d = await completedThenForgotten(retention, { deleteObjectOnDelete: true });
    const { key } = signalled(accepted(d)[0].body);
    await providerOnEvent(d.dep.deleteEvent(d.exportId, d.response.PhysicalResourceId), d.fake.clients('provider'));

    expect(d.fake.s3.bucket(BUCKET).objects.has(key)).toBe(false);
    expect(cancels(d)).toHaveLength(0);
  }, HEAVY);

  test.each(RETENTIONS)('%s: an export that did not wait keeps its attributes on update, and delete cancels nothing', async (_name, retention) => {
    const d = await completedThenForgotten(retention, { waitForCompletion: false });
    const data = d.response.Data!;
    const out = await providerOnEvent(d.dep.updateEvent(d.exportId, d.response.PhysicalResourceId, d.dep.properties(d.exportId)), d.fake.clients('provider'));
    expect(out.Data).toEqual(data);
    expect(data.ExportObjectKey).toBe(`vms/${data.ExportTaskId}.ova`);

    await providerOnEvent(d.dep.deleteEvent(d.exportId, d.response.PhysicalResourceId), d.fake.clients('provider'));
    expect(cancels(d)).toHaveLength(0);
    expect(d.fake.s3.bucket(BUCKET).objects.has(data.ExportObjectKey!)).toBe(true);
  }, HEAVY);
});

describe('rollback with EC2 forgetting finished tasks', () => {
  const OTHER_INSTANCE = 'i-0fedcba9876543210';

  test.each(RETENTIONS)('%s: a rollback to the completed export starts no export; its physical id keeps nothing running', async (_name, retention) => {
    const d = await completedThenForgotten(retention);
    d.fake.ec2.addInstance({ instanceId: OTHER_INSTANCE });
    // The update to another instance starts a second export; then the stack update fails.
    const next = new LocalDeployment(d.fake, synthSampleStack({ instanceId: OTHER_INSTANCE }), { bucketNames: d.dep.bucketNames });
    d.fake.cfn.setStackStatus(d.dep.stackId, 'UPDATE_IN_PROGRESS');
    const oldProps = d.dep.properties(d.exportId);
    const updated = await providerOnEvent(next.updateEvent(d.exportId, d.response.PhysicalResourceId, oldProps), d.fake.clients('provider'));
    await d.fake.settle();
    d.fake.cfn.setStackStatus(d.dep.stackId, 'UPDATE_ROLLBACK_IN_PROGRESS');
    const creates = () => d.fake.world.callsOf({ operation: 'CreateInstanceExportTask' }).filter((c) => c.outcome === 'ok').length;
    expect(creates()).toBe(2);

    // CloudFormation swaps the properties back and sends the current (new) physical id.
    const rolledBack = await providerOnEvent(d.dep.updateEvent(d.exportId, updated.PhysicalResourceId, next.properties(d.exportId)), d.fake.clients('provider'));
    await d.fake.settle();

    expect(creates()).toBe(2);
    expect(rolledBack.PhysicalResourceId).not.toBe(updated.PhysicalResourceId);
    if (retention === undefined) {
      // Still listed: the earlier export is found again, physical id and all.
      expect(rolledBack.PhysicalResourceId).toBe(d.response.PhysicalResourceId);
    }
    expect(d.fake.sfn.running()).toHaveLength(0);
  }, HEAVY);
});

describe('what CancelExportTask says about a completed task is undocumented', () => {
  test.each<[CancelCompletedAnswer]>([['incorrect-state'], ['invalid-parameter'], ['succeeds']])(
    'answer %s: deleting the resource of a completed export never calls it, and the image stays', async (answer) => {
      const d = await deploy(synthSampleStack(), { cancelCompletedAnswer: answer });
      await d.fake.settle();
      const { key } = signalled(accepted(d)[0].body);
      await providerOnEvent(d.dep.deleteEvent(d.exportId, d.response.PhysicalResourceId), d.fake.clients('provider'));

      expect(cancels(d)).toHaveLength(0);
      expect(d.fake.s3.bucket(BUCKET).objects.has(key)).toBe(true);
    }, HEAVY);
});
