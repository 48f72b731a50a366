/**
 * The shape of every permission the library's resources get, across the whole template, plus
 * the logging and tracing settings a security review looks at.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildPermissionStack } from './support/permission-stack';

interface Statement {
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

  test('no IAM statement denies nothing or allows a wildcard action', () => {
    for (const [id, s] of iamStatements) {
      expect([id, s.Effect]).toEqual([id, 'Allow']);
      expect([id, list(s.Action).filter((a) => a.includes('*'))]).toEqual([id, []]);
    }
  });

  test('a `*` resource only for actions without resource-level permissions', () => {
    const allowed = [
      /^ec2:Describe(ExportTasks|Images|Instances|Volumes)$/,
      /^xray:(PutTraceSegments|PutTelemetryRecords|GetSamplingRules|GetSamplingTargets)$/,
      /^logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)$/,
    ];
    const starStatements = iamStatements.filter(([, s]) => list(s.Resource).some((r) => r === '*'));
    expect(starStatements.length).toBeGreaterThan(0);
    for (const [id, s] of starStatements) {
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

  test('ec2:CreateTags only on export tasks being created', () => {
    const statements = withAction('ec2:CreateTags');
    expect(statements.length).toBeGreaterThan(0);
    for (const [, s] of statements) {
      expect(list(s.Resource).map(flat).every((r) => /:export-instance-task\/\*$/.test(r))).toBe(true);
      expect(s.Condition).toEqual({ StringEquals: { 'ec2:CreateAction': 'CreateInstanceExportTask' } });
    }
  });

  test('ec2:CancelExportTask only on tasks carrying the library\'s resource tag', () => {
    const statements = withAction('ec2:CancelExportTask');
    expect(statements.length).toBe(2);
    for (const [, s] of statements) {
      expect(list(s.Resource).map(flat).every((r) => /:export-instance-task\/\*$/.test(r))).toBe(true);
      expect(s.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/vm-export:managed-by': 'cdk-vm-export' } });
    }
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
      const objectLevel = list(s.Action).every((a) => a === 's3:DeleteObject' || a === 's3:PutObject');
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
