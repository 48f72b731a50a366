/**
 * Shared fixtures of the bucket grant handler tests: events, canonical IDs and S3 errors.
 */
import { createHash } from 'crypto';
import { S3ServiceException } from '@aws-sdk/client-s3';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { BUCKET_POLICY_SID, BucketGrantProperties } from '../lambda/shared/contract';

/** The default-row service ID (us-east-1 and every unlisted region). */
export const SERVICE_ID = 'c4d8eabf8db69dbe46bfe0e517100c554f01200b104d59cd408e777ba442a322';
/** The China service ID. */
export const CHINA_ID = '834bafd86b15b6ca71074df0fd1f93d234b9d5e848a2cb31f880c149003ce36f';
/** The Milan service ID (a region with an ID of its own). */
export const MILAN_ID = '04636d9a349e458b0c1cbf1421858b9788b4ec28b066148d4907bb15c52b5b9c';
/** The bucket owner's canonical ID. */
export const OWNER_ID = '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be';
/** Some other account's canonical ID that already holds grants. */
export const PARTNER_ID = '1f3a7c2b9d8e4f6a0b5c7d9e2f4a6b8c0d1e3f5a7b9c2d4e6f8a0b1c3d5e7f9a';

export const BUCKET = 'exports-123456789012-us-east-1';

export const OWNER = { DisplayName: 'owner', ID: OWNER_ID };

export const OWNER_FULL_CONTROL = {
  Grantee: { Type: 'CanonicalUser' as const, ID: OWNER_ID, DisplayName: 'owner' },
  Permission: 'FULL_CONTROL' as const,
};

/** A grant to a canonical user. */
export function grant(id: string, permission: 'FULL_CONTROL' | 'READ' | 'READ_ACP' | 'WRITE' | 'WRITE_ACP') {
  return { Grantee: { Type: 'CanonicalUser' as const, ID: id }, Permission: permission };
}

/** A grant to a predefined group (e.g. the log delivery group). */
export function groupGrant(uri: string, permission: 'READ_ACP' | 'WRITE') {
  return { Grantee: { Type: 'Group' as const, URI: uri }, Permission: permission };
}

export const LOG_DELIVERY = 'http://acs.amazonaws.com/groups/s3/LogDelivery';

export function props(overrides: Partial<BucketGrantProperties> = {}): BucketGrantProperties {
  return {
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:VmExportCustomResourcesHandler',
    BucketName: BUCKET,
    CanonicalId: SERVICE_ID,
    Partition: 'aws',
    VerifyBucket: 'false',
    ExpectedRegion: 'us-east-1',
    ManagePolicy: 'false',
    PolicySid: BUCKET_POLICY_SID,
    ...overrides,
  };
}

const COMMON = {
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:VmExportCustomResourcesHandler',
  ResponseURL: 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x',
  StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/VmExport/5b0a1d30-0000-11ef-9c2b-0a1b2c3d4e5f',
  RequestId: '6f9619ff-8b86-d011-b42d-00c04fc964ff',
  LogicalResourceId: 'ExportBucketGrant',
  ResourceType: 'Custom::VmExportBucketGrant',
};

export function createEvent(p: BucketGrantProperties = props()): CloudFormationCustomResourceEvent {
  return { ...COMMON, RequestType: 'Create', ResourceProperties: { ...p } };
}

export function updateEvent(
  p: BucketGrantProperties,
  old: BucketGrantProperties,
  physicalId = `vm-export-grant:${old.BucketName}`,
): CloudFormationCustomResourceEvent {
  return {
    ...COMMON,
    RequestType: 'Update',
    PhysicalResourceId: physicalId,
    ResourceProperties: { ...p },
    OldResourceProperties: { ...old },
  };
}

export function deleteEvent(
  p: BucketGrantProperties = props(),
  physicalId = `vm-export-grant:${p.BucketName}`,
): CloudFormationCustomResourceEvent {
  return { ...COMMON, RequestType: 'Delete', PhysicalResourceId: physicalId, ResourceProperties: { ...p } };
}

/** The stack id of a stack named `name` (the fixtures' events come from stack `VmExport`). */
export function stackIdOf(name: string): string {
  return `arn:aws:cloudformation:us-east-1:123456789012:stack/${name}/5b0a1d30-0000-11ef-9c2b-${name.length.toString(16).padStart(12, '0')}`;
}

/** The same event as sent for the grant resource `logicalId` of stack `name`. */
export function inStack<E extends CloudFormationCustomResourceEvent>(event: E, name: string, logicalId = event.LogicalResourceId): E {
  return { ...event, StackId: stackIdOf(name), LogicalResourceId: logicalId };
}

/**
 * The Sid of the holder statement of the grant resource `logicalId` in stack `name` (default: the
 * fixtures' own), recording `added`, written out from the documented format: PolicySid, 12 hex
 * characters of sha256 of [stack id, logical id], then AddedReadAcp and / or AddedWrite.
 */
export function sidOf(added: Array<'READ_ACP' | 'WRITE'> = [], name?: string, logicalId = COMMON.LogicalResourceId, base = BUCKET_POLICY_SID): string {
  const stackId = name === undefined ? COMMON.StackId : stackIdOf(name);
  const hash = createHash('sha256').update(JSON.stringify([stackId, logicalId])).digest('hex').slice(0, 12);
  return `${base}${hash}${added.includes('READ_ACP') ? 'AddedReadAcp' : ''}${added.includes('WRITE') ? 'AddedWrite' : ''}`;
}

/** An S3 error as the SDK throws it (name = the S3 error code). */
export function s3Error(name: string, message: string, status = 400): S3ServiceException {
  return new S3ServiceException({ name, message, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

/** Someone else's statement on the bucket: deny requests without TLS (a common bucket policy). */
export const DENY_HTTP = {
  Sid: 'DenyInsecureTransport',
  Effect: 'Deny' as const,
  Principal: { AWS: '*' },
  Action: 's3:*',
  Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`],
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
};
