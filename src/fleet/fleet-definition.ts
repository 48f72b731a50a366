import { Duration, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { FLEET_FINISHED_EVENT, FleetStateNames as N } from './fleet-names';
import { ERROR_INVALID_INPUT, ERROR_WORKFLOW_ERROR, MAX_FLEET_INSTANCES } from '../internal/export-constants';
import { addLambdaRetries, presentString } from '../workflow/definition/state-helpers';
import { WorkflowEvents } from '../workflow/export-workflow-names';

/** What the fleet definition runs. */
export interface FleetDefinitionOptions {
  /** The export-task function (`fleet-prepare`, `fleet-record`, `fleet-finish`). */
  readonly exportFunction: lambda.IFunction;
  /** The single-export workflow every instance runs in (one child execution each). */
  readonly exportStateMachine: sfn.IStateMachine;
}

/**
 * DescribeInstances page size: Step Functions refuses a service answer over 256 KiB
 * (States.DataLimitExceeded) before any ResultSelector applies, and one instance's description
 * takes a few KiB, so a page holds 10.
 */
const LISTING_PAGE_SIZE = 10;
/**
 * The longest one child may take: its own deadline (at most 7 days) bounds it. The timeout only
 * keeps a lost child from holding a fleet slot for ever.
 */
const CHILD_TIMEOUT = Duration.days(8);
/**
 * The errors of starting a child that pass: the Step Functions developer guide ("Start workflow
 * executions from a task state") advises retrying StepFunctions.ExecutionLimitExceeded; the
 * SDK's throttling and client errors pass too. The names with and without the `Exception`
 * suffix, as the guide and the SDK model spell them.
 */
const START_CHILD_ERRORS = [
  'StepFunctions.ExecutionLimitExceeded',
  'StepFunctions.ExecutionLimitExceededException',
  'StepFunctions.ThrottlingException',
  'StepFunctions.SdkClientException',
];

/**
 * Builds the fleet workflow (JSONPath only, so that aws-local-stepfunctions runs the very
 * definition that is deployed):
 *
 * ```
 * PrepareFleet ─► CheckListing ─(instanceIds)─────────────────────────────────────────────┐
 *                   └─(instanceFilters)─► ListInstances ─► CollectPage ─► CheckMorePages     │
 *                       ListMoreInstances ◄─(NextToken)──────────────────────┤   │          │
 *                       TooManyInstances ◄─(more than 100 so far)────────────┘   │          │
 *                       GatherInstances ◄─(last page)────────────────────────────┘          │
 *                         ─► UniqueInstances ───────────────────────────────────────────────┤
 * ExportInstances (Map, MaxConcurrencyPath $.plan.maxConcurrentExports) ◄──────────────────┘
 *    └─ ExportInstance (startExecution.sync:2 of the export workflow) ─(any error)─► RecordFailure
 * FinishFleet ─► PublishFleetFinished ─► CheckFleetOutcome ─► FleetSucceeded | FleetFailed | UnexpectedFleetOutcome
 * ```
 *
 * A refused input or a failed listing goes to FinishFleet with `$.error`; a child that fails is
 * recorded and never stops the others, so every instance is tried before the fleet ends.
 */
export function buildFleetDefinition(scope: Construct, options: FleetDefinitionOptions): sfn.IChainable {
  const finish = buildFinishFleet(scope, options.exportFunction);
  const exportInstances = buildExportInstances(scope, options, finish);
  const listing = buildListing(scope, exportInstances, finish);
  const prepare = buildPrepareFleet(scope, options.exportFunction, finish);
  const checkListing = sfn.Choice.jsonPath(scope, N.CHECK_LISTING, {
    comment: 'instanceFilters are listed with DescribeInstances; instanceIds are used as they are.',
  })
    .when(sfn.Condition.booleanEquals('$.plan.listInstances', true), listing)
    .otherwise(exportInstances);
  return sfn.Chain.start(prepare).next(checkListing);
}

type LambdaStepProps = Omit<tasks.LambdaInvokeJsonPathProps, 'lambdaFunction' | 'payload' | 'retryOnServiceExceptions'>;

function lambdaStep(
  scope: Construct, id: string, fn: lambda.IFunction, payload: Record<string, unknown>, props: LambdaStepProps,
): tasks.LambdaInvoke {
  const step = tasks.LambdaInvoke.jsonPath(scope, id, {
    ...props,
    lambdaFunction: fn,
    payload: sfn.TaskInput.fromObject(payload),
    retryOnServiceExceptions: false,
  });
  addLambdaRetries(step);
  return step;
}

/** PrepareFleet: `$` becomes `{ plan, gathered: { ids }, pages }`; a refused input goes to FinishFleet. */
function buildPrepareFleet(scope: Construct, fn: lambda.IFunction, finish: sfn.IChainable): sfn.IChainable {
  const prepare = lambdaStep(scope, N.PREPARE_FLEET, fn, {
    action: 'fleet-prepare',
    input: sfn.JsonPath.objectAt('$'),
    executionArn: sfn.JsonPath.stringAt('$$.Execution.Id'),
  }, {
    comment: 'Validate the fleet input before anything is listed or exported.',
    resultSelector: {
      plan: sfn.JsonPath.objectAt('$.Payload'),
      gathered: { ids: sfn.JsonPath.listAt('$.Payload.instanceIds') },
      pages: { count: 0 },
    },
    // The plan replaces the input (ResultPath '$' would too, but aws-local-stepfunctions files it under a key named '$').
    resultPath: '$.prepared',
    outputPath: '$.prepared',
  });
  prepare.addCatch(finish, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
  return prepare;
}

/**
 * The DescribeInstances pages (AWS SDK integration), each page's ids nested under the earlier
 * pages' (`$.pages`: no intrinsic appends to a list), then all ids in one list without
 * duplicates, refused beyond MAX_FLEET_INSTANCES. Returns the entry (ListInstances).
 */
function buildListing(scope: Construct, exportInstances: sfn.IChainable, finish: sfn.IChainable): sfn.IChainable {
  const page = (id: string, nextToken: boolean) => {
    const list = tasks.CallAwsService.jsonPath(scope, id, {
      comment: 'List the instances the filters select (AWS SDK integration: no Lambda).',
      service: 'ec2',
      action: 'describeInstances',
      parameters: {
        Filters: sfn.JsonPath.listAt('$.plan.filters'),
        MaxResults: LISTING_PAGE_SIZE,
        ...(nextToken ? { NextToken: sfn.JsonPath.stringAt('$.listing.tokens[0]') } : {}),
      },
      // DescribeInstances supports no resource-level permissions.
      iamResources: ['*'],
      iamAction: 'ec2:DescribeInstances',
      // Indefinite paths: a list, empty when nothing matches (no NextToken on the last page).
      resultSelector: {
        ids: sfn.JsonPath.listAt('$.Reservations[*].Instances[*].InstanceId'),
        tokens: sfn.JsonPath.listAt('$..NextToken'),
      },
      resultPath: '$.listing',
    });
    list.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 3, jitterStrategy: sfn.JitterType.FULL });
    list.addCatch(finish, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    return list;
  };
  const first = page(N.LIST_INSTANCES, false);
  const more = page(N.LIST_MORE_INSTANCES, true);
  const collect = sfn.Pass.jsonPath(scope, N.COLLECT_PAGE, {
    comment: 'Keep this page\'s instance ids, nested under the earlier pages\', and count them all.',
    parameters: {
      prev: sfn.JsonPath.objectAt('$.pages'),
      ids: sfn.JsonPath.listAt('$.listing.ids'),
      // (mathAdd takes numbers; arrayLength's intrinsic is typed as a string token.)
      count: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt('$.pages.count'), Token.asNumber(sfn.JsonPath.arrayLength(sfn.JsonPath.listAt('$.listing.ids')))),
    },
    resultPath: '$.pages',
  });
  const gather = sfn.Pass.jsonPath(scope, N.GATHER_INSTANCES, {
    comment: 'Every page\'s instance ids in one list.',
    parameters: { all: sfn.JsonPath.listAt('$.pages..ids[*]') },
    resultPath: '$.listed',
  });
  const unique = sfn.Pass.jsonPath(scope, N.UNIQUE_INSTANCES, {
    comment: 'An instance listed twice (pages can overlap when instances change state) is exported once.',
    parameters: { ids: sfn.JsonPath.arrayUnique(sfn.JsonPath.listAt('$.listed.all')) },
    resultPath: '$.gathered',
  });
  const tooMany = sfn.Pass.jsonPath(scope, N.TOO_MANY_INSTANCES, {
    comment: `The filters matched more than ${MAX_FLEET_INSTANCES} instances: the listing stops there.`,
    parameters: {
      Error: ERROR_INVALID_INPUT,
      Cause: sfn.JsonPath.format(
        `The instance filters matched more than ${MAX_FLEET_INSTANCES} instances ({} listed when the listing stopped); a fleet exports at most ${MAX_FLEET_INSTANCES}. Narrow the filters, or split the instances into several fleets.`,
        sfn.JsonPath.stringAt('$.pages.count')),
    },
    resultPath: '$.error',
  });
  // The count is checked after every page, so a filter that matches thousands stops early
  // (the state would otherwise outgrow 256 KiB, which no Catch can handle).
  const checkMore = sfn.Choice.jsonPath(scope, N.CHECK_MORE_PAGES)
    .when(sfn.Condition.numberGreaterThan('$.pages.count', MAX_FLEET_INSTANCES), tooMany.next(finish))
    .when(sfn.Condition.isPresent('$.listing.tokens[0]'), more)
    .otherwise(gather);
  first.next(collect);
  more.next(collect);
  collect.next(checkMore);
  gather.next(unique).next(exportInstances);
  return first;
}

