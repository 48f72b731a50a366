import { Duration, Lazy, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct, IConstruct } from 'constructs';
import { buildExportWorkflowDefinition } from './definition';
import { ExportEventRuleOptions, ExportEventType, FailureAlarmOptions } from './export-events';
import { addSignalBackstop } from './export-signal-backstop';
import { bucketPreflightStatement, cancelManagedExportTasksStatement, createTaggedExportTaskStatements } from './export-task-permissions';
import { WorkflowEvents } from './export-workflow-names';
import { ImageExportGrants } from './image-export-grants';
import { IVmImportServiceRole } from '../image-export/vm-import-service-role';
import { ENV_EXPORT_GRANTS, INSTANCE_ID_PATTERN, acknowledgeServiceConstraints, acknowledgeWildcard, handlerCode, handlerRuntime, stateMachineLogGroupName } from '../internal';

/**
 * Properties of the export workflow.
 */
export interface InstanceExportWorkflowProps {
  /**
   * How long the workflow's logs (state machine and export-task function) are kept.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to the log groups when they are removed from the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;

  /**
   * Whether the state machine records X-Ray traces.
   *
   * @default true
   */
  readonly tracingEnabled?: boolean;

  /**
   * An SNS topic that receives the detail of every `VM Export Succeeded` and `VM Export Failed`
   * event of this workflow.
   *
   * An EventBridge rule on the default bus (see `onExportEvent()`) publishes the event's detail
   * to the topic through a role that is granted `sns:Publish` (and the topic key's permissions
   * when the topic is encrypted with a key the stack knows).
   *
   * @default - no topic; the events are still published on the default event bus
   */
  readonly notificationTopic?: sns.ITopic;

  /**
   * Let the workflow export ANY instance of the account and region (`ec2:CreateInstanceExportTask`
   * on `instance/*`).
   *
   * By default the workflow exports only the instances it was granted: each `InstanceExport`
   * grants its own instance, `grantExportOf()` grants one more, `allowInstancesTagged()` every
   * instance carrying a tag. An execution for any other instance fails in its first step with
   * `VmExport.InvalidInput`, before anything starts. With `true`, anyone who may start the
   * workflow can copy the disk of any instance into the export bucket: grant
   * `states:StartExecution` on it accordingly.
   *
   * @default false
   */
  readonly allowAnyInstance?: boolean;

  /**
   * Let the workflow export ANY AMI of the account and region (`ec2:ExportImage` on `image/*`).
   *
   * By default the workflow exports only the AMIs it was granted: each `ImageExport` grants its
   * own image, `grantExportOfImage()` grants one more. An execution for any other AMI fails in
   * its first step with `VmExport.InvalidInput`, before anything starts.
   *
   * @default false
   */
  readonly allowAnyImage?: boolean;
}

/** The grants as the export-task function reads them (ExportGrants in lambda/shared/export-grants.ts). */
interface GrantsDocument {
  readonly anyInstance: boolean;
  readonly instances: string[];
  readonly tags: Array<{ key: string; value: string }>;
  readonly anyImage?: boolean;
  readonly images?: string[];
}

/** The export-task function's environment is at most 4 KB; keep the grants well inside it. */
const MAX_GRANTS_JSON_LENGTH = 3500;

/** The workflow each stack registered first (what `InstanceExportWorkflow.of()` returns). */
const WORKFLOW_PER_STACK = new WeakMap<Stack, InstanceExportWorkflow>();
/** The workflows `of()` created with default properties because no workflow was there yet. */
const CREATED_BY_OF = new WeakSet<InstanceExportWorkflow>();

/**
 * Refuses a workflow that comes too late: the stack's exports already run on the default workflow
 * `of()` created (at the first `InstanceExport` without `workflow`), so a second workflow with a
 * notification topic would notify about none of them, and one under the default id clashes.
 * Returns `id` (called before the construct exists).
 */
