/**
 * Virtual time (discrete-event simulation) of many concurrent executions on one clock:
 * createFakeAws({ virtualTime: true }) runs every execution FakeSfn starts on the world clock's
 * shared scheduler (test/support/local-sfn.ts VirtualScheduler). Hand-written JSONPath
 * definitions, run through fake.sfn.
 */
import { childAbortCause, createFakeAws, FakeAws, START_EXECUTION_SYNC2_RESOURCE, START_EXECUTION_SYNC_RESOURCE, DESCRIBE_INSTANCES_RESOURCE } from './support/fake-aws';
import { deploy, Deployed, onlySignal } from './support/fake-aws/e2e-deploy';
import { synthSampleStack } from './support/fake-aws/sample-stack';
import { AslDefinition, DEFAULT_VIRTUAL_TIME_SEED, LocalRunResult, retryDelaySeconds } from './support/local-sfn';

const ACCOUNT = '123456789012';
const smArn = (name: string) => `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:${name}`;
const execArn = (sm: string, name: string) => `arn:aws:states:us-east-1:${ACCOUNT}:execution:${sm}:${name}`;

function world(options: Parameters<typeof createFakeAws>[0] = {}): FakeAws {
  return createFakeAws({ virtualTime: true, ...options });
}

function register(fake: FakeAws, name: string, definition: AslDefinition): string {
  const arn = smArn(name);
  fake.sfn.registerStateMachine(arn, definition);
  return arn;
}

function start(fake: FakeAws, sm: string, name: string, input: unknown = {}): string {
  return fake.sfn.handle('StartExecution', { stateMachineArn: smArn(sm), name, input: JSON.stringify(input) }).executionArn;
}

function result(fake: FakeAws, arn: string): LocalRunResult {
  const r = fake.sfn.execution(arn).result;
  if (!r) throw new Error(`${arn} has no result`);
  return r;
}

/** Simulated second each state of a run was entered (first entry). */
function enteredAt(r: LocalRunResult, state: string): number[] {
  return r.timeline.filter((t) => t.type === 'StateEntered' && t.state === state).map((t) => t.at);
}

const WAIT_HOUR: AslDefinition = {
  StartAt: 'Hour',
  States: {
    Hour: { Type: 'Wait', Seconds: 3600, Next: 'Done' },
    Done: { Type: 'Pass', End: true },
  },
} as AslDefinition;

/** Waits 10 s `$.n` times in a loop (Pass / Wait / Choice). */
const WAIT_LOOP: AslDefinition = {
  StartAt: 'Init',
  States: {
    Init: { Type: 'Pass', Parameters: { 'n.$': '$.n', 'i': 0 }, Next: 'Tick' },
    Tick: { Type: 'Wait', Seconds: 10, Next: 'Count' },
    Count: { Type: 'Pass', Parameters: { 'n.$': '$.n', 'i.$': 'States.MathAdd($.i, 1)' }, Next: 'More' },
    More: {
      Type: 'Choice',
      Choices: [{ Variable: '$.i', NumericLessThanPath: '$.n', Next: 'Tick' }],
      Default: 'Finished',
    },
    Finished: { Type: 'Succeed' },
  },
} as AslDefinition;

