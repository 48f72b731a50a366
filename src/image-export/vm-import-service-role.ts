import { ArnFormat, Aws, Resource, Stack, Token, aws_iam as iam, aws_s3 as s3 } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { acknowledgeServiceRolePolicy } from '../internal';

/** The service principal of VM Import/Export. */
const SERVICE_PRINCIPAL = 'vmie.amazonaws.com';
/** The external id the service passes when it assumes the role (the guide's trust policy). */
const EXTERNAL_ID = 'vmimport';
/** IAM role names: 1 to 64 of letters, digits and `+=,.@_-`. */
const ROLE_NAME_PATTERN = /^[\w+=,.@-]{1,64}$/;

/**
 * The VM Import/Export service role an image export (`ExportImage`) writes through: the service
 * assumes it to put the exported file into the bucket.
 */
export interface IVmImportServiceRole extends IConstruct {
  /** The role's name (what `ExportImage` takes as `RoleName`). */
  readonly roleName: string;

  /** The role's ARN. */
  readonly roleArn: string;

  /**
   * Lets the service write exports under `prefix` of `bucket` through this role. For a role
   * the stack does not own (`fromRoleName`) with `addGrants: false`, nothing is added and the
   * preflight checks the role's permissions at deploy time instead.
   *
   * @param bucket the export bucket
   * @param prefix the key prefix the exports are written under (e.g. `exports/`)
   */
  grantExportTo(bucket: s3.IBucket, prefix: string): void;

  /**
   * Allows `grantee` to pass this role to VM Import/Export (`iam:PassRole` on this role only,
   * with `iam:PassedToService` = `vmie.amazonaws.com`): whoever calls `ExportImage` needs it.
   *
   * @param grantee the principal that calls ExportImage
   */
  grantPassRole(grantee: iam.IGrantable): iam.Grant;
}

/** Properties of a `VmImportServiceRole`. */
export interface VmImportServiceRoleProps {
  /**
   * The role's name.
   *
   * @default - CloudFormation generates a unique name
   */
  readonly roleName?: string;

  /**
   * Whether the trust policy accepts the service only when it acts for this account
   * (`aws:SourceAccount` = the stack's account, `aws:SourceArn` like
   * `arn:<partition>:vmie:*:<account>:*`), as the VM Import/Export guide suggests for
   * additional security.
   *
   * @default true
   */
  readonly restrictToAccount?: boolean;
}

/** Options for using an existing VM Import/Export service role. */
export interface VmImportServiceRoleImportOptions {
  /**
   * Whether the library attaches its bucket grants to the existing role (one inline policy of
   * this stack: the export bucket's objects under the exports' prefixes, removed with the stack).
   * With `false` the role must already allow writing to the bucket; the preflight checks it.
   *
   * @default true
   */
  readonly addGrants?: boolean;
}

/** The role statement's actions on the bucket itself and on the exported objects (the guide's role policy). */
const BUCKET_ACTIONS = ['s3:GetBucketLocation', 's3:GetBucketAcl', 's3:ListBucket'];
const OBJECT_ACTIONS = ['s3:GetObject', 's3:PutObject'];
/**
 * The EC2 actions of the guide's role policy ("Required service role", one policy for import and
 * export) that an export may use: the service copies the AMI's snapshots while it converts them
 * (the image export page: "a small charge for the temporary use of an Amazon EBS snapshot"). The
 * guide grants them on `*`; which of them export needs is not documented, so all but
 * ec2:RegisterImage (which registers an imported image) are kept.
 */
const SNAPSHOT_ACTIONS = ['ec2:CopySnapshot', 'ec2:ModifySnapshotAttribute', 'ec2:Describe*'];

/** What both kinds of role do with their grants. */
abstract class VmImportServiceRoleBase extends Resource implements IVmImportServiceRole {
  public abstract readonly roleName: string;
  public abstract readonly roleArn: string;
  /** The role to attach bucket grants to, or undefined when the library adds none. */
  protected abstract readonly grantTarget: iam.IRole | undefined;
  private readonly grantedLocations = new Set<string>();
  private bucketStatement?: iam.PolicyStatement;
  private objectStatement?: iam.PolicyStatement;

