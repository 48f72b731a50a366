import { CfnResource, Stack, Token, Validations, aws_iam as iam, aws_lambda as lambda, aws_logs as logs } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Acknowledgements of compliance-rule findings (cdk-nag's AwsSolutions, NIST 800-53 R5 and
 * HIPAA Security packs) that the VM Import/Export service and the AWS APIs force on the
 * library's own resources, each with the reason a security reviewer gets to read.
 *
 * They are recorded through aws-cdk-lib's validation acknowledgement mechanism (construct
 * metadata under `Validations.ACKNOWLEDGED_RULES_METADATA_KEY`), which rule packs read; the
 * library itself never imports a rule pack.
 */

/** One acknowledged rule (or rule finding) and why. */
export interface Acknowledgement {
  /** The rule id, e.g. `AwsSolutions-S1`, or a finding id, e.g. `AwsSolutions-IAM5[Resource::*]`. */
  readonly id: string;
  /** Why the rule does not apply or cannot be met. */
  readonly reason: string;
}

/** The reasons, by topic. Tests read these to check every acknowledgement is explained. */
export const REASONS = {
  sseKms: 'VM Import/Export cannot write to SSE-KMS or DSSE-KMS buckets: the export bucket uses SSE-S3 (AES256) default encryption (SPEC section 2).',
  accessLogs: 'The bucket is the export target; server access logs are opt-in via the serverAccessLogsBucket prop (logging into the bucket itself is rejected).',
  versioning: 'Every export writes a new object key (prefix + export task id), so nothing is overwritten; versioning is opt-in via the versioned prop.',
  replication: 'Replication needs a destination bucket in another region or account that only the user can choose; exported images can be exported again from the instance.',
  describeNoResource: 'The EC2 Describe* actions (DescribeInstances, DescribeVolumes, DescribeExportTasks) support no resource-level permissions.',
  xray: 'X-Ray trace writes (xray:PutTraceSegments, PutTelemetryRecords, GetSampling*) support no resource-level permissions.',
  logDelivery: 'CloudWatch Logs vended log delivery actions (logs:CreateLogDelivery, ...) used by Step Functions logging support no resource-level permissions.',
  exportTaskIds: 'Export task ids are assigned by EC2 at creation, so tasks are matched with export-instance-task/*; creation requires the library\'s request tag, tagging is limited to ec2:CreateAction = CreateInstanceExportTask, and cancellation to tasks carrying the library\'s resource tag.',
  exportImageTaskIds: 'Export image task ids are assigned by EC2 at creation, so tasks are matched with export-image-task/*; creation requires the library\'s request tag (and ec2:ExportImage the granted AMI\'s ARN too), tagging is limited to ec2:CreateAction = ExportImage, and cancellation to tasks carrying the library\'s resource tag.',
  workflowImages: 'The export workflow exports only AMIs granted to it: image/* is narrowed by the ec2:ImageID condition to the granted AMI ids, unless the user opted in with allowAnyImage; the workflow\'s first step refuses every other AMI.',
  serviceRoleSnapshots: 'The VM Import/Export service role policy of the VM Import/Export User Guide ("Required service role") grants ec2:CopySnapshot, ec2:ModifySnapshotAttribute and ec2:Describe* on * (snapshot ids are the service\'s own, made while it exports); only vmie.amazonaws.com may assume the role, with sts:ExternalId vmimport and for this account only.',
  serviceRoleObjects: 'VM Import/Export writes each exported image to <prefix><export task id>.<format>, a key known only once the task exists: the service role may read and write objects under its exports\' prefixes only.',
  workflowInstances: 'The export workflow exports only instances granted to it: instance/* appears only under an aws:ResourceTag condition (allowInstancesTagged) or when the user opted in with allowAnyInstance; the workflow\'s first step refuses every other instance.',
  executions: 'Execution names are derived per request at deploy time; the permission is limited to executions of the library\'s own export state machine.',
  functionVersions: 'lambda:InvokeFunction on <function ARN>:* covers versions and aliases of the library\'s own function only.',
  exportObjects: 'Exported object keys contain the export task id, known only at deploy time; deletion is limited to the export\'s own prefix in its bucket.',
  lambdaRuntime: 'The handlers use aws-cdk-lib\'s determineLatestNodeRuntime (the newest Node.js runtime available in every region, China and GovCloud included), never older than Node.js 22.',
  waitConditionStacks: 'A stack id ends in a UUID CloudFormation assigns at creation; the permission names the stacks whose wait conditions the workflow signals (stack/<name>/*) and only reads their resources (the handle\'s URL, read when signalling so that no execution carries it).',
  inlinePolicy: 'Each policy is created for and attached to exactly one role of the library and is deleted with it; a managed policy would be attachable to other principals.',
  logGroupKms: 'CloudWatch Logs encrypts log groups at rest with service-owned keys; execution data is excluded from the logs, and a customer-managed KMS key would add a key and key policy to every user\'s stack.',
  lambdaDlq: 'Every failure reaches the deployment without a queue: Step Functions invokes the export function synchronously; the custom resource handlers answer CloudFormation themselves, FAILED with the reason for every error, and an invocation that could not answer is retried by Lambda with the same request (the handlers are idempotent per request); the signal backstop\'s EventBridge rule retries for 2 hours, and a backstop that never runs only leaves the wait condition to time out as it would without it. A dead-letter queue would add a queue to every user\'s stack for no recovery it could perform.',
  lambdaConcurrency: 'The function runs a few times per deployment; reserved concurrency would take capacity from the account\'s unreserved pool and can throttle deployments.',
  lambdaVpc: 'The function only calls AWS APIs (EC2, S3, Step Functions, CloudFormation) and reaches nothing inside a VPC; a VPC would require NAT or endpoints in every user\'s account.',
} as const;

