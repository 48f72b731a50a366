/**
 * Each handler's role may make exactly the AWS calls its handler makes, no fewer and no more.
 * The calls are read from the bundled handler code itself (the SDK v3 commands each bundle
 * constructs), mapped to the IAM actions the Service Authorization Reference names for them, and
 * compared with the actions of the role's policies in a synthesized stack. A dropped statement
 * fails this test, and so does a permission no handler uses.
 */
import * as fs from 'fs';
import * as path from 'path';
import { synthesizePermissionStack } from './support/permission-stack';

/** SDK v3 command -> IAM action (Service Authorization Reference; note GetBucketEncryption). */
const ACTION_OF_COMMAND: Record<string, string[]> = {
  CancelExportTaskCommand: ['ec2:CancelExportTask'],
  // Tagging the task at creation (TagSpecifications) also needs ec2:CreateTags (SPEC section 3).
  CreateInstanceExportTaskCommand: ['ec2:CreateInstanceExportTask', 'ec2:CreateTags'],
  DescribeExportTasksCommand: ['ec2:DescribeExportTasks'],
  // ExportImage authorizes the AMI and the new export-image-task; tagging the task at creation
  // (TagSpecifications) also needs ec2:CreateTags, and RoleName passes the service role to
  // VM Import/Export (iam:PassRole, iam:PassedToService = vmie.amazonaws.com).
  ExportImageCommand: ['ec2:ExportImage', 'ec2:CreateTags', 'iam:PassRole'],
  DescribeExportImageTasksCommand: ['ec2:DescribeExportImageTasks'],
  DescribeImagesCommand: ['ec2:DescribeImages'],
  DescribeInstancesCommand: ['ec2:DescribeInstances'],
  DescribeVolumesCommand: ['ec2:DescribeVolumes'],
  DescribeStacksCommand: ['cloudformation:DescribeStacks'],
  DescribeStackResourceCommand: ['cloudformation:DescribeStackResource'],
  DescribeExecutionCommand: ['states:DescribeExecution'],
  StartExecutionCommand: ['states:StartExecution'],
  StopExecutionCommand: ['states:StopExecution'],
  DeleteObjectCommand: ['s3:DeleteObject'],
  GetBucketAclCommand: ['s3:GetBucketAcl'],
  PutBucketAclCommand: ['s3:PutBucketAcl'],
  GetBucketEncryptionCommand: ['s3:GetEncryptionConfiguration'],
  GetBucketLocationCommand: ['s3:GetBucketLocation'],
  GetBucketOwnershipControlsCommand: ['s3:GetBucketOwnershipControls'],
  GetBucketPolicyCommand: ['s3:GetBucketPolicy'],
  PutBucketPolicyCommand: ['s3:PutBucketPolicy'],
  DeleteBucketPolicyCommand: ['s3:DeleteBucketPolicy'],
  // The image preflight reads the service role and simulates its permissions.
  GetRoleCommand: ['iam:GetRole'],
  SimulatePrincipalPolicyCommand: ['iam:SimulatePrincipalPolicy'],
};

/** Every function writes its own log group. */
const LOG_WRITES = ['logs:CreateLogStream', 'logs:PutLogEvents'];

/** The IAM actions the calls of one bundled handler need. */
function actionsOfBundle(handler: string): string[] {
  const file = path.join(__dirname, '..', 'assets', 'lambda', handler, 'index', 'index.js');
  const code = fs.readFileSync(file, 'utf8');
  const commands = [...new Set(code.match(/\.[A-Z][A-Za-z]+Command\b/g) ?? [])].map((c) => c.slice(1));
  const unknown = commands.filter((c) => !(c in ACTION_OF_COMMAND));
  expect(unknown).toEqual([]);
  return [...new Set([...commands.flatMap((c) => ACTION_OF_COMMAND[c]), ...LOG_WRITES])].sort();
}

/** The actions of every policy attached to the role whose logical id starts with `rolePrefix`. */
function actionsOfRole(template: any, rolePrefix: string): string[] {
  const actions = new Set<string>();
  for (const resource of Object.values<any>(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    if (!resource.Properties.Roles.some((r: any) => String(r.Ref).startsWith(rolePrefix))) continue;
    for (const statement of resource.Properties.PolicyDocument.Statement) {
      for (const action of [].concat(statement.Action)) actions.add(action);
    }
  }
  return [...actions].sort();
}

// Every feature whose permissions a handler may need.
const template = synthesizePermissionStack('Calls', { account: '123456789012', region: 'eu-west-1' });

test.each([
  ['custom-resource', 'VmExportCustomResourcesHandlerRole'],
  ['export-task', 'VmExportWorkflowExportTaskRole'],
])('the %s role may make exactly the calls its handler makes', (handler, rolePrefix) => {
  expect(actionsOfRole(template, rolePrefix)).toEqual(actionsOfBundle(handler));
});
