/**
 * The tasks that hold the region's conversion-task slots when the quota is full. The start step
 * reports them so that the workflow can wait for one of them to end by polling them through the
 * AWS SDK integration (no Lambda invocation while it waits), instead of calling the start step
 * again and again.
 *
 * Which tasks count against the quota is not fully documented: instance export tasks do; whether
 * image export tasks (and imports, which no export API lists) share the quota is not stated
 * (SPEC section 3). Both kinds of export task that are still converting are reported; when none
 * is visible the start step throws VmExport.QuotaFull and the workflow retries it with backoff.
 */
import { DescribeExportImageTasksCommand, DescribeExportTasksCommand, EC2Client } from '@aws-sdk/client-ec2';
import { MAX_SLOT_HOLDERS } from './contract';
import { errorCode, errorMessage } from './ec2-errors';

/** The slot holders of one refusal (each list at most MAX_SLOT_HOLDERS ids). */
export interface SlotHolders {
  /** Instance export tasks (`export-i-...`) that are `active` or `cancelling`. */
  readonly holders: string[];
  /** Image export tasks (`export-ami-...`) that are `active` or `deleting`. */
  readonly imageHolders: string[];
}

const INSTANCE_TASK_HOLDS = ['active', 'cancelling'];
const IMAGE_TASK_HOLDS = ['active', 'deleting'];

/**
 * The tasks that hold slots now. A listing that fails (throttling, a role without
 * `ec2:DescribeExportImageTasks`) yields no ids for that kind (logged): with no ids at all the
 * start step falls back to the retry with backoff, so a failed look never stops the export.
 */
export async function findSlotHolders(ec2: EC2Client): Promise<SlotHolders> {
  const [holders, imageHolders] = await Promise.all([
    listIds('DescribeExportTasks', async () => {
      const out = await ec2.send(new DescribeExportTasksCommand({}));
      return (out.ExportTasks ?? []).filter((t) => INSTANCE_TASK_HOLDS.includes(t.State ?? '')).map((t) => t.ExportTaskId ?? '');
    }),
    listIds('DescribeExportImageTasks', async () => {
      const ids: string[] = [];
      let token: string | undefined;
      do {
        const out = await ec2.send(new DescribeExportImageTasksCommand({ NextToken: token, MaxResults: 500 }));
        ids.push(...(out.ExportImageTasks ?? []).filter((t) => IMAGE_TASK_HOLDS.includes(t.Status ?? '')).map((t) => t.ExportImageTaskId ?? ''));
        token = out.NextToken;
      } while (token && ids.length < MAX_SLOT_HOLDERS);
      return ids;
    }),
  ]);
  return { holders, imageHolders };
}

async function listIds(operation: string, list: () => Promise<string[]>): Promise<string[]> {
  try {
    return (await list()).filter((id) => id !== '').slice(0, MAX_SLOT_HOLDERS);
  } catch (err) {
    console.log(JSON.stringify({ message: 'slot holders not listed', operation, code: errorCode(err), error: errorMessage(err) }));
    return [];
  }
}
