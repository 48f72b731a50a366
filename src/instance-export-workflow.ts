import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
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
import { acknowledgeServiceConstraints } from './acknowledgements';
import { ExportEventRuleOptions, ExportEventType, FailureAlarmOptions } from './export-events';
import { bucketPreflightStatement, cancelManagedExportTasksStatement, createTaggedExportTaskStatements } from './export-task-permissions';
import { addSignalBackstop } from './export-signal-backstop';
import { buildExportWorkflowDefinition } from './export-workflow-definition';
import { WorkflowEvents } from './export-workflow-names';
import { handlerCode } from './handler-assets';
import { handlerRuntime } from './handler-runtime';

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
}

/** The workflow each stack registered first (what `InstanceExportWorkflow.of()` returns). */
const WORKFLOW_PER_STACK = new WeakMap<Stack, InstanceExportWorkflow>();

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
    return new InstanceExportWorkflow(stack, InstanceExportWorkflow.DEFAULT_ID);
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
  private readonly grantedBuckets = new Set<string>();

  /**
   * @param scope the scope to create the workflow in (usually the stack; see `of()`)
   * @param id the construct id
   * @param props workflow properties
   */
  constructor(scope: Construct, id: string, props: InstanceExportWorkflowProps = {}) {
    super(scope, id);

    const stack = Stack.of(this);
    if (!WORKFLOW_PER_STACK.has(stack)) {
      WORKFLOW_PER_STACK.set(stack, this);
    }

    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const removalPolicy = props.logRemovalPolicy ?? RemovalPolicy.RETAIN;

    // -------------------------------------------------------------------------------------------
    // The export-task function.
    // -------------------------------------------------------------------------------------------
    this.functionLogGroup = new logs.LogGroup(this, 'ExportTaskLogs', { retention, removalPolicy });

    this.functionRole = new iam.Role(this, 'ExportTaskRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'cdk-vm-export: export-task function (prepare, start, finish)',
    });
    this.functionRole.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'WriteLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [this.functionLogGroup.logGroupArn],
    }));
    for (const statement of this.exportTaskStatements()) {
      this.functionRole.addToPrincipalPolicy(statement);
    }

    const fn = new lambda.Function(this, 'ExportTaskFunction', {
      description: 'cdk-vm-export: prepares, starts and finishes VM exports for the export workflow',
      // assets/lambda/export-task/index, bundled at library build time.
      code: handlerCode('export-task'),
      handler: 'index.handler',
      runtime: handlerRuntime(this),
      timeout: Duration.minutes(5),
      memorySize: 256,
      role: this.functionRole,
      logGroup: this.functionLogGroup,
    });
    this.exportFunction = fn;

    // -------------------------------------------------------------------------------------------
    // The state machine.
    // -------------------------------------------------------------------------------------------
    this.stateMachineLogGroup = new logs.LogGroup(this, 'StateMachineLogs', { retention, removalPolicy });

    const definition = buildExportWorkflowDefinition(new Construct(this, 'Definition'), { exportFunction: fn });
    this.machine = new sfn.StateMachine(this, 'StateMachine', {
      comment: 'cdk-vm-export: export an EC2 instance as a VM image to S3',
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      tracingEnabled: props.tracingEnabled ?? true,
      logs: {
        destination: this.stateMachineLogGroup,
        level: sfn.LogLevel.ALL,
        // The input carries the wait condition's presigned URL: keep execution data out of logs.
        includeExecutionData: false,
      },
    });
    this.stateMachine = this.machine;
    addSignalBackstop(this, { stateMachine: this.machine, exportFunction: fn, functionRole: this.functionRole });

    if (props.notificationTopic) {
      this.onExportEvent('NotificationRule', {
        description: 'cdk-vm-export: publish the outcome of every VM export to the notification topic',
        target: new targets.SnsTopic(props.notificationTopic, {
          message: events.RuleTargetInput.fromEventPath('$.detail'),
          authorizeUsingRole: true,
        }),
      });
    }
    acknowledgeServiceConstraints(this);
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
   * bucket by `grantBucketAccess`).
   */
  private exportTaskStatements(): iam.PolicyStatement[] {
    const stack = Stack.of(this);
    const instances = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
    return [
      new iam.PolicyStatement({
        sid: 'DescribeForPreflightAndPolling',
        // The Describe actions support no resource-level permissions.
        actions: ['ec2:DescribeExportTasks', 'ec2:DescribeImages', 'ec2:DescribeInstances', 'ec2:DescribeVolumes'],
        resources: ['*'],
      }),
      new iam.PolicyStatement({
        sid: 'ExportInstances',
        actions: ['ec2:CreateInstanceExportTask'],
        resources: [instances],
      }),
      ...createTaggedExportTaskStatements(this),
      cancelManagedExportTasksStatement(this),
    ];
  }
}