describe('virtual time: concurrent executions share one clock', () => {
  test('two executions each waiting an hour end at 3600 s, not 7200 s', async () => {
    const fake = world();
    register(fake, 'Hour', WAIT_HOUR);
    const a = start(fake, 'Hour', 'a');
    const b = start(fake, 'Hour', 'b');
    await fake.settle();

    expect(fake.world.clock.now).toBe(3600);
    for (const arn of [a, b]) {
      expect(fake.sfn.execution(arn).status).toBe('SUCCEEDED');
      expect(enteredAt(result(fake, arn), 'Done')).toEqual([3600]);
      expect(fake.sfn.execution(arn).stoppedAt).toBe(3600);
    }
  });

  test('the same definitions without virtual time add their waits up (the model it replaces)', async () => {
    const fake = createFakeAws();
    register(fake, 'Hour', WAIT_HOUR);
    start(fake, 'Hour', 'a');
    start(fake, 'Hour', 'b');
    await fake.settle();
    expect(fake.world.clock.now).toBe(7200);
  });

  test('a loop of Waits runs alongside a single Wait and each ends at its own time', async () => {
    const fake = world();
    register(fake, 'Loop', WAIT_LOOP);
    register(fake, 'Once', { StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 25, End: true } } } as AslDefinition);
    const loop = start(fake, 'Loop', 'loop', { n: 5 });
    const once = start(fake, 'Once', 'once');
    await fake.settle();

    const r = result(fake, loop);
    expect(r.status).toBe('SUCCEEDED');
    expect(enteredAt(r, 'Count')).toEqual([10, 20, 30, 40, 50]);
    expect(r.entered('Tick')).toBe(5);
    expect(fake.sfn.execution(once).stoppedAt).toBe(25);
    expect(fake.world.clock.now).toBe(50);
  });

  test('Map with MaxConcurrency 2 over 5 items whose iterations wait 100 s ends at 300 s', async () => {
    const fake = world();
    register(fake, 'Map', {
      StartAt: 'Each',
      States: {
        Each: {
          Type: 'Map',
          ItemsPath: '$.items',
          MaxConcurrency: 2,
          Iterator: {
            StartAt: 'Sleep',
            States: { Sleep: { Type: 'Wait', Seconds: 100, Next: 'Woke' }, Woke: { Type: 'Pass', End: true } },
          },
          End: true,
        },
      },
    } as AslDefinition);
    const arn = start(fake, 'Map', 'm', { items: [1, 2, 3, 4, 5] });
    await fake.settle();

    const r = result(fake, arn);
    expect(r.status).toBe('SUCCEEDED');
    expect(r.output).toEqual([1, 2, 3, 4, 5]);
    expect(enteredAt(r, 'Woke')).toEqual([100, 100, 200, 200, 300]);
    expect(fake.world.clock.now).toBe(300);
  });

  test('SecondsPath and TimestampPath waits end at their own simulated times', async () => {
    const fake = world();
    register(fake, 'ByPath', {
      StartAt: 'Path',
      States: {
        Path: { Type: 'Wait', SecondsPath: '$.seconds', Next: 'Until' },
        Until: { Type: 'Wait', TimestampPath: '$.until', Next: 'End' },
        End: { Type: 'Pass', End: true },
      },
    } as AslDefinition);
    const epoch = fake.world.clock.epochMs;
    const iso = (s: number) => new Date(epoch + s * 1000).toISOString();
    const x = start(fake, 'ByPath', 'x', { seconds: 40, until: iso(90) });
    const y = start(fake, 'ByPath', 'y', { seconds: 70, until: iso(60) });
    await fake.settle();

    expect(enteredAt(result(fake, x), 'Until')).toEqual([40]);
    expect(enteredAt(result(fake, x), 'End')).toEqual([90]);
    expect(enteredAt(result(fake, y), 'Until')).toEqual([70]);
    // A timestamp already passed ends at once.
    expect(enteredAt(result(fake, y), 'End')).toEqual([70]);
  });

  test('state transitions are counted per execution', async () => {
    const fake = world();
    register(fake, 'Loop', WAIT_LOOP);
    register(fake, 'Hour', WAIT_HOUR);
    const loop = start(fake, 'Loop', 'loop', { n: 3 });
    const hour = start(fake, 'Hour', 'hour');
    await fake.settle();

    // Init + 3 x (Tick, Count, More) + Finished.
    expect(result(fake, loop).transitions).toBe(1 + 3 * 3 + 1);
    expect(result(fake, hour).transitions).toBe(2);
    expect(result(fake, loop).timeline.every((t) => t.at <= 30)).toBe(true);
    expect(result(fake, hour).transitionsPerHour).toEqual([1, 1]);
  });
});

