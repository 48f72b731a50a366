import { Fn, Names, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** The prefix CloudWatch Logs expects for log groups of vended logs (Step Functions among them). */
const VENDED_LOGS_PREFIX = '/aws/vendedlogs/states/';

/**
 * The name of a state machine's log group: `/aws/vendedlogs/states/<stack name>-<path>-<hash>-<stack
 * UUID>`. The prefix keeps the log group out of the account's CloudWatch Logs resource policy
 * (capped at 5,120 characters, SPEC section 5); the construct's unique name tells the state
 * machines of an account apart; the stack's UUID lets a stack be created again after a retained
 * log group was left behind (a deleted or rolled back stack keeps it under the default removal
 * policy).
 *
 * @param scope the construct that owns the state machine
 */
export function stateMachineLogGroupName(scope: IConstruct): string {
  const unique = Names.uniqueResourceName(scope, { maxLength: 200, separator: '-', allowedSpecialCharacters: '-_' });
  const stackUuid = Fn.select(2, Fn.split('/', Stack.of(scope).stackId));
  return Fn.join('', [VENDED_LOGS_PREFIX, unique, '-', stackUuid]);
}