  public grantExportTo(bucket: s3.IBucket, prefix: string): void {
    const key = `${bucket.bucketArn}|${prefix}`;
    if (this.grantTarget === undefined || this.grantedLocations.has(key)) {
      return;
    }
    this.grantedLocations.add(key);
    const objects = bucket.arnForObjects(`${prefix}*`);
    if (this.bucketStatement && this.objectStatement) {
      if (!this.bucketStatement.resources.includes(bucket.bucketArn)) {
        this.bucketStatement.addResources(bucket.bucketArn);
      }
      this.objectStatement.addResources(objects);
    } else {
      this.bucketStatement = new iam.PolicyStatement({ sid: 'ExportBuckets', actions: BUCKET_ACTIONS, resources: [bucket.bucketArn] });
      this.objectStatement = new iam.PolicyStatement({ sid: 'ExportObjects', actions: OBJECT_ACTIONS, resources: [objects] });
      this.grantTarget.addToPrincipalPolicy(this.bucketStatement);
      this.grantTarget.addToPrincipalPolicy(this.objectStatement);
      this.grantTarget.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ExportSnapshots', actions: SNAPSHOT_ACTIONS, resources: ['*'] }));
    }
    acknowledgeServiceRolePolicy(this, objects);
  }

  public grantPassRole(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['iam:PassRole'],
      resourceArns: [this.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': SERVICE_PRINCIPAL } },
    });
  }
}

/** The stack's default service role (what `VmImportServiceRole.of()` returns). */
const ROLE_PER_STACK = new WeakMap<Stack, VmImportServiceRole>();

/**
 * The VM Import/Export service role for image exports: trusts `vmie.amazonaws.com` with
 * `sts:ExternalId` = `vmimport` (the trust policy the VM Import/Export guide gives) and is
 * granted exactly the buckets and prefixes its exports write to.
 *
 * One role per stack serves every `ImageExport` of the stack by default (see `of()`); use
 * `fromRoleName()` for a role the account already has (often named `vmimport`).
 */
export class VmImportServiceRole extends VmImportServiceRoleBase {
  /** The construct id `of()` uses when it creates the role under the stack. */
  public static readonly DEFAULT_ID = 'VmImportServiceRole';

  /**
   * Returns the stack's service role, creating it (with default properties, under the stack,
   * with the id `VmImportServiceRole`) if the stack has none yet.
   *
   * @param scope any construct in the stack
   */
  public static of(scope: IConstruct): VmImportServiceRole {
    const stack = Stack.of(scope);
    const existing = ROLE_PER_STACK.get(stack) ?? stack.node.tryFindChild(VmImportServiceRole.DEFAULT_ID);
    if (existing instanceof VmImportServiceRole) {
      return existing;
    }
    return new VmImportServiceRole(stack, VmImportServiceRole.DEFAULT_ID);
  }

