/**
 * The contracts of image export (ExportImage: an AMI to a VMDK, VHD or RAW file), beside the
 * instance export's in contract.ts. One workflow runs both kinds: an input with `imageId`
 * is an image export, an input with `instanceId` an instance export.
 *
 * Facts (VM Import/Export User Guide, "Exporting a VM directly from an Amazon Machine Image",
 * https://docs.aws.amazon.com/vm-import/latest/userguide/vmexport_image.html, and the EC2 API
 * Reference for ExportImage / DescribeExportImageTasks / ExportImageTask):
 * - ExportImage takes ImageId, DiskImageFormat (VMDK | RAW | VHD), S3ExportLocation
 *   { S3Bucket, S3Prefix }, RoleName (default `vmimport`), Description (at most 255
 *   characters), TagSpecifications (resource type `export-image-task`) and a ClientToken (at
 *   most 64 ASCII characters; the same token with other parameters is IdempotentParameterMismatch).
 * - Its tasks (`export-ami-...`) have Status `active` | `completed` | `deleting` | `deleted`
 *   and no failed or cancelled state; the meaning of `deleting` / `deleted` is undocumented,
 *   and AWS's own export script (aws/eks-anywhere-build-tooling, export-ami-to-s3.sh) treats
 *   `deleted` as the end of a failed task. Progress is a STRING of a percentage ("0" .. "100"),
 *   absent on completed tasks (as are StatusMessage and even ImageId); a task has no S3 key
 *   and no disk image format.
 * - The object is written to `<S3Prefix>export-ami-<id>.<format in lower case>`
 *   (`.vmdk`, `.vhd`, `.raw`); no `/` is inserted after the prefix.
 * - The service writes through the role (it trusts vmie.amazonaws.com with sts:ExternalId
 *   `vmimport` and may read and write the bucket), not through the bucket ACL.
 */
import { ExportTag } from './contract';

/** The kinds of export one workflow runs. */
export type ExportKind = 'instance' | 'image';

/** The disk image formats ExportImage takes. */
export const IMAGE_DISK_FORMATS = ['VMDK', 'VHD', 'RAW'] as const;

/** The role ExportImage uses when the request names none. */
export const DEFAULT_IMAGE_ROLE_NAME = 'vmimport';

/** `ami-` followed by 8 or 17 lowercase hexadecimal characters. */
export const IMAGE_ID_PATTERN = /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/;

/** An image export task id: `export-ami-` and letters and digits (format undocumented). */
export const IMAGE_TASK_ID_PATTERN = /^export-ami-[0-9A-Za-z]{1,64}$/;

/** The workflow input of an image export (the README's input table, image column). */
export interface ImageWorkflowInput {
  /** Required. `ami-` + 8 or 17 hex. */
  readonly imageId: string;
  /** Optional. `VMDK` | `VHD` | `RAW`; default `VMDK`. */
  readonly diskImageFormat?: string;
  /** Optional. The VM Import/Export service role's NAME; default `vmimport`. */
  readonly roleName?: string;
  /** Required. The export bucket's name. */
  readonly s3Bucket: string;
  /** Optional. Default `exports/`. */
  readonly s3Prefix?: string;
  /** Optional. At most 255 characters. */
  readonly description?: string;
  /** Optional. Extra tags on the export image task. */
  readonly tags?: ExportTag[];
  /** Optional. Default 21600 (6 h). */
  readonly deadlineSeconds?: number;
  /** Optional. Default true. */
  readonly preflight?: boolean;
  /** Optional. Idempotency token (tag value; ExportImage's ClientToken is derived from it). */
  readonly clientToken?: string;
  /** Internal keys, as for instance export (see WorkflowInput). */
  readonly exportHash?: string;
  readonly adoptExportTaskId?: string;
  readonly completedExportS3Key?: string;
  readonly waitConditionStackId?: string;
  readonly waitConditionHandleLogicalId?: string;
  readonly waitConditionHandleHash?: string;
}

/** An ImageWorkflowInput with every default applied (what `prepare` returns for an image). */
export interface NormalizedImageRequest {
  readonly kind: 'image';
  readonly imageId: string;
  /** `VMDK` | `VHD` | `RAW` (upper case). */
  readonly diskImageFormat: string;
  readonly roleName: string;
  readonly s3Bucket: string;
  readonly s3Prefix: string;
  readonly description?: string;
  readonly tags: ExportTag[];
  readonly deadlineSeconds: number;
  readonly clientToken: string;
  readonly exportHash?: string;
  readonly adoptExportTaskId?: string;
  readonly completedExportS3Key?: string;
  readonly waitConditionStackId?: string;
  readonly waitConditionHandleLogicalId?: string;
  readonly waitConditionHandleHash?: string;
  /** `.vmdk`, `.vhd` or `.raw`: `<prefix><task id><extension>` is the object key. */
  readonly objectExtension: string;
  /** Set by `prepare`: epoch milliseconds after which `start` creates no task. */
  readonly notAfter?: number;
}

/**
 * An image task's Status in the instance export's vocabulary, so that one decision table serves
 * both kinds: active -> active, completed -> completed, deleting -> cancelling,
 * deleted -> cancelled; anything else (undocumented) -> active (keep watching).
 */
export const IMAGE_STATUS_AS_STATE: Readonly<Record<string, string>> = {
  active: 'active',
  completed: 'completed',
  deleting: 'cancelling',
  deleted: 'cancelled',
};
