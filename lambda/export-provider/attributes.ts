/**
 * The Custom::VmExportAttributes resource: reads a completed export's task id and object key
 * from its wait condition's Data (a property, so CloudFormation creates this resource only
 * after the wait condition got its success signal) and returns them as string attributes.
 *
 * It calls no AWS API: Create and Update parse the property, Delete does nothing.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import {
  ERROR_INVALID_INPUT,
  ExportAttributesData,
  ExportAttributesProperties,
  WAIT_CONDITION_UNIQUE_ID,
} from '../shared/contract';
import { VmExportError } from '../shared/ec2-errors';
import { objectKeyFor, s3UriFor } from '../shared/normalize';
import { parseSuccessData } from '../shared/signal';

/** A value shortened for an error message. */
function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/** The wait condition's Data as an object: CloudFormation passes a JSON string; accept the object too. */
function signalsOf(data: unknown): Record<string, unknown> {
  let parsed: unknown = data;
  if (typeof data === 'string') {
    try {
      parsed = JSON.parse(data);
    } catch {
      parsed = undefined;
    }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new VmExportError(ERROR_INVALID_INPUT,
      `WaitConditionData '${shown(data)}' is not the Data of a wait condition (a JSON object of signals): pass Fn::GetAtt <WaitCondition>.Data.`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * The attributes of a completed export from its wait condition's Data. The success signal's
 * Data is `<task id>|<object key the task reported>`; a signal of an earlier version of the
 * library carried the task id only, whose key is the documented `<prefix><task id><extension>`.
 */
export function exportAttributesOf(props: ExportAttributesProperties): ExportAttributesData {
  const signals = signalsOf(props.WaitConditionData);
  const signal = signals[WAIT_CONDITION_UNIQUE_ID];
  if (typeof signal !== 'string') {
    throw new VmExportError(ERROR_INVALID_INPUT,
      `WaitConditionData '${shown(props.WaitConditionData)}' has no success signal with UniqueId '${WAIT_CONDITION_UNIQUE_ID}': pass the Data of the export's own wait condition.`);
  }
  const parsed = parseSuccessData(signal);
  if (!parsed) {
    throw new VmExportError(ERROR_INVALID_INPUT,
      `The export's success signal '${shown(signal)}' does not start with a task id (export-i-...): it was not sent by the export workflow. Pass the Data of the export's own wait condition.`);
  }
  for (const name of ['S3Bucket', 'S3Prefix', 'ObjectExtension'] as const) {
    if (typeof props[name] !== 'string') {
      throw new VmExportError(ERROR_INVALID_INPUT, `${name} '${shown(props[name])}' is not a string: pass the export's ${name}.`);
    }
  }
  const { exportTaskId, s3Key: reportedKey } = parsed;
  const key = reportedKey !== '' ? reportedKey : objectKeyFor(props.S3Prefix, exportTaskId, props.ObjectExtension);
  return { ExportTaskId: exportTaskId, ExportObjectKey: key, ExportObjectUri: s3UriFor(props.S3Bucket, key) };
}

/** The answer to a Custom::VmExportAttributes event. */
export interface AttributesResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: ExportAttributesData;
}

/**
 * onEvent for Custom::VmExportAttributes. The physical id is the task id; Delete changes
 * nothing (the export resource owns the task and the object).
 */
export function onAttributesEvent(event: CloudFormationCustomResourceEvent): AttributesResponse {
  if (event.RequestType === 'Delete') {
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
  const data = exportAttributesOf(event.ResourceProperties as unknown as ExportAttributesProperties);
  return { PhysicalResourceId: data.ExportTaskId, Data: data };
}