describe('virtual time: retries', () => {
  /** A Task that always fails (a DescribeInstances filter EC2 refuses: Ec2.Ec2Exception), retried. */
  function retrying(jitter: 'FULL' | 'NONE'): AslDefinition {
    return {
      StartAt: 'List',
      States: {
        List: {
          Type: 'Task',
          Resource: DESCRIBE_INSTANCES_RESOURCE,
          Parameters: { Filters: [{ Name: 'no-such-filter', Values: ['x'] }] },
          Retry: [{ ErrorEquals: ['Ec2.Ec2Exception'], IntervalSeconds: 10, BackoffRate: 2, MaxAttempts: 4, MaxDelaySeconds: 60, JitterStrategy: jitter }],
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'GaveUp' }],
          End: true,
        },
        GaveUp: { Type: 'Pass', End: true },
      },
    } as AslDefinition;
  }

  async function callTimes(seed: number | undefined, jitter: 'FULL' | 'NONE', executions = 1): Promise<number[][]> {
    const fake = world({ virtualTimeSeed: seed });
    register(fake, 'Retry', retrying(jitter));
    const arns = Array.from({ length: executions }, (_, i) => start(fake, 'Retry', `r${i}`));
    await fake.settle();
    return arns.map((arn) => {
      const r = result(fake, arn);
      expect(r.status).toBe('SUCCEEDED');
      expect(r.entered('GaveUp')).toBe(1);
      return r.callsOf('List').map((c) => c.at);
    });
  }

  const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]);

  test('without jitter the delays are IntervalSeconds x BackoffRate^(attempt-1), capped by MaxDelaySeconds', async () => {
    const [times] = await callTimes(undefined, 'NONE');
    expect(gaps(times)).toEqual([10, 20, 40, 60]);
    const retrier = retrying('NONE').States.List as any;
    expect([1, 2, 3, 4].map((n) => retryDelaySeconds(retrier.Retry[0], n))).toEqual([10, 20, 40, 60]);
  });

  test('concurrent executions retry in parallel: their backoffs overlap', async () => {
    const all = await callTimes(undefined, 'NONE', 3);
    for (const times of all) expect(times).toEqual([0, 10, 30, 70, 130]);
  });

  test('FULL jitter: each delay within [0, delay], reproducible with the same seed, another seed differs', async () => {
    const first = await callTimes(DEFAULT_VIRTUAL_TIME_SEED, 'FULL', 2);
    const again = await callTimes(DEFAULT_VIRTUAL_TIME_SEED, 'FULL', 2);
    const other = await callTimes(7, 'FULL', 2);
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
    const caps = [10, 20, 40, 60];
    for (const times of [...first, ...other]) {
      const g = gaps(times);
      expect(g).toHaveLength(4);
      g.forEach((gap, i) => {
        expect(gap).toBeGreaterThanOrEqual(0);
        expect(gap).toBeLessThanOrEqual(caps[i]);
      });
    }
    // Jitter did shorten something (all four at their cap would mean no jitter).
    expect(first.flatMap(gaps)).not.toEqual([...caps, ...caps]);
  });
});

