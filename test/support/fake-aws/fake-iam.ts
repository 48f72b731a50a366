/**
 * TEST CODE ONLY: a local stand-in for the parts of AWS IAM that image export touches: roles
 * (trust policy and inline policies), GetRole, ListRolePolicies / GetRolePolicy /
 * ListAttachedRolePolicies, and SimulatePrincipalPolicy with a small policy matcher (action and
 * resource wildcards, NotAction / NotResource, a few condition operators). The fake EC2 asks it
 * whether the VM Import/Export service role exists, trusts the service and may write the object.
 *
 * Shapes as IAM documents them (IAM API Reference):
 * - `Role.AssumeRolePolicyDocument` and `GetRolePolicy`'s `PolicyDocument` are URL-encoded JSON
 *   strings ("The policy document returned in this structure is URL-encoded compliant with RFC
 *   3986", API_Role / API_GetRolePolicy).
 * - GetRole of an unknown role: `NoSuchEntity` (HTTP 404), "The role with name <name> cannot be
 *   found." (the text IAM answers; the SDK v3 raises `NoSuchEntityException` with `Code`
 *   `NoSuchEntity`: errors.ts `iamError`).
 * - SimulatePrincipalPolicy: `EvalDecision` `allowed` | `explicitDeny` | `implicitDeny`; one
 *   `EvaluationResult` per action with `ResourceSpecificResults` per resource (API_EvaluationResult:
 *   "The simulator now returns a single EvaluationResult per action, regardless of how many
 *   resource ARNs are provided. Previously, simulating one action against N resources returned N
 *   evaluation results"); the older answer is the `simulationResults: 'per-resource'` option.
 */
import { iamError } from './errors';
import { FakeWorld } from './world';

/** A policy statement as written in a policy document. */
export interface FakePolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: string | string[];
  readonly NotResource?: string | string[];
  readonly Principal?: unknown;
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

export interface FakePolicyDocument {
  readonly Version?: string;
  readonly Statement: FakePolicyStatement | FakePolicyStatement[];
}

export interface FakeRoleSpec {
  readonly roleName: string;
  /** @default '/' */
  readonly path?: string;
  /** The trust policy. */
  readonly assumeRolePolicy: FakePolicyDocument;
  /** Inline policies by name. */
  readonly inlinePolicies?: Record<string, FakePolicyDocument>;
}

export interface FakeRole {
  readonly roleName: string;
  readonly path: string;
  readonly roleId: string;
  readonly arn: string;
  readonly createDate: Date;
  assumeRolePolicy: FakePolicyDocument;
  readonly inlinePolicies: Map<string, FakePolicyDocument>;
}

export type EvalDecision = 'allowed' | 'implicitDeny' | 'explicitDeny';

export interface VmImportRoleOptions {
  /** The export bucket (the guide's `export-bucket`). */
  readonly bucket: string;
  /** Object statements cover `<bucket>/<prefix>*`. @default '' (the guide's `<bucket>/*`) */
  readonly prefix?: string;
  /** Leave these actions out of the role policy (to build a role that lacks a permission). */
  readonly withoutActions?: string[];
  /** Add the guide's optional `aws:SourceAccount` / `aws:SourceArn` conditions to the trust policy. @default false */
  readonly restrictToAccount?: boolean;
  /** The trusted service principal. @default 'vmie.amazonaws.com' */
  readonly servicePrincipal?: string;
}

export interface FakeIamOptions {
  /**
   * How SimulatePrincipalPolicy answers several ResourceArns: `per-action` (today's documented
   * answer: one result per action, aggregate decision, `ResourceSpecificResults`) or
   * `per-resource` (the earlier answer: one result per action and resource). @default 'per-action'
   */
  readonly simulationResults?: 'per-action' | 'per-resource';
}

/** The context of a simulated request: condition keys (case-insensitive) to values. */
export type FakeContext = Record<string, string | string[]>;

function list<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** IAM's wildcard match: `*` any run of characters, `?` one character. */
export function wildcardMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, caseInsensitive ? 'si' : 's').test(value);
}