/** Reasons for wildcard resources, by the IAM action of the statement. */
const WILDCARD_REASON_BY_ACTION: Array<[RegExp, string]> = [
  [/^ec2:Describe/, REASONS.describeNoResource],
  [/^xray:/, REASONS.xray],
  [/^logs:(Create|Get|Update|Delete|List)LogDeliver|^logs:(Put|Describe)ResourcePolic|^logs:DescribeLogGroups$/, REASONS.logDelivery],
  [/^ec2:(CreateInstanceExportTask|CreateTags|CancelExportTask)$/, REASONS.exportTaskIds],
  [/^ec2:ExportImage$/, REASONS.exportImageTaskIds],
  [/^s3:(GetObject|PutObject)$/, REASONS.serviceRoleObjects],
  [/^states:(StartExecution|DescribeExecution|StopExecution)$/, REASONS.executions],
  [/^lambda:InvokeFunction$/, REASONS.functionVersions],
  [/^s3:DeleteObject$/, REASONS.exportObjects],
  [/^cloudformation:DescribeStackResource$/, REASONS.waitConditionStacks],
];

const NIST = 'NIST.800.53.R5';
const HIPAA = 'HIPAA.Security';

/**
 * Records acknowledgements on `scope` (they apply to it and everything under it). Ids with
 * more than one `::` (finding ids of ARNs) are written to the same metadata directly, since
 * `Validations.acknowledge` reserves `::` for a source prefix.
 */
export function acknowledge(scope: IConstruct, all: Acknowledgement[]): void {
  // Calling again (after more permissions were added) records only what is new.
  const recorded = new Map<string, string>();
  for (const entry of scope.node.metadata) {
    if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
      Object.entries(entry.data as Record<string, string>).forEach(([id, reason]) => recorded.set(id.replace(/^annotation::/i, ''), reason));
    }
  }
  const acks = all.filter((a) => recorded.get(a.id) !== a.reason);
  const plain = acks.filter((a) => a.id.split('::').length <= 2);
  if (plain.length > 0) {
    Validations.of(scope).acknowledge(...plain);
  }
  const qualified = acks.filter((a) => a.id.split('::').length > 2);
  if (qualified.length > 0) {
    scope.node.addMetadata(Validations.ACKNOWLEDGED_RULES_METADATA_KEY,
      Object.fromEntries(qualified.map((a) => [a.id, a.reason])));
  }
}

/** The same rule in the NIST 800-53 R5 and HIPAA Security packs. */
function both(rule: string, reason: string): Acknowledgement[] {
  return [{ id: `${NIST}-${rule}`, reason }, { id: `${HIPAA}-${rule}`, reason }];
}

/** Props of the export bucket that decide which acknowledgements apply. */
export interface ExportBucketAckOptions {
  readonly serverAccessLogs: boolean;
  readonly versioned: boolean;
}

/** The acknowledgements of an export bucket the library creates. */
export function acknowledgeExportBucket(bucket: IConstruct, options: ExportBucketAckOptions): void {
  const acks: Acknowledgement[] = [
    ...both('S3DefaultEncryptionKMS', REASONS.sseKms),
    ...both('S3BucketReplicationEnabled', REASONS.replication),
  ];
  if (!options.serverAccessLogs) {
    acks.push({ id: 'AwsSolutions-S1', reason: REASONS.accessLogs }, ...both('S3BucketLoggingEnabled', REASONS.accessLogs));
  }
  if (!options.versioned) {
    acks.push(...both('S3BucketVersioningEnabled', REASONS.versioning));
  }
  acknowledge(bucket, acks);
}

/**
 * The acknowledgements of a VM Import/Export service role's inline policy (`scope`: the role's
 * construct), without resolving it (its statements still grow with each export).
 */
export function acknowledgeServiceRolePolicy(scope: IConstruct, objectsArn: string): void {
  acknowledge(scope, [
    ...both('IAMNoInlinePolicy', REASONS.inlinePolicy),
    { id: 'AwsSolutions-IAM5[Resource::*]', reason: REASONS.serviceRoleSnapshots },
    { id: 'AwsSolutions-IAM5[Action::ec2:Describe*]', reason: REASONS.serviceRoleSnapshots },
  ]);
  acknowledgeWildcard(scope, 's3:PutObject', objectsArn);
}

