/**
 * The fake EC2's DescribeInstances for tag-filtered listing of a fleet (test/support/fake-aws/
 * fake-ec2.ts): tags, Filters, MaxResults / NextToken paging, State { Code, Name }, the errors
 * EC2 gives, and the Step Functions AWS SDK integration `aws-sdk:ec2:describeInstances`.
 */
import { DescribeInstancesCommand, DescribeInstancesCommandInput, Instance } from '@aws-sdk/client-ec2';
import { createFakeAws, DESCRIBE_INSTANCES_RESOURCE, FakeAws, INSTANCE_STATE_CODES } from './support/fake-aws';
import { AslDefinition } from './support/local-sfn';

function fleet(): FakeAws {
  const fake = createFakeAws();
  const add = (n: number, state: string, tags?: Record<string, string>) =>
    fake.ec2.addInstance({ instanceId: `i-${n.toString(16).padStart(17, '0')}`, state, ...(tags ? { tags } : {}) });
  for (let n = 1; n <= 12; n++) add(n, n % 3 === 0 ? 'stopped' : 'running', { Team: n <= 8 ? 'blue' : 'red', Export: n % 2 === 0 ? 'yes' : 'no' });
  add(13, 'terminated', { Team: 'blue' });
  add(14, 'pending');
  add(15, 'stopping', { Backup: '' });
  return fake;
}

const id = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;

async function listInstances(fake: FakeAws, input: DescribeInstancesCommandInput) {
  return fake.clients('fleet-test').ec2.send(new DescribeInstancesCommand(input));
}

function ids(out: { Reservations?: Array<{ Instances?: Instance[] }> }): string[] {
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId!);
}

async function errorOf(promise: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as Error;
    return { name: e.name, message: e.message };
  }
  throw new Error('expected an error');
}

describe('DescribeInstances filters', () => {
  test('tag:<key> matches exact values; several values of one filter are alternatives', async () => {
    const fake = fleet();
    expect(ids(await listInstances(fake, { Filters: [{ Name: 'tag:Team', Values: ['red'] }] }))).toEqual([9, 10, 11, 12].map(id));
    expect(ids(await listInstances(fake, { Filters: [{ Name: 'tag:Team', Values: ['red', 'blue'] }] }))).toHaveLength(13);
    expect(ids(await listInstances(fake, { Filters: [{ Name: 'tag:Team', Values: ['Red'] }] }))).toEqual([]);
    expect(ids(await listInstances(fake, { Filters: [{ Name: 'tag:Backup', Values: [''] }] }))).toEqual([id(15)]);
  });

  test('several filters must all match (AND)', async () => {
    const fake = fleet();
    const out = await listInstances(fake, {
      Filters: [
        { Name: 'tag:Team', Values: ['blue'] },
        { Name: 'tag:Export', Values: ['yes'] },
        { Name: 'instance-state-name', Values: ['running', 'stopped'] },
      ],
    });
    expect(ids(out)).toEqual([2, 4, 6, 8].map(id));
  });

  test('tag-key, instance-state-name, instance-state-code and instance-id', async () => {
    const fake = fleet();
    expect(ids(await listInstances(fake, { Filters: [{ Name: 'tag-key', Values: ['Backup', 'Nope'] }] }))).toEqual([id(15)]);
    expect(ids(await listInstances(fake, { Filters: [{ Name: 'instance-state-name', Values: ['terminated', 'pending'] }] }))).toEqual([id(13), id(14)]);
    expect(ids(await listInstances(fake, { Filters: [{ Name: 'instance-state-code', Values: ['64'] }] }))).toEqual([id(15)]);
    expect(ids(await listInstances(fake, { Filters: [{ Name: 'instance-id', Values: [id(3), id(5)] }] }))).toEqual([id(3), id(5)]);
  });

  test('answers State { Code, Name } with EC2\'s codes and the tags as [{ Key, Value }]', async () => {
    const fake = fleet();
    const out = await listInstances(fake, { Filters: [{ Name: 'instance-id', Values: [id(3), id(13), id(14), id(15), id(1)] }] });
    const instances = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
    expect(instances.map((i) => [i.InstanceId, i.State])).toEqual([
      [id(1), { Code: 16, Name: 'running' }],
      [id(3), { Code: 80, Name: 'stopped' }],
      [id(13), { Code: 48, Name: 'terminated' }],
      [id(14), { Code: 0, Name: 'pending' }],
      [id(15), { Code: 64, Name: 'stopping' }],
    ]);
    expect(instances[0].Tags).toEqual([{ Key: 'Team', Value: 'blue' }, { Key: 'Export', Value: 'no' }]);
    expect(instances[3].Tags).toBeUndefined();
    expect(INSTANCE_STATE_CODES['shutting-down']).toBe(32);
  });

  test('an unknown filter name is InvalidParameterValue', async () => {
    const fake = fleet();
    const e = await errorOf(listInstances(fake, { Filters: [{ Name: 'tags:Team', Values: ['blue'] }] }));
    expect(e.name).toBe('InvalidParameterValue');
    expect(e.message).toContain('tags:Team');
  });

  test('the preflight call (InstanceIds, no Filters) keeps its answer: one reservation, NotFound for a missing id', async () => {
    const fake = fleet();
    const out = await listInstances(fake, { InstanceIds: [id(2), id(1)] });
    expect(out.Reservations).toHaveLength(1);
    expect(out.Reservations![0].ReservationId).toBe('r-0123456789abcdef0');
    expect(ids(out)).toEqual([id(2), id(1)]);
    expect(out.NextToken).toBeUndefined();
    const e = await errorOf(listInstances(fake, { InstanceIds: ['i-00000000000000999'] }));
    expect(e.name).toBe('InvalidInstanceID.NotFound');
  });
});

