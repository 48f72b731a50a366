import { App, Duration, RemovalPolicy, Stack, aws_s3 as s3 } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { VmExportBucket } from '../src';
import { evaluateCfn } from './support/cfn-eval';

const ID_EU_SOUTH_1 = '04636d9a349e458b0c1cbf1421858b9788b4ec28b066148d4907bb15c52b5b9c';
const OTHER_ID = 'a'.repeat(64);

function newStack(region = 'eu-south-1'): Stack {
  return new Stack(new App(), 'Stack', { env: { account: '123456789012', region } });
}

describe('VmExportBucket defaults', () => {
  const stack = newStack();
  const exportBucket = new VmExportBucket(stack, 'Exports');
  const template = Template.fromStack(stack);

  test('SSE-S3, BucketOwnerPreferred, Block Public Access on, abort incomplete uploads after 7 days', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: [{ Id: 'AbortIncompleteUploads', Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }],
      },
    });
    const [bucket] = Object.values(template.findResources('AWS::S3::Bucket')) as any[];
    expect(bucket.Properties.VersioningConfiguration).toBeUndefined();
    expect(bucket.Properties.LoggingConfiguration).toBeUndefined();
  });

  test('is retained on stack delete', () => {
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(template.findResources('Custom::S3AutoDeleteObjects')).toEqual({});
  });

  test('the bucket policy denies plain HTTP and lets the service account read the ACL and write', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          {
            Sid: 'VmExportServiceAccess',
            Effect: 'Allow',
            Principal: { CanonicalUser: ID_EU_SOUTH_1 },
            Action: ['s3:GetBucketAcl', 's3:PutObject'],
            Resource: [
              { 'Fn::GetAtt': [Match.stringLikeRegexp('ExportsBucket'), 'Arn'] },
              { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('ExportsBucket'), 'Arn'] }, '/*']] },
            ],
          },
        ]),
      },
    });
  });

  test('the ACL grant resource names the bucket, the ID and the partition, without verification', () => {
    template.hasResourceProperties('Custom::VmExportBucketGrant', {
      BucketName: { Ref: Match.stringLikeRegexp('ExportsBucket') },
      CanonicalId: ID_EU_SOUTH_1,
      Partition: { Ref: 'AWS::Partition' },
      ExpectedRegion: { Ref: 'AWS::Region' },
      VerifyBucket: 'false',
      ManagePolicy: 'false',
      PolicySid: 'VmExportServiceAccess',
    });
  });

  test('the grant handler may change ACLs of this bucket only, through the partition', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([{
          Effect: 'Allow',
          Action: [
            's3:GetBucketAcl',
            's3:PutBucketAcl',
            's3:GetBucketLocation',
            's3:GetBucketOwnershipControls',
            's3:GetEncryptionConfiguration',
          ],
          Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('ExportsBucket'), 'Arn'] },
        }]),
      },
    });
    expect(JSON.stringify(template.toJSON())).not.toMatch(/arn:aws:/);
  });

  test('grantsApplied covers the ACL grant and the bucket policy', () => {
    const other = newStack();
    const bucket = new VmExportBucket(other, 'Exports');
    const dependent = new s3.CfnBucket(other, 'AfterGrants');
    dependent.node.addDependency(bucket.grantsApplied);
    const resources = Template.fromStack(other).toJSON().Resources;
    const types = (resources.AfterGrants.DependsOn as string[]).map((id) => resources[id].Type);
    expect(types).toEqual(expect.arrayContaining(['Custom::VmExportBucketGrant', 'AWS::S3::BucketPolicy']));
  });

  test('exposes the bucket, its name, ARN and canonical ID', () => {
    expect(stack.resolve(exportBucket.bucketName)).toEqual({ Ref: expect.stringMatching(/ExportsBucket/) });
    expect(stack.resolve(exportBucket.bucketArn)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/ExportsBucket/), 'Arn'] });
    expect(exportBucket.canonicalId).toBe(ID_EU_SOUTH_1);
    expect(exportBucket.bucket.bucketName).toBe(exportBucket.bucketName);
  });

  test('one custom resource function per stack, shared by every bucket grant', () => {
    const other = newStack();
    new VmExportBucket(other, 'One');
    new VmExportBucket(other, 'Two');
    VmExportBucket.fromBucketName(other, 'Three', 'existing-exports');
    const otherTemplate = Template.fromStack(other);
    otherTemplate.resourceCountIs('Custom::VmExportBucketGrant', 3);
    const functions = otherTemplate.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(1);
    const [functionId] = Object.keys(functions);
    const tokens = Object.values(otherTemplate.findResources('Custom::VmExportBucketGrant')).map((r: any) => r.Properties.ServiceToken);
    expect(tokens).toEqual([1, 2, 3].map(() => ({ 'Fn::GetAtt': [functionId, 'Arn'] })));
  });

  test('handlers run on Node.js 22 or newer', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as any[];
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) {
      expect(Number(/^nodejs(\d+)/.exec(fn.Properties.Runtime)![1])).toBeGreaterThanOrEqual(22);
    }
  });
});

