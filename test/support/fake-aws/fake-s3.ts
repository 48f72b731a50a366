/**
 * TEST CODE ONLY: a local stand-in for the parts of Amazon S3 the handlers and the export
 * service use: bucket ACLs, ownership controls, default encryption, bucket policy, location,
 * objects (HeadObject / DeleteObject / PutObject / ListObjectsV2) and in-progress uploads of an
 * export (removed when the export is cancelled).
 */
import { awsError } from './errors';
import { FakeWorld } from './world';

export interface FakeGrant {
  Grantee: { Type: string; ID?: string; URI?: string; DisplayName?: string };
  Permission: string;
}

export interface FakeObject {
  readonly size: number;
  readonly lastModified: Date;
  /** Who wrote it (e.g. `vm-import-export`). */
  readonly writer: string;
}

export interface FakeBucket {
  readonly name: string;
  readonly region: string;
  readonly owner: { ID: string; DisplayName: string };
  grants: FakeGrant[];
  /** `BucketOwnerPreferred` | `ObjectWriter` | `BucketOwnerEnforced`; undefined: no controls. */
  ownership?: string;
  /** Default encryption algorithm (`AES256`, `aws:kms`, ...); undefined: none. */
  encryption?: string;
  policy?: string;
  readonly objects: Map<string, FakeObject>;
  /** Multipart uploads in progress, by key. */
  readonly uploads: Map<string, { readonly startedAt: number }>;
}

export interface CreateBucketOptions {
  /** @default the world's region */
  readonly region?: string;
  /** @default 'BucketOwnerPreferred' */
  readonly ownership?: string | null;
  /** @default 'AES256' */
  readonly encryption?: string | null;
  /** Extra grants besides the owner's FULL_CONTROL. */
  readonly grants?: FakeGrant[];
  readonly policy?: string;
  /** Answer GetBucketLocation with `EU` for eu-west-1 (old buckets). */
  readonly legacyEuLocation?: boolean;
}

/** The canonical ID of the fake account (the bucket owner). */
export function ownerCanonicalId(accountId: string): string {
  return (accountId.replace(/\D/g, '') + 'a'.repeat(64)).slice(0, 64).replace(/[^0-9a-f]/g, 'a');
}

export class FakeS3 {
  public readonly buckets = new Map<string, FakeBucket>();
  private readonly legacyEu = new Set<string>();

  constructor(private readonly world: FakeWorld) {}

  /** Creates a bucket (what CloudFormation would do for the template's AWS::S3::Bucket). */
  public createBucket(name: string, options: CreateBucketOptions = {}): FakeBucket {
    const owner = { ID: ownerCanonicalId(this.world.accountId), DisplayName: 'fake-owner' };
    const bucket: FakeBucket = {
      name,
      region: options.region ?? this.world.region,
      owner,
      grants: [{ Grantee: { Type: 'CanonicalUser', ID: owner.ID, DisplayName: owner.DisplayName }, Permission: 'FULL_CONTROL' },
        ...(options.grants ?? [])],
      ownership: options.ownership === null ? undefined : options.ownership ?? 'BucketOwnerPreferred',
      encryption: options.encryption === null ? undefined : options.encryption ?? 'AES256',
      policy: options.policy,
      objects: new Map(),
      uploads: new Map(),
    };
    this.buckets.set(name, bucket);
    if (options.legacyEuLocation) this.legacyEu.add(name);
    return bucket;
  }

  public bucket(name: string): FakeBucket {
    const bucket = this.buckets.get(name);
    if (!bucket) throw new Error(`fake-aws: no bucket ${name}`);
    return bucket;
  }

  /** True when the bucket grants `permission` (or FULL_CONTROL) to the canonical user `id`. */
  public grants(bucketName: string, id: string, permission: string): boolean {
    const bucket = this.buckets.get(bucketName);
    return !!bucket && bucket.grants.some((g) => g.Grantee.Type === 'CanonicalUser' && g.Grantee.ID === id
      && (g.Permission === permission || g.Permission === 'FULL_CONTROL'));
  }

  // --- used by the fake export service ---------------------------------------------------------

  public startUpload(bucketName: string, key: string): void {
    this.buckets.get(bucketName)?.uploads.set(key, { startedAt: this.world.clock.now });
  }

  public completeUpload(bucketName: string, key: string, size: number): void {
    const bucket = this.buckets.get(bucketName);
    if (!bucket) return;
    bucket.uploads.delete(key);
    bucket.objects.set(key, { size, lastModified: this.world.now(), writer: 'vm-import-export' });
  }

  /** Removes an in-progress upload and any object under the key (what cancelling an export does). */
  public removeArtifacts(bucketName: string, key: string): void {
    const bucket = this.buckets.get(bucketName);
    bucket?.uploads.delete(key);
    bucket?.objects.delete(key);
  }

  // --- the API ---------------------------------------------------------------------------------

  private existing(name: unknown): FakeBucket {
    const bucket = typeof name === 'string' ? this.buckets.get(name) : undefined;
    if (!bucket) throw awsError('s3', 'NoSuchBucket', 'The specified bucket does not exist', 404);
    return bucket;
  }

