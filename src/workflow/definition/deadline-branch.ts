import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { WorkflowErrors, WorkflowPaths, WorkflowStateNames as N } from '../export-workflow-names';

/** The deadline branch: wait for the request's deadline, then fail (which ends the race). */
export function buildDeadlineBranch(scope: Construct): sfn.IChainable {
  const deadline = sfn.Wait.jsonPath(scope, N.DEADLINE, {
    comment: 'Wait for the request\'s deadline; failing ends the export branch too.',
    time: sfn.WaitTime.secondsPath(`${WorkflowPaths.REQUEST}.deadlineSeconds`),
  });
  deadline.next(sfn.Fail.jsonPath(scope, N.DEADLINE_REACHED, {
    error: WorkflowErrors.DEADLINE_PASSED,
    cause: 'The deadline passed before the export task finished.',
  }));
  return deadline;
}
