/**
 * The contract of the fleet workflow (InstanceExportFleet): its input, the plan its first step
 * makes, the outcome of each instance and the summary it ends with (its output and the
 * `VM Export Fleet Finished` event).
 */
import { ExportTag } from './contract';

/** A DescribeInstances filter, as the EC2 API takes it. */
export interface InstanceFilter {
  readonly Name: string;
  readonly Values: string[];
}

/** The fleet workflow's public input (documented in the README). */
export interface FleetInput {
  /** The instances to export (either this or instanceFilters). */
  readonly instanceIds?: string[];
  /** DescribeInstances filters that select the instances, e.g. `tag:vm-export` (either this or instanceIds). */
  readonly instanceFilters?: InstanceFilter[];
  /** Exports running at once: 1 to 20. Default 5. */
  readonly maxConcurrentExports?: number;
  /** A token for the whole fleet: each instance's export uses `<token>-<instance id>`. Default: one per fleet execution. */
  readonly clientToken?: string;
  readonly targetEnvironment?: string;
  readonly s3Bucket?: string;
  readonly diskImageFormat?: string;
  readonly containerFormat?: string;
  readonly s3Prefix?: string;
  readonly description?: string;
  readonly tags?: ExportTag[];
  /** The deadline of each export, in seconds. */
  readonly deadlineSeconds?: number;
  readonly preflight?: boolean;
  readonly canonicalId?: string;
}

/** What the fleet's first step (`fleet-prepare`) answers: the validated fleet. */
export interface FleetPlan {
  /** 16 hex characters of the SHA-256 of the fleet execution's ARN. */
  readonly fleetId: string;
  /** Child execution names are this prefix and the instance id. */
  readonly childNamePrefix: string;
  /** Child client tokens are this prefix and the instance id. */
  readonly tokenPrefix: string;
  readonly maxConcurrentExports: number;
  /** True when the instances come from DescribeInstances (instanceFilters). */
  readonly listInstances: boolean;
  /** The instances of an instanceIds fleet (no duplicates); empty for a filtered fleet. */
  readonly instanceIds: string[];
  /** The filters DescribeInstances runs with (the input's, plus the instance states that can be exported). */
  readonly filters: InstanceFilter[];
  /** The single-export input every child gets, without instanceId and clientToken. */
  readonly common: Record<string, unknown>;
}

/** One instance's outcome in the fleet's output and event. */
export interface FleetInstanceOutcome {
  readonly instanceId: string;
  readonly status: 'SUCCEEDED' | 'FAILED';
  /** The child execution that exported it (when one started). */
  readonly executionArn?: string;
  readonly exportTaskId?: string;
  readonly s3Bucket?: string;
  readonly s3Key?: string;
  readonly s3Uri?: string;
  /** On failure: the documented error name (VmExport.*), or the Step Functions error when the export workflow never ran. */
  readonly errorName?: string;
  /** On failure: the reason, at most FLEET_REASON_CHARS characters. */
  readonly reason?: string;
}

/** The fleet's output (when it succeeds) and the detail of its `VM Export Fleet Finished` event. */
export interface FleetSummary {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly fleetExecutionArn: string;
  /** On failure: VmExport.FleetFailed, VmExport.InvalidInput or VmExport.ListingFailed. */
  readonly errorName?: string;
  /** On failure: the summary the execution fails with (at most 32,768 characters). */
  readonly cause?: string;
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly instances: FleetInstanceOutcome[];
}

/** `fleet-prepare`: validate the fleet input. */
export interface FleetPrepareEvent {
  readonly action: 'fleet-prepare';
  readonly input: FleetInput;
  readonly executionArn: string;
}

/** `fleet-record`: one child that failed, as the Map iteration caught it. */
export interface FleetRecordEvent {
  readonly action: 'fleet-record';
  readonly instanceId: string;
  readonly failure: { readonly Error?: string; readonly Cause?: string };
}

/** `fleet-finish`: the fleet's whole state at the end. */
export interface FleetFinishEvent {
  readonly action: 'fleet-finish';
  readonly executionArn: string;
  readonly state: {
    readonly plan?: FleetPlan;
    readonly results?: Array<FleetIterationResult>;
    readonly error?: { readonly Error?: string; readonly Cause?: string };
  };
}

/** What one Map iteration outputs: the child's output on success, the recorded failure otherwise. */
export interface FleetIterationResult {
  readonly instanceId: string;
  readonly child?: { readonly output?: Record<string, unknown>; readonly executionArn?: string };
  readonly failure?: FleetInstanceOutcome;
}

export type FleetEvent = FleetPrepareEvent | FleetRecordEvent | FleetFinishEvent;

/** The longest reason kept per instance (the event holds up to 100 of them). */
export const FLEET_REASON_CHARS = 500;
/** Step Functions' longest Cause. */
export const MAX_CAUSE_CHARS = 32768;