/**
 * The acknowledgements of the functions, roles, policies and log groups under `scope` (one of
 * the library's providers or its workflow). Call it again after adding permissions: it records
 * the wildcard resources of every policy as found at the time of the call.
 */
export function acknowledgeServiceConstraints(scope: IConstruct): void {
  for (const child of scope.node.findAll()) {
    if (!CfnResource.isCfnResource(child)) {
      continue;
    }
    const owner = child.node.scope ?? child;
    if (child instanceof lambda.CfnFunction) {
      acknowledge(owner, [
        { id: 'AwsSolutions-L1', reason: REASONS.lambdaRuntime },
        ...both('LambdaDLQ', REASONS.lambdaDlq),
        ...both('LambdaConcurrency', REASONS.lambdaConcurrency),
        ...both('LambdaInsideVPC', REASONS.lambdaVpc),
      ]);
    } else if (child instanceof iam.CfnPolicy) {
      acknowledge(owner, [...both('IAMNoInlinePolicy', REASONS.inlinePolicy), ...wildcardFindings(child)]);
    } else if (child instanceof logs.CfnLogGroup) {
      acknowledge(owner, both('CloudWatchLogGroupEncrypted', REASONS.logGroupKms));
    }
  }
}

/**
 * Records why one wildcard resource of `action` is needed, on `scope` (e.g. the role whose policy
 * gets it). Unlike acknowledgeServiceConstraints this resolves only the ARN, never a policy
 * document (resolving a document freezes its statements, which later grants still extend).
 */
export function acknowledgeWildcard(scope: IConstruct, action: string, arn: string, why?: string): void {
  const reason = why ?? reasonForAction(action);
  if (reason === undefined) {
    throw new Error(`No acknowledgement reason is recorded for ${action}: add one to WILDCARD_REASON_BY_ACTION.`);
  }
  acknowledge(scope, [{ id: `AwsSolutions-IAM5[Resource::${flatten(Stack.of(scope).resolve(arn))}]`, reason }]);
}

interface ResolvedStatement {
  readonly Effect?: string;
  readonly Action?: string | string[];
  readonly Resource?: unknown;
}

/** `AwsSolutions-IAM5[Resource::...]` for every wildcard resource whose actions have a reason. */
function wildcardFindings(policy: iam.CfnPolicy): Acknowledgement[] {
  const document = Stack.of(policy).resolve(policy.policyDocument) as { Statement?: ResolvedStatement[] };
  const reasons = new Map<string, Set<string>>();
  for (const statement of document.Statement ?? []) {
    if (statement.Effect !== 'Allow') {
      continue;
    }
    const actions = ([] as string[]).concat(statement.Action ?? []);
    const statementReasons = actions.map(reasonForAction);
    if (statementReasons.some((r) => r === undefined)) {
      // An action without a known reason: leave its wildcard for the rule pack to report.
      continue;
    }
    const resources = ([] as unknown[]).concat(statement.Resource ?? []).map(flatten).filter((r) => r.includes('*'));
    for (const resource of resources) {
      const id = `AwsSolutions-IAM5[Resource::${resource}]`;
      const set = reasons.get(id) ?? new Set<string>();
      // Instances are granted by tag or by the allowAnyInstance opt-in, not matched like task ids.
      const forResource = /:instance\/\*$/.test(resource) ? [REASONS.workflowInstances]
        : /:image\/\*$/.test(resource) ? [REASONS.workflowImages]
          : /:export-image-task\/\*$/.test(resource) ? [REASONS.exportImageTaskIds] : statementReasons;
      forResource.forEach((r) => set.add(r!));
      reasons.set(id, set);
    }
  }
  return [...reasons.entries()].map(([id, set]) => ({ id, reason: [...set].join(' ') }));
}

function reasonForAction(action: string): string | undefined {
  return WILDCARD_REASON_BY_ACTION.find(([pattern]) => pattern.test(action))?.[1];
}

/** A resolved CloudFormation value as the rule packs print it in finding ids. */
function flatten(node: unknown): string {
  if (node === undefined) {
    return '';
  }
  if (typeof node === 'string') {
    return Token.isUnresolved(node) ? node : node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  }
  const value = node as Record<string, unknown>;
  if (value['Fn::Join']) {
    const [delimiter, items] = value['Fn::Join'] as [string, unknown[]];
    return items.map(flatten).join(delimiter);
  }
  if (value['Fn::Sub']) {
    return flatten(value['Fn::Sub']);
  }
  if (value['Fn::GetAtt']) {
    const [resource, attribute] = value['Fn::GetAtt'] as [unknown, unknown];
    return `<${flatten(resource)}.${flatten(attribute)}>`;
  }
  if (value['Fn::ImportValue']) {
    return flatten(value['Fn::ImportValue']);
  }
  if (value.Ref) {
    return `<${flatten(value.Ref)}>`;
  }
  return JSON.stringify(node);
}
