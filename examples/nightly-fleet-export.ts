/**
 * A nightly export of every instance tagged `vm-export=nightly`: EventBridge Scheduler starts
 * the stack's fleet workflow at 01:00 (Europe/Berlin); the fleet lists the tagged instances and
 * exports them as VMware OVAs under `nightly/`, five at a time (the region's default
 * conversion-task quota), each in its own execution of the export workflow. When the fleet ends,
 * its `VM Export Fleet Finished` event (every instance with its task and S3 URI, or its error)
 * goes to an SNS topic.
 *
 * The workflow may export exactly the instances that carry the tag (`allowInstancesTagged`), the
 * same tag the fleet's filter selects: tag an instance to have it exported, untag it to stop.
 *
 * Synthesize it offline (no AWS account, no credentials):
 *   npx cdk synth --app 'npx ts-node --transpile-only examples/nightly-fleet-export.ts'
 */
import {
  App,
  Duration,
  Stack,
  StackProps,
  TimeZone,
  aws_events_targets as eventTargets,
  aws_scheduler as scheduler,
  aws_scheduler_targets as schedulerTargets,
  aws_sns as sns,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { FleetExportInputs, InstanceExportFleet, InstanceExportWorkflow, TargetEnvironment, VmExportBucket } from '../src';

/** The tag that selects the instances (key and value). */
export const NIGHTLY_TAG = { key: 'vm-export', value: 'nightly' } as const;

/** The key prefix of the nightly exports. */
export const NIGHTLY_FLEET_PREFIX = 'nightly/';

/** How long each instance's export may run before it is cancelled. */
export const NIGHTLY_FLEET_DEADLINE = Duration.hours(6);

/** Exports running at once (the default quota of 5 concurrent conversion tasks per region). */
export const NIGHTLY_FLEET_CONCURRENCY = 5;

/** A nightly schedule that exports every tagged instance with the stack's fleet workflow. */
export class NightlyFleetExportStack extends Stack {
  /** The export bucket (exports expire after 14 days). */
  public readonly exportBucket: VmExportBucket;
  /** The export workflow each instance runs in. */
  public readonly workflow: InstanceExportWorkflow;
  /** The fleet workflow the schedule starts. */
  public readonly fleet: InstanceExportFleet;
  /** The nightly schedule. */
  public readonly schedule: scheduler.Schedule;
  /** Receives each night's `VM Export Fleet Finished` event. */
  public readonly reports: sns.Topic;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    this.exportBucket = new VmExportBucket(this, 'ExportBucket', { expireExportsAfter: Duration.days(14) });
    this.workflow = InstanceExportWorkflow.of(this);
    this.workflow.grantBucketAccess(this.exportBucket.bucket);
    // The workflow exports exactly the instances that carry the tag the fleet's filter selects.
    this.workflow.allowInstancesTagged(NIGHTLY_TAG.key, NIGHTLY_TAG.value);

    this.fleet = InstanceExportFleet.of(this);
    this.schedule = new scheduler.Schedule(this, 'NightlyFleetExport', {
      description: 'cdk-vm-export example: export every instance tagged vm-export=nightly',
      schedule: scheduler.ScheduleExpression.cron({ minute: '0', hour: '1', timeZone: TimeZone.EUROPE_BERLIN }),
      target: new schedulerTargets.StepFunctionsStartExecution(this.fleet.stateMachine, {
        input: FleetExportInputs.toScheduleTargetInput({
          instanceTags: { [NIGHTLY_TAG.key]: NIGHTLY_TAG.value },
          targetEnvironment: TargetEnvironment.VMWARE,
          s3Bucket: this.exportBucket.bucketName,
          s3Prefix: NIGHTLY_FLEET_PREFIX,
          deadline: NIGHTLY_FLEET_DEADLINE,
          maxConcurrentExports: NIGHTLY_FLEET_CONCURRENCY,
          // A retried delivery of the same night's run watches the exports it already started.
          clientToken: `nightly-${scheduler.ContextAttribute.scheduledTime}`,
        }),
      }),
    });

    this.reports = new sns.Topic(this, 'FleetReports', { enforceSSL: true });
    this.fleet.onFleetFinished('FleetFinished', {
      description: 'cdk-vm-export example: each night\'s fleet report',
      target: new eventTargets.SnsTopic(this.reports, { authorizeUsingRole: true }),
    });
  }
}

/** Builds the example app; `outdir` is where the cloud assembly goes. */
export function buildNightlyFleetApp(outdir?: string): { app: App; stack: NightlyFleetExportStack } {
  const app = new App({ outdir });
  const stack = new NightlyFleetExportStack(app, 'VmExportNightlyFleet', { env: { account: '111111111111', region: 'eu-west-1' } });
  return { app, stack };
}

if (require.main === module) {
  buildNightlyFleetApp().app.synth();
}