function actionMatches(patterns: string[], action: string): boolean {
  return patterns.some((p) => wildcardMatch(p, action, true));
}

function resourceMatches(patterns: string[], resource: string): boolean {
  return patterns.some((p) => wildcardMatch(p, resource));
}

/**
 * Evaluates a statement's Condition block against the context. Supported operators:
 * StringEquals, StringLike, StringNotEquals, ArnEquals, ArnLike (keys case-insensitive, as IAM
 * treats condition keys). A key missing from the context makes the condition false and is
 * reported in `missing`.
 */
function conditionHolds(condition: FakePolicyStatement['Condition'], context: FakeContext, missing: Set<string>): boolean {
  if (!condition) return true;
  const lower = new Map(Object.entries(context).map(([k, v]) => [k.toLowerCase(), list(v)]));
  for (const [operator, entries] of Object.entries(condition)) {
    for (const [key, expected] of Object.entries(entries)) {
      const actual = lower.get(key.toLowerCase());
      if (actual === undefined) {
        missing.add(key);
        return false;
      }
      const wanted = list(expected);
      let ok: boolean;
      switch (operator) {
        case 'StringEquals':
        case 'ArnEquals':
          ok = actual.some((a) => wanted.includes(a));
          break;
        case 'StringNotEquals':
          ok = actual.every((a) => !wanted.includes(a));
          break;
        case 'StringLike':
        case 'ArnLike':
          ok = actual.some((a) => wanted.some((w) => wildcardMatch(w, a)));
          break;
        default:
          throw new Error(`fake-aws: IAM condition operator ${operator} is not supported`);
      }
      if (!ok) return false;
    }
  }
  return true;
}

export class FakeIam {
  public readonly roles = new Map<string, FakeRole>();
  public simulationResults: 'per-action' | 'per-resource';
  private roleCounter = 0;

  constructor(private readonly world: FakeWorld, options: FakeIamOptions = {}) {
    this.simulationResults = options.simulationResults ?? 'per-action';
  }

  public roleArn(roleName: string, path = '/'): string {
    return `arn:aws:iam::${this.world.accountId}:role${path}${roleName}`;
  }

  public addRole(spec: FakeRoleSpec): FakeRole {
    this.roleCounter++;
    const path = spec.path ?? '/';
    const role: FakeRole = {
      roleName: spec.roleName,
      path,
      roleId: `AROA${this.roleCounter.toString(16).toUpperCase().padStart(17, '0')}`,
      arn: this.roleArn(spec.roleName, path),
      createDate: this.world.now(),
      assumeRolePolicy: structuredClone(spec.assumeRolePolicy),
      inlinePolicies: new Map(Object.entries(spec.inlinePolicies ?? {}).map(([n, d]) => [n, structuredClone(d)])),
    };
    this.roles.set(spec.roleName, role);
    return role;
  }

  public deleteRole(roleName: string): void {
    this.roles.delete(roleName);
  }

  public putRolePolicy(roleName: string, policyName: string, document: FakePolicyDocument): void {
    const role = this.roles.get(roleName);
    if (!role) throw new Error(`fake-aws: no role ${roleName}`);
    role.inlinePolicies.set(policyName, structuredClone(document));
  }

