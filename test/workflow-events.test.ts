/**
 * The outcome events of the export workflow (EventBridge PutEvents), the optional SNS
 * notification topic, the failure alarm and the event rule helper: template assertions.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Events, StateNames as N } from './support/documented-names';
import { collectStates, definitionFromTemplate } from './support/local-sfn';
import { ExportEventType } from '../src/workflow/export-events';
import { InstanceExportWorkflow } from '../src/workflow/instance-export-workflow';

function newStack(): Stack {
  return new Stack(new App(), 'EventsStack', { env: { account: '123456789012', region: 'eu-west-1' } });
}

function asArray<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

function stateMachineStatements(template: Template): any[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: [{ Ref: Match.stringLikeRegexp('StateMachineRole') }] },
  });
  expect(Object.keys(policies)).toHaveLength(1);
  return Object.values(policies)[0].Properties.PolicyDocument.Statement;
}

const DEFAULT_BUS_ARN = {
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:eu-west-1:123456789012:event-bus/default']],
};

describe('outcome events', () => {
  test('the public enum and source are the documented ones', () => {
    // The definition's own constants (WorkflowEvents) are checked in test/documented-names.test.ts.
    expect(InstanceExportWorkflow.EVENT_SOURCE).toBe(Events.SOURCE);
    expect(ExportEventType.SUCCEEDED).toBe(Events.SUCCEEDED);
    expect(ExportEventType.FAILED).toBe(Events.FAILED);
  });

  test('CheckOutcome routes success through PublishSucceeded and everything else through PublishFailed', () => {
    const stack = newStack();
    InstanceExportWorkflow.of(stack);
    const states = collectStates(definitionFromTemplate(Template.fromStack(stack)));

    const checkOutcome = states.get(N.CHECK_OUTCOME);
    expect(checkOutcome.Choices).toHaveLength(1);
    expect(checkOutcome.Choices[0].Next).toBe(N.PUBLISH_SUCCEEDED);
    expect(checkOutcome.Default).toBe(N.PUBLISH_FAILED);
    expect(states.get(N.PUBLISH_SUCCEEDED)).toEqual(expect.objectContaining({
      Resource: 'arn:aws:states:::events:putEvents',
      Next: N.SUCCEEDED,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: null, Next: N.SUCCEEDED }],
    }));
    expect(states.get(N.PUBLISH_FAILED)).toEqual(expect.objectContaining({
      Resource: 'arn:aws:states:::events:putEvents',
      Next: N.CHECK_FAILURE,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: null, Next: N.CHECK_FAILURE }],
    }));
    // No event bus name: the default bus.
    expect(JSON.stringify(states.get(N.PUBLISH_FAILED).Parameters)).not.toContain('EventBusName');
    expect(states.get(N.CHECK_FAILURE).Default).toBe(N.UNEXPECTED_OUTCOME);
  });

  test('the state machine may put events on the default bus only', () => {
    const stack = newStack();
    InstanceExportWorkflow.of(stack);
    const statements = stateMachineStatements(Template.fromStack(stack));
    const putEvents = statements.filter((s) => asArray<string>(s.Action).includes('events:PutEvents'));
    expect(putEvents).toEqual([expect.objectContaining({ Effect: 'Allow', Action: 'events:PutEvents', Resource: DEFAULT_BUS_ARN })]);
  });

  test('no topic: no notification rule, no SNS resources', () => {
    const stack = newStack();
    InstanceExportWorkflow.of(stack);
    const template = Template.fromStack(stack);
    // The only rule is the signal backstop's, on Step Functions' own events.
    expect(Object.keys(template.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['cdk-vm-export'] } } }))).toHaveLength(0);
    expect(Object.keys(template.findResources('AWS::Events::Rule'))).toHaveLength(1);
    template.resourceCountIs('AWS::SNS::TopicPolicy', 0);
  });

  test('notificationTopic: a rule on the library\'s events of this state machine publishes the detail to the topic', () => {
    const stack = newStack();
    const topic = new sns.Topic(stack, 'Topic', { masterKey: new kms.Key(stack, 'TopicKey') });
    new InstanceExportWorkflow(stack, 'Workflow', { notificationTopic: topic });
    const template = Template.fromStack(stack);

    expect(Object.keys(template.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['cdk-vm-export'] } } }))).toHaveLength(1);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        'source': ['cdk-vm-export'],
        'detail-type': ['VM Export Succeeded', 'VM Export Failed'],
        'resources': [{ Ref: Match.stringLikeRegexp('WorkflowStateMachine') }],
      },
      State: 'ENABLED',
      Targets: [{
        Arn: { Ref: Match.stringLikeRegexp('^Topic') },
        InputPath: '$.detail',
        RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('EventsRole'), 'Arn'] },
      }],
    });
    // The rule's role may publish to the topic and use its key.
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as any[];
    const actions = policies.flatMap((p) => (p.Properties.PolicyDocument.Statement as any[]).flatMap((s) => asArray<string>(s.Action)));
    expect(actions).toEqual(expect.arrayContaining(['sns:Publish', 'kms:GenerateDataKey*', 'kms:Decrypt']));
  });

  test('addFailureAlarm: failed executions ≥ 1 in one 5-minute period, missing data not breaching', () => {
    const stack = newStack();
    const workflow = InstanceExportWorkflow.of(stack);
    const alarm = workflow.addFailureAlarm('ExportFailed');
    const template = Template.fromStack(stack);

    expect(alarm.node.scope).toBe(workflow);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsFailed',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: Match.stringLikeRegexp('VmExportWorkflowStateMachine') } }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      ActionsEnabled: true,
    });
  });

  test('addFailureAlarm options: name, description, period, actions disabled', () => {
    const stack = newStack();
    InstanceExportWorkflow.of(stack).addFailureAlarm('Alarm', {
      alarmName: 'vm-export-failed',
      alarmDescription: 'page the on-call',
      period: Duration.hours(1),
      actionsEnabled: false,
    });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'vm-export-failed',
      AlarmDescription: 'page the on-call',
      Period: 3600,
      ActionsEnabled: false,
    });
  });

  test('onExportEvent: only failures, with a target', () => {
    const stack = newStack();
    const workflow = InstanceExportWorkflow.of(stack);
    const queue = new sqs.Queue(stack, 'Queue');
    const rule = workflow.onExportEvent('OnFailure', {
      eventTypes: [ExportEventType.FAILED],
      target: new targets.SqsQueue(queue),
      ruleName: 'vm-export-failures',
    });
    expect(rule).toBeInstanceOf(events.Rule);
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', {
      Name: 'vm-export-failures',
      EventPattern: {
        'source': ['cdk-vm-export'],
        'detail-type': ['VM Export Failed'],
        'resources': [{ Ref: Match.stringLikeRegexp('VmExportWorkflowStateMachine') }],
      },
      Targets: [{ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('Queue'), 'Arn'] } }],
    });
  });
});