describe('VmExportBucket options', () => {
  test('versioning, expiry, access logs, custom abort period', () => {
    const stack = newStack();
    const logs = new s3.Bucket(stack, 'Logs');
    new VmExportBucket(stack, 'Exports', {
      bucketName: 'my-vm-exports',
      versioned: true,
      expireExportsAfter: Duration.days(30),
      abortIncompleteUploadsAfter: Duration.days(2),
      serverAccessLogsBucket: logs,
      serverAccessLogsPrefix: 'exports/',
    });
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      BucketName: 'my-vm-exports',
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: { DestinationBucketName: { Ref: Match.stringLikeRegexp('Logs') }, LogFilePrefix: 'exports/' },
      LifecycleConfiguration: {
        Rules: [
          { Id: 'AbortIncompleteUploads', Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 } },
          { Id: 'ExpireExports', Status: 'Enabled', ExpirationInDays: 30 },
        ],
      },
    });
  });

  test('opting in to destroy with auto-deleted objects', () => {
    const stack = newStack();
    new VmExportBucket(stack, 'Exports', { removalPolicy: RemovalPolicy.DESTROY, autoDeleteObjects: true });
    const template = Template.fromStack(stack);
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
  });

  test('an explicit canonical ID replaces the table', () => {
    const stack = newStack();
    const bucket = new VmExportBucket(stack, 'Exports', { canonicalId: OTHER_ID });
    expect(bucket.canonicalId).toBe(OTHER_ID);
    Template.fromStack(stack).hasResourceProperties('Custom::VmExportBucketGrant', { CanonicalId: OTHER_ID });
  });

  test.each([
    ['cn-north-1', 'aws-cn'],
    ['us-gov-west-1', 'aws-us-gov'],
  ])('ARNs in %s resolve to the %s partition', (region, partition) => {
    const stack = newStack(region);
    new VmExportBucket(stack, 'Exports', { bucketName: 'exports-bucket' });
    VmExportBucket.fromBucketName(stack, 'Existing', 'existing-exports');
    const template = Template.fromStack(stack).toJSON();
    expect(JSON.stringify(template)).not.toMatch(/arn:aws/);
    const resources = Object.values(template.Resources) as any[];
    const arns = resources
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => r.Properties.PolicyDocument.Statement.map((st: any) => st.Resource))
      .filter((res) => JSON.stringify(res).includes('existing-exports'))
      .map((res) => evaluateCfn(res, { region, partition }));
    expect(arns).toEqual([`arn:${partition}:s3:::existing-exports`]);
    const grant = resources.find((r) => r.Type === 'Custom::VmExportBucketGrant' && r.Properties.BucketName === 'existing-exports');
    expect(evaluateCfn(grant.Properties.Partition, { region, partition })).toBe(partition);
  });
});

describe('VmExportBucket.fromBucketName', () => {
  const stack = newStack();
  const imported = VmExportBucket.fromBucketName(stack, 'Existing', 'team-exports');
  const template = Template.fromStack(stack);

  test('verifies the bucket and merges the policy statement at deploy time', () => {
    template.hasResourceProperties('Custom::VmExportBucketGrant', {
      BucketName: 'team-exports',
      CanonicalId: ID_EU_SOUTH_1,
      VerifyBucket: 'true',
      ManagePolicy: 'true',
      PolicySid: 'VmExportServiceAccess',
      ExpectedRegion: { Ref: 'AWS::Region' },
    });
  });

  test('never creates a bucket or a bucket policy for a bucket the stack does not own', () => {
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.resourceCountIs('AWS::S3::BucketPolicy', 0);
  });

  test('the handler may read and write this bucket\'s policy', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: Match.arrayWith(['s3:GetBucketPolicy', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy']),
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::team-exports']] },
        })]),
      },
    });
  });

  test('exposes the imported bucket', () => {
    expect(imported.bucketName).toBe('team-exports');
    expect(imported.canonicalId).toBe(ID_EU_SOUTH_1);
  });

  test('grantsApplied is the grant resource: whatever depends on it waits for the grant', () => {
    const app = new App();
    const other = new Stack(app, 'GrantsApplied', { env: { account: '123456789012', region: 'eu-south-1' } });
    const bucket = VmExportBucket.fromBucketName(other, 'Existing', 'team-exports');
    const consumer = new s3.CfnBucket(other, 'Consumer');
    consumer.node.addDependency(bucket.grantsApplied);
    const json = Template.fromStack(other).toJSON();
    const grantId = Object.keys(json.Resources).find((id) => json.Resources[id].Type === 'Custom::VmExportBucketGrant')!;
    expect(json.Resources.Consumer.DependsOn).toEqual([grantId]);
  });
});

