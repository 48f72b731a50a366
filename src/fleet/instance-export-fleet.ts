import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct, IConstruct } from 'constructs';
import { buildFleetDefinition } from './fleet-definition';
import { FLEET_FINISHED_EVENT } from './fleet-names';
import { acknowledgeServiceConstraints, stateMachineLogGroupName } from '../internal';
import { WorkflowEvents } from '../workflow/export-workflow-names';
import { InstanceExportWorkflow } from '../workflow/instance-export-workflow';

/**
 * Properties of the fleet workflow.
 */
export interface InstanceExportFleetProps {
  /**
   * The export workflow every instance runs in (one child execution per instance, so every
   * guarantee of a single export holds: grants, preflight, deadline, cancellation, events).
   *
   * @default InstanceExportWorkflow.of(this)
   */
  readonly workflow?: InstanceExportWorkflow;

  /**
   * How long the fleet state machine's log is kept.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to the log group when it is removed from the stack.
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
}

/**
 * Options of a rule on the fleet's `VM Export Fleet Finished` event.
 */
export interface FleetEventRuleOptions {
  /**
   * The rule's target.
   *
   * @default - no target (add one with `rule.addTarget()`)
   */
  readonly target?: events.IRuleTarget;

  /**
   * The rule's name.
   *
   * @default - a name CloudFormation generates
   */
  readonly ruleName?: string;

  /**
   * The rule's description.
   *
   * @default - says which events it matches
   */
  readonly description?: string;
}

/** The fleet each stack registered first (what `InstanceExportFleet.of()` returns). */
const FLEET_PER_STACK = new WeakMap<Stack, InstanceExportFleet>();

/**
 * A Step Functions workflow that exports many instances: the ones its input names
 * (`instanceIds`), or the ones DescribeInstances finds with its filters (`instanceFilters`, e.g.
 * a tag), each in its own execution of the export workflow, at most `maxConcurrentExports` (1
 * to 20, default 5: the region's conversion-task quota) at once. A failed export never stops
 * the others; the fleet ends after every instance was tried, with every instance's outcome in
 * its output (or its cause) and in a `VM Export Fleet Finished` event.
 *
 * Nothing runs while it waits: each export waits for its task through the AWS SDK
 * integration, and a slot freed by one export goes to the next instance at once. Stopping a
 * fleet execution stops its running exports, whose tasks are then cancelled.
 *
 * The fleet exports only what its export workflow may export (`grantExportOf()`,
 * `allowInstancesTagged()` or `allowAnyInstance`): an instance it may not export fails with
 * `VmExport.InvalidInput` before anything starts.
 */
export class InstanceExportFleet extends Construct {
  /**
   * The construct id `of()` uses when it creates the fleet under the stack.
   */
  public static readonly DEFAULT_ID = 'VmExportFleet';

  /**
   * The `detail-type` of the event the fleet publishes when it ends (source `cdk-vm-export`).
   */
  public static readonly FINISHED_EVENT = FLEET_FINISHED_EVENT;

  /**
   * Returns the fleet workflow of the stack that contains `scope`, creating it (with default
   * properties, under the stack, with the id `VmExportFleet`, on the stack's export workflow)
   * if the stack has none yet.
   *
   * @param scope any construct in the stack
   */
  public static of(scope: IConstruct): InstanceExportFleet {
    const stack = Stack.of(scope);
    const registered = FLEET_PER_STACK.get(stack);
    if (registered) {
      return registered;
    }
    const existing = stack.node.tryFindChild(InstanceExportFleet.DEFAULT_ID);
    if (existing instanceof InstanceExportFleet) {
      return existing;
    }
    return new InstanceExportFleet(stack, InstanceExportFleet.DEFAULT_ID);
  }

  /** The fleet state machine (Standard). */
  public readonly stateMachine: sfn.IStateMachine;

  /** The export workflow each instance runs in. */
  public readonly workflow: InstanceExportWorkflow;

  /** The log group of the fleet state machine (execution data is not logged). */
  public readonly stateMachineLogGroup: logs.ILogGroup;

  private readonly machine: sfn.StateMachine;

  /**
   * @param scope the scope to create the fleet in (usually the stack; see `of()`)
   * @param id the construct id
   * @param props fleet properties
   */
  constructor(scope: Construct, id: string, props: InstanceExportFleetProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    if (!FLEET_PER_STACK.has(stack)) {
      FLEET_PER_STACK.set(stack, this);
    }
    this.workflow = props.workflow ?? InstanceExportWorkflow.of(this);
    this.stateMachineLogGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      logGroupName: stateMachineLogGroupName(this),
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    const definition = buildFleetDefinition(new Construct(this, 'Definition'), {
      exportFunction: this.workflow.exportFunction,
      exportStateMachine: this.workflow.stateMachine,
    });
    this.machine = new sfn.StateMachine(this, 'StateMachine', {
      comment: 'cdk-vm-export: export many EC2 instances as VM images to S3, a few at a time',
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      tracingEnabled: props.tracingEnabled ?? true,
      logs: {
        destination: this.stateMachineLogGroup,
        level: sfn.LogLevel.ALL,
        // Execution data (inputs, outputs, the users' tags and descriptions) stays out of the logs.
        includeExecutionData: false,
      },
    });
    this.stateMachine = this.machine;
    acknowledgeServiceConstraints(this);
  }

  /**
   * Allows `grantee` to start fleet executions.
   *
   * @param grantee the principal
   */
  public grantStartExecution(grantee: iam.IGrantable): iam.Grant {
    return this.machine.grantStartExecution(grantee);
  }

  /**
   * Allows `grantee` to read the fleet's executions (DescribeExecution, ListExecutions, ...).
   *
   * @param grantee the principal
   */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.machine.grantRead(grantee);
  }

  /**
   * The number of fleet executions that failed (a fleet in which any export failed ends in a
   * Fail state, `VmExport.FleetFailed`, after every instance was tried).
   *
   * @default - sum over 5 minutes
   */
  public metricFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.machine.metricFailed(props);
  }

  /**
   * The number of fleet executions that succeeded (every instance exported).
   *
   * @default - sum over 5 minutes
   */
  public metricSucceeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.machine.metricSucceeded(props);
  }

  /**
   * Creates an EventBridge rule (default event bus) that matches this fleet's
   * `VM Export Fleet Finished` events (source `cdk-vm-export`, resources containing this
   * state machine's ARN).
   *
   * @param id the construct id of the rule (under this fleet)
   * @param options the target, name and description
   */
  public onFleetFinished(id: string, options: FleetEventRuleOptions = {}): events.Rule {
    const rule = new events.Rule(this, id, {
      ruleName: options.ruleName,
      description: options.description ?? `cdk-vm-export: ${FLEET_FINISHED_EVENT} events of the fleet workflow`,
      eventPattern: {
        source: [WorkflowEvents.SOURCE],
        detailType: [FLEET_FINISHED_EVENT],
        resources: [this.machine.stateMachineArn],
      },
      targets: options.target ? [options.target] : undefined,
    });
    // A target may bring a role of its own (an SNS target with authorizeUsingRole): its policy is inline.
    acknowledgeServiceConstraints(this);
    return rule;
  }
}
