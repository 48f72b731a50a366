import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { WorkflowErrors, WorkflowPaths, WorkflowTimings } from '../export-workflow-names';
import { presentString } from './state-helpers';

/** The states of one poll loop's failed-poll handling, and what its poll reads. */
export interface FailedPollNames {
  /** Pass that counts the failure. */
  readonly count: string;
  /** Choice: give up or wait. */
  readonly check: string;
  /** Wait before polling again. */
  readonly wait: string;
  /** Fail with WATCH_LOST (the last failure's Cause). */
  readonly watchLost: string;
  /** Fail with WATCH_LOST when the last failure had no Cause. */
  readonly watchLostWithoutCause: string;
  /** The list the poll's result keeps under `$.describe` (`ExportTasks`, `ExportImageTasks`). */
  readonly listKey: string;
  /** The API the poll calls, for the cause without one. */
  readonly operation: string;
}

/**
 * The failed-poll loop: count the failure, wait and poll again; after
 * WATCH_LOST_AFTER_FAILED_POLLS failures in a row, stop watching (WatchLost) without cancelling.
 * Returns the state a failed poll goes to.
 */
export function buildFailedPollCounter(scope: Construct, describe: sfn.IChainable, names: FailedPollNames): sfn.IChainable {
  const failed = `${WorkflowPaths.DESCRIBE}.failedPolls`;
  const count = sfn.Pass.jsonPath(scope, names.count, {
    comment: 'One more failed poll in a row (a successful poll resets the count).',
    parameters: {
      [names.listKey]: [],
      failedPolls: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt(failed), 1),
    },
    resultPath: WorkflowPaths.DESCRIBE,
  });
  const check = sfn.Choice.jsonPath(scope, names.check, {
    comment: `After ${WorkflowTimings.WATCH_LOST_AFTER_FAILED_POLLS} failed polls in a row, stop watching; the task is not cancelled.`,
  });
  const wait = sfn.Wait.jsonPath(scope, names.wait, {
    time: sfn.WaitTime.duration(Duration.seconds(WorkflowTimings.FAILED_POLL_WAIT_SECONDS)),
  });
  const cause = `${WorkflowPaths.DESCRIBE_ERROR}.Cause`;
  const giveUp = sfn.Condition.numberGreaterThanEquals(failed, WorkflowTimings.WATCH_LOST_AFTER_FAILED_POLLS);
  count.next(check);
  check
    .when(sfn.Condition.and(giveUp, presentString(cause)), sfn.Fail.jsonPath(scope, names.watchLost, {
      comment: 'Finish reports the export as unknown and does not cancel it.',
      error: WorkflowErrors.WATCH_LOST,
      causePath: cause,
    }))
    .when(giveUp, sfn.Fail.jsonPath(scope, names.watchLostWithoutCause, {
      comment: 'Finish reports the export as unknown and does not cancel it.',
      error: WorkflowErrors.WATCH_LOST,
      cause: `${names.operation} failed without a cause.`,
    }))
    .otherwise(wait);
  wait.next(describe);
  return count;
}

/** The state names of one poll loop's counter and waits. */
export interface PollTimerNames {
  readonly countShortPoll: string;
  readonly waitShortPoll: string;
  readonly waitLongPoll: string;
}

/** A poll loop's counter and waits. */
export interface PollTimers {
  readonly countShortPoll: sfn.Pass;
  readonly waitShortPoll: sfn.Wait;
  readonly waitLongPoll: sfn.Wait;
}

/**
 * A poll loop's short-poll counter and its two waits (the same timings for both kinds of export,
 * and for the slot loop: `counterPath` and `shortCount` say which counter and how many short
 * polls).
 */
export function buildPollTimers(
  scope: Construct, names: PollTimerNames, counterPath: string = WorkflowPaths.POLL, shortCount: number = WorkflowTimings.SHORT_POLL_COUNT,
): PollTimers {
  const countShortPoll = sfn.Pass.jsonPath(scope, names.countShortPoll, {
    comment: `Count the short polls (${shortCount} of ${WorkflowTimings.SHORT_POLL_SECONDS} s).`,
    parameters: {
      count: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt(`${counterPath}.count`), 1),
    },
    resultPath: counterPath,
  });
  const waitShortPoll = sfn.Wait.jsonPath(scope, names.waitShortPoll, {
    time: sfn.WaitTime.duration(Duration.seconds(WorkflowTimings.SHORT_POLL_SECONDS)),
  });
  const waitLongPoll = sfn.Wait.jsonPath(scope, names.waitLongPoll, {
    time: sfn.WaitTime.duration(Duration.seconds(WorkflowTimings.LONG_POLL_SECONDS)),
  });
  return { countShortPoll, waitShortPoll, waitLongPoll };
}

/** A poll only reads, so any failure is retried quickly (then counted by the failed-poll loop). */
export function addPollRetry(describe: sfn.TaskStateBase): void {
  describe.addRetry({
    errors: [sfn.Errors.ALL],
    interval: Duration.seconds(5),
    backoffRate: 2,
    maxAttempts: WorkflowTimings.DESCRIBE_RETRY_MAX_ATTEMPTS,
    jitterStrategy: sfn.JitterType.FULL,
  });
}