describe('synth-time errors name the prop, the value and the fix', () => {
  test.each<[string, () => void, RegExp[]]>([
    ['malformed canonicalId', () => new VmExportBucket(newStack(), 'B', { canonicalId: 'ABC123' }),
      [/canonicalId 'ABC123'/, /64 lowercase hexadecimal/]],
    ['upper-case canonicalId', () => new VmExportBucket(newStack(), 'B', { canonicalId: 'A'.repeat(64) }),
      [/canonicalId 'A{64}'/]],
    ['expiry shorter than a day', () => new VmExportBucket(newStack(), 'B', { expireExportsAfter: Duration.hours(12) }),
      [/expireExportsAfter is 12 hours/, /Duration\.days\(n\)/]],
    ['expiry in part days', () => new VmExportBucket(newStack(), 'B', { expireExportsAfter: Duration.hours(36) }),
      [/expireExportsAfter is 1 day 12 hours/]],
    ['abort period shorter than a day', () => new VmExportBucket(newStack(), 'B', { abortIncompleteUploadsAfter: Duration.minutes(5) }),
      [/abortIncompleteUploadsAfter is 5 minutes/]],
    ['autoDeleteObjects without DESTROY', () => new VmExportBucket(newStack(), 'B', { autoDeleteObjects: true }),
      [/autoDeleteObjects/, /RemovalPolicy\.DESTROY/]],
    ['autoDeleteObjects with SNAPSHOT', () => new VmExportBucket(newStack(), 'B', { autoDeleteObjects: true, removalPolicy: RemovalPolicy.SNAPSHOT }),
      [/removalPolicy is snapshot/i]],
    ['logs prefix without logs bucket', () => new VmExportBucket(newStack(), 'B', { serverAccessLogsPrefix: 'logs/' }),
      [/serverAccessLogsPrefix is 'logs\/'/, /set serverAccessLogsBucket/]],
    ['export bucket as its own log bucket', () => {
      const stack = newStack();
      new VmExportBucket(stack, 'B', {
        bucketName: 'vm-exports',
        serverAccessLogsBucket: s3.Bucket.fromBucketName(stack, 'Self', 'vm-exports'),
      });
    }, [/serverAccessLogsBucket is the export bucket itself \('vm-exports'\)/, /separate bucket/]],
    ['bucket name with upper case', () => new VmExportBucket(newStack(), 'B', { bucketName: 'My_Exports' }),
      [/bucketName 'My_Exports'/, /lowercase letters/]],
    ['bucket name too short', () => new VmExportBucket(newStack(), 'B', { bucketName: 'ab' }),
      [/bucketName 'ab'/, /3 to 63/]],
    ['bucket name like an IP address', () => new VmExportBucket(newStack(), 'B', { bucketName: '192.168.1.1' }),
      [/IP address/]],
    ['imported bucket with a bad name', () => VmExportBucket.fromBucketName(newStack(), 'I', 'Bad..Name'),
      [/bucketName 'Bad\.\.Name'/, /adjacent dots/]],
    ['imported bucket with a bad canonical ID', () => VmExportBucket.fromBucketName(newStack(), 'I', 'ok-bucket', { canonicalId: 'xyz' }),
      [/canonicalId 'xyz'/]],
  ])('%s', (_name, build, patterns) => {
    let message = '';
    try {
      build();
    } catch (e) {
      message = (e as Error).message;
    }
    for (const pattern of patterns) {
      expect(message).toMatch(pattern);
    }
  });

  test('all problems are reported together', () => {
    expect(() => new VmExportBucket(newStack(), 'B', {
      canonicalId: 'nope',
      expireExportsAfter: Duration.hours(1),
      bucketName: 'UPPER',
    })).toThrow(/canonicalId 'nope'[\s\S]*bucketName 'UPPER'[\s\S]*expireExportsAfter/);
  });

  test('tokens are not validated at synth time', () => {
    const stack = newStack();
    expect(() => new VmExportBucket(stack, 'B', {
      bucketName: stack.resolve('x') && `${stack.stackName.toLowerCase()}-exports`,
      canonicalId: stack.urlSuffix,
    })).not.toThrow();
  });
});
