/**
 * TEST CODE ONLY: aws-sdk-client-mock answers for an instance and a bucket that pass every
 * preflight check (one running EBS instance with one unencrypted 8 GiB volume; a bucket in the
 * region with ACLs enabled, SSE-S3 and the service's grants), for handler unit tests.
 */
import { DescribeInstancesCommand, DescribeVolumesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  GetBucketAclCommand,
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetBucketOwnershipControlsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { AwsClientStub } from 'aws-sdk-client-mock';

/** Makes the mocks answer as for an exportable instance and a prepared bucket. */
export function mockExportableInstanceAndBucket(
  ec2Mock: AwsClientStub<EC2Client>,
  s3Mock: AwsClientStub<S3Client>,
  options: { instanceId: string; region: string; canonicalId: string },
): void {
  ec2Mock.on(DescribeInstancesCommand).resolves({
    Reservations: [{
      Instances: [{
        InstanceId: options.instanceId,
        State: { Name: 'running' },
        RootDeviceType: 'ebs',
        BlockDeviceMappings: [{ Ebs: { VolumeId: 'vol-1' } }],
        NetworkInterfaces: [{}],
        PlatformDetails: 'Linux/UNIX',
      }],
    }],
  });
  ec2Mock.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: 'vol-1', Size: 8, Encrypted: false }] });
  s3Mock.on(GetBucketLocationCommand).resolves({ LocationConstraint: options.region as never });
  s3Mock.on(GetBucketOwnershipControlsCommand).resolves({ OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] } });
  s3Mock.on(GetBucketEncryptionCommand).resolves({
    ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
  });
  s3Mock.on(GetBucketAclCommand).resolves({
    Grants: ['READ_ACP', 'WRITE'].map((p) => ({ Grantee: { Type: 'CanonicalUser', ID: options.canonicalId }, Permission: p as never })),
  });
}