/**
 * The Map: one child execution of the export workflow per instance, at most
 * `maxConcurrentExports` at once; a child that fails is recorded (RecordFailure) and the Map
 * goes on. The iteration's input is `{ item, common, name }`: the child's input is `common`
 * merged with `item` (instanceId, clientToken, the parent execution).
 */
function buildExportInstances(scope: Construct, options: FleetDefinitionOptions, finish: sfn.IChainable): sfn.IChainable {
  const map = sfn.Map.jsonPath(scope, N.EXPORT_INSTANCES, {
    comment: 'Export every instance: at most maxConcurrentExports child executions at once.',
    itemsPath: '$.gathered.ids',
    maxConcurrencyPath: '$.plan.maxConcurrentExports',
    itemSelector: {
      // What the iteration outputs: the instance, then its child's outcome (nothing else: the
      // results of 100 iterations must fit the 256 KiB state).
      result: { instanceId: sfn.JsonPath.stringAt('$$.Map.Item.Value') },
      // The child's own fields, merged into `common`.
      own: {
        instanceId: sfn.JsonPath.stringAt('$$.Map.Item.Value'),
        clientToken: sfn.JsonPath.format('{}{}', sfn.JsonPath.stringAt('$.plan.tokenPrefix'), sfn.JsonPath.stringAt('$$.Map.Item.Value')),
        AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: sfn.JsonPath.stringAt('$$.Execution.Id'),
      },
      common: sfn.JsonPath.objectAt('$.plan.common'),
      name: sfn.JsonPath.format('{}{}', sfn.JsonPath.stringAt('$.plan.childNamePrefix'), sfn.JsonPath.stringAt('$$.Map.Item.Value')),
    },
    resultPath: '$.results',
  });
  map.itemProcessor(buildExportInstance(scope, options));
  map.addCatch(finish, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
  return map.next(finish);
}

function buildExportInstance(scope: Construct, options: FleetDefinitionOptions): sfn.IChainable {
  const exportInstance = tasks.StepFunctionsStartExecution.jsonPath(scope, N.EXPORT_INSTANCE, {
    comment: 'Run the export workflow for one instance and wait for it (no Lambda while it runs).',
    stateMachine: options.exportStateMachine,
    integrationPattern: sfn.IntegrationPattern.RUN_JOB,
    input: sfn.TaskInput.fromJsonPathAt(sfn.JsonPath.jsonMerge(sfn.JsonPath.objectAt('$.common'), sfn.JsonPath.objectAt('$.own'))),
    name: sfn.JsonPath.stringAt('$.name'),
    taskTimeout: sfn.Timeout.duration(CHILD_TIMEOUT),
    resultSelector: { output: sfn.JsonPath.objectAt('$.Output'), executionArn: sfn.JsonPath.stringAt('$.ExecutionArn') },
    resultPath: '$.result.child',
    outputPath: '$.result',
  });
  // Starting the child can be refused for a while (too many open executions, throttling): retried.
  // Never on the child's own failure (States.TaskFailed): the export workflow has its own retries.
  exportInstance.addRetry({
    errors: START_CHILD_ERRORS,
    interval: Duration.seconds(10),
    backoffRate: 2,
    maxAttempts: 6,
    maxDelay: Duration.minutes(5),
    jitterStrategy: sfn.JitterType.FULL,
  });
  const record = lambdaStep(scope, N.RECORD_FAILURE, options.exportFunction, {
    action: 'fleet-record',
    instanceId: sfn.JsonPath.stringAt('$.result.instanceId'),
    failure: sfn.JsonPath.objectAt('$.result.failure'),
  }, {
    comment: 'Read the failed child\'s documented error name and reason.',
    outputPath: '$.Payload',
  });
  const notRead = sfn.Pass.jsonPath(scope, N.FAILURE_NOT_READ, {
    comment: 'The record step failed: keep the failure without its reason (never stop the other exports).',
    parameters: {
      instanceId: sfn.JsonPath.stringAt('$.result.instanceId'),
      failure: {
        instanceId: sfn.JsonPath.stringAt('$.result.instanceId'),
        status: 'FAILED',
        errorName: ERROR_WORKFLOW_ERROR,
        reason: 'The export failed and its reason could not be read: see the execution of the export workflow named after the instance.',
      },
    },
  });
  record.addCatch(notRead, { errors: [sfn.Errors.ALL], resultPath: '$.recordError' });
  exportInstance.addCatch(record, { errors: [sfn.Errors.ALL], resultPath: '$.result.failure' });
  return exportInstance;
}

/** FinishFleet and what follows: the event, then Succeed or Fail with the summary's error name and cause. */
function buildFinishFleet(scope: Construct, fn: lambda.IFunction): sfn.IChainable {
  const finish = lambdaStep(scope, N.FINISH_FLEET, fn, {
    action: 'fleet-finish',
    state: sfn.JsonPath.objectAt('$'),
    executionArn: sfn.JsonPath.stringAt('$$.Execution.Id'),
  }, {
    comment: 'Every instance\'s outcome, and the summary the fleet ends with.',
    outputPath: '$.Payload',
  });
  const finishFailed = sfn.Choice.jsonPath(scope, N.CHECK_FINISH_FLEET_ERROR)
    .when(presentString('$.finishError.Cause'), sfn.Fail.jsonPath(scope, N.FINISH_FLEET_FAILED, {
      comment: 'The finish step failed: the outcomes are in the child executions.',
      error: ERROR_WORKFLOW_ERROR,
      causePath: '$.finishError.Cause',
    }))
    .otherwise(sfn.Fail.jsonPath(scope, N.FINISH_FLEET_FAILED_WITHOUT_CAUSE, {
      comment: 'The finish step failed without a cause: the outcomes are in the child executions.',
      error: ERROR_WORKFLOW_ERROR,
      cause: 'The fleet\'s finish step failed without a cause; every outcome is in the export workflow\'s executions named fleet-<id>-<instance id>.',
    }));
  finish.addCatch(finishFailed, { errors: [sfn.Errors.ALL], resultPath: '$.finishError' });

  const check = sfn.Choice.jsonPath(scope, N.CHECK_FLEET_OUTCOME, { comment: 'Succeed, or fail with the summary.' })
    .when(sfn.Condition.and(presentString('$.status'), sfn.Condition.stringEquals('$.status', 'SUCCEEDED')),
      sfn.Succeed.jsonPath(scope, N.FLEET_SUCCEEDED, { comment: 'Every instance was exported; the output is the summary.' }))
    .when(sfn.Condition.and(presentString('$.status'), sfn.Condition.stringEquals('$.status', 'FAILED'), presentString('$.errorName'), presentString('$.cause')),
      sfn.Fail.jsonPath(scope, N.FLEET_FAILED, { errorPath: '$.errorName', causePath: '$.cause' }))
    .otherwise(sfn.Fail.jsonPath(scope, N.UNEXPECTED_FLEET_OUTCOME, {
      error: ERROR_WORKFLOW_ERROR,
      cause: 'The fleet\'s finish step returned an unexpected result (no known status, errorName and cause).',
    }));

  const publish = tasks.EventBridgePutEvents.jsonPath(scope, N.PUBLISH_FLEET_FINISHED, {
    comment: `Publish '${FLEET_FINISHED_EVENT}' (source ${WorkflowEvents.SOURCE}) on the default event bus; failures are ignored.`,
    entries: [{ source: WorkflowEvents.SOURCE, detailType: FLEET_FINISHED_EVENT, detail: sfn.TaskInput.fromJsonPathAt('$') }],
    resultPath: sfn.JsonPath.DISCARD,
  });
  publish.addRetry({ errors: [sfn.Errors.ALL], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 1, jitterStrategy: sfn.JitterType.FULL });
  publish.addCatch(check, { errors: [sfn.Errors.ALL], resultPath: sfn.JsonPath.DISCARD });
  finish.next(publish).next(check);
  return finish;
}
