import * as crypto from 'crypto';
import { CfnResource, CfnWaitCondition, CfnWaitConditionHandle, Duration, Stack, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { IVmExportBucket } from '../bucket/vm-export-bucket';
import { EXPORT_ATTRIBUTES_RESOURCE_TYPE } from '../internal';

/** The workflow gives up this long before CloudFormation stops waiting, to cancel and report. */
const DEADLINE_MARGIN = Duration.minutes(5);

/** The workflow's deadline for an export that CloudFormation waits `timeout` for. */
export function deadlineSecondsOf(timeout: Duration): string {
  return String(timeout.toSeconds() - DEADLINE_MARGIN.toSeconds());
}

/** What the custom resource of one export is made of. */
export interface ExportResourceOptions {
  /** The custom resource type (`Custom::VmInstanceExport`, `Custom::VmImageExport`). */
  readonly resourceType: string;
  /** The stack's custom resource function. */
  readonly serviceToken: string;
  /** The workflow's state machine. */
  readonly stateMachineArn: string;
  /** The properties whose change means another export (hashed into the wait condition's logical id). */
  readonly affecting: Record<string, string>;
  /** The other properties, in template order (the wait condition handle's logical id is added last). */
  readonly properties: Record<string, unknown>;
  /** How long CloudFormation waits. */
  readonly timeout: Duration;
  /** Whether CloudFormation waits for the export (wait condition + attributes resource). */
  readonly waitForCompletion: boolean;
  /** The export bucket. */
  readonly bucket: IVmExportBucket;
  /** The key prefix. */
  readonly prefix: string;
  /** `.ova`, `.vmdk`, `.vhd` or `.raw`. */
  readonly objectExtension: string;
}

/** The export's resources and attributes. */
export interface ExportResources {
  /** The export's custom resource. */
  readonly resource: CfnResource;
  /** The wait condition handle, when CloudFormation waits. */
  readonly handle?: CfnWaitConditionHandle;
  readonly exportTaskId: string;
  readonly exportObjectKey: string;
  readonly exportObjectUri: string;
}

/**
 * Creates, under `scope`, the export's custom resource (`Resource`) and, when CloudFormation
 * waits, the wait condition handle (`Handle<hash>`), the wait condition (`Completion<hash>`) and
 * the resource that reads its Data (`Attributes`). These construct ids are the logical ids of
 * existing stacks: never rename them.
 */
export function createExportResources(scope: Construct, options: ExportResourceOptions): ExportResources {
  const timeoutSeconds = options.timeout.toSeconds();
  // The wait condition and its handle cannot be updated in place and a handle must never be
  // reused: both logical ids derive from what is exported and from the timeout, so a change
  // of either replaces both.
  let handle: CfnWaitConditionHandle | undefined;
  let waitCondition: CfnWaitCondition | undefined;
  if (options.waitForCompletion) {
    const suffix = hashOf(Stack.of(scope).resolve({ ...options.affecting, Timeout: timeoutSeconds }));
    handle = new CfnWaitConditionHandle(scope, `Handle${suffix}`);
    waitCondition = new CfnWaitCondition(scope, `Completion${suffix}`, {
      handle: handle.ref,
      timeout: String(timeoutSeconds),
      count: 1,
    });
  }

  // A plain CfnResource (not the CustomResource wrapper): same logical id, less work per export.
  const resource = new CfnResource(scope, 'Resource', {
    type: options.resourceType,
    properties: {
      ServiceToken: options.serviceToken,
      StateMachineArn: options.stateMachineArn,
      ...options.affecting,
      ...options.properties,
      // The handle's logical id, never its Ref (a presigned URL anyone could signal with): the
      // step that signals reads the URL from CloudFormation.
      WaitConditionHandle: handle?.logicalId,
    },
  });
  // No export starts before the bucket can receive it. The workflow and the provider need no
  // explicit dependency: the resource references the state machine and the service token,
  // whose functions already depend on their roles and policies.
  resource.node.addDependency(options.bucket.grantsApplied);
  if (handle) {
    // Nothing else orders the handle before the export that will signal it.
    resource.node.addDependency(handle);
  }
  if (!waitCondition) {
    return { resource, ...attributesOf(resource) };
  }
  // The signal can only come from the execution the resource starts.
  waitCondition.node.addDependency(resource);
  // The attributes are read by a small resource that takes the wait condition's Data as a
  // property, so CloudFormation creates it (and anything that uses an attribute) only after
  // the export completed. Its attributes are strings; the Data itself is typed as an object.
  const attributes = new CfnResource(scope, 'Attributes', {
    type: EXPORT_ATTRIBUTES_RESOURCE_TYPE,
    properties: {
      ServiceToken: options.serviceToken,
      WaitConditionData: waitCondition.attrData,
      S3Bucket: options.bucket.bucketName,
      S3Prefix: options.prefix,
      ObjectExtension: options.objectExtension,
    },
  });
  return { resource, handle, ...attributesOf(attributes) };
}

/** The string attributes ExportTaskId, ExportObjectKey and ExportObjectUri of a resource. */
function attributesOf(resource: CfnResource): Pick<ExportResources, 'exportTaskId' | 'exportObjectKey' | 'exportObjectUri'> {
  return {
    exportTaskId: Token.asString(resource.getAtt('ExportTaskId')),
    exportObjectKey: Token.asString(resource.getAtt('ExportObjectKey')),
    exportObjectUri: Token.asString(resource.getAtt('ExportObjectUri')),
  };
}

function hashOf(value: unknown): string {
  return crypto.createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 8).toUpperCase();
}
