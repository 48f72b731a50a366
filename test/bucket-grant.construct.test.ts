/**
 * The construct side of the grant record: what the grant handler of a VmExportBucket may do with
 * its bucket policy (read it, to find other stacks' grant resources on delete; never write it),
 * and that it is deleted before the policy CloudFormation deletes with the stack.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { VmExportBucket } from '../src';

function synth(): Record<string, any> {
  const stack = new Stack(new App(), 'Owner', { env: { account: '123456789012', region: 'us-east-1' } });
  new VmExportBucket(stack, 'Exports');
  VmExportBucket.fromBucketName(stack, 'Existing', 'team-exports');
  return Template.fromStack(stack).toJSON().Resources;
}

const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

describe('the grant of a VmExportBucket', () => {
  const resources = synth();
  const bucketId = Object.keys(resources).find((id) => resources[id].Type === 'AWS::S3::Bucket')!;
  const statements = Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .flatMap((r) => r.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>);
  const onOwnedBucket = statements.filter((s) => JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::GetAtt': [bucketId, 'Arn'] }));

  test('may read the bucket policy (other stacks\' records) and may not write it', () => {
    const actions = onOwnedBucket.flatMap((s) => list(s.Action));
    expect(actions).toContain('s3:GetBucketPolicy');
    expect(actions).not.toContain('s3:PutBucketPolicy');
    expect(actions).not.toContain('s3:DeleteBucketPolicy');
    expect(onOwnedBucket.filter((s) => list(s.Action).includes('s3:GetBucketPolicy'))).toEqual([
      { Effect: 'Allow', Action: 's3:GetBucketPolicy', Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] } },
    ]);
  });

  test('is deleted before the bucket policy it reads (it depends on it)', () => {
    const grantId = Object.keys(resources).find((id) => resources[id].Type === 'Custom::VmExportBucketGrant'
      && JSON.stringify(resources[id].Properties.BucketName) === JSON.stringify({ Ref: bucketId }))!;
    const policyId = Object.keys(resources).find((id) => resources[id].Type === 'AWS::S3::BucketPolicy')!;
    expect(resources[grantId].DependsOn).toEqual(expect.arrayContaining([policyId]));
  });
});
