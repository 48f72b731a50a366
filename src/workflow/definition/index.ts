import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { START_STATE_QUOTA_FULL } from '../../internal/export-constants';
import { WorkflowPaths, WorkflowStateNames as N } from '../export-workflow-names';
import { buildDeadlineBranch } from './deadline-branch';
import { buildFinish } from './finish-states';
import { buildImagePollLoop } from './image-poll-states';
import { buildPollLoop, taskCompleted } from './poll-states';
import { buildPrepare } from './prepare-states';
import { buildSlotWait } from './slot-states';
import { buildStartExport } from './start-states';
import { presentString } from './state-helpers';

/** Options of the export workflow definition. */
export interface ExportWorkflowDefinitionOptions {
  /** The export-task function (`prepare`, `start`, `finish`). */
  readonly exportFunction: lambda.IFunction;
}

/**
 * Builds the export workflow (JSONPath only, so that aws-local-stepfunctions runs the very
 * definition that is deployed):
 *
 * ```
 * Prepare ──(catch)──► PrepareFailed ─┐
 *    │                                 ▼
 * Export (Parallel) ──(catch $.error)─► Finish ─► CheckOutcome ─► PublishSucceeded ─► Succeeded
 *                                                 └─► (otherwise) PublishFailed ─► CheckFailure ─► <one Fail per error> | UnexpectedOutcome
 *    ├─ StartExport ─► CheckStarted ─(adopted, completed)─► AdoptedTaskCompleted (Fail INTERNAL_COMPLETED)
 *    │     ├─(quota-full)─► CheckSlotHolders ─► CountSlotLook ─► WaitForSlot ─► DescribeSlotHolders ─► CheckSlotFreed
 *    │     │     a holder ended, none listed, or the look failed ─► StartExport
 *    │     │     looks < 180 ─► CountSlotLook      otherwise ─► WaitLongForSlot ─► DescribeSlotHolders
 *    │     │     (image export tasks hold them: the same with CountImageSlotLook ... CheckImageSlotFreed)
 *    │     └─► CountShortPoll ─► WaitShortPoll ─► DescribeExportTask ─► CheckExportState
 *    │       completed ─► TaskCompleted (Fail INTERNAL_COMPLETED)
 *    │       cancelled ─► TaskCancelled (Fail INTERNAL_CANCELLED, cause = StatusMessage)
 *    │       not listed ─► TaskNotListed ─► CountFailedPoll (as a failed poll)
 *    │       polls < 15 ─► CountShortPoll      otherwise ─► WaitLongPoll ─► DescribeExportTask
 *    │     DescribeExportTask fails (any error, after 3 quick retries) ─► CountFailedPoll ─► CheckFailedPolls
 *    │       fewer than 10 in a row ─► WaitAfterFailedPoll (300 s) ─► DescribeExportTask
 *    │       10 in a row ─► WatchLost (Fail WATCH_LOST: Finish reports, never cancels)
 *    └─ Deadline (Wait request.deadlineSeconds) ─► DeadlineReached (Fail DEADLINE_PASSED)
 * ```
 *
 * Both branches always end in a Fail state, so the Parallel always fails and its Catch hands
 * `{ request, error }` to Finish; a failing Prepare hands Finish the same shape with the raw
 * input as `request`.
 */
export function buildExportWorkflowDefinition(scope: Construct, options: ExportWorkflowDefinitionOptions): sfn.IChainable {
  const fn = options.exportFunction;
  const finish = buildFinish(scope, fn);
  const prepare = buildPrepare(scope, fn, finish);
  const exportRace = buildExportRace(scope, fn, finish);
  return sfn.Chain.start(prepare).next(exportRace);
}

/**
 * The Parallel that races the export branch against the deadline branch. Both branches always
 * end in Fail, so the Parallel always fails, and its Catch hands `{ request, error }` to Finish.
 */
function buildExportRace(scope: Construct, fn: lambda.IFunction, finish: sfn.IChainable): sfn.IChainable {
  const exportBranch = buildExportBranch(scope, fn);
  const deadlineBranch = buildDeadlineBranch(scope);
  const exportParallel = sfn.Parallel.jsonPath(scope, N.EXPORT, {
    comment: 'Race the export (start + poll) against the deadline.',
    parameters: {
      request: sfn.JsonPath.objectAt(WorkflowPaths.REQUEST),
      poll: { count: 0 },
      slotLooks: { count: 0 },
      describe: { ExportTasks: [], failedPolls: 0 },
      progress: { last: '' },
    },
  });
  exportParallel.branch(exportBranch);
  exportParallel.branch(deadlineBranch);
  exportParallel.addCatch(finish, { errors: [sfn.Errors.ALL], resultPath: WorkflowPaths.ERROR });
  return exportParallel;
}

/**
 * The export branch: StartExport, then the poll loop of the request's kind (an image export
 * polls DescribeExportImageTasks, an instance export DescribeExportTasks). An adopted task that is already completed
 * (a new wait condition for a finished export) needs no polling: it may no longer be listed at all.
 */
function buildExportBranch(scope: Construct, fn: lambda.IFunction): sfn.IChainable {
  const startExport = buildStartExport(scope, fn);
  const pollLoop = buildPollLoop(scope);
  const imagePollLoop = buildImagePollLoop(scope);
  const kind = `${WorkflowPaths.REQUEST}.kind`;
  const checkStarted = sfn.Choice.jsonPath(scope, N.CHECK_STARTED, {
    comment: 'An adopted export that already completed goes straight to Finish; a full quota waits for a slot.',
  });
  const state = `${WorkflowPaths.START}.state`;
  checkStarted
    .when(sfn.Condition.and(presentString(state), sfn.Condition.stringEquals(state, 'completed')), taskCompleted(scope, true))
    .when(sfn.Condition.and(presentString(state), sfn.Condition.stringEquals(state, START_STATE_QUOTA_FULL)), buildSlotWait(scope, startExport))
    .when(sfn.Condition.and(presentString(kind), sfn.Condition.stringEquals(kind, 'image')), imagePollLoop)
    .otherwise(pollLoop);
  startExport.next(checkStarted);
  return startExport;
}
