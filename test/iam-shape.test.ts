/**
 * The shape of every permission the library's resources get, across the whole template, plus
 * the logging and tracing settings a security review looks at.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  buildPermissionStack,
  PERMISSION_STACK_IMPORTED_BUCKET,
  PERMISSION_STACK_NO_WAIT_IMAGE,
  PERMISSION_STACK_WAITING_IMAGE,
} from './support/permission-stack';

interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
  readonly Principal?: unknown;
}

/** A resolved CloudFormation value as text: `<Logical.Attr>` for GetAtt, `<Name>` for Ref. */
function flat(node: unknown): string {
  if (typeof node === 'string') return node;
  const v = node as Record<string, any>;
  if (v['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(flat).join(v['Fn::Join'][0]);
  if (v['Fn::GetAtt']) return `<${v['Fn::GetAtt'][0]}.${v['Fn::GetAtt'][1]}>`;
  if (v.Ref) return `<${v.Ref}>`;
  return JSON.stringify(node);
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function buildStack(env?: { account: string; region: string }): Stack {
  return buildPermissionStack('Shape', env);
}

describe.each([
  ['concrete environment', { account: '123456789012', region: 'eu-west-1' }],
  ['environment-agnostic', undefined],
] as const)('%s', (_name, env) => {
  const template = Template.fromStack(buildStack(env), { skipCyclicalDependenciesCheck: true });
  const json = template.toJSON();
  const resources = Object.entries<any>(json.Resources);
  const iamStatements: Array<[string, Statement]> = [
    ...resources.filter(([, r]) => r.Type === 'AWS::IAM::Policy')
      .flatMap(([id, r]) => (r.Properties.PolicyDocument.Statement as Statement[]).map((s) => [id, s] as [string, Statement])),
    ...resources.filter(([, r]) => r.Type === 'AWS::IAM::Role')
      .flatMap(([id, r]) => list<any>(r.Properties.Policies)
        .flatMap((p) => (p.PolicyDocument.Statement as Statement[]).map((s) => [id, s] as [string, Statement]))),
  ];
  const withAction = (action: string) => iamStatements.filter(([, s]) => list(s.Action).includes(action));

  test('the template has the policies this test reads', () => {
    expect(iamStatements.length).toBeGreaterThan(20);
  });

  /**
   * The one statement that keeps the VM Import/Export User Guide's own wording ("Required service
   * role": ec2:CopySnapshot, ec2:ModifySnapshotAttribute, ec2:Describe* on *): on the service role
   * only VM Import/Export can assume; the guide does not say which of them an export needs.
   */
  const isGuideSnapshotStatement = ([id, s]: [string, Statement]) => id.startsWith('VmImportServiceRole') && s.Sid === 'ExportSnapshots'
    && JSON.stringify(list(s.Action).sort()) === JSON.stringify(['ec2:CopySnapshot', 'ec2:Describe*', 'ec2:ModifySnapshotAttribute']);

  test('no IAM statement denies nothing or allows a wildcard action (but the guide\'s ec2:Describe* on the service role)', () => {
    expect(iamStatements.filter(isGuideSnapshotStatement)).toHaveLength(1);
    for (const [id, s] of iamStatements.filter((entry) => !isGuideSnapshotStatement(entry))) {
      expect([id, s.Effect]).toEqual([id, 'Allow']);
      expect([id, list(s.Action).filter((a) => a.includes('*'))]).toEqual([id, []]);
    }
  });

  test('a `*` resource only for actions without resource-level permissions', () => {
    // Service Authorization Reference, EC2: these Describe actions list no resource types.
    const allowed = [
      /^ec2:Describe(ExportImageTasks|ExportTasks|Images|Instances|Volumes)$/,
      /^xray:(PutTraceSegments|PutTelemetryRecords|GetSamplingRules|GetSamplingTargets)$/,
      /^logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)$/,
    ];
    const starStatements = iamStatements.filter(([, s]) => list(s.Resource).some((r) => r === '*'));
    expect(starStatements.length).toBeGreaterThan(0);
    for (const [id, s] of starStatements.filter((entry) => !isGuideSnapshotStatement(entry))) {
      const unexplained = list(s.Action).filter((a) => !allowed.some((p) => p.test(a)));
      expect([id, unexplained]).toEqual([id, []]);
    }
  });

  test('ec2:CreateInstanceExportTask: the exported instances\' ARNs (never instance/*), and export-instance-task/* only with the request tag', () => {
    const statements = withAction('ec2:CreateInstanceExportTask');
    const byRole = new Map<string, string[]>();
    for (const [id, s] of statements) {
      expect([id, list(s.Action)]).toEqual([id, ['ec2:CreateInstanceExportTask']]);
      for (const resource of list(s.Resource).map(flat)) {
        if (/:export-instance-task\/\*$/.test(resource)) {
          expect(s.Condition).toEqual({ StringEquals: { 'aws:RequestTag/vm-export:managed-by': 'cdk-vm-export' } });
          byRole.set(id, [...byRole.get(id) ?? [], 'task']);
        } else {
          // Only the exported instances: no role may export any instance (no instance/*).
          expect(resource).toMatch(/^arn:<AWS::Partition>:ec2:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\d{12}):instance\/i-[0-9a-f]{17}$/);
          byRole.set(id, [...byRole.get(id) ?? [], 'instance']);
        }
      }
    }
    // Both resource types, for every role that may create tasks (the service needs both).
    expect(byRole.size).toBe(2);
    for (const [id, kinds] of byRole) {
      expect([id, [...new Set(kinds)].sort()]).toEqual([id, ['instance', 'task']]);
    }
  });

  /** The kind of task every resource of a statement names (`instance`, `image`), or `mixed`. */
  const taskKindOf = (s: Statement): string => {
    const kinds = new Set(list(s.Resource).map(flat).map((r) =>
      (/^arn:<AWS::Partition>:ec2:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\d{12}):export-instance-task\/\*$/.test(r) ? 'instance'
        : /^arn:<AWS::Partition>:ec2:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\d{12}):export-image-task\/\*$/.test(r) ? 'image' : `other: ${r}`)));
    return kinds.size === 1 ? [...kinds][0] : `mixed: ${[...kinds].join(', ')}`;
  };

  test('ec2:CreateTags only on export tasks being created, by the call that creates that kind of task', () => {
    const statements = withAction('ec2:CreateTags');
    const createAction: Record<string, string> = { instance: 'CreateInstanceExportTask', image: 'ExportImage' };
    const kinds: string[] = [];
    for (const [id, s] of statements) {
      const kind = taskKindOf(s);
      expect([id, list(s.Action), kind in createAction]).toEqual([id, ['ec2:CreateTags'], true]);
      expect([id, s.Condition]).toEqual([id, { StringEquals: { 'ec2:CreateAction': createAction[kind] } }]);
      kinds.push(kind);
    }
    // Both roles that start exports tag both kinds of task.
    expect(kinds.sort()).toEqual(['image', 'image', 'instance', 'instance']);
  });

  test('ec2:CancelExportTask only on tasks (of either kind) carrying the library\'s resource tag', () => {
    const statements = withAction('ec2:CancelExportTask');
    expect(statements.length).toBe(4);
    const kinds: string[] = [];
    for (const [id, s] of statements) {
      kinds.push(taskKindOf(s));
      expect([id, s.Condition]).toEqual([id, { StringEquals: { 'aws:ResourceTag/vm-export:managed-by': 'cdk-vm-export' } }]);
    }
    expect(kinds.sort()).toEqual(['image', 'image', 'instance', 'instance']);
  });

  test('ec2:ExportImage: only the granted AMIs (their image ARNs, no account field; image/* only narrowed to them by ec2:ImageID), and export-image-task/* only with the request tag', () => {
    const statements = withAction('ec2:ExportImage');
    const byRole = new Map<string, string[]>();
    const amis = new Set<string>();
    for (const [id, s] of statements) {
      expect([id, list(s.Action)]).toEqual([id, ['ec2:ExportImage']]);
      for (const resource of list(s.Resource).map(flat)) {
        if (/:export-image-task\/\*$/.test(resource)) {
          expect(resource).toMatch(/^arn:<AWS::Partition>:ec2:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\d{12}):export-image-task\/\*$/);
          expect([id, s.Condition]).toEqual([id, { StringEquals: { 'aws:RequestTag/vm-export:managed-by': 'cdk-vm-export' } }]);
          byRole.set(id, [...byRole.get(id) ?? [], 'task']);
        } else if (/::image\/\*$/.test(resource)) {
          // Every AMI only with the ec2:ImageID condition (a condition key of ExportImage's image
          // resource type) naming the exported AMIs and nothing else.
          expect(resource).toMatch(/^arn:<AWS::Partition>:ec2:(<AWS::Region>|[a-z0-9-]+)::image\/\*$/);
          expect([id, Object.keys(s.Condition ?? {}), Object.keys(s.Condition?.StringEquals ?? {})])
            .toEqual([id, ['StringEquals'], ['ec2:ImageID']]);
          const ids = list(s.Condition!.StringEquals['ec2:ImageID'] as string | string[]);
          expect([id, ids.length > 0 && ids.every((a) => /^ami-[0-9a-f]{17}$/.test(a))]).toEqual([id, true]);
          ids.forEach((a) => amis.add(a));
          byRole.set(id, [...byRole.get(id) ?? [], 'image']);
        } else {
          // Only the exported AMIs, in the image ARN format (empty account field).
          const match = /^arn:<AWS::Partition>:ec2:(<AWS::Region>|[a-z0-9-]+)::image\/(ami-[0-9a-f]{17})$/.exec(resource);
          expect([id, resource, match !== null]).toEqual([id, resource, true]);
          amis.add(match![2]);
          byRole.set(id, [...byRole.get(id) ?? [], 'image']);
        }
      }
    }
    expect([...amis].sort()).toEqual([PERMISSION_STACK_WAITING_IMAGE, PERMISSION_STACK_NO_WAIT_IMAGE].sort());
    // Both resource types, for every role that may start image exports (the service needs both).
    expect(byRole.size).toBe(2);
    for (const [id, kinds] of byRole) {
      expect([id, [...new Set(kinds)].sort()]).toEqual([id, ['image', 'task']]);
    }
  });

  test('iam:PassRole only of the VM Import/Export service role, only to vmie.amazonaws.com', () => {
    const statements = withAction('iam:PassRole');
    expect(statements.length).toBe(2);
    for (const [id, s] of statements) {
      expect([id, list(s.Action)]).toEqual([id, ['iam:PassRole']]);
      expect([id, list(s.Resource).map(flat)]).toEqual([id, [expect.stringMatching(/^<VmImportServiceRole[0-9A-Za-z]+\.Arn>$/)]]);
      expect([id, s.Condition]).toEqual([id, { StringEquals: { 'iam:PassedToService': 'vmie.amazonaws.com' } }]);
    }
  });

  test('the preflight\'s iam:GetRole and iam:SimulatePrincipalPolicy only on the service role', () => {
    const statements = iamStatements.filter(([, s]) => list(s.Action).some((a) => a === 'iam:GetRole' || a === 'iam:SimulatePrincipalPolicy'));
    expect(statements.length).toBe(2);
    for (const [id, s] of statements) {
      expect([id, list(s.Action).sort()]).toEqual([id, ['iam:GetRole', 'iam:SimulatePrincipalPolicy']]);
      expect([id, list(s.Resource).map(flat)]).toEqual([id, [expect.stringMatching(/^<VmImportServiceRole[0-9A-Za-z]+\.Arn>$/)]]);
    }
  });

  test('the service role: object reads and writes only under each image export\'s prefix, bucket reads only on the export buckets', () => {
    const serviceRole = iamStatements.filter(([id]) => id.startsWith('VmImportServiceRole'));
    const objectStatements = serviceRole.filter(([, s]) => list(s.Action).some((a) => a.endsWith('Object')));
    expect(objectStatements.map(([, s]) => list(s.Action).sort())).toEqual([['s3:GetObject', 's3:PutObject']]);
    // Golden: the owned bucket, prefix exports/; Nightly: the imported bucket, prefix images/.
    expect(list(objectStatements[0][1].Resource).map(flat).sort()).toEqual([
      expect.stringMatching(/^<ExportBucket[0-9A-Za-z]+\.Arn>\/exports\/\*$/),
      `arn:<AWS::Partition>:s3:::${PERMISSION_STACK_IMPORTED_BUCKET}/images/*`,
    ]);
    const bucketStatements = serviceRole.filter(([, s]) => list(s.Action).every((a) => a.startsWith('s3:')) && !list(s.Action).some((a) => a.endsWith('Object')));
    // Besides S3: only the guide's snapshot statement.
    expect(serviceRole.filter(([, s]) => !list(s.Action).every((a) => a.startsWith('s3:'))).map(([, s]) => s.Sid)).toEqual(['ExportSnapshots']);
    expect(bucketStatements.map(([, s]) => list(s.Action).sort())).toEqual([['s3:GetBucketAcl', 's3:GetBucketLocation', 's3:ListBucket']]);
    expect(list(bucketStatements[0][1].Resource).map(flat).sort()).toEqual([
      expect.stringMatching(/^<ExportBucket[0-9A-Za-z]+\.Arn>$/),
      `arn:<AWS::Partition>:s3:::${PERMISSION_STACK_IMPORTED_BUCKET}`,
    ]);
  });

  test('bucket actions are scoped to the export buckets', () => {
    const bucketArns = [
      /^<ExportBucket[0-9A-Za-z]+\.Arn>$/,
      /^arn:<AWS::Partition>:s3:::team-vm-exports$/,
    ];
    const objectArns = [
      /^<ExportBucket[0-9A-Za-z]+\.Arn>\/[^*]*\*$/,
      /^arn:<AWS::Partition>:s3:::team-vm-exports\/[^*]*\*$/,
    ];
    const s3Statements = iamStatements.filter(([, s]) => list(s.Action).some((a) => a.startsWith('s3:')));
    expect(s3Statements.length).toBeGreaterThan(3);
    for (const [id, s] of s3Statements) {
      const objectLevel = list(s.Action).every((a) => a === 's3:DeleteObject' || a === 's3:PutObject' || a === 's3:GetObject');
      for (const resource of list(s.Resource).map(flat)) {
        const patterns = objectLevel ? objectArns : bucketArns;
        expect([id, resource, patterns.some((p) => p.test(resource))]).toEqual([id, resource, true]);
      }
    }
  });

  test('every ARN is built with AWS::Partition: no literal arn:aws:', () => {
    expect(JSON.stringify(json)).not.toMatch(/arn:aws[a-z-]*:/);
    const arnStrings = iamStatements.flatMap(([, s]) => list(s.Resource)).filter((r) => typeof r === 'string' && r.startsWith('arn:'));
    expect(arnStrings).toEqual([]);
  });

  test('the state machine logs ALL without execution data, and traces', () => {
    const machines = resources.filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
    expect(machines).toHaveLength(1);
    const props = machines[0][1].Properties;
    expect(props.LoggingConfiguration.Level).toBe('ALL');
    expect(props.LoggingConfiguration.IncludeExecutionData).toBe(false);
    expect(props.LoggingConfiguration.Destinations).toHaveLength(1);
    expect(props.TracingConfiguration).toEqual({ Enabled: true });
  });

  test('every Lambda function (two: the custom resource function and the export-task function) logs to a log group with retention', () => {
    const functions = resources.filter(([, r]) => r.Type === 'AWS::Lambda::Function');
    expect(functions.length).toBe(2);
    for (const [id, fn] of functions) {
      const ref = fn.Properties.LoggingConfig?.LogGroup?.Ref;
      expect([id, typeof ref]).toEqual([id, 'string']);
      const group = json.Resources[ref];
      expect([id, group?.Type, typeof group?.Properties?.RetentionInDays]).toEqual([id, 'AWS::Logs::LogGroup', 'number']);
    }
    for (const [id, group] of resources.filter(([, r]) => r.Type === 'AWS::Logs::LogGroup')) {
      expect([id, group.Properties.RetentionInDays > 0]).toEqual([id, true]);
    }
  });

  test('no role of the library\'s own functions carries an AWS managed policy', () => {
    const roles = resources.filter(([id, r]) => r.Type === 'AWS::IAM::Role' && !/framework/.test(id));
    expect(roles.length).toBeGreaterThan(0);
    for (const [id, role] of roles) {
      expect([id, role.Properties.ManagedPolicyArns]).toEqual([id, undefined]);
    }
  });
});
