/**
 * The URL of the wait condition handle the workflow signals. The URL is a presigned URL (a
 * credential), so the workflow carries only the stack id, the handle's logical id and a SHA-256
 * hash of the URL, and the step that signals reads the URL here, when it needs it: the handle's
 * physical id is the URL its Ref returns. The URL is never logged, returned to Step Functions or
 * put into an error message.
 *
 * The hash is the execution's proof that whoever started it knew the URL (the export resource's
 * handler read it from CloudFormation): an execution started by anyone else with the handle's
 * logical id, which the template shows, gets no signal sent for it.
 */
import { CloudFormationClient, DescribeStackResourceCommand } from '@aws-sdk/client-cloudformation';
import { ERROR_WORKFLOW_ERROR } from './contract';
import { errorCode, errorMessage, retryableOr, VmExportError } from './ec2-errors';
import { sha256Hex } from './hash';

/** Where a handle is: the stack's ARN and the handle's logical id. */
export interface HandleLocation {
  readonly stackId: string;
  readonly logicalId: string;
}

/** The SHA-256 hash (hex) of a handle URL, as the workflow input carries it. */
export function handleUrlHash(url: string): string {
  return sha256Hex(url);
}

/**
 * The handle's URL as CloudFormation reports it, or undefined when the stack or the handle is
 * gone (DescribeStackResource's ValidationError "... does not exist", or a DELETE_* status: a
 * deleted stack's resources stay readable by stack id for 90 days). Throttling and transient
 * errors come back as VmExport.Throttled / VmExport.Transient (the caller retries); anything
 * else, or a physical id that is not an https URL, is a VmExport.WorkflowError.
 */
export async function readHandleUrl(cfn: CloudFormationClient, where: HandleLocation): Promise<string | undefined> {
  let detail: { PhysicalResourceId?: string; ResourceStatus?: string } | undefined;
  try {
    const out = await cfn.send(new DescribeStackResourceCommand({ StackName: where.stackId, LogicalResourceId: where.logicalId }));
    detail = out?.StackResourceDetail;
  } catch (err) {
    if (errorCode(err) === 'ValidationError' && /does not exist/i.test(errorMessage(err))) {
      return undefined;
    }
    const mapped = retryableOr(err, `Reading the wait condition handle ${where.logicalId}`);
    if (mapped !== err) {
      throw mapped;
    }
    const hint = /AccessDenied/.test(errorCode(err)) ? ': the function\'s role needs cloudformation:DescribeStackResource on the stack' : '';
    throw new VmExportError(ERROR_WORKFLOW_ERROR,
      `The wait condition handle ${where.logicalId} of ${where.stackId} could not be read (${errorCode(err)}: ${errorMessage(err)})${hint}.`);
  }
  if (String(detail?.ResourceStatus ?? '').startsWith('DELETE_')) {
    return undefined;
  }
  const physicalId = detail?.PhysicalResourceId;
  if (typeof physicalId !== 'string' || !physicalId.startsWith('https://')) {
    throw new VmExportError(ERROR_WORKFLOW_ERROR,
      `The wait condition handle ${where.logicalId} of ${where.stackId} has no URL as its physical id (${physicalId === undefined ? 'none' : `${physicalId.length} characters, not https`}): it cannot be signalled.`);
  }
  return physicalId;
}

/**
 * The URL to signal for an execution: readHandleUrl, checked against the hash the execution
 * carries. Undefined when the handle is gone. A hash that does not match is a
 * VmExport.WorkflowError and nothing is signalled.
 */
export async function handleUrlOf(cfn: CloudFormationClient, where: HandleLocation & { readonly urlHash: string }): Promise<string | undefined> {
  const url = await readHandleUrl(cfn, where);
  if (url !== undefined && handleUrlHash(url) !== where.urlHash.toLowerCase()) {
    throw new VmExportError(ERROR_WORKFLOW_ERROR,
      `The wait condition handle ${where.logicalId} of ${where.stackId} is not this execution's to signal (waitConditionHandleHash does not match its URL): only the execution its export resource started may signal it; no signal was sent.`);
  }
  return url;
}
