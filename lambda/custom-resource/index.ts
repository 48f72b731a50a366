/**
 * The one function per stack that serves the library's custom resources:
 * Custom::VmExportBucketGrant (../bucket-grant), Custom::VmInstanceExport and
 * Custom::VmExportAttributes (../export-provider). CloudFormation invokes it once per event; it
 * answers CloudFormation itself (../shared/cfn-response.ts).
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { onEvent as onBucketGrantEvent } from '../bucket-grant';
import { defaultProviderClients, onEvent as onExportEvent } from '../export-provider';
import { answerCloudFormation, CustomResourceResult } from '../shared/cfn-response';
import { BUCKET_GRANT_RESOURCE_TYPE } from '../shared/contract';

/** The handler of the event's resource type (the export handler also serves the attributes). */
export function route(event: CloudFormationCustomResourceEvent): Promise<CustomResourceResult> {
  return event.ResourceType === BUCKET_GRANT_RESOURCE_TYPE
    ? onBucketGrantEvent(event)
    : onExportEvent(event, defaultProviderClients());
}

/** The Lambda entry point: handles the event and answers CloudFormation. */
export async function handler(event: CloudFormationCustomResourceEvent): Promise<void> {
  await answerCloudFormation(event, () => route(event));
}
