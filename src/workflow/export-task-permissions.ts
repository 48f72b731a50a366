import { Stack, aws_iam as iam } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { TAG_MANAGED, TAG_MANAGED_VALUE } from '../internal';

/**
 * IAM statements shared by the two roles that start or cancel export tasks: the workflow's
 * export-task function and the InstanceExport provider.
 */

/** The read-only bucket calls of the preflight checks, on one bucket. */
export function bucketPreflightStatement(bucketArn: string): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: ['s3:GetBucketLocation', 's3:GetBucketOwnershipControls', 's3:GetEncryptionConfiguration', 's3:GetBucketAcl'],
    resources: [bucketArn],
  });
}

/** `export-instance-task/*` in the scope's account, region and partition. */
function exportTaskArns(scope: IConstruct): string {
  return Stack.of(scope).formatArn({ service: 'ec2', resource: 'export-instance-task', resourceName: '*' });
}

/**
 * Creating export tasks (only with the library's request tag) and tagging them at creation.
 * `ec2:CreateInstanceExportTask` also needs the instance ARN, granted separately.
 */
export function createTaggedExportTaskStatements(scope: IConstruct): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      sid: 'CreateTaggedExportTasks',
      actions: ['ec2:CreateInstanceExportTask'],
      resources: [exportTaskArns(scope)],
      conditions: { StringEquals: { [`aws:RequestTag/${TAG_MANAGED}`]: TAG_MANAGED_VALUE } },
    }),
    new iam.PolicyStatement({
      sid: 'TagExportTasksOnCreate',
      actions: ['ec2:CreateTags'],
      resources: [exportTaskArns(scope)],
      conditions: { StringEquals: { 'ec2:CreateAction': 'CreateInstanceExportTask' } },
    }),
  ];
}

/** Cancelling only export tasks that carry the library's tag. */
export function cancelManagedExportTasksStatement(scope: IConstruct): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'CancelManagedExportTasks',
    actions: ['ec2:CancelExportTask'],
    resources: [exportTaskArns(scope)],
    conditions: { StringEquals: { [`aws:ResourceTag/${TAG_MANAGED}`]: TAG_MANAGED_VALUE } },
  });
}

/** `export-image-task/*` in the scope's account, region and partition. */
export function exportImageTaskArns(scope: IConstruct): string {
  return Stack.of(scope).formatArn({ service: 'ec2', resource: 'export-image-task', resourceName: '*' });
}

/** An AMI's ARN (`arn:<partition>:ec2:<region>::image/<id>`: images have no account in their ARN). */
export function imageArn(scope: IConstruct, imageId: string): string {
  return Stack.of(scope).formatArn({ service: 'ec2', account: '', resource: 'image', resourceName: imageId });
}

/**
 * Creating export image tasks (only with the library's request tag) and tagging them at
 * creation. `ec2:ExportImage` also needs the image's ARN, granted separately (Service
 * Authorization Reference: both the `image` and the `export-image-task` resource types).
 */
export function createTaggedExportImageTaskStatements(scope: IConstruct): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      sid: 'CreateTaggedExportImageTasks',
      actions: ['ec2:ExportImage'],
      resources: [exportImageTaskArns(scope)],
      conditions: { StringEquals: { [`aws:RequestTag/${TAG_MANAGED}`]: TAG_MANAGED_VALUE } },
    }),
    new iam.PolicyStatement({
      sid: 'TagExportImageTasksOnCreate',
      actions: ['ec2:CreateTags'],
      resources: [exportImageTaskArns(scope)],
      conditions: { StringEquals: { 'ec2:CreateAction': 'ExportImage' } },
    }),
  ];
}

/** Cancelling only export image tasks that carry the library's tag. */
export function cancelManagedExportImageTasksStatement(scope: IConstruct): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'CancelManagedExportImageTasks',
    actions: ['ec2:CancelExportTask'],
    resources: [exportImageTaskArns(scope)],
    conditions: { StringEquals: { [`aws:ResourceTag/${TAG_MANAGED}`]: TAG_MANAGED_VALUE } },
  });
}

/** The read-only calls of image export (preflight, start, finish): no resource-level permissions. */
export function describeImagesStatement(): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'DescribeForImageExport',
    actions: ['ec2:DescribeExportImageTasks', 'ec2:DescribeImages'],
    resources: ['*'],
  });
}
