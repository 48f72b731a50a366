/**
 * The two kinds of export resource: Custom::VmInstanceExport (InstanceId, TargetEnvironment,
 * ContainerFormat, CanonicalId) and Custom::VmImageExport (ImageId, RoleName). The handler's
 * logic is the same; what differs is read here: the export-affecting properties, the workflow
 * input, the name of what is exported, and the object's extension.
 */
import {
  EXPORT_AFFECTING_PROPERTIES,
  ExportResourceProperties,
  IMAGE_EXPORT_AFFECTING_PROPERTIES,
  IMAGE_EXPORT_RESOURCE_TYPE,
  NormalizedRequest,
  WorkflowInput,
} from '../shared/contract';
import { ExportKind, ImageWorkflowInput, NormalizedImageRequest } from '../shared/image-contract';
import { imageObjectExtension, normalizeImageRequest } from '../shared/image-normalize';
import { normalizeRequest, objectExtensionFor } from '../shared/normalize';

/** The properties of either kind of export resource (as the constructs write them). */
export type Props = ExportResourceProperties & { readonly ImageId?: string; readonly RoleName?: string };

/** A workflow input of either kind. */
export type AnyWorkflowInput = WorkflowInput | ImageWorkflowInput;

/** A normalized request of either kind. */
export type AnyRequest = NormalizedRequest | NormalizedImageRequest;

/** The kind of a resource: its type, or (for a resource type the handler does not know) its properties. */
export function kindOfResource(resourceType: string | undefined, props: Props | undefined): ExportKind {
  return resourceType === IMAGE_EXPORT_RESOURCE_TYPE || (props?.ImageId !== undefined && props?.InstanceId === undefined) ? 'image' : 'instance';
}

/** The export-affecting properties of a kind. */
export function affectingPropertiesOf(kind: ExportKind): readonly string[] {
  return kind === 'image' ? IMAGE_EXPORT_AFFECTING_PROPERTIES : EXPORT_AFFECTING_PROPERTIES;
}

/** What the resource exports (its instance or AMI id), for messages and logs. */
export function subjectOfProps(props: Props | undefined): string | undefined {
  return props?.InstanceId ?? props?.ImageId;
}

/** The object extension of a resource's export. */
export function extensionOfProps(kind: ExportKind, props: Props): string {
  return kind === 'image'
    ? imageObjectExtension(props.DiskImageFormat ?? 'VMDK')
    : objectExtensionFor(props.DiskImageFormat, props.ContainerFormat);
}

/** The workflow input of a resource's properties. */
export function workflowInputOf(kind: ExportKind, props: Props, extra: Partial<WorkflowInput>): AnyWorkflowInput {
  const common = {
    diskImageFormat: props.DiskImageFormat,
    s3Bucket: props.S3Bucket,
    s3Prefix: props.S3Prefix,
    ...(props.Description ? { description: props.Description } : {}),
    ...(props.Tags && props.Tags.length > 0 ? { tags: props.Tags } : {}),
    ...deadlineOf(props.DeadlineSeconds),
  };
  if (kind === 'image') {
    return { imageId: props.ImageId!, ...common, ...(props.RoleName ? { roleName: props.RoleName } : {}), ...extra } as ImageWorkflowInput;
  }
  return {
    instanceId: props.InstanceId,
    targetEnvironment: props.TargetEnvironment,
    ...common,
    containerFormat: props.ContainerFormat,
    ...(props.CanonicalId ? { canonicalId: props.CanonicalId } : {}),
    ...extra,
  } as WorkflowInput;
}

/** DeadlineSeconds as a number; other text is passed on for the normalizer to report. */
function deadlineOf(value: string | undefined): { deadlineSeconds?: number } {
  if (value === undefined || value === null || value === '') {
    return {};
  }
  const text = String(value).trim();
  return { deadlineSeconds: /^\d+$/.test(text) ? Number(text) : (value as unknown as number) };
}

/** Validates and normalizes an input of either kind (throws VmExport.InvalidInput). */
export function normalizeAny(kind: ExportKind, input: AnyWorkflowInput): AnyRequest {
  return kind === 'image' ? normalizeImageRequest(input as ImageWorkflowInput) : normalizeRequest(input as WorkflowInput);
}
