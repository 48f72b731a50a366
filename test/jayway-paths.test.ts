/**
 * The local interpreter reads JSONPath as Step Functions (Jayway) does (test/setup/jayway-paths.ts):
 * an indefinite path yields a list, empty when nothing matches; a definite path that finds
 * nothing still fails the state.
 */
import { isIndefinitePath } from './setup/jayway-paths';
import { AslDefinition, runLocal } from './support/local-sfn';

test.each([
  ['$.a[*].b', true],
  ['$..NextToken', true],
  ["$.a[?(@.s == 'x')].id", true],
  ['$.a[1:3]', true],
  ['$.a[0,1]', true],
  ['$.a.b', false],
  ['$.a[0].b', false],
  ["$['a.b'].c", false],
  ['$$.Map.Item.Value', false],
])('%s is indefinite: %s', (expression, indefinite) => {
  expect(isIndefinitePath(expression)).toBe(indefinite);
});

const SELECT: AslDefinition = {
  StartAt: 'Select',
  States: {
    Select: {
      Type: 'Pass',
      Parameters: {
        'ids.$': '$.Reservations[*].Instances[*].InstanceId',
        'tokens.$': '$..NextToken',
        'active.$': "$.Tasks[?(@.State == 'active')].Id",
      },
      End: true,
    },
  },
} as AslDefinition;

test('no match: empty lists; one match: a list of one (as Step Functions answers)', async () => {
  const none = await runLocal(SELECT, { Reservations: [], Tasks: [{ Id: 'a', State: 'completed' }] });
  expect(none.output).toEqual({ ids: [], tokens: [], active: [] });
  const one = await runLocal(SELECT, { Reservations: [{ Instances: [{ InstanceId: 'i-1' }] }], NextToken: 't', Tasks: [{ Id: 'a', State: 'active' }] });
  expect(one.output).toEqual({ ids: ['i-1'], tokens: ['t'], active: ['a'] });
});

test('a definite path that finds nothing still fails the state (States.Runtime)', async () => {
  const missing = await runLocal({ StartAt: 'P', States: { P: { Type: 'Pass', Parameters: { 'x.$': '$.NextToken' }, End: true } } } as AslDefinition, {});
  expect(missing.status).toBe('FAILED');
  expect(missing.error).toBe('States.Runtime');
});