function checkNotTooLate(scope: Construct, id: string, props: InstanceExportWorkflowProps): string {
  const implicit = WORKFLOW_PER_STACK.get(Stack.of(scope));
  if (!implicit || !CREATED_BY_OF.has(implicit)) {
    return id;
  }
  const clash = scope.node.tryFindChild(id) === implicit;
  if (props.notificationTopic || clash) {
    const what = props.notificationTopic ? `InstanceExportWorkflow '${id}' with a notificationTopic` : `InstanceExportWorkflow '${id}'`;
    throw new Error(`${scope.node.path}: ${what} is created after the first InstanceExport of the stack, which already created the ` +
      `stack's default workflow '${implicit.node.path}' (without a notificationTopic) and runs on it. ` +
      'Create the InstanceExportWorkflow first, before the first InstanceExport of the stack: InstanceExportWorkflow.of() and ' +
      'every InstanceExport then use it.');
  }
  return id;
}

/**
 * The Step Functions workflow that exports an EC2 instance as a VM image to S3.
 *
 * One workflow serves every export of a stack (see `InstanceExportWorkflow.of()`). It runs
 * `Prepare` (validation and read-only preflight checks), starts the export task (retrying while
 * the conversion-task quota is full), polls `DescribeExportTasks` through the AWS SDK service
 * integration (60 s between the first 15 polls, 300 s afterwards, no Lambda invocation while
 * polling) racing a deadline, and ends with `Finish` (outcome, cleanup, wait-condition signal).
 * A failed export ends the execution in a Fail state named after the documented error
 * (`VmExport.ExportFailed`, `VmExport.DeadlinePassed`, ...).
 *
 * Its input is documented in the README (instanceId, targetEnvironment, s3Bucket, ...); on
 * success its output carries the export task id and the S3 object key.
 *
 * It exports only the instances it was granted (`grantExportOf()`, `allowInstancesTagged()`;
 * every `InstanceExport` grants its own), unless `allowAnyInstance` is set.
 */
export class InstanceExportWorkflow extends Construct {
  /**
   * The construct id `of()` uses when it creates the workflow under the stack.
   */
  public static readonly DEFAULT_ID = 'VmExportWorkflow';

  /**
   * The `source` of the events the workflow publishes on the default event bus.
   */
  public static readonly EVENT_SOURCE = 'cdk-vm-export';

  /**
   * Returns the export workflow of the stack that contains `scope`, creating it (with default
   * properties, under the stack, with the id `VmExportWorkflow`) if the stack has none yet.
   *
   * @param scope any construct in the stack
   */
  public static of(scope: IConstruct): InstanceExportWorkflow {
    const stack = Stack.of(scope);
    const registered = WORKFLOW_PER_STACK.get(stack);
    if (registered) {
      return registered;
    }
    const existing = stack.node.tryFindChild(InstanceExportWorkflow.DEFAULT_ID);
    if (existing instanceof InstanceExportWorkflow) {
      return existing;
    }
    const created = new InstanceExportWorkflow(stack, InstanceExportWorkflow.DEFAULT_ID);
    CREATED_BY_OF.add(created);
    return created;
  }

  /** The export state machine (Standard). */
  public readonly stateMachine: sfn.IStateMachine;

  /** The export-task function the workflow invokes for `prepare`, `start` and `finish`. */
  public readonly exportFunction: lambda.IFunction;

  /** The log group of the state machine (execution data is not logged). */
  public readonly stateMachineLogGroup: logs.ILogGroup;

  /** The log group of the export-task function. */
  public readonly functionLogGroup: logs.ILogGroup;

  private readonly machine: sfn.StateMachine;
  private readonly functionRole: iam.Role;
  /** The statement that lets the export-task function read wait condition handles (first use). */
  private signalStatement?: iam.PolicyStatement;
  private readonly grantedBuckets = new Set<string>();
  private readonly anyInstance: boolean;
  private readonly grantedInstances: string[] = [];
  private readonly tagGrants: Array<{ readonly key: string; readonly value: string }> = [];
  private grantedInstancesStatement?: iam.PolicyStatement;
  private readonly imageGrants: ImageExportGrants;

