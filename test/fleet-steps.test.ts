/**
 * The fleet workflow's Lambda steps (lambda/shared/fleet.ts): fleet-prepare's validation and
 * plan, fleet-record's reading of a failed `startExecution.sync:2` task, fleet-finish's summary.
 */
import { DescribeExportImageTasksCommand, DescribeExportTasksCommand, EC2Client } from '@aws-sdk/client-ec2';
import { finishFleet, prepareFleet, recordFailure } from '../lambda/shared/fleet';
import { FleetInput, FleetIterationResult } from '../lambda/shared/fleet-contract';
import { findSlotHolders } from '../lambda/shared/slot-holders';

const ARN = 'arn:aws:states:us-east-1:123456789012:execution:Fleet:nightly-1';
const BASE: FleetInput = { targetEnvironment: 'vmware', s3Bucket: 'exports-bucket' };
const ID_A = 'i-0123456789abcdef0';
const ID_B = 'i-0123456789abcdef1';

function refusal(input: unknown): string {
  try {
    prepareFleet(input as FleetInput, ARN);
  } catch (err) {
    expect((err as Error).name).toBe('VmExport.InvalidInput');
    return (err as Error).message;
  }
  throw new Error('prepareFleet accepted the input');
}

describe('fleet-prepare', () => {
  test('a list: deduplicated ids, default concurrency 5, names and tokens from the execution', () => {
    const plan = prepareFleet({ ...BASE, instanceIds: [ID_A, ID_B, ID_A] }, ARN);
    expect(plan.instanceIds).toEqual([ID_A, ID_B]);
    expect(plan.listInstances).toBe(false);
    expect(plan.filters).toEqual([]);
    expect(plan.maxConcurrentExports).toBe(5);
    expect(plan.fleetId).toMatch(/^[0-9a-f]{16}$/);
    expect(plan.childNamePrefix).toBe(`fleet-${plan.fleetId}-`);
    expect(plan.tokenPrefix).toBe(`fleet-${plan.fleetId}-`);
    expect(plan.common).toEqual(BASE);
    // The longest child name fits Step Functions' 80 characters.
    expect((plan.childNamePrefix + ID_A).length).toBeLessThanOrEqual(80);
  });

  test('another execution gets other names; a fleet token keeps the exports\' tokens', () => {
    const one = prepareFleet({ ...BASE, instanceIds: [ID_A], clientToken: 'nightly-2026-12-01' }, ARN);
    const two = prepareFleet({ ...BASE, instanceIds: [ID_A], clientToken: 'nightly-2026-12-01' }, `${ARN}-again`);
    expect(one.childNamePrefix).not.toBe(two.childNamePrefix);
    expect(one.tokenPrefix).toBe('nightly-2026-12-01-');
    expect(two.tokenPrefix).toBe(one.tokenPrefix);
  });

  test('filters get the exportable instance states added, unless they name a state themselves', () => {
    const tagged = prepareFleet({ ...BASE, instanceFilters: [{ Name: 'tag:vm-export', Values: ['nightly'] }], maxConcurrentExports: 20 }, ARN);
    expect(tagged.listInstances).toBe(true);
    expect(tagged.instanceIds).toEqual([]);
    expect(tagged.maxConcurrentExports).toBe(20);
    expect(tagged.filters).toEqual([
      { Name: 'tag:vm-export', Values: ['nightly'] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
    ]);
    const own = [{ Name: 'tag-key', Values: ['vm-export'] }, { Name: 'instance-state-name', Values: ['stopped'] }];
    expect(prepareFleet({ ...BASE, instanceFilters: own }, ARN).filters).toEqual(own);
  });

  test.each([
    ['no instances named', { ...BASE }, 'name the instances: instanceIds'],
    ['both instanceIds and instanceFilters', { ...BASE, instanceIds: [ID_A], instanceFilters: [{ Name: 'tag:a', Values: ['b'] }] }, 'instanceIds and instanceFilters exclude each other'],
    ['an empty list', { ...BASE, instanceIds: [] }, 'instanceIds [] must be a non-empty list'],
    ['a bad id', { ...BASE, instanceIds: ['i-123', ID_A] }, "instanceIds holds 'i-123', not instance ids"],
    ['101 instances', { ...BASE, instanceIds: Array.from({ length: 101 }, (_, i) => `i-${i.toString(16).padStart(8, '0')}`) }, 'names 101 instances; a fleet exports at most 100'],
    ['no filters', { ...BASE, instanceFilters: [] }, 'must be a list of 1 to 50 DescribeInstances filters'],
    ['a filter without values', { ...BASE, instanceFilters: [{ Name: 'tag:a', Values: [] }] }, 'each filter is {"Name": "<filter name>", "Values"'],
    ['21 at once', { ...BASE, instanceIds: [ID_A], maxConcurrentExports: 21 }, 'maxConcurrentExports 21 must be a whole number from 1 to 20'],
    ['0 at once', { ...BASE, instanceIds: [ID_A], maxConcurrentExports: 0 }, 'maxConcurrentExports 0 must be a whole number from 1 to 20'],
    ['2.5 at once', { ...BASE, instanceIds: [ID_A], maxConcurrentExports: 2.5 }, 'maxConcurrentExports 2.5'],
    ['a 201-character token', { ...BASE, instanceIds: [ID_A], clientToken: 'x'.repeat(201) }, 'at most 200 characters'],
    ['instanceId instead of instanceIds', { ...BASE, instanceId: ID_A }, "instanceId is the single export's field"],
    ['an unknown field', { ...BASE, instanceIds: [ID_A], maxConcurrency: 3 }, "unknown field 'maxConcurrency'"],
    ['a bad target', { ...BASE, instanceIds: [ID_A], targetEnvironment: 'hyperv' }, 'targetEnvironment'],
    ['a prefix without a slash', { ...BASE, instanceIds: [ID_A], s3Prefix: 'no-slash' }, 'no-slash'],
    ['a 201-character prefix', { ...BASE, instanceIds: [ID_A], s3Prefix: 'p'.repeat(200) + '/' }, "s3Prefix is 201 characters long: a fleet's prefix has at most 200"],
  ])('refuses %s', (_label, input, message) => {
    const text = refusal(input);
    expect(text).toContain('Invalid fleet input: ');
    expect(text).toContain(message);
    expect(text).not.toContain('i-00000000');
  });

  test.each([
    ['not an object', [ID_A], 'the fleet input must be a JSON object'],
    ['a string', 'i-0123456789abcdef0', 'the fleet input must be a JSON object'],
    ['instanceId and other unknown fields', { ...BASE, instanceId: ID_A, deadline: 60 }, "instanceId is the single export's field: a fleet takes instanceIds (a list) or instanceFilters. Unknown fields too: deadline."],
    ['two unknown fields', { ...BASE, instanceIds: [ID_A], a: 1, b: 2 }, "unknown fields 'a', 'b': the valid fields are instanceIds, instanceFilters"],
    ['51 filters', { ...BASE, instanceFilters: Array.from({ length: 51 }, () => ({ Name: 'tag:a', Values: ['b'] })) }, 'must be a list of 1 to 50 DescribeInstances filters'],
    ['a filter with 201 values', { ...BASE, instanceFilters: [{ Name: 'tag:a', Values: Array.from({ length: 201 }, (_, i) => `v${i}`) }] }, 'with a non-empty name and 1 to 200 string values'],
    ['a filter with a blank name', { ...BASE, instanceFilters: [{ Name: ' ', Values: ['b'] }] }, 'with a non-empty name'],
    ['a filter with a number value', { ...BASE, instanceFilters: [{ Name: 'tag:a', Values: [1] }] }, 'with a non-empty name'],
    ['a filter that is not an object', { ...BASE, instanceFilters: ['tag:a=b'] }, "instanceFilters holds 'tag:a=b'"],
    ['filters that are not a list', { ...BASE, instanceFilters: { Name: 'tag:a', Values: ['b'] } }, 'must be a list of 1 to 50'],
    ['instanceIds that are not a list', { ...BASE, instanceIds: ID_A }, 'must be a non-empty list of instance ids'],
    ['a concurrency as text', { ...BASE, instanceIds: [ID_A], maxConcurrentExports: '5' }, "maxConcurrentExports '5' must be a whole number"],
    ['a token that is not text', { ...BASE, instanceIds: [ID_A], clientToken: 7 }, 'clientToken 7 must be a string'],
  ])('refuses %s, naming the value', (_label, input, message) => {
    expect(refusal(input)).toContain(message);
  });

  test('the edges that pass: 100 ids, 20 at once, 1 at once, a 200-character token, 50 filters of 200 values, an empty token', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `i-${i.toString(16).padStart(8, '0')}`);
    expect(prepareFleet({ ...BASE, instanceIds: ids, maxConcurrentExports: 1 }, ARN).instanceIds).toHaveLength(100);
    expect(prepareFleet({ ...BASE, instanceIds: [ID_A], maxConcurrentExports: 20, clientToken: 't'.repeat(200) }, ARN).tokenPrefix).toBe('t'.repeat(200) + '-');
    expect(prepareFleet({ ...BASE, instanceIds: [ID_A], clientToken: '' }, ARN).tokenPrefix).toMatch(/^fleet-[0-9a-f]{16}-$/);
    const filters = Array.from({ length: 50 }, (_, i) => ({ Name: `tag:k${i}`, Values: Array.from({ length: 200 }, (_v, j) => `v${j}`) }));
    expect(prepareFleet({ ...BASE, instanceFilters: filters }, ARN).filters).toHaveLength(51);
    expect(prepareFleet({ ...BASE, instanceIds: [ID_A], s3Prefix: 'p'.repeat(199) + '/' }, ARN).common.s3Prefix).toHaveLength(200);
  });

  test('a filter on the state code also keeps the fleet from adding its states', () => {
    const own = [{ Name: 'tag:a', Values: ['b'] }, { Name: 'instance-state-code', Values: ['16'] }];
    expect(prepareFleet({ ...BASE, instanceFilters: own }, ARN).filters).toEqual(own);
  });

  test('reports every problem at once', () => {
    const text = refusal({ instanceIds: ['bad'], maxConcurrentExports: 50, targetEnvironment: 'vmware' });
    expect(text).toContain("instanceIds holds 'bad'");
    expect(text).toContain('maxConcurrentExports 50');
    expect(text).toContain('s3Bucket');
  });
});