  /**
   * Creates the service role as the VM Import/Export User Guide describes it ("Required service
   * role", required-permissions.html): trust `vmie.amazonaws.com` for `sts:AssumeRole` with
   * `StringEquals` `sts:Externalid` = `vmimport` (the guide's spelling; keys are
   * case-insensitive), and the role policy: `s3:GetBucketLocation`, `s3:GetObject`,
   * `s3:ListBucket`, `s3:PutObject`, `s3:GetBucketAcl` on the bucket and its objects, plus
   * `ec2:ModifySnapshotAttribute`, `ec2:CopySnapshot`, `ec2:RegisterImage`, `ec2:Describe*` on `*`.
   */
  public addVmImportRole(roleName: string, options: VmImportRoleOptions): FakeRole {
    const without = new Set((options.withoutActions ?? []).map((a) => a.toLowerCase()));
    const keep = (actions: string[]) => actions.filter((a) => !without.has(a.toLowerCase()));
    const account = this.world.accountId;
    const condition: Record<string, Record<string, string>> = { StringEquals: { 'sts:Externalid': 'vmimport' } };
    if (options.restrictToAccount) {
      condition.StringEquals['aws:SourceAccount'] = account;
      condition.ArnLike = { 'aws:SourceArn': `arn:aws:vmie:*:${account}:*` };
    }
    const statements: FakePolicyStatement[] = [
      {
        Effect: 'Allow',
        Action: keep(['s3:GetBucketLocation', 's3:GetObject', 's3:ListBucket', 's3:PutObject', 's3:GetBucketAcl']),
        Resource: [`arn:aws:s3:::${options.bucket}`, `arn:aws:s3:::${options.bucket}/${options.prefix ?? ''}*`],
      },
      {
        Effect: 'Allow',
        Action: keep(['ec2:ModifySnapshotAttribute', 'ec2:CopySnapshot', 'ec2:RegisterImage', 'ec2:Describe*']),
        Resource: '*',
      },
    ];
    return this.addRole({
      roleName,
      assumeRolePolicy: {
        Version: '2012-10-17',
        Statement: [{
          Effect: 'Allow',
          Principal: { Service: options.servicePrincipal ?? 'vmie.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: condition,
        }],
      },
      inlinePolicies: { vmimport: { Version: '2012-10-17', Statement: statements.filter((s) => list(s.Action).length > 0) } },
    });
  }

  /**
   * Whether the role's trust policy lets `service` assume it with `context` (e.g. the
   * `sts:ExternalId`, `aws:SourceAccount` and `aws:SourceArn` the service passes).
   */
  public trusts(roleName: string, service: string, context: FakeContext = {}): boolean {
    const role = this.roles.get(roleName);
    if (!role) return false;
    let allowed = false;
    for (const s of list(role.assumeRolePolicy.Statement)) {
      const principal = s.Principal as { Service?: string | string[] } | string | undefined;
      const services = principal === '*' ? ['*'] : list(typeof principal === 'object' ? principal?.Service : undefined);
      if (!services.some((p) => p === '*' || p === service)) continue;
      if (!actionMatches(list(s.Action), 'sts:AssumeRole')) continue;
      if (!conditionHolds(s.Condition, context, new Set())) continue;
      if (s.Effect === 'Deny') return false;
      allowed = true;
    }
    return allowed;
  }

  /** The decision of the role's policies for one action on one resource. */
  public evaluate(roleName: string, action: string, resource: string, context: FakeContext = {}): EvalDecision {
    return this.evaluateDetailed(roleName, action, resource, context).decision;
  }

  public handle(operation: string, input: any): any {
    switch (operation) {
      case 'GetRole': {
        const role = this.existing(input.RoleName);
        return { Role: this.view(role) };
      }
      case 'ListRolePolicies': {
        const role = this.existing(input.RoleName);
        return { PolicyNames: [...role.inlinePolicies.keys()], IsTruncated: false };
      }
      case 'GetRolePolicy': {
        const role = this.existing(input.RoleName);
        const document = role.inlinePolicies.get(input.PolicyName);
        if (!document) {
          throw iamError('NoSuchEntity', `The role policy with name ${input.PolicyName} cannot be found.`, 404);
        }
        return { RoleName: role.roleName, PolicyName: input.PolicyName, PolicyDocument: encodeURIComponent(JSON.stringify(document)) };
      }
      case 'ListAttachedRolePolicies': {
        this.existing(input.RoleName);
        // Managed policies are not modelled: every permission of a fake role is inline.
        return { AttachedPolicies: [], IsTruncated: false };
      }
      case 'SimulatePrincipalPolicy':
        return this.simulate(input);
      default:
        throw iamError('InvalidAction', `fake-aws: IAM ${operation} is not implemented`, 400);
    }
  }

  // ---------------------------------------------------------------------------------------------

  private existing(roleName: unknown): FakeRole {
    const role = typeof roleName === 'string' ? this.roles.get(roleName) : undefined;
    if (!role) throw iamError('NoSuchEntity', `The role with name ${String(roleName)} cannot be found.`, 404);
    return role;
  }

  private view(role: FakeRole): any {
    return {
      Path: role.path,
      RoleName: role.roleName,
      RoleId: role.roleId,
      Arn: role.arn,
      CreateDate: role.createDate,
      AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(role.assumeRolePolicy)),
      MaxSessionDuration: 3600,
      RoleLastUsed: {},
    };
  }