  /**
   * @param scope the scope to create the workflow in (usually the stack; see `of()`)
   * @param id the construct id
   * @param props workflow properties
   */
  constructor(scope: Construct, id: string, props: InstanceExportWorkflowProps = {}) {
    super(scope, checkNotTooLate(scope, id, props));

    const stack = Stack.of(this);
    if (!WORKFLOW_PER_STACK.has(stack)) {
      WORKFLOW_PER_STACK.set(stack, this);
    }

    const logOptions = {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    };
    this.anyInstance = props.allowAnyInstance ?? false;

    this.functionLogGroup = new logs.LogGroup(this, 'ExportTaskLogs', logOptions);
    this.functionRole = this.createExportTaskRole();
    this.imageGrants = new ImageExportGrants(this, this.functionRole, props.allowAnyImage ?? false);
    this.exportFunction = this.createExportFunction();
    this.node.addValidation({ validate: () => this.validateGrantsSize() });

    this.stateMachineLogGroup = new logs.LogGroup(this, 'StateMachineLogs', { logGroupName: stateMachineLogGroupName(this), ...logOptions });
    this.machine = this.createStateMachine(props.tracingEnabled ?? true);
    this.stateMachine = this.machine;
    addSignalBackstop(this, { stateMachine: this.machine, exportFunction: this.exportFunction, functionRole: this.functionRole });

    if (props.notificationTopic) {
      this.addNotificationRule(props.notificationTopic);
    }
    acknowledgeServiceConstraints(this);
  }

