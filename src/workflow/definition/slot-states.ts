import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { MAX_SLOT_HOLDERS } from '../../internal/export-constants';
import { WorkflowPaths, WorkflowStateNames as N, WorkflowTimings } from '../export-workflow-names';
import { buildPollTimers } from './failed-polls';

/** What one kind of slot holder is polled with and how its list reads. */
interface HolderWatch {
  readonly count: string;
  readonly wait: string;
  readonly waitLong: string;
  readonly describe: string;
  readonly check: string;
  /** The API action (AWS SDK integration, camelCase) and its id-list parameter. */
  readonly action: string;
  readonly idsParameter: string;
  /** Where StartExport's answer (`$.start.reply`) has the ids (`holders`, `imageHolders`). */
  readonly holdersKey: string;
  /** The answer's list and status field. */
  readonly listKey: string;
  readonly statusKey: string;
  /** Status values of a task that no longer holds a slot. */
  readonly ended: string[];
}

const INSTANCE_HOLDERS: HolderWatch = {
  count: N.COUNT_SLOT_LOOK,
  wait: N.WAIT_FOR_SLOT,
  waitLong: N.WAIT_LONG_FOR_SLOT,
  describe: N.DESCRIBE_SLOT_HOLDERS,
  check: N.CHECK_SLOT_FREED,
  action: 'describeExportTasks',
  idsParameter: 'ExportTaskIds',
  holdersKey: 'holders',
  listKey: 'ExportTasks',
  statusKey: 'State',
  ended: ['completed', 'cancelled'],
};

const IMAGE_HOLDERS: HolderWatch = {
  count: N.COUNT_IMAGE_SLOT_LOOK,
  wait: N.WAIT_FOR_IMAGE_SLOT,
  waitLong: N.WAIT_LONG_FOR_IMAGE_SLOT,
  describe: N.DESCRIBE_IMAGE_SLOT_HOLDERS,
  check: N.CHECK_IMAGE_SLOT_FREED,
  action: 'describeExportImageTasks',
  idsParameter: 'ExportImageTaskIds',
  holdersKey: 'imageHolders',
  listKey: 'ExportImageTasks',
  statusKey: 'Status',
  ended: ['completed', 'deleted'],
};

/**
 * The wait for a conversion-task slot when StartExport found the quota full: StartExport
 * reported the tasks that hold the slots; the workflow looks at them through the AWS SDK
 * integration (no Lambda) every 60 s for the first SLOT_SHORT_LOOKS looks (Count, Wait,
 * Describe, Choice: 4 transitions), every 300 s afterwards (3 transitions), and calls
 * StartExport again as soon as one of them has ended, is no longer listed, or the look fails.
 * The longer interval keeps a wait as long as the longest deadline (7 days) inside Step
 * Functions' 25,000 events of execution history. Returns the entry (CheckSlotHolders).
 */
export function buildSlotWait(scope: Construct, startExport: sfn.IChainable): sfn.IChainable {
  const holders = (key: string) => `${WorkflowPaths.START}.reply.${key}[0]`;
  return sfn.Choice.jsonPath(scope, N.CHECK_SLOT_HOLDERS, {
    comment: 'Watch the instance export tasks that hold the slots, else the image export tasks.',
  })
    .when(sfn.Condition.isPresent(holders(INSTANCE_HOLDERS.holdersKey)), buildHolderWatch(scope, INSTANCE_HOLDERS, startExport))
    .when(sfn.Condition.isPresent(holders(IMAGE_HOLDERS.holdersKey)), buildHolderWatch(scope, IMAGE_HOLDERS, startExport))
    .otherwise(startExport);
}

function buildHolderWatch(scope: Construct, watch: HolderWatch, startExport: sfn.IChainable): sfn.IChainable {
  const { countShortPoll: count, waitShortPoll: wait, waitLongPoll: waitLong } = buildPollTimers(scope,
    { countShortPoll: watch.count, waitShortPoll: watch.wait, waitLongPoll: watch.waitLong },
    WorkflowPaths.SLOT_LOOKS, WorkflowTimings.SLOT_SHORT_LOOKS);
  const describe = tasks.CallAwsService.jsonPath(scope, watch.describe, {
    comment: 'Look at the slot holders (AWS SDK integration: no Lambda).',
    service: 'ec2',
    action: watch.action,
    parameters: { [watch.idsParameter]: sfn.JsonPath.listAt(`${WorkflowPaths.START}.reply.${watch.holdersKey}`) },
    // The Describe actions support no resource-level permissions.
    iamResources: ['*'],
    iamAction: `ec2:${watch.action.charAt(0).toUpperCase()}${watch.action.slice(1)}`,
    resultPath: WorkflowPaths.SLOTS,
  });
  // A look only reads: retried quickly; when it still fails (a holder EC2 no longer knows, or
  // EC2 failing), StartExport decides (it finds the quota full again, or starts).
  describe.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 2, jitterStrategy: sfn.JitterType.FULL });
  describe.addCatch(startExport, { errors: [sfn.Errors.ALL], resultPath: sfn.JsonPath.DISCARD });
  const check = sfn.Choice.jsonPath(scope, watch.check, {
    comment: 'A holder that ended (or is no longer listed) freed a slot: start again.',
  });
  count.next(wait);
  wait.next(describe);
  waitLong.next(describe);
  describe.next(check);
  check
    .when(slotFreed(watch), startExport)
    .when(sfn.Condition.numberLessThan(`${WorkflowPaths.SLOT_LOOKS}.count`, WorkflowTimings.SLOT_SHORT_LOOKS), count)
    .otherwise(waitLong);
  return count;
}

/** True when the look lists no holder, or a listed holder has ended (positions 0 to MAX_SLOT_HOLDERS - 1). */
function slotFreed(watch: HolderWatch): sfn.Condition {
  const list = `${WorkflowPaths.SLOTS}.${watch.listKey}`;
  const ended = Array.from({ length: MAX_SLOT_HOLDERS }, (_, i) => {
    const status = `${list}[${i}].${watch.statusKey}`;
    return sfn.Condition.and(
      sfn.Condition.isPresent(status),
      sfn.Condition.or(...watch.ended.map((value) => sfn.Condition.stringEquals(status, value))),
    );
  });
  return sfn.Condition.or(sfn.Condition.not(sfn.Condition.isPresent(`${list}[0]`)), ...ended);
}