/** The Cause Step Functions gives a failed startExecution.sync:2 task: the child's DescribeExecution, as JSON. */
function describeCause(fields: Record<string, unknown>): string {
  return JSON.stringify({
    ExecutionArn: 'arn:aws:states:us-east-1:123456789012:execution:Export:fleet-0123456789abcdef-' + ID_A,
    Input: '{}',
    InputDetails: { Included: true },
    Name: 'fleet-0123456789abcdef-' + ID_A,
    StartDate: 1733089875458,
    StateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:Export',
    StopDate: 1733092939260,
    ...fields,
  });
}

describe('fleet-record', () => {
  test('a failed child: its documented error name and reason, its execution', () => {
    const out = recordFailure({ action: 'fleet-record', instanceId: ID_A, failure: { Error: 'States.TaskFailed', Cause: describeCause({ Status: 'FAILED', Error: 'VmExport.DeadlinePassed', Cause: 'The deadline of 3600 seconds passed.' }) } });
    expect(out).toEqual({
      instanceId: ID_A,
      failure: {
        instanceId: ID_A,
        status: 'FAILED',
        errorName: 'VmExport.DeadlinePassed',
        reason: 'The deadline of 3600 seconds passed.',
        executionArn: expect.stringContaining(':execution:Export:fleet-'),
      },
    });
  });

  test('a stopped or timed-out child says so', () => {
    const stopped = recordFailure({ action: 'fleet-record', instanceId: ID_A, failure: { Error: 'States.TaskFailed', Cause: describeCause({ Status: 'ABORTED' }) } });
    expect(stopped.failure).toMatchObject({ errorName: 'VmExport.WorkflowError', reason: "ABORTED: the export's execution ended ABORTED." });
    const timedOut = recordFailure({ action: 'fleet-record', instanceId: ID_A, failure: { Error: 'States.TaskFailed', Cause: describeCause({ Status: 'TIMED_OUT' }) } });
    expect(timedOut.failure?.reason).toContain('TIMED_OUT');
  });

  test('a Cause that is JSON but not a DescribeExecution is kept as it is', () => {
    const cause = JSON.stringify({ errorMessage: 'not an execution' });
    const out = recordFailure({ action: 'fleet-record', instanceId: ID_A, failure: { Error: 'StepFunctions.ExecutionAlreadyExistsException', Cause: cause } });
    expect(out.failure).toEqual({ instanceId: ID_A, status: 'FAILED', errorName: 'StepFunctions.ExecutionAlreadyExistsException', reason: 'not an execution' });
    const noArn = recordFailure({ action: 'fleet-record', instanceId: ID_A, failure: { Error: 'States.TaskFailed', Cause: JSON.stringify({ Status: 'FAILED', Error: 'VmExport.ExportFailed' }) } });
    expect(noArn.failure?.errorName).toBe('States.TaskFailed');
  });

  test('an empty child error or cause: VmExport.WorkflowError and the status', () => {
    const out = recordFailure({ action: 'fleet-record', instanceId: ID_A, failure: { Error: 'States.TaskFailed', Cause: describeCause({ Status: 'FAILED', Error: '', Cause: '' }) } });
    expect(out.failure).toMatchObject({ errorName: 'VmExport.WorkflowError', reason: "the export's execution ended FAILED." });
  });

  test('a child that never started keeps the Step Functions error; long reasons are cut', () => {
    const out = recordFailure({ action: 'fleet-record', instanceId: ID_B, failure: { Error: 'States.Timeout', Cause: 'x'.repeat(2000) } });
    expect(out.failure?.errorName).toBe('States.Timeout');
    expect(out.failure?.reason?.length).toBe(500);
    expect(out.failure?.reason?.endsWith(' [...]')).toBe(true);
    expect(recordFailure({ action: 'fleet-record', instanceId: ID_B, failure: {} }).failure?.errorName).toBe('VmExport.WorkflowError');
  });
});