  /** The export-task function's role: its logs and the least-privilege export statements. */
  private createExportTaskRole(): iam.Role {
    const role = new iam.Role(this, 'ExportTaskRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'cdk-vm-export: export-task function (prepare, start, finish)',
    });
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'WriteLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [this.functionLogGroup.logGroupArn],
    }));
    for (const statement of this.exportTaskStatements()) {
      role.addToPrincipalPolicy(statement);
    }
    return role;
  }

  /** The export-task function (`prepare`, `start`, `finish` and the signal backstop). */
  private createExportFunction(): lambda.Function {
    return new lambda.Function(this, 'ExportTaskFunction', {
      description: 'cdk-vm-export: prepares, starts and finishes VM exports for the export workflow',
      // assets/lambda/export-task/index, bundled at library build time.
      code: handlerCode('export-task'),
      handler: 'index.handler',
      runtime: handlerRuntime(this),
      timeout: Duration.minutes(5),
      memorySize: 256,
      role: this.functionRole,
      logGroup: this.functionLogGroup,
      environment: {
        // What `prepare` lets through (lambda/shared/export-grants.ts); instance ids may be tokens.
        [ENV_EXPORT_GRANTS]: Lazy.string({ produce: () => Stack.of(this).toJsonString(this.grantsDocument()) }),
      },
    });
  }

  /** The Standard state machine that runs the export workflow (definition in ./definition). */
  private createStateMachine(tracingEnabled: boolean): sfn.StateMachine {
    const definition = buildExportWorkflowDefinition(new Construct(this, 'Definition'), { exportFunction: this.exportFunction });
    return new sfn.StateMachine(this, 'StateMachine', {
      comment: 'cdk-vm-export: export an EC2 instance or an AMI as a VM image to S3',
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      tracingEnabled,
      logs: {
        destination: this.stateMachineLogGroup,
        level: sfn.LogLevel.ALL,
        // Execution data (inputs, outputs, the users' tags and descriptions) stays out of the logs.
        includeExecutionData: false,
      },
    });
  }

  /** The rule that publishes every outcome event's detail to the notification topic. */
  private addNotificationRule(topic: sns.ITopic): void {
    this.onExportEvent('NotificationRule', {
      description: 'cdk-vm-export: publish the outcome of every VM export to the notification topic',
      target: new targets.SnsTopic(topic, {
        message: events.RuleTargetInput.fromEventPath('$.detail'),
        authorizeUsingRole: true,
      }),
    });
  }

  /**
   * Allows the export-task function to run the preflight checks against `bucket` (bucket
   * location, ownership controls, default encryption, ACL). Each export construct calls this
   * for its bucket; repeated calls for the same bucket add nothing.
   *
   * @param bucket the export bucket
   */
  public grantBucketAccess(bucket: s3.IBucket): void {
    const key = bucket.bucketArn;
    if (this.grantedBuckets.has(key)) {
      return;
    }
    this.grantedBuckets.add(key);
    this.functionRole.addToPrincipalPolicy(bucketPreflightStatement(bucket.bucketArn));
  }

  /**
   * Allows the workflow to signal the wait conditions of `stack`: the step that signals reads the
   * handle's URL with `cloudformation:DescribeStackResource` (executions carry only the stack id
   * and the handle's logical id, never the presigned URL). Each `InstanceExport` that waits calls
   * this for its own stack; repeated calls for the same stack add nothing.
   *
   * @param stack the stack that holds the wait conditions
   */
  public grantWaitConditionSignals(stack: Stack): void {
    const arn = Stack.of(this).formatArn({ service: 'cloudformation', resource: 'stack', resourceName: `${stack.stackName}/*` });
    if (this.signalStatement?.resources.includes(arn)) {
      return;
    }
    if (this.signalStatement) {
      this.signalStatement.addResources(arn);
    } else {
      this.signalStatement = new iam.PolicyStatement({
        sid: 'ReadWaitConditionHandles',
        actions: ['cloudformation:DescribeStackResource'],
        resources: [arn],
      });
      this.functionRole.addToPrincipalPolicy(this.signalStatement);
    }
    // The stack/<name>/* resource is a wildcard: record why (without freezing the role's policy).
    acknowledgeWildcard(this.functionRole, 'cloudformation:DescribeStackResource', arn);
  }

  /**
   * Allows the workflow to export one instance. Each `InstanceExport` calls this for its own
   * instance; call it for the instances a pipeline, a schedule or a script exports with a
   * workflow it starts directly. Repeated calls for the same instance add nothing.
   *
   * The export-task function's role gets `ec2:CreateInstanceExportTask` on the instance's ARN,
   * and the workflow's first step lets executions for the instance through.
   *
   * @param instanceId `i-` followed by 8 or 17 lowercase hexadecimal characters, or a token
   * (for example `instance.instanceId`)
   */
  public grantExportOf(instanceId: string): void {
    if (!Token.isUnresolved(instanceId) && !INSTANCE_ID_PATTERN.test(instanceId)) {
      throw new Error(`${this.node.path}: grantExportOf('${instanceId}'): '${instanceId}' is not an instance id. Use 'i-' followed by 8 or 17 ` +
        'lowercase hexadecimal characters (e.g. i-0123456789abcdef0), or a reference such as instance.instanceId.');
    }
    if (this.grantedInstances.includes(instanceId)) {
      return;
    }
    this.grantedInstances.push(instanceId);
    if (this.anyInstance) {
      // instance/* already covers it; the id is still listed for the record.
      return;
    }
    const arn = Stack.of(this).formatArn({ service: 'ec2', resource: 'instance', resourceName: instanceId });
    if (this.grantedInstancesStatement) {
      this.grantedInstancesStatement.addResources(arn);
      return;
    }
    this.grantedInstancesStatement = new iam.PolicyStatement({
      sid: 'ExportGrantedInstances',
      actions: ['ec2:CreateInstanceExportTask'],
      resources: [arn],
    });
    this.functionRole.addToPrincipalPolicy(this.grantedInstancesStatement);
  }

  /**
   * Allows the workflow to export one AMI (`ExportImage`). Each `ImageExport` calls this for its
   * own image; call it for the AMIs a pipeline, a schedule or a script exports with a workflow
   * it starts directly. Repeated calls for the same AMI add nothing.
   *
   * The export-task function's role gets `ec2:ExportImage` on the image's ARN (and, on first use,
   * on the export image tasks it tags), and the workflow's first step lets executions for the
   * AMI through.
   *
   * @param imageId `ami-` followed by 8 or 17 lowercase hexadecimal characters, or a token
   * (for example an EC2 Image Builder image's `attrImageId`)
   */
  public grantExportOfImage(imageId: string): void {
    this.imageGrants.grantImage(imageId);
  }

  /**
   * Allows the workflow to pass `serviceRole` to VM Import/Export in `ExportImage`
   * (`iam:PassRole` on that role only) and to read it for the preflight checks. Each
   * `ImageExport` calls this for its role; an execution that names another role (`roleName` in
   * the input) is refused by IAM.
   *
   * @param serviceRole the VM Import/Export service role
   */
  public grantServiceRole(serviceRole: IVmImportServiceRole): void {
    this.imageGrants.grantServiceRole(serviceRole);
  }

  /**
   * Allows the workflow to export every instance that carries the tag `key` with the value
   * `value` when the export starts (IAM condition `aws:ResourceTag/<key>` on `instance/*`; the
   * workflow's first step reads the instance's tags with DescribeInstances and refuses an
   * instance without a granted tag). Grants add up: an instance carrying any granted tag, or
   * granted by id, may be exported. Repeated calls with the same tag add nothing.
   *
   * Whoever may tag instances can then have them exported: grant `ec2:CreateTags` for this key
   * accordingly.
   *
   * @param key the tag key: not empty, at most 128 characters, not starting with `aws:`, not a token
   * @param value the tag value (exact match, case-sensitive): at most 256 characters
   */
  public allowInstancesTagged(key: string, value: string): void {
    const errors: string[] = [];
    if (Token.isUnresolved(key)) {
      errors.push('key is a token: it becomes part of the IAM condition key aws:ResourceTag/<key>, which CloudFormation cannot compute. Use a literal tag key.');
    } else if (key.trim() === '') {
      errors.push(`key '${key}' is empty: pass the tag key the instances carry, e.g. allowInstancesTagged('vm-export', 'allowed').`);
    } else {
      if (key.toLowerCase().startsWith('aws:')) {
        errors.push(`key '${key}' starts with 'aws:', which AWS reserves for its own tags: use a tag key of your own, e.g. 'vm-export'.`);
      }
      if (key.length > 128) {
        errors.push(`key is ${key.length} characters long: EC2 tag keys have at most 128. Shorten it.`);
      }
    }
    if (!Token.isUnresolved(value) && value.length > 256) {
      errors.push(`value is ${value.length} characters long: EC2 tag values have at most 256. Shorten it.`);
    }
    if (errors.length > 0) {
      throw new Error(`${this.node.path}: allowInstancesTagged(): invalid arguments:\n- ${errors.join('\n- ')}`);
    }
    if (this.tagGrants.some((g) => g.key === key && g.value === value)) {
      return;
    }
    this.tagGrants.push({ key, value });
    if (this.anyInstance) {
      return;
    }
    this.functionRole.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: `ExportInstancesTagged${this.tagGrants.length}`,
      actions: ['ec2:CreateInstanceExportTask'],
      resources: [Stack.of(this).formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' })],
      conditions: { StringEquals: { [`aws:ResourceTag/${key}`]: value } },
    }));
    // The new statement has a wildcard resource: record why.
    acknowledgeServiceConstraints(this);
  }

  /**
   * Allows `grantee` to start executions of the export workflow.
   *
   * @param grantee the principal
   */
  public grantStartExecution(grantee: iam.IGrantable): iam.Grant {
    return this.machine.grantStartExecution(grantee);
  }

  /**
   * Allows `grantee` to read the workflow's executions (DescribeExecution, ListExecutions, ...).
   *
   * @param grantee the principal
   */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.machine.grantRead(grantee);
  }

  /**
   * The number of executions that failed (an export that failed ends the execution in a Fail
   * state with a documented error name, so this counts failed exports).
   *
   * @default - sum over 5 minutes
   */
  public metricFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.machine.metricFailed(props);
  }

  /**
   * The number of executions that succeeded (exports that completed).
   *
   * @default - sum over 5 minutes
   */
  public metricSucceeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.machine.metricSucceeded(props);
  }

  /**
   * Creates an alarm that goes off when an export fails: at least 1 failed execution in one
   * period (1 evaluation period; no data counts as not breaching).
   *
   * @param id the construct id of the alarm (under this workflow)
   * @param options alarm options
   */
  public addFailureAlarm(id: string, options: FailureAlarmOptions = {}): cloudwatch.Alarm {
    return new cloudwatch.Alarm(this, id, {
      alarmName: options.alarmName,
      alarmDescription: options.alarmDescription
        ?? 'cdk-vm-export: a VM export failed (see the failed execution of the export workflow for errorName and cause)',
      metric: this.metricFailed({ period: options.period ?? Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      actionsEnabled: options.actionsEnabled ?? true,
    });
  }

  /**
   * Creates an EventBridge rule (default event bus) that matches the events this workflow
   * publishes when an export ends (source `cdk-vm-export`, detail-type `VM Export Succeeded` /
   * `VM Export Failed`, resources containing this state machine's ARN).
   *
   * @param id the construct id of the rule (under this workflow)
   * @param options which events, the target, name and description
   */
  public onExportEvent(id: string, options: ExportEventRuleOptions = {}): events.Rule {
    const types = options.eventTypes && options.eventTypes.length > 0
      ? options.eventTypes
      : [ExportEventType.SUCCEEDED, ExportEventType.FAILED];
    return new events.Rule(this, id, {
      ruleName: options.ruleName,
      description: options.description ?? `cdk-vm-export: ${types.join(' / ')} events of the export workflow`,
      eventPattern: {
        source: [WorkflowEvents.SOURCE],
        detailType: types.map((type) => String(type)),
        resources: [this.machine.stateMachineArn],
      },
      targets: options.target ? [options.target] : undefined,
    });
  }

  /**
   * The least-privilege statements of the export-task function (the bucket reads are added per
   * bucket by `grantBucketAccess`, the instances by `grantExportOf` and `allowInstancesTagged`;
   * `instance/*` only with `allowAnyInstance`).
   */
  private exportTaskStatements(): iam.PolicyStatement[] {
    const stack = Stack.of(this);
    const instances = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
    return [
      new iam.PolicyStatement({
        sid: 'DescribeForPreflightAndPolling',
        // The Describe actions support no resource-level permissions. DescribeExportImageTasks:
        // the start step lists the image export tasks that hold conversion-task slots.
        actions: ['ec2:DescribeExportTasks', 'ec2:DescribeExportImageTasks', 'ec2:DescribeInstances', 'ec2:DescribeVolumes'],
        resources: ['*'],
      }),
      ...(this.anyInstance ? [new iam.PolicyStatement({
        sid: 'ExportInstances',
        actions: ['ec2:CreateInstanceExportTask'],
        resources: [instances],
      })] : []),
      ...createTaggedExportTaskStatements(this),
      cancelManagedExportTasksStatement(this),
    ];
  }

  /** The grants as the export-task function reads them (ExportGrants in lambda/shared/export-grants.ts). */
  private grantsDocument(): GrantsDocument {
    return {
      ...this.imageGrants.document(),
      anyInstance: this.anyInstance,
      instances: this.anyInstance ? [] : [...this.grantedInstances],
      tags: this.anyInstance ? [] : this.tagGrants.map((g) => ({ key: g.key, value: g.value })),
    };
  }

  /** The grants must fit into the function's environment (4 KB in all). */
  private validateGrantsSize(): string[] {
    // Unresolved ids are counted at the length of their token text (about an instance id's).
    const length = JSON.stringify(this.grantsDocument()).length;
    if (length <= MAX_GRANTS_JSON_LENGTH) {
      return [];
    }
    const images = this.imageGrants.imageCount > 0 ? `, ${this.imageGrants.imageCount} AMIs` : '';
    return [`the workflow was granted ${this.grantedInstances.length} instances${images} and ${this.tagGrants.length} tags: the list takes ` +
      `${length} characters, more than the ${MAX_GRANTS_JSON_LENGTH} that fit into the export-task function's environment (4 KB). ` +
      'Tag the instances and grant the tag once with allowInstancesTagged(key, value) instead of granting each instance' +
      (images ? ', and export fewer AMIs per workflow (or set allowAnyImage).' : '.')];
  }
}