  /**
   * Uses an existing service role of the stack's account by name (for example `vmimport`).
   *
   * @param scope the scope
   * @param id the construct id
   * @param roleName the role's name: 1 to 64 letters, digits and `+=,.@_-` (no path), or a token
   * @param options whether the library attaches its bucket grants to the role
   */
  public static fromRoleName(scope: Construct, id: string, roleName: string, options: VmImportServiceRoleImportOptions = {}): IVmImportServiceRole {
    checkRoleName(scope, 'roleName', roleName);
    const arn = Stack.of(scope).formatArn({ service: 'iam', region: '', resource: 'role', resourceName: roleName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    return new ImportedVmImportServiceRole(scope, id, roleName, arn, options.addGrants ?? true);
  }

  /**
   * Uses an existing service role by ARN: for a role with a path (`arn:aws:iam::<account>:role/<path>/<name>`),
   * whose ARN is not `role/<name>`. ExportImage takes the last part, the role's name.
   *
   * @param scope the scope
   * @param id the construct id
   * @param roleArn the role's ARN (a literal: its name is read from it)
   * @param options whether the library attaches its bucket grants to the role
   */
  public static fromRoleArn(scope: Construct, id: string, roleArn: string, options: VmImportServiceRoleImportOptions = {}): IVmImportServiceRole {
    const match = /^arn:[a-z-]+:iam::\d{12}:role\/(?:[\w+=,.@/-]*\/)?([\w+=,.@-]{1,64})$/.exec(roleArn);
    if (Token.isUnresolved(roleArn) || !match) {
      throw new Error(`${scope.node.path}: roleArn '${roleArn}' is not the ARN of an IAM role: pass a literal 'arn:<partition>:iam::<account>:role/<path>/<name>' (or use fromRoleName for a role without a path).`);
    }
    return new ImportedVmImportServiceRole(scope, id, match[1], roleArn, options.addGrants ?? true);
  }

  public readonly roleName: string;
  public readonly roleArn: string;

  /** The IAM role. */
  public readonly role: iam.IRole;

  protected readonly grantTarget: iam.IRole;

  /**
   * @param scope the scope (usually the stack; see `of()`)
   * @param id the construct id
   * @param props role properties
   */
  constructor(scope: Construct, id: string, props: VmImportServiceRoleProps = {}) {
    super(scope, id);
    checkRoleName(this, 'roleName', props.roleName);
    const stack = Stack.of(this);
    if (!ROLE_PER_STACK.has(stack)) {
      ROLE_PER_STACK.set(stack, this);
    }
    const role = new iam.Role(this, 'Role', {
      roleName: props.roleName,
      description: 'cdk-vm-export: VM Import/Export writes image exports to the export bucket through this role',
      assumedBy: new iam.ServicePrincipal(SERVICE_PRINCIPAL, { conditions: trustConditions(stack.account, props.restrictToAccount ?? true) }),
    });
    this.role = role;
    this.grantTarget = role;
    this.roleName = role.roleName;
    this.roleArn = role.roleArn;
  }
}

/**
 * The trust policy's conditions: the external id, and the stack's account unless opted out
 * (the guide: the service publishes aws:SourceAccount and aws:SourceArn when it assumes the role).
 */
function trustConditions(account: string, restrictToAccount: boolean): Record<string, unknown> {
  if (!restrictToAccount) {
    return { StringEquals: { 'sts:ExternalId': EXTERNAL_ID } };
  }
  return {
    StringEquals: { 'sts:ExternalId': EXTERNAL_ID, 'aws:SourceAccount': account },
    ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:vmie:*:${account}:*` },
  };
}

/** Throws when a literal role name is not one IAM accepts (a name, not an ARN or a path). */
function checkRoleName(scope: IConstruct, prop: string, roleName: string | undefined): void {
  if (roleName === undefined || Token.isUnresolved(roleName) || ROLE_NAME_PATTERN.test(roleName)) {
    return;
  }
  const hint = roleName.startsWith('arn:') || roleName.includes('/')
    ? ' ExportImage takes the role\'s NAME, without a path: pass the last part of the ARN, e.g. \'vmimport\'.'
    : ' Use 1 to 64 letters, digits and +=,.@_- characters, e.g. \'vmimport\'.';
  throw new Error(`${scope.node.path}: ${prop} '${roleName}' is not an IAM role name.${hint}`);
}

/** An existing role, by name. */
class ImportedVmImportServiceRole extends VmImportServiceRoleBase {
  public readonly roleName: string;
  public readonly roleArn: string;
  protected readonly grantTarget: iam.IRole | undefined;

  constructor(scope: Construct, id: string, roleName: string, roleArn: string, addGrants: boolean) {
    super(scope, id);
    this.roleName = roleName;
    this.roleArn = roleArn;
    this.grantTarget = addGrants ? iam.Role.fromRoleArn(this, 'Role', roleArn, { mutable: true }) : undefined;
  }
}