describe('fleet-finish', () => {
  const success = (id: string): FleetIterationResult => ({
    instanceId: id,
    child: { executionArn: `arn:x:${id}`, output: { status: 'SUCCEEDED', exportTaskId: `export-${id}`, s3Bucket: 'b', s3Key: `exports/export-${id}.ova`, s3Uri: `s3://b/exports/export-${id}.ova` } },
  });

  test('every instance exported: SUCCEEDED with each task and URI', () => {
    const out = finishFleet({ action: 'fleet-finish', executionArn: ARN, state: { results: [success(ID_A), success(ID_B)] } });
    expect(out).toMatchObject({ status: 'SUCCEEDED', fleetExecutionArn: ARN, total: 2, succeeded: 2, failed: 0 });
    expect(out.errorName).toBeUndefined();
    expect(out.instances[1]).toEqual({ instanceId: ID_B, status: 'SUCCEEDED', executionArn: `arn:x:${ID_B}`, exportTaskId: `export-${ID_B}`, s3Bucket: 'b', s3Key: `exports/export-${ID_B}.ova`, s3Uri: `s3://b/exports/export-${ID_B}.ova` });
  });

  test('a failure: FAILED with VmExport.FleetFailed and a summary naming it, the others listed too', () => {
    const failed = recordFailure({ action: 'fleet-record', instanceId: ID_B, failure: { Error: 'States.TaskFailed', Cause: describeCause({ Status: 'FAILED', Error: 'VmExport.PreflightFailed', Cause: 'two volumes' }) } });
    const out = finishFleet({ action: 'fleet-finish', executionArn: ARN, state: { results: [success(ID_A), failed] } });
    expect(out).toMatchObject({ status: 'FAILED', errorName: 'VmExport.FleetFailed', total: 2, succeeded: 1, failed: 1 });
    expect(out.cause).toBe(`1 of 2 instance exports failed: ${ID_B} (VmExport.PreflightFailed: two volumes). 1 succeeded; every outcome is in the 'VM Export Fleet Finished' event.`);
    expect(out.instances.map((i) => i.status)).toEqual(['SUCCEEDED', 'FAILED']);
  });

  test('a success output without a field leaves that field out; the execution ARN is kept when known', () => {
    const out = finishFleet({ action: 'fleet-finish', executionArn: ARN, state: { results: [{ instanceId: ID_A, child: { output: { status: 'SUCCEEDED', exportTaskId: 'export-i-1', s3Key: '' } } }] } });
    expect(out.instances[0]).toEqual({ instanceId: ID_A, status: 'SUCCEEDED', exportTaskId: 'export-i-1' });
    const failedOut = finishFleet({ action: 'fleet-finish', executionArn: ARN, state: { results: [{ instanceId: ID_A, child: { executionArn: 'arn:child', output: { status: 'FAILED' } } }] } });
    expect(failedOut.instances[0]).toMatchObject({ executionArn: 'arn:child', reason: "the export's execution succeeded without a success output ('FAILED')." });
  });

  test('a stage error with neither Error nor Cause', () => {
    expect(finishFleet({ action: 'fleet-finish', executionArn: ARN, state: { error: {} } })).toMatchObject({ errorName: 'VmExport.WorkflowError', cause: 'no cause given' });
    expect(finishFleet({ action: 'fleet-finish', executionArn: ARN, state: { error: { Error: 'VmExport.ListingFailed' } } })).toMatchObject({ errorName: 'VmExport.ListingFailed', cause: 'The fleet could not list its instances (DescribeInstances): VmExport.ListingFailed' });
  });

  test('a child that succeeded without a success output counts as failed', () => {
    const out = finishFleet({ action: 'fleet-finish', executionArn: ARN, state: { results: [{ instanceId: ID_A, child: { output: {} } }] } });
    expect(out.instances[0]).toMatchObject({ status: 'FAILED', errorName: 'VmExport.WorkflowError' });
  });

  test('an empty fleet (no instance matched) succeeds with no instances', () => {
    expect(finishFleet({ action: 'fleet-finish', executionArn: ARN, state: { results: [] } })).toMatchObject({ status: 'SUCCEEDED', total: 0, instances: [] });
  });

  test.each([
    [{ Error: 'VmExport.InvalidInput', Cause: JSON.stringify({ errorType: 'VmExport.InvalidInput', errorMessage: 'Invalid fleet input: bad' }) }, 'VmExport.InvalidInput', 'Invalid fleet input: bad'],
    [{ Error: 'Ec2.Ec2Exception', Cause: 'The filter \'tag-kay\' is invalid (Service: Ec2, Status Code: 400)' }, 'VmExport.ListingFailed', 'The fleet could not list its instances (DescribeInstances): The filter'],
    [{ Error: 'States.DataLimitExceeded', Cause: 'too big' }, 'VmExport.WorkflowError', 'too big'],
  ])('a fleet that stopped before exporting (%j)', (error, errorName, cause) => {
    const out = finishFleet({ action: 'fleet-finish', executionArn: ARN, state: { error } });
    expect(out).toMatchObject({ status: 'FAILED', errorName, total: 0, instances: [] });
    expect(out.cause).toContain(cause);
  });

  test('the cause fits Step Functions\' 32,768 characters', () => {
    const results = Array.from({ length: 100 }, (_, i) => recordFailure({ action: 'fleet-record', instanceId: `i-${i.toString(16).padStart(8, '0')}`, failure: { Error: 'States.TaskFailed', Cause: describeCause({ Status: 'FAILED', Error: 'VmExport.ExportFailed', Cause: 'y'.repeat(900) }) } }));
    const out = finishFleet({ action: 'fleet-finish', executionArn: ARN, state: { results } });
    expect(out.cause!.length).toBeLessThanOrEqual(32768);
    expect(out.failed).toBe(100);
  });
});