describe('virtual time: nested executions (states:startExecution.sync:2)', () => {
  const CHILD_OK: AslDefinition = {
    StartAt: 'Think',
    States: {
      Think: { Type: 'Wait', Seconds: 30, Next: 'Answer' },
      Answer: { Type: 'Pass', Parameters: { 'answer.$': '$.question' }, End: true },
    },
  } as AslDefinition;
  const CHILD_FAILS: AslDefinition = {
    StartAt: 'Think',
    States: {
      Think: { Type: 'Wait', Seconds: 50, Next: 'Boom' },
      Boom: { Type: 'Fail', Error: 'ChildBoom', Cause: 'the child went wrong' },
    },
  } as AslDefinition;
  const CHILD_SLOW: AslDefinition = {
    StartAt: 'Long',
    States: { Long: { Type: 'Wait', Seconds: 1000, End: true } },
  } as AslDefinition;

  function parent(child: string, resource = START_EXECUTION_SYNC2_RESOURCE): AslDefinition {
    return {
      StartAt: 'Nest',
      States: {
        Nest: {
          Type: 'Task',
          Resource: resource,
          Parameters: { 'StateMachineArn': smArn(child), 'Input': { 'question.$': '$.q' }, 'Name.$': '$.childName' },
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Pass', End: true },
      },
    } as AslDefinition;
  }

  test('a succeeding child: the parent gets the DescribeExecution envelope with Output as JSON', async () => {
    const fake = world();
    register(fake, 'ChildOk', CHILD_OK);
    register(fake, 'Parent', parent('ChildOk'));
    register(fake, 'Hour', WAIT_HOUR);
    const p = start(fake, 'Parent', 'p', { q: 42, childName: 'kid' });
    start(fake, 'Hour', 'alongside');
    await fake.settle();

    const out = fake.sfn.execution(p).output as any;
    expect(out).toEqual({
      ExecutionArn: execArn('ChildOk', 'kid'),
      Input: { question: 42 },
      InputDetails: { Included: true },
      Name: 'kid',
      Output: { answer: 42 },
      OutputDetails: { Included: true },
      StartDate: fake.world.clock.epochMs,
      StateMachineArn: smArn('ChildOk'),
      Status: 'SUCCEEDED',
      StopDate: fake.world.clock.epochMs + 30_000,
    });
    expect(fake.sfn.execution(p).stoppedAt).toBe(30);
    expect(fake.sfn.execution(execArn('ChildOk', 'kid')).parentArn).toBe(p);
  });

  test('.sync (version 1) gives Input and Output as JSON strings', async () => {
    const fake = world();
    register(fake, 'ChildOk', CHILD_OK);
    register(fake, 'Parent', parent('ChildOk', START_EXECUTION_SYNC_RESOURCE));
    const p = start(fake, 'Parent', 'p', { q: 'hi', childName: 'kid' });
    await fake.settle();
    const out = fake.sfn.execution(p).output as any;
    expect(out.Output).toBe('{"answer":"hi"}');
    expect(out.Input).toBe('{"question":"hi"}');
  });

  test('a failing child fails the parent Task with States.TaskFailed and the envelope as Cause', async () => {
    const fake = world();
    register(fake, 'ChildFails', CHILD_FAILS);
    register(fake, 'Parent', parent('ChildFails'));
    const p = start(fake, 'Parent', 'p', { q: 1, childName: 'kid' });
    await fake.settle();

    const out = fake.sfn.execution(p).output as any;
    expect(out.error.Error).toBe('States.TaskFailed');
    const cause = JSON.parse(out.error.Cause);
    expect(cause).toMatchObject({
      ExecutionArn: execArn('ChildFails', 'kid'),
      Status: 'FAILED',
      Error: 'ChildBoom',
      Cause: 'the child went wrong',
      StopDate: fake.world.clock.epochMs + 50_000,
    });
    expect(cause.Output).toBeUndefined();
    expect(enteredAt(result(fake, p), 'Caught')).toEqual([50]);
  });

  test('syncChildFailure changes the error name and cause', async () => {
    const fake = world({ syncChildFailure: { error: 'Custom.ChildFailed', cause: 'child' } });
    register(fake, 'ChildFails', CHILD_FAILS);
    register(fake, 'Parent', parent('ChildFails'));
    const p = start(fake, 'Parent', 'p', { q: 1, childName: 'kid' });
    await fake.settle();
    expect((fake.sfn.execution(p).output as any).error).toEqual({ Error: 'Custom.ChildFailed', Cause: 'the child went wrong' });
  });

  test('StopExecution of the parent stops its running .sync child (ABORTED, status change event sent)', async () => {
    const fake = world();
    const changes: any[] = [];
    const bus = fake.sfn.statusChangeListener;
    fake.sfn.statusChangeListener = (event) => {
      changes.push(event);
      bus?.(event);
    };
    register(fake, 'Slow', CHILD_SLOW);
    register(fake, 'Parent', parent('Slow'));
    const p = start(fake, 'Parent', 'p', { q: 1, childName: 'kid' });
    const child = execArn('Slow', 'kid');
    // The child starts within a few event-loop turns; the clock cannot move before it waits.
    for (let i = 0; i < 200 && !fake.sfn.executions.has(child); i++) await new Promise((r) => setImmediate(r));
    expect(fake.sfn.execution(child).status).toBe('RUNNING');
    fake.sfn.handle('StopExecution', { executionArn: p, error: 'Operator', cause: 'stopped by a test' });
    await fake.settle();

    expect(fake.sfn.execution(p).status).toBe('ABORTED');
    const c = fake.sfn.execution(child);
    expect(c.status).toBe('ABORTED');
    expect(c.cause).toBe(childAbortCause(p));
    expect(c.error).toBeUndefined();
    expect(c.stoppedAt).toBe(0);
    expect(changes.map((e) => [e.detail.name, e.detail.status])).toEqual([['p', 'ABORTED'], ['kid', 'ABORTED']]);
    // The child's 1000 s wait was cancelled: the clock did not run to it.
    expect(fake.world.clock.now).toBeLessThan(1000);
  });

  test('stopChildrenWithParent: false leaves the child running to its end', async () => {
    const fake = world({ stopChildrenWithParent: false });
    register(fake, 'Slow', CHILD_SLOW);
    register(fake, 'Parent', parent('Slow'));
    const p = start(fake, 'Parent', 'p', { q: 1, childName: 'kid' });
    const child = execArn('Slow', 'kid');
    for (let i = 0; i < 200 && !fake.sfn.executions.has(child); i++) await new Promise((r) => setImmediate(r));
    fake.sfn.handle('StopExecution', { executionArn: p });
    await fake.settle();
    expect(fake.sfn.execution(child).status).toBe('SUCCEEDED');
    expect(fake.sfn.execution(child).stoppedAt).toBe(1000);
  });

  test('a parent that fails on its own (a Parallel sibling) stops its running child at that time', async () => {
    const fake = world();
    register(fake, 'Slow', CHILD_SLOW);
    register(fake, 'Parent', {
      StartAt: 'Both',
      States: {
        Both: {
          Type: 'Parallel',
          End: true,
          Branches: [
            { StartAt: 'Nest', States: { Nest: { Type: 'Task', Resource: START_EXECUTION_SYNC2_RESOURCE, Parameters: { StateMachineArn: smArn('Slow'), Name: 'kid' }, End: true } } },
            { StartAt: 'Pause', States: { Pause: { Type: 'Wait', Seconds: 100, Next: 'Fail' }, Fail: { Type: 'Fail', Error: 'Sibling', Cause: 'no' } } },
          ],
        },
      },
    } as AslDefinition);
    const p = start(fake, 'Parent', 'p');
    await fake.settle();
    expect(fake.sfn.execution(p).status).toBe('FAILED');
    expect(fake.sfn.execution(p).error).toBe('Sibling');
    const c = fake.sfn.execution(execArn('Slow', 'kid'));
    expect(c.status).toBe('ABORTED');
    expect(c.stoppedAt).toBe(100);
  });
});

describe('context object and ListExecutions', () => {
  const CONTEXT: AslDefinition = {
    StartAt: 'Read',
    States: {
      Read: {
        Type: 'Pass',
        Parameters: { 'id.$': '$$.Execution.Id', 'name.$': '$$.Execution.Name', 'start.$': '$$.Execution.StartTime', 'sm.$': '$$.StateMachine.Id' },
        End: true,
      },
    },
  } as AslDefinition;

  test.each([true, false])('FakeSfn runs get $$.Execution.Id / Name / StartTime (simulated) and $$.StateMachine.Id (virtualTime %s)', async (virtualTime) => {
    const fake = createFakeAws({ virtualTime });
    register(fake, 'Hour', WAIT_HOUR);
    register(fake, 'Ctx', CONTEXT);
    start(fake, 'Hour', 'first');
    await fake.settle();
    const arn = start(fake, 'Ctx', 'second');
    await fake.settle();
    expect(fake.sfn.execution(arn).output).toEqual({
      id: execArn('Ctx', 'second'),
      name: 'second',
      start: new Date(fake.world.clock.epochMs + 3600_000).toISOString(),
      sm: smArn('Ctx'),
    });
  });

  test('ListExecutions pages newest first and filters by status', async () => {
    const fake = world();
    register(fake, 'Hour', WAIT_HOUR);
    register(fake, 'Ctx', CONTEXT);
    for (let i = 0; i < 5; i++) {
      start(fake, 'Hour', `h${i}`);
      await new Promise((r) => setImmediate(r));
    }
    fake.sfn.handle('StopExecution', { executionArn: execArn('Hour', 'h1') });
    start(fake, 'Ctx', 'other');
    await fake.settle();

    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = fake.sfn.handle('ListExecutions', { stateMachineArn: smArn('Hour'), maxResults: 2, nextToken: token });
      expect(page.executions.length).toBeLessThanOrEqual(2);
      names.push(...page.executions.map((e: any) => e.name));
      token = page.nextToken;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(names).toEqual(['h4', 'h3', 'h2', 'h1', 'h0']);

    const aborted = fake.sfn.handle('ListExecutions', { stateMachineArn: smArn('Hour'), statusFilter: 'ABORTED' });
    expect(aborted.executions).toEqual([{
      executionArn: execArn('Hour', 'h1'),
      stateMachineArn: smArn('Hour'),
      name: 'h1',
      status: 'ABORTED',
      startDate: new Date(fake.world.clock.epochMs),
      stopDate: new Date(fake.world.clock.epochMs),
    }]);
    expect(aborted.nextToken).toBeUndefined();
    const succeeded = fake.sfn.handle('ListExecutions', { stateMachineArn: smArn('Hour'), statusFilter: 'SUCCEEDED' });
    expect(succeeded.executions.map((e: any) => e.stopDate.getTime() - fake.world.clock.epochMs)).toEqual([3600_000, 3600_000, 3600_000, 3600_000]);

    expect(() => fake.sfn.handle('ListExecutions', { stateMachineArn: smArn('Hour'), nextToken: 'bogus' })).toThrow(expect.objectContaining({ name: 'InvalidToken' }));
    expect(() => fake.sfn.handle('ListExecutions', { stateMachineArn: smArn('Nope') })).toThrow(expect.objectContaining({ name: 'StateMachineDoesNotExist' }));
  });
});

describe('virtual time: the library\'s own export workflow', () => {
  beforeAll(() => {
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });

  test('one export runs the same in virtual time as in the default model (same timeline, transitions, Lambda calls)', async () => {
    const template = synthSampleStack();
    const classic = await deploy(template);
    await classic.fake.settle();
    const virtual = await deploy(template, { virtualTime: true, defaultExportBehaviour: { outcome: 'complete', afterSeconds: 1800 } });
    await virtual.fake.settle();
    const classicTimed = await deploy(template, { defaultExportBehaviour: { outcome: 'complete', afterSeconds: 1800 } });
    await classicTimed.fake.settle();

    const ran = (d: Deployed) => {
      const e = d.fake.sfn.execution(d.response.PhysicalResourceId);
      expect(e.status).toBe('SUCCEEDED');
      expect(onlySignal(d).Status).toBe('SUCCESS');
      return e.result!;
    };
    ran(classic);
    const v = ran(virtual);
    const c = ran(classicTimed);
    expect(v.transitions).toBe(c.transitions);
    expect(v.lambdaInvocations).toBe(c.lambdaInvocations);
    expect(v.timeline.map((t) => [t.state, t.at])).toEqual(c.timeline.map((t) => [t.state, t.at]));
    expect(v.simulatedSeconds).toBeGreaterThanOrEqual(1800);
  });
});