describe('DescribeInstances paging', () => {
  test('MaxResults pages over several pages with an opaque NextToken; filters apply to every page', async () => {
    const fake = fleet();
    const filters = [{ Name: 'tag:Team', Values: ['blue', 'red'] }, { Name: 'instance-state-name', Values: ['running', 'stopped'] }];
    const seen: string[] = [];
    const sizes: number[] = [];
    let token: string | undefined;
    do {
      const out = await listInstances(fake, { Filters: filters, MaxResults: 5, NextToken: token });
      sizes.push(ids(out).length);
      seen.push(...ids(out));
      token = out.NextToken;
      if (token) expect(token).not.toMatch(/^\d+$/);
    } while (token);
    expect(sizes).toEqual([5, 5, 2]);
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => id(i + 1)));
  });

  test('a page never groups several instances in one reservation that the caller would need to merge', async () => {
    const fake = fleet();
    const out = await listInstances(fake, { MaxResults: 6 });
    expect(ids(out)).toHaveLength(6);
    expect(out.Reservations!.every((r) => r.Instances!.length === 1)).toBe(true);
    expect(out.NextToken).toBeDefined();
  });

  test('MaxResults outside 5..1000 is InvalidParameterValue; with InstanceIds it is InvalidParameterCombination', async () => {
    const fake = fleet();
    expect((await errorOf(listInstances(fake, { MaxResults: 4 }))).name).toBe('InvalidParameterValue');
    expect((await errorOf(listInstances(fake, { MaxResults: 1001 }))).name).toBe('InvalidParameterValue');
    expect((await errorOf(listInstances(fake, { MaxResults: 5, InstanceIds: [id(1)] }))).name).toBe('InvalidParameterCombination');
    expect(ids(await listInstances(fake, { MaxResults: 1000 }))).toHaveLength(15);
  });

  test('an unknown NextToken, or one issued for other filters, is InvalidParameterValue', async () => {
    const fake = fleet();
    expect((await errorOf(listInstances(fake, { MaxResults: 5, NextToken: 'not-a-token' }))).name).toBe('InvalidParameterValue');
    const first = await listInstances(fake, { MaxResults: 5, Filters: [{ Name: 'tag:Team', Values: ['blue'] }] });
    expect(first.NextToken).toBeDefined();
    const other = await errorOf(listInstances(fake, { MaxResults: 5, NextToken: first.NextToken, Filters: [{ Name: 'tag:Team', Values: ['red'] }] }));
    expect(other.name).toBe('InvalidParameterValue');
  });
});

describe('Step Functions AWS SDK integration aws-sdk:ec2:describeInstances', () => {
  const LIST: AslDefinition = {
    StartAt: 'List',
    States: {
      List: {
        Type: 'Task',
        Resource: DESCRIBE_INSTANCES_RESOURCE,
        Parameters: { 'Filters': [{ 'Name': 'tag:Team', 'Values.$': '$.teams' }], 'MaxResults': 5, 'NextToken.$': '$.token' },
        ResultPath: '$.result',
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Failed' }],
        End: true,
      },
      Failed: { Type: 'Pass', End: true },
    },
  } as AslDefinition;
  const arn = 'arn:aws:states:us-east-1:123456789012:stateMachine:List';

  async function run(fake: FakeAws, input: unknown): Promise<any> {
    const { executionArn } = fake.sfn.handle('StartExecution', { stateMachineArn: arn, name: `l${fake.sfn.executions.size}`, input: JSON.stringify(input) });
    await fake.settle();
    const e = fake.sfn.execution(executionArn);
    expect(e.status).toBe('SUCCEEDED');
    return e.output;
  }

  test('Parameters are the API input in PascalCase and the result is the API output', async () => {
    const fake = fleet();
    fake.sfn.registerStateMachine(arn, LIST);
    const first = (await run(fake, { teams: ['blue'], token: null })).result;
    expect(ids(first)).toEqual([1, 2, 3, 4, 5].map(id));
    expect(first.$metadata).toBeUndefined();
    expect(first.Reservations[0].Instances[0]).toMatchObject({ State: { Code: 16, Name: 'running' }, Tags: [{ Key: 'Team', Value: 'blue' }, { Key: 'Export', Value: 'no' }] });
    expect(typeof first.NextToken).toBe('string');
    const second = (await run(fake, { teams: ['blue'], token: first.NextToken })).result;
    expect(ids(second)).toEqual([6, 7, 8, 13].map(id));
    expect(second.NextToken).toBeUndefined();
    const call = fake.world.callsOf({ service: 'ec2', operation: 'DescribeInstances' })[1];
    expect(call.input).toMatchObject({ Filters: [{ Name: 'tag:Team', Values: ['blue'] }], MaxResults: 5, NextToken: first.NextToken });
  });

  test('an EC2 error fails the state as Ec2.Ec2Exception with the SDK-style cause', async () => {
    const fake = fleet();
    fake.sfn.registerStateMachine(arn, LIST);
    const out = await run(fake, { teams: ['blue'], token: 'bogus' });
    expect(out.error.Error).toBe('Ec2.Ec2Exception');
    expect(out.error.Cause).toMatch(/^Invalid value 'bogus' for nextToken \(Service: Ec2, Status Code: 400, Request ID: /);
  });
});