describe('slot holders', () => {
  function ec2(answers: { tasks?: unknown; images?: unknown[]; failTasks?: boolean }): EC2Client {
    let page = 0;
    return {
      send: async (command: unknown) => {
        if (command instanceof DescribeExportTasksCommand) {
          if (answers.failTasks) throw Object.assign(new Error('Rate exceeded'), { name: 'RequestLimitExceeded' });
          return { ExportTasks: answers.tasks };
        }
        if (command instanceof DescribeExportImageTasksCommand) {
          const pages = answers.images ?? [];
          const out = pages[page] ?? { ExportImageTasks: [] };
          page++;
          return out;
        }
        throw new Error('unexpected command');
      },
    } as unknown as EC2Client;
  }

  test('active and cancelling instance tasks, active and deleting image tasks, over pages', async () => {
    const client = ec2({
      tasks: [{ ExportTaskId: 'export-i-1', State: 'active' }, { ExportTaskId: 'export-i-2', State: 'completed' }, { ExportTaskId: 'export-i-3', State: 'cancelling' }],
      images: [
        { ExportImageTasks: [{ ExportImageTaskId: 'export-ami-1', Status: 'active' }, { ExportImageTaskId: 'export-ami-2', Status: 'deleted' }], NextToken: 'p2' },
        { ExportImageTasks: [{ ExportImageTaskId: 'export-ami-3', Status: 'deleting' }] },
      ],
    });
    expect(await findSlotHolders(client)).toEqual({ holders: ['export-i-1', 'export-i-3'], imageHolders: ['export-ami-1', 'export-ami-3'] });
  });

  test('image pages are read until 20 holders are found', async () => {
    const page = (from: number) => ({ ExportImageTasks: Array.from({ length: 15 }, (_, i) => ({ ExportImageTaskId: `export-ami-${from + i}`, Status: 'active' })), NextToken: 'more' });
    const client = ec2({ tasks: [], images: [page(0), page(15), page(30)] });
    const out = await findSlotHolders(client);
    expect(out.imageHolders).toHaveLength(20);
    expect(out.imageHolders[19]).toBe('export-ami-19');
  });

  test('tasks without an id are not holders', async () => {
    expect(await findSlotHolders(ec2({ tasks: [{ State: 'active' }], images: [{ ExportImageTasks: [{ Status: 'active' }] }] }))).toEqual({ holders: [], imageHolders: [] });
  });

  test('at most 20 of each; a listing that fails gives none of that kind', async () => {
    const tasks = Array.from({ length: 30 }, (_, i) => ({ ExportTaskId: `export-i-${i}`, State: 'active' }));
    expect((await findSlotHolders(ec2({ tasks }))).holders).toHaveLength(20);
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(await findSlotHolders(ec2({ failTasks: true, images: [{ ExportImageTasks: [{ ExportImageTaskId: 'export-ami-9', Status: 'active' }] }] })))
        .toEqual({ holders: [], imageHolders: ['export-ami-9'] });
      expect(log.mock.calls.map((c) => String(c[0])).join('\n')).toContain('"code":"RequestLimitExceeded"');
    } finally {
      log.mockRestore();
    }
  });
});