  private evaluateDetailed(roleName: string, action: string, resource: string, context: FakeContext): {
    decision: EvalDecision; matched: Array<{ SourcePolicyId: string; SourcePolicyType: string }>; missing: Set<string>;
  } {
    const role = this.roles.get(roleName);
    const missing = new Set<string>();
    const allows: Array<{ SourcePolicyId: string; SourcePolicyType: string }> = [];
    const denies: Array<{ SourcePolicyId: string; SourcePolicyType: string }> = [];
    for (const [name, document] of role?.inlinePolicies ?? []) {
      for (const s of list(document.Statement)) {
        const actionOk = s.NotAction !== undefined ? !actionMatches(list(s.NotAction), action) : actionMatches(list(s.Action), action);
        const resourceOk = s.NotResource !== undefined ? !resourceMatches(list(s.NotResource), resource)
          : resourceMatches(list(s.Resource), resource);
        if (!actionOk || !resourceOk || !conditionHolds(s.Condition, context, missing)) continue;
        (s.Effect === 'Deny' ? denies : allows).push({ SourcePolicyId: name, SourcePolicyType: 'role' });
      }
    }
    if (denies.length > 0) return { decision: 'explicitDeny', matched: denies, missing };
    if (allows.length > 0) return { decision: 'allowed', matched: allows, missing };
    return { decision: 'implicitDeny', matched: [], missing };
  }

  private simulate(input: any): any {
    const source: string = String(input.PolicySourceArn ?? '');
    const match = /^arn:[^:]+:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(source);
    if (!match) {
      // Users and groups are not modelled.
      throw iamError('InvalidInput', `Invalid Entity Arn: ${source} does not clear basic validation.`, 400);
    }
    const roleName = match[2];
    if (match[1] !== this.world.accountId || !this.roles.has(roleName)) {
      throw iamError('NoSuchEntity', `The role with name ${roleName} cannot be found.`, 404);
    }
    const actions: string[] = input.ActionNames ?? [];
    const resources: string[] = input.ResourceArns && input.ResourceArns.length > 0 ? input.ResourceArns : ['*'];
    const context: FakeContext = {};
    for (const entry of input.ContextEntries ?? []) {
      if (entry.ContextKeyName) context[entry.ContextKeyName] = entry.ContextKeyValues ?? [];
    }
    const rank: Record<EvalDecision, number> = { allowed: 0, implicitDeny: 1, explicitDeny: 2 };
    const results: any[] = [];
    for (const action of actions) {
      const perResource = resources.map((resource) => ({ resource, ...this.evaluateDetailed(roleName, action, resource, context) }));
      if (this.simulationResults === 'per-resource') {
        for (const r of perResource) {
          results.push({
            EvalActionName: action,
            EvalResourceName: r.resource,
            EvalDecision: r.decision,
            MatchedStatements: r.matched,
            MissingContextValues: [...r.missing],
          });
        }
        continue;
      }
      const worst = perResource.reduce((a, b) => (rank[b.decision] > rank[a.decision] ? b : a));
      results.push({
        EvalActionName: action,
        EvalResourceName: resources.length === 1 ? resources[0] : '*',
        EvalDecision: worst.decision,
        MatchedStatements: worst.matched,
        MissingContextValues: [...new Set(perResource.flatMap((r) => [...r.missing]))],
        ...(resources.length > 1 || resources[0] !== '*' ? {
          ResourceSpecificResults: perResource.map((r) => ({
            EvalResourceName: r.resource,
            EvalResourceDecision: r.decision,
            MatchedStatements: r.matched,
            MissingContextValues: [...r.missing],
          })),
        } : {}),
      });
    }
    return { EvaluationResults: results, IsTruncated: false };
  }
}