  public handle(operation: string, input: any): any {
    switch (operation) {
      case 'GetBucketAcl': {
        const b = this.existing(input.Bucket);
        return { Owner: b.owner, Grants: b.grants };
      }
      case 'PutBucketAcl':
        return this.putBucketAcl(input);
      case 'GetBucketOwnershipControls': {
        const b = this.existing(input.Bucket);
        if (!b.ownership) {
          throw awsError('s3', 'OwnershipControlsNotFoundError', 'The bucket ownership controls were not found', 404);
        }
        return { OwnershipControls: { Rules: [{ ObjectOwnership: b.ownership }] } };
      }
      case 'PutBucketOwnershipControls': {
        const b = this.existing(input.Bucket);
        b.ownership = input.OwnershipControls?.Rules?.[0]?.ObjectOwnership;
        return {};
      }
      case 'GetBucketEncryption': {
        const b = this.existing(input.Bucket);
        if (!b.encryption) {
          throw awsError('s3', 'ServerSideEncryptionConfigurationNotFoundError', 'The server side encryption configuration was not found', 404);
        }
        return {
          ServerSideEncryptionConfiguration: {
            Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: b.encryption }, BucketKeyEnabled: false }],
          },
        };
      }
      case 'GetBucketPolicy': {
        const b = this.existing(input.Bucket);
        if (!b.policy) throw awsError('s3', 'NoSuchBucketPolicy', 'The bucket policy does not exist', 404);
        return { Policy: b.policy };
      }
      case 'PutBucketPolicy': {
        const b = this.existing(input.Bucket);
        try {
          JSON.parse(input.Policy);
        } catch {
          throw awsError('s3', 'MalformedPolicy', 'Policies must be valid JSON and the first byte must be \'{\'', 400);
        }
        b.policy = input.Policy;
        return {};
      }
      case 'DeleteBucketPolicy': {
        const b = this.existing(input.Bucket);
        b.policy = undefined;
        return {};
      }
      case 'GetBucketLocation': {
        const b = this.existing(input.Bucket);
        if (b.region === 'us-east-1') return {};
        return { LocationConstraint: this.legacyEu.has(b.name) && b.region === 'eu-west-1' ? 'EU' : b.region };
      }
      case 'HeadObject': {
        const b = this.existing(input.Bucket);
        const object = b.objects.get(input.Key);
        if (!object) throw awsError('s3', 'NotFound', 'Not Found', 404);
        return { ContentLength: object.size, LastModified: object.lastModified };
      }
      case 'PutObject': {
        const b = this.existing(input.Bucket);
        const body = input.Body;
        const size = typeof body === 'string' ? Buffer.byteLength(body) : body?.length ?? 0;
        b.objects.set(input.Key, { size, lastModified: this.world.now(), writer: 'user' });
        return { ETag: '"fake"' };
      }
      case 'DeleteObject': {
        const b = this.existing(input.Bucket);
        b.objects.delete(input.Key);
        return {};
      }
      case 'ListObjectsV2': {
        const b = this.existing(input.Bucket);
        const prefix: string = input.Prefix ?? '';
        const contents = [...b.objects.entries()].filter(([k]) => k.startsWith(prefix))
          .map(([Key, o]) => ({ Key, Size: o.size, LastModified: o.lastModified }));
        return { Contents: contents, KeyCount: contents.length, IsTruncated: false };
      }
      default:
        throw awsError('s3', 'NotImplemented', `fake-aws: S3 ${operation} is not implemented`, 501);
    }
  }

  private putBucketAcl(input: any): any {
    const b = this.existing(input.Bucket);
    if (b.ownership === 'BucketOwnerEnforced') {
      throw awsError('s3', 'AccessControlListNotSupported', 'The bucket does not allow ACLs', 400);
    }
    const policy = input.AccessControlPolicy;
    if (!policy || !Array.isArray(policy.Grants)) {
      throw awsError('s3', 'MalformedACLError', 'The XML you provided was not well-formed or did not validate against our published schema', 400);
    }
    for (const grant of policy.Grants as FakeGrant[]) {
      const grantee = grant?.Grantee;
      const valid = grantee && ((grantee.Type === 'CanonicalUser' && typeof grantee.ID === 'string' && grantee.ID !== '')
        || (grantee.Type === 'Group' && typeof grantee.URI === 'string'));
      if (!valid || !['FULL_CONTROL', 'READ', 'WRITE', 'READ_ACP', 'WRITE_ACP'].includes(grant.Permission)) {
        throw awsError('s3', 'MalformedACLError', 'The XML you provided was not well-formed or did not validate against our published schema', 400);
      }
    }
    if (policy.Owner?.ID !== undefined && policy.Owner.ID !== b.owner.ID) {
      throw awsError('s3', 'AccessDenied', 'Access Denied', 403);
    }
    b.grants = policy.Grants.map((g: FakeGrant) => ({ Grantee: { ...g.Grantee }, Permission: g.Permission }));
    return {};
  }
}
