/**
 * TEST CODE ONLY: the image side of the fake EC2 (FakeEc2 dispatches to it): fake AMIs,
 * DescribeImages, ExportImage, DescribeExportImageTasks and CancelExportTask of `export-ami-`
 * tasks.
 *
 * Documented behaviour (sources in /tmp/image-export-facts.md and SPEC section 3; quoted where
 * the code applies it):
 * - ExportImage parameters and answer: EC2 API Reference, API_ExportImage (DiskImageFormat
 *   VMDK | RAW | VHD, RoleName default `vmimport`, Description at most 255 characters,
 *   ClientToken, DryRun, TagSpecifications of resource type `export-image-task`; the answer has
 *   Description, DiskImageFormat, ExportImageTaskId, ImageId, RoleName, Progress (a STRING),
 *   S3ExportLocation, Status, StatusMessage, Tags).
 * - Synchronous refusals seen in the wild: encrypted snapshots -> `InvalidParameter` "The image
 *   ID (<ami>) provided has encrypted EBS block devices and is not exportable."
 *   (tommybobbins/super-duper-doodle); Marketplace -> `NotExportable` "The image ID provided
 *   (<ami>) is a marketplace AMI and is not exportable." (aws/aws-sdk#203, aws/eks-anywhere#6016).
 * - Tasks: Status `active` | `completed` | `deleting` | `deleted` (API_ExportImageTask); while
 *   active Progress "0" / "21" / "85" and StatusMessage `validating` / `updating` / `converting`
 *   (the guide's start and monitor pages, tommybobbins's run); a completed task has no Progress,
 *   no StatusMessage and (in the real run) no ImageId; no DiskImageFormat, RoleName or S3 key in
 *   a described task.
 * - The object: `<S3Prefix>export-ami-<id>.<format in lower case>` (guide, "Start an export
 *   image task"; `.raw` in aws/eks-anywhere-build-tooling#542), written through the role.
 * - Limits (limits-image-export.html): no Windows / SQL Server / Marketplace, no encrypted
 *   snapshots, no AMI shared from another account, one task per AMI at a time, 5 conversion
 *   tasks per Region by default, volumes up to 1 TiB, no SSE-KMS bucket, the base AMI must exist
 *   until the export ends; ARM64 is not supported (guide, "Operating systems").
 *
 * Undocumented answers (error codes and texts of most refusals, when a refusal happens, the
 * unknown-task answer, how long `deleting` lasts, ...) are options with a plausible default,
 * each marked ASSUMED below, so that tests can run every plausible answer.
 */
import { awsError } from './errors';
import type { CancelCompletedAnswer, FakeEc2 } from './fake-ec2';
import type { FakeIam } from './fake-iam';
import { FakeS3 } from './fake-s3';
import { FakeWorld } from './world';

/** What happens to an export of an image (as ExportBehaviour for instances). */
export interface ImageExportBehaviour {
  /** `complete` (default), `fail` (ends `deleted` with `statusMessage`) or `never` (stays active). */
  readonly outcome?: 'complete' | 'fail' | 'never';
  /** The change happens on this DescribeExportImageTasks poll of the task (1 = the first). */
  readonly afterPolls?: number;
  /** ... or once this many simulated seconds passed since the task was created. */
  readonly afterSeconds?: number;
  /** StatusMessage of a failed task. ASSUMED (a failed task's text is undocumented). @default 'ClientError: The export failed.' */
  readonly statusMessage?: string;
  /** Size of the written image in bytes. @default 1048576 */
  readonly imageBytes?: number;
}

/** One block device mapping entry of a fake AMI: an EBS volume, or an instance store volume (`virtualName`). */
export interface FakeImageDeviceSpec {
  /** @default /dev/xvda, /dev/xvdb, ... */
  readonly deviceName?: string;
  /** EBS: @default the image's volumeSizeGiB (8) */
  readonly sizeGiB?: number;
  /** EBS: @default the image's encrypted (false) */
  readonly encrypted?: boolean;
  /** EBS: @default derived from the image id */
  readonly snapshotId?: string;
  /** Instance store: `ephemeral0`, ... (no Ebs block). */
  readonly virtualName?: string;
}

export interface FakeImageSpec {
  readonly imageId: string;
  /** @default the world's account */
  readonly ownerId?: string;
  /** @default 'available' */
  readonly state?: string;
  /** @default `image-<id>` */
  readonly name?: string;
  /** Block device mapping, the root first. @default one EBS volume */
  readonly devices?: FakeImageDeviceSpec[];
  /** @default 8 */
  readonly volumeSizeGiB?: number;
  /** @default false */
  readonly encrypted?: boolean;
  /** Marketplace product codes. */
  readonly productCodes?: string[];
  /** @default 'Linux/UNIX' (e.g. 'Windows', 'Windows with SQL Server Standard') */
  readonly platformDetails?: string;
  /** @default 'RunInstances' (e.g. 'RunInstances:0002' Windows, 'RunInstances:0800' Windows BYOL) */
  readonly usageOperation?: string;
  /** `windows`; unset (omitted) otherwise. */
  readonly platform?: string;
  /** @default 'x86_64' */
  readonly architecture?: string;
  /** `legacy-bios` | `uefi` | `uefi-preferred`; unset (omitted) by default. */
  readonly bootMode?: string;
  /** @default false */
  readonly public?: boolean;
  /** Overrides the default export behaviour for this image. */
  readonly exportBehaviour?: ImageExportBehaviour;
}

/** A fake AMI as the fake keeps it. */
export interface FakeImage {
  readonly imageId: string;
  readonly ownerId: string;
  state: string;
  readonly name: string;
  readonly devices: ReadonlyArray<Required<Pick<FakeImageDeviceSpec, 'deviceName'>> & FakeImageDeviceSpec>;
  readonly productCodes: string[];
  readonly platformDetails: string;
  readonly usageOperation: string;
  readonly platform?: string;
  readonly architecture: string;
  readonly bootMode?: string;
  readonly public: boolean;
  readonly creationDate: string;
  readonly exportBehaviour?: ImageExportBehaviour;
}

export type ImageTaskStatus = 'active' | 'completed' | 'deleting' | 'deleted';

export interface FakeExportImageTask {
  readonly ExportImageTaskId: string;
  readonly ImageId: string;
  readonly Description?: string;
  Status: ImageTaskStatus;
  StatusMessage?: string;
  Progress?: string;
  readonly S3ExportLocation: { readonly S3Bucket: string; readonly S3Prefix?: string };
  /** Upper case, as requested. Not part of a described task (kept for the key and ExportImage's answer). */
  readonly DiskImageFormat: string;
  readonly RoleName: string;
  readonly Tags: Array<{ Key: string; Value: string }>;
  /** `<prefix><task id>.<format lower case>`. */
  readonly s3Key: string;
  readonly createdAt: number;
  /** DescribeExportImageTasks requests that covered it (first pages only). */
  polls: number;
  /** Simulated second it completed or was deleted. */
  finishedAt?: number;
  /** While `deleting`: polls still to show `deleting`, and since when. */
  deleting?: { pollsLeft: number; since: number };
  /** A refusal the service makes after accepting the task (ImageRefusal `at: 'task'`). */
  readonly pendingFailure?: string;
  readonly behaviour: ImageExportBehaviour;
  readonly clientToken?: string;
  /** The request's parameters, for ClientToken idempotency. */
  readonly fingerprint: string;
  /** An export of another team (occupySlots): its AMI, role and bucket are not modelled. */
  readonly external?: boolean;
}

/**
 * How the service answers one undocumented refusal: at ExportImage (`start`, an error), by
 * accepting the task and letting it end `deleted` with the message on its first poll (`task`),
 * or not at all (`never`: the export succeeds).
 */
export interface ImageRefusal {
  readonly at: 'start' | 'task' | 'never';
  readonly code?: string;
  readonly message?: string;
}

/** The refusals the guide lists without an error code or text. */
export type ImageRefusalKind =
  | 'licenseIncluded' // Windows / SQL Server provided by AWS
  | 'sharedFromOtherAccount'
  | 'volumeTooLarge' // > 1 TiB
  | 'arm64'
  | 'kmsBucket' // SSE-KMS default encryption on the bucket
  | 'notAvailable'; // AMI state other than `available`

/** A (code, message) pair; `<ami>`, `<id>` (task id), `<bucket>` and `<key>` in the message are replaced where known. */
export interface ErrorAnswer {
  readonly code: string;
  readonly message: string;
}

export interface FakeEc2ImagesOptions {
  /** @default { outcome: 'complete', afterPolls: 3 } */
  readonly defaultBehaviour?: ImageExportBehaviour;
  /**
   * Whether active image tasks and active instance tasks count against one quota (FakeEc2's
   * `quota`). Both lists say "5 conversion tasks per Region" and neither says whether they
   * share a counter (ASSUMED either way). @default true
   */
  readonly imageQuotaShared?: boolean;
  /** The separate image-task quota when not shared. @default FakeEc2's quota */
  readonly imageQuota?: number;
  /**
   * A second active task for the same AMI ("You can't have multiple export image tasks in
   * progress for the same AMI at the same time": the code and text are undocumented).
   * @default ASSUMED InvalidParameter, 'An export image task is already in progress for <ami>.'
   */
  readonly sameImageActiveError?: ErrorAnswer;
  /**
   * DescribeExportImageTasks with an unknown ExportImageTaskId: an error, or an empty list
   * (undocumented). @default 'error'
   */
  readonly unknownTaskAnswer?: 'error' | 'empty';
  /** @default ASSUMED InvalidExportImageTaskId.NotFound, "The export image task ID '<id>' does not exist" */
  readonly unknownTaskError?: ErrorAnswer;
  /** Whether a completed task still shows ImageId (the real run showed none). @default false */
  readonly imageIdOnCompleted?: boolean;
  /** The case of DiskImageFormat in ExportImage's answer (the guide shows VMDK, the CLI example vmdk). @default 'upper' */
  readonly responseFormatCase?: 'upper' | 'lower';
  /**
   * How many DescribeExportImageTasks polls show a cancelled or failed task as `deleting` before
   * `deleted` (undocumented); at most `deletingSeconds` simulated seconds. @default 1
   */
  readonly deletingPolls?: number;
  /** @default 60 */
  readonly deletingSeconds?: number;
  /** StatusMessage of a task cancelled by CancelExportTask. ASSUMED. @default 'Canceled by user' */
  readonly cancelStatusMessage?: string;
  /** StatusMessage when the AMI was deregistered during the export (documented failure, ASSUMED text). */
  readonly deregisteredMessage?: string;
  /** StatusMessage when the role may not write the object at the end (ASSUMED behaviour and text). */
  readonly writeDeniedMessage?: string;
  /** Largest page DescribeExportImageTasks returns, whatever MaxResults says (forces several pages). */
  readonly maxPageSize?: number;
  /**
   * Whether ExportImage already refuses a role that may not s3:PutObject under the prefix (the
   * role error says "does not have sufficient permissions"; when it is checked is undocumented).
   * @default false (the task ends `deleted` when it tries to write)
   */
  readonly checkRolePermissionsAtStart?: boolean;
  /** Overrides of the undocumented refusals (see DEFAULT_REFUSALS). */
  readonly refusals?: Partial<Record<ImageRefusalKind, ImageRefusal>>;
  /** Progress / StatusMessage of an active task, poll by poll (the last one stays). */
  readonly progressStages?: ReadonlyArray<{ readonly progress: string; readonly statusMessage: string }>;
  /**
   * From this stage index on, CancelExportTask fails: the task "is in the process of
   * transferring the final disk image" (documented failure; when that begins is not).
   * @default never
   */
  readonly finalTransferStage?: number;
}

/** ASSUMED defaults of the undocumented refusals (codes and texts nobody has published). */
export const DEFAULT_REFUSALS: Readonly<Record<ImageRefusalKind, Required<ImageRefusal>>> = {
  licenseIncluded: {
    at: 'start',
    code: 'NotExportable',
    message: 'The image ID provided (<ami>) contains third-party software provided by AWS and is not exportable.',
  },
  sharedFromOtherAccount: {
    at: 'start',
    code: 'NotExportable',
    message: 'The image ID provided (<ami>) was shared from another account and is not exportable.',
  },
  volumeTooLarge: {
    at: 'start',
    code: 'InvalidParameter',
    message: 'The image ID (<ami>) has a volume larger than 1 TiB, which is not supported.',
  },
  arm64: {
    at: 'start',
    code: 'InvalidParameter',
    message: 'The image ID (<ami>) has architecture arm64, which is not supported for export.',
  },
  kmsBucket: {
    at: 'task',
    code: 'InvalidParameter',
    message: 'ClientError: The S3 bucket <bucket> uses SSE-KMS encryption, which is not supported.',
  },
  notAvailable: {
    // The code is EC2's (API error codes page: "The specified AMI has been deregistered or is in
    // an unavailable state"); that ExportImage answers it for a pending or failed AMI is ASSUMED.
    at: 'start',
    code: 'InvalidAMIID.Unavailable',
    message: "The image id '[<ami>]' is not in a valid state.",
  },
};

/** Observed pairs: "0"/validating (start page), "21"/updating (monitor page), "85"/converting (a real run). */
export const DEFAULT_PROGRESS_STAGES = [
  { progress: '0', statusMessage: 'validating' },
  { progress: '21', statusMessage: 'updating' },
  { progress: '85', statusMessage: 'converting' },
] as const;

const FORMATS = ['VMDK', 'RAW', 'VHD'];
const AMI_ID = /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/;
const ONE_TIB_GIB = 1024;
/**
 * Billing codes of AWS-provided Windows / SQL Server (license included: Windows, Windows with SQL
 * Server Standard / Enterprise / Web, Linux with SQL Server Standard / Enterprise / Web; EC2 User
 * Guide, "AMI billing information fields"). RunInstances:0800 (Windows BYOL) is not among them.
 */
const LICENSE_INCLUDED_OPERATIONS = new Set(['RunInstances:0002', 'RunInstances:0006', 'RunInstances:0102', 'RunInstances:0202',
  'RunInstances:0004', 'RunInstances:0100', 'RunInstances:0200']);

type Host = Pick<FakeEc2, 'quota' | 'quotaError' | 'cancelCompletedAnswer' | 'forgetFinishedAfterSeconds' | 'tasksIn'>;

function fill(text: string, values: Record<string, string>): string {
  return text.replace(/<(ami|id|bucket|key)>/g, (m, k: string) => values[k] ?? m);
}

export class FakeEc2Images {
  public readonly images = new Map<string, FakeImage>();
  public readonly tasks = new Map<string, FakeExportImageTask>();
  public defaultBehaviour: ImageExportBehaviour;
  public imageQuotaShared: boolean;
  public imageQuota: number | undefined;
  public sameImageActiveError: ErrorAnswer;
  public unknownTaskAnswer: 'error' | 'empty';
  public unknownTaskError: ErrorAnswer;
  public imageIdOnCompleted: boolean;
  public responseFormatCase: 'upper' | 'lower';
  public deletingPolls: number;
  public deletingSeconds: number;
  public cancelStatusMessage: string;
  public deregisteredMessage: string;
  public writeDeniedMessage: string;
  public maxPageSize: number | undefined;
  public checkRolePermissionsAtStart: boolean;
  public refusals: Record<ImageRefusalKind, Required<ImageRefusal>>;
  public progressStages: ReadonlyArray<{ readonly progress: string; readonly statusMessage: string }>;
  public finalTransferStage: number | undefined;
  private taskCounter = 0;
  /** ClientToken -> task id (kept after the task is forgotten). */
  private readonly tokens = new Map<string, { taskId: string; fingerprint: string; view: any }>();

  constructor(
    private readonly world: FakeWorld,
    private readonly s3: FakeS3,
    private readonly iam: FakeIam,
    private readonly host: Host,
    options: FakeEc2ImagesOptions = {},
  ) {
    this.defaultBehaviour = options.defaultBehaviour ?? { outcome: 'complete', afterPolls: 3 };
    this.imageQuotaShared = options.imageQuotaShared ?? true;
    this.imageQuota = options.imageQuota;
    this.sameImageActiveError = options.sameImageActiveError
      ?? { code: 'InvalidParameter', message: 'An export image task is already in progress for <ami>.' };
    this.unknownTaskAnswer = options.unknownTaskAnswer ?? 'error';
    this.unknownTaskError = options.unknownTaskError
      ?? { code: 'InvalidExportImageTaskId.NotFound', message: "The export image task ID '<id>' does not exist" };
    this.imageIdOnCompleted = options.imageIdOnCompleted ?? false;
    this.responseFormatCase = options.responseFormatCase ?? 'upper';
    this.deletingPolls = options.deletingPolls ?? 1;
    this.deletingSeconds = options.deletingSeconds ?? 60;
    this.cancelStatusMessage = options.cancelStatusMessage ?? 'Canceled by user';
    this.deregisteredMessage = options.deregisteredMessage ?? 'ClientError: The image <ami> no longer exists.';
    this.writeDeniedMessage = options.writeDeniedMessage
      ?? 'ClientError: The service role does not have permission to write to s3://<bucket>/<key>.';
    this.maxPageSize = options.maxPageSize;
    this.checkRolePermissionsAtStart = options.checkRolePermissionsAtStart ?? false;
    this.refusals = { ...DEFAULT_REFUSALS };
    for (const [kind, refusal] of Object.entries(options.refusals ?? {}) as Array<[ImageRefusalKind, ImageRefusal]>) {
      this.refusals[kind] = { ...DEFAULT_REFUSALS[kind], ...refusal };
    }
    this.progressStages = options.progressStages ?? DEFAULT_PROGRESS_STAGES;
    this.finalTransferStage = options.finalTransferStage;
  }

  // --- test set-up -------------------------------------------------------------------------------

  public addImage(spec: FakeImageSpec): FakeImage {
    const size = spec.volumeSizeGiB ?? 8;
    const encrypted = spec.encrypted ?? false;
    const devices = (spec.devices ?? [{}]).map((d, n) => ({
      ...d,
      deviceName: d.deviceName ?? (n === 0 ? '/dev/xvda' : `/dev/xvd${String.fromCharCode(97 + n)}`),
      ...(d.virtualName === undefined ? {
        sizeGiB: d.sizeGiB ?? size,
        encrypted: d.encrypted ?? encrypted,
        snapshotId: d.snapshotId ?? `snap-${spec.imageId.slice(4, 17).padEnd(13, '0')}${n.toString(16).padStart(4, '0')}`,
      } : {}),
    }));
    const image: FakeImage = {
      imageId: spec.imageId,
      ownerId: spec.ownerId ?? this.world.accountId,
      state: spec.state ?? 'available',
      name: spec.name ?? `image-${spec.imageId}`,
      devices,
      productCodes: spec.productCodes ?? [],
      platformDetails: spec.platformDetails ?? 'Linux/UNIX',
      usageOperation: spec.usageOperation ?? 'RunInstances',
      ...(spec.platform !== undefined ? { platform: spec.platform } : {}),
      architecture: spec.architecture ?? 'x86_64',
      ...(spec.bootMode !== undefined ? { bootMode: spec.bootMode } : {}),
      public: spec.public ?? false,
      creationDate: this.world.now().toISOString(),
      exportBehaviour: spec.exportBehaviour,
    };
    this.images.set(spec.imageId, image);
    return image;
  }

  /** Deregisters an AMI: DescribeImages no longer finds it, and an export of it fails ("If you have deleted the AMI, the export fails"). */
  public deregisterImage(imageId: string): void {
    this.images.delete(imageId);
  }

  /** Image tasks in a status (after applying the clock). */
  public tasksIn(...statuses: ImageTaskStatus[]): FakeExportImageTask[] {
    this.advanceByClock();
    return [...this.tasks.values()].filter((t) => statuses.includes(t.Status));
  }

  public tasksTagged(key: string, value: string): FakeExportImageTask[] {
    return [...this.tasks.values()].filter((t) => t.Tags.some((tag) => tag.Key === key && tag.Value === value));
  }

  /** Occupies conversion-task slots with image exports of other AMIs that complete after `afterSeconds`. */
  public occupySlots(count: number, afterSeconds: number): FakeExportImageTask[] {
    const out: FakeExportImageTask[] = [];
    for (let i = 0; i < count; i++) {
      out.push(this.addTask({
        imageId: `ami-${'f'.repeat(16)}${i % 10}`,
        format: 'VMDK',
        roleName: 'vmimport',
        bucket: 'other-team-bucket',
        prefix: 'other/',
        tags: [],
        behaviour: { outcome: 'complete', afterSeconds },
        fingerprint: '',
        external: true,
      }));
    }
    return out;
  }

  /** Drops every finished (completed or deleted) task now. */
  public forgetFinished(): void {
    for (const [id, task] of this.tasks) {
      if (task.Status === 'completed' || task.Status === 'deleted') this.tasks.delete(id);
    }
  }

  /** Active image tasks that count against FakeEc2's (instance) quota. */
  public activeCountingAgainstInstanceQuota(): number {
    return this.imageQuotaShared ? this.tasksIn('active').length : 0;
  }

  // --- the API -----------------------------------------------------------------------------------

  public handle(operation: string, input: any): any {
    this.advanceByClock();
    switch (operation) {
      case 'DescribeImages':
        return this.describeImages(input);
      case 'ExportImage':
        return this.exportImage(input);
      case 'DescribeExportImageTasks':
        return this.describeTasks(input);
      case 'CancelExportTask':
        this.cancel(String(input.ExportTaskId));
        return {};
      default:
        throw awsError('ec2', 'InvalidAction', `fake-aws: EC2 ${operation} is not implemented`, 400);
    }
  }

  /** True for ids this side answers CancelExportTask for. */
  public owns(exportTaskId: unknown): boolean {
    return typeof exportTaskId === 'string' && exportTaskId.startsWith('export-ami-');
  }

  // ---------------------------------------------------------------------------------------------

  private describeImages(input: any): any {
    if (input.Filters && input.Filters.length > 0) {
      throw awsError('ec2', 'InvalidAction', 'fake-aws: DescribeImages Filters are not implemented', 400);
    }
    const ids: string[] | undefined = input.ImageIds && input.ImageIds.length > 0 ? input.ImageIds : undefined;
    if (ids) {
      this.checkMalformed(ids);
      const missing = ids.filter((id) => !this.images.has(id));
      if (missing.length > 0) {
        // "The image id '[ami-...]' does not exist" is EC2's text for one id; the plural form is ASSUMED.
        throw awsError('ec2', 'InvalidAMIID.NotFound', missing.length === 1
          ? `The image id '[${missing[0]}]' does not exist`
          : `The image ids '[${missing.join(', ')}]' do not exist`);
      }
    }
    let images = ids ? ids.map((id) => this.images.get(id)!) : [...this.images.values()];
    const owners: string[] | undefined = input.Owners && input.Owners.length > 0 ? input.Owners : undefined;
    if (owners) {
      images = images.filter((i) => owners.some((o) => (o === 'self' ? i.ownerId === this.world.accountId : i.ownerId === o)));
    }
    return { Images: images.map((i) => this.imageView(i)) };
  }

  private checkMalformed(ids: string[]): void {
    const bad = ids.find((id) => !AMI_ID.test(id));
    if (bad !== undefined) throw awsError('ec2', 'InvalidAMIID.Malformed', `Invalid id: "${bad}" (expecting "ami-...")`);
  }

  private imageView(i: FakeImage): any {
    return {
      ImageId: i.imageId,
      OwnerId: i.ownerId,
      Name: i.name,
      State: i.state,
      Architecture: i.architecture,
      CreationDate: i.creationDate,
      ImageType: 'machine',
      Public: i.public,
      RootDeviceType: 'ebs',
      RootDeviceName: i.devices[0]?.deviceName ?? '/dev/xvda',
      VirtualizationType: 'hvm',
      Hypervisor: 'xen',
      EnaSupport: true,
      ...(i.platform !== undefined ? { Platform: i.platform } : {}),
      PlatformDetails: i.platformDetails,
      UsageOperation: i.usageOperation,
      ...(i.bootMode !== undefined ? { BootMode: i.bootMode } : {}),
      ...(i.productCodes.length > 0
        ? { ProductCodes: i.productCodes.map((code) => ({ ProductCodeId: code, ProductCodeType: 'marketplace' })) } : {}),
      BlockDeviceMappings: i.devices.map((d) => (d.virtualName !== undefined
        ? { DeviceName: d.deviceName, VirtualName: d.virtualName }
        : {
          DeviceName: d.deviceName,
          Ebs: { DeleteOnTermination: true, SnapshotId: d.snapshotId, VolumeSize: d.sizeGiB, VolumeType: 'gp3', Encrypted: d.encrypted },
        })),
    };
  }

  private refuse(kind: ImageRefusalKind, values: Record<string, string>): string | undefined {
    const r = this.refusals[kind];
    if (r.at === 'never') return undefined;
    if (r.at === 'start') throw awsError('ec2', r.code, fill(r.message, values));
    return fill(r.message, values);
  }

  private exportImage(input: any): any {
    for (const [name, present] of [['ImageId', input.ImageId], ['DiskImageFormat', input.DiskImageFormat],
      ['S3ExportLocation.S3Bucket', input.S3ExportLocation?.S3Bucket]] as const) {
      if (present === undefined || present === '') {
        throw awsError('ec2', 'MissingParameter', `The request must contain the parameter ${name}`);
      }
    }
    const imageId = String(input.ImageId);
    const format = String(input.DiskImageFormat).toUpperCase();
    if (!FORMATS.includes(format)) {
      // ASSUMED text (EC2's usual "Value (...) for parameter ... is invalid.").
      throw awsError('ec2', 'InvalidParameterValue', `Value (${input.DiskImageFormat}) for parameter diskImageFormat is invalid. Valid values: VMDK, RAW, VHD`);
    }
    if (typeof input.Description === 'string' && input.Description.length > 255) {
      throw awsError('ec2', 'InvalidParameterValue', 'Value for parameter description is invalid. Length exceeds 255 characters.');
    }
    const token: string | undefined = input.ClientToken;
    if (token !== undefined && (token.length > 64 || !/^[\x20-\x7e]*$/.test(token))) {
      // "a unique, case-sensitive string of up to 64 ASCII characters" (EC2 idempotency); the error is ASSUMED.
      throw awsError('ec2', 'InvalidParameterValue', 'Value for parameter clientToken is invalid. It must be at most 64 ASCII characters.');
    }
    this.checkMalformed([imageId]);
    if (input.DryRun) {
      // API_ExportImage, DryRun: "If you have the required permissions, the error response is
      // DryRunOperation." A dry run does not validate the role (aws/aws-cli#8873, ImportImage).
      throw awsError('ec2', 'DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
    }
    const bucketName = String(input.S3ExportLocation.S3Bucket);
    const prefix: string | undefined = input.S3ExportLocation.S3Prefix;
    const roleName: string = input.RoleName ?? 'vmimport';
    const tags = (input.TagSpecifications ?? [])
      .filter((s: any) => s.ResourceType === 'export-image-task')
      .flatMap((s: any) => s.Tags ?? [])
      .map((t: any) => ({ Key: String(t.Key), Value: String(t.Value ?? '') }));
    const fingerprint = JSON.stringify([imageId, format, bucketName, prefix ?? null, roleName, input.Description ?? null, tags]);
    if (token !== undefined) {
      const known = this.tokens.get(token);
      if (known) {
        // EC2 idempotency: the same token and parameters succeed without starting anything
        // again; the same token with other parameters is IdempotentParameterMismatch (the
        // message text is ASSUMED).
        if (known.fingerprint !== fingerprint) {
          throw awsError('ec2', 'IdempotentParameterMismatch',
            `The client token '${token}' was already used with different parameters.`);
        }
        const task = this.tasks.get(known.taskId);
        return task ? this.exportAnswer(task) : structuredClone(known.view);
      }
    }
    const values = { ami: imageId, bucket: bucketName };
    const image = this.images.get(imageId);
    if (!image) throw awsError('ec2', 'InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
    let pendingFailure: string | undefined;
    const later = (message: string | undefined) => {
      pendingFailure = pendingFailure ?? message;
    };
    if (image.state !== 'available') later(this.refuse('notAvailable', values));
    if (image.productCodes.length > 0) {
      throw awsError('ec2', 'NotExportable', `The image ID provided (${imageId}) is a marketplace AMI and is not exportable.`);
    }
    if (image.devices.some((d) => d.virtualName === undefined && d.encrypted)) {
      throw awsError('ec2', 'InvalidParameter', `The image ID (${imageId}) provided has encrypted EBS block devices and is not exportable.`);
    }
    const licenseIncluded = (image.platform === 'windows' && image.usageOperation !== 'RunInstances:0800')
      || /SQL Server/i.test(image.platformDetails) || LICENSE_INCLUDED_OPERATIONS.has(image.usageOperation);
    if (licenseIncluded) later(this.refuse('licenseIncluded', values));
    if (image.ownerId !== this.world.accountId) later(this.refuse('sharedFromOtherAccount', values));
    if (image.devices.some((d) => (d.sizeGiB ?? 0) > ONE_TIB_GIB)) later(this.refuse('volumeTooLarge', values));
    if (image.architecture === 'arm64') later(this.refuse('arm64', values));
    if (!this.roleUsable(roleName, 'pending')) {
      // The text of the guide's import error and of a real ImportImage answer (aws/aws-cli#8873);
      // that ExportImage answers the same is ASSUMED.
      throw awsError('ec2', 'InvalidParameter', `The service role ${roleName} provided does not exist or does not have sufficient permissions`);
    }
    if (this.checkRolePermissionsAtStart
      && this.iam.evaluate(roleName, 's3:PutObject', `arn:aws:s3:::${bucketName}/${prefix ?? ''}export-ami-00000000000000000.${format.toLowerCase()}`) !== 'allowed') {
      throw awsError('ec2', 'InvalidParameter', `The service role ${roleName} provided does not exist or does not have sufficient permissions`);
    }
    const bucket = this.s3.buckets.get(bucketName);
    // "The destination bucket must exist." (API_ExportTaskS3LocationRequest) and "must be in the
    // Region where you want to export": the texts are the instance export's (fake-ec2.ts, and the
    // guide's troubleshooting for the region); for ExportImage they are ASSUMED.
    if (!bucket) throw awsError('ec2', 'InvalidParameter', 'The given S3 bucket does not exist');
    if (bucket.region !== this.world.region) throw awsError('ec2', 'InvalidParameter', 'The given S3 object is not local to the region');
    if (bucket.encryption === 'aws:kms' || bucket.encryption === 'aws:kms:dsse') later(this.refuse('kmsBucket', values));
    if (this.tasksIn('active').some((t) => t.ImageId === imageId)) {
      throw awsError('ec2', this.sameImageActiveError.code, fill(this.sameImageActiveError.message, values));
    }
    const activeImages = this.tasksIn('active').length;
    const full = this.imageQuotaShared
      ? activeImages + this.host.tasksIn('active').length >= this.host.quota
      : activeImages >= (this.imageQuota ?? this.host.quota);
    if (full) {
      const quota = this.imageQuotaShared ? this.host.quota : (this.imageQuota ?? this.host.quota);
      const q = this.host.quotaError ?? { code: 'ResourceLimitExceeded', message: `You have reached the maximum number of concurrent conversion tasks (${quota}).` };
      throw awsError('ec2', q.code, q.message);
    }
    const task = this.addTask({
      imageId,
      format,
      roleName,
      bucket: bucketName,
      prefix,
      tags,
      description: input.Description,
      behaviour: image.exportBehaviour ?? this.defaultBehaviour,
      pendingFailure,
      clientToken: token,
      fingerprint,
    });
    const answer = this.exportAnswer(task);
    if (token !== undefined) this.tokens.set(token, { taskId: task.ExportImageTaskId, fingerprint, view: answer });
    return answer;
  }

  /**
   * Whether the service can assume the role: it exists and trusts vmie.amazonaws.com with the
   * context the service passes (sts:ExternalId `vmimport`, the guide's trust policy; the
   * aws:SourceAccount / aws:SourceArn of the guide's hardening; the SourceArn's resource part is
   * ASSUMED).
   */
  private roleUsable(roleName: string, taskId: string): boolean {
    return this.iam.trusts(roleName, 'vmie.amazonaws.com', {
      'sts:ExternalId': 'vmimport',
      'aws:SourceAccount': this.world.accountId,
      'aws:SourceArn': `arn:aws:vmie:${this.world.region}:${this.world.accountId}:export-image-task/${taskId}`,
    });
  }

  private nextTaskId(): string {
    this.taskCounter++;
    return `export-ami-${this.taskCounter.toString(16).padStart(17, '0')}`;
  }

  private addTask(p: {
    imageId: string;
    format: string;
    roleName: string;
    bucket: string;
    prefix?: string;
    tags: Array<{ Key: string; Value: string }>;
    description?: string;
    behaviour: ImageExportBehaviour;
    pendingFailure?: string;
    clientToken?: string;
    fingerprint: string;
    external?: boolean;
  }): FakeExportImageTask {
    const id = this.nextTaskId();
    const s3Key = `${p.prefix ?? ''}${id}.${p.format.toLowerCase()}`;
    const stage = this.progressStages[0];
    const task: FakeExportImageTask = {
      ExportImageTaskId: id,
      ImageId: p.imageId,
      ...(p.description !== undefined ? { Description: p.description } : {}),
      Status: 'active',
      StatusMessage: stage?.statusMessage,
      Progress: stage?.progress,
      S3ExportLocation: { S3Bucket: p.bucket, ...(p.prefix !== undefined ? { S3Prefix: p.prefix } : {}) },
      DiskImageFormat: p.format,
      RoleName: p.roleName,
      Tags: p.tags,
      s3Key,
      createdAt: this.world.clock.now,
      polls: 0,
      ...(p.pendingFailure !== undefined ? { pendingFailure: fill(p.pendingFailure, { id, key: s3Key }) } : {}),
      behaviour: p.behaviour,
      ...(p.clientToken !== undefined ? { clientToken: p.clientToken } : {}),
      fingerprint: p.fingerprint,
      ...(p.external ? { external: true } : {}),
    };
    this.tasks.set(id, task);
    this.s3.startUpload(p.bucket, task.s3Key);
    return task;
  }

  /** ExportImage's answer: the task with DiskImageFormat, RoleName and ImageId. */
  private exportAnswer(task: FakeExportImageTask): any {
    return {
      ...this.taskView(task, true),
      DiskImageFormat: this.responseFormatCase === 'lower' ? task.DiskImageFormat.toLowerCase() : task.DiskImageFormat,
      RoleName: task.RoleName,
      ImageId: task.ImageId,
    };
  }

  /** A task as DescribeExportImageTasks shows it (API_ExportImageTask). */
  private taskView(task: FakeExportImageTask, showImageId = false): any {
    const imageId = showImageId || task.Status !== 'completed' || this.imageIdOnCompleted;
    return {
      ...(task.Description !== undefined ? { Description: task.Description } : {}),
      ExportImageTaskId: task.ExportImageTaskId,
      ...(imageId ? { ImageId: task.ImageId } : {}),
      ...(task.Status === 'active' && task.Progress !== undefined ? { Progress: task.Progress } : {}),
      S3ExportLocation: { ...task.S3ExportLocation },
      Status: task.Status,
      ...(task.Status !== 'completed' && task.StatusMessage !== undefined ? { StatusMessage: task.StatusMessage } : {}),
      Tags: task.Tags.map((t) => ({ ...t })),
    };
  }

  private describeTasks(input: any): any {
    if (input.DryRun) throw awsError('ec2', 'DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
    const max: number | undefined = input.MaxResults;
    if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > 500)) {
      // API_DescribeExportImageTasks: "Valid Range: Minimum value of 1. Maximum value of 500." (the text is ASSUMED)
      throw awsError('ec2', 'InvalidParameterValue', `Value ( ${max} ) for parameter maxResults is invalid. Expecting a value between 1 and 500.`);
    }
    const states = new Set<string>();
    let filtered = false;
    for (const f of input.Filters ?? []) {
      // "Filter tasks using the task-state filter" is the only documented filter.
      if (f.Name !== 'task-state') throw awsError('ec2', 'InvalidParameterValue', `The filter '${f.Name}' is invalid`);
      filtered = true;
      for (const v of f.Values ?? []) states.add(v);
    }
    const ids: string[] | undefined = input.ExportImageTaskIds && input.ExportImageTaskIds.length > 0 ? input.ExportImageTaskIds : undefined;
    let candidates: FakeExportImageTask[];
    if (ids) {
      const missing = ids.find((id) => !this.tasks.has(id));
      if (missing !== undefined && this.unknownTaskAnswer === 'error') {
        throw awsError('ec2', this.unknownTaskError.code, fill(this.unknownTaskError.message, { id: missing }));
      }
      candidates = ids.filter((id) => this.tasks.has(id)).map((id) => this.tasks.get(id)!);
    } else {
      candidates = [...this.tasks.values()];
    }
    let offset = 0;
    if (input.NextToken !== undefined) {
      const decoded = /^fake-page:(\d+)$/.exec(Buffer.from(String(input.NextToken), 'base64').toString('utf8'));
      if (!decoded) throw awsError('ec2', 'InvalidPaginationToken', 'The specified pagination token is not valid or is expired.');
      offset = Number(decoded[1]);
    } else {
      // A request (its first page) is one poll of every task it covers.
      for (const task of candidates) {
        task.polls++;
        this.advance(task, true);
      }
    }
    const selected = candidates.filter((t) => this.tasks.has(t.ExportImageTaskId) && (!filtered || states.has(t.Status)));
    const size = Math.min(max ?? Infinity, this.maxPageSize ?? Infinity);
    const page = selected.slice(offset, offset + size);
    const next = offset + size < selected.length ? Buffer.from(`fake-page:${offset + size}`).toString('base64') : undefined;
    return { ExportImageTasks: page.map((t) => this.taskView(t)), ...(next !== undefined ? { NextToken: next } : {}) };
  }

  private cancel(id: string): void {
    const task = this.tasks.get(id);
    if (!task) throw awsError('ec2', 'InvalidExportTaskID.NotFound', `The export task ID '${id}' does not exist`);
    if (task.Status === 'completed') {
      switch (this.host.cancelCompletedAnswer as CancelCompletedAnswer) {
        case 'incorrect-state':
          throw awsError('ec2', 'IncorrectState', `Export task ${id} cannot be cancelled: it is completed.`);
        case 'invalid-parameter':
          throw awsError('ec2', 'InvalidParameterValue', `The export task ${id} has already completed and cannot be canceled.`);
        case 'succeeds':
          task.Status = 'deleted';
          task.StatusMessage = this.cancelStatusMessage;
          this.s3.removeArtifacts(task.S3ExportLocation.S3Bucket, task.s3Key);
          return;
      }
    }
    if (task.Status === 'deleting' || task.Status === 'deleted') {
      throw awsError('ec2', 'IncorrectState', `Export task ${id} has already been cancelled.`);
    }
    if (this.finalTransferStage !== undefined && this.stageIndex(task) >= this.finalTransferStage) {
      // Documented failure ("in the process of transferring the final disk image"); code and text ASSUMED.
      throw awsError('ec2', 'IncorrectState', `Export task ${id} cannot be cancelled: it is transferring the final disk image.`);
    }
    // The image page does not say partial objects are removed; API_CancelExportTask does ("removes
    // all artifacts of the export, including any partially-created Amazon S3 objects").
    this.s3.removeArtifacts(task.S3ExportLocation.S3Bucket, task.s3Key);
    this.enterDeleting(task, this.cancelStatusMessage, false);
  }

  private enterDeleting(task: FakeExportImageTask, message: string, duringPoll: boolean): void {
    task.StatusMessage = message;
    task.Progress = undefined;
    const left = this.deletingPolls - (duringPoll ? 1 : 0);
    if (left < 0) {
      task.Status = 'deleted';
      task.finishedAt = this.world.clock.now;
      return;
    }
    task.Status = 'deleting';
    task.deleting = { pollsLeft: left, since: this.world.clock.now };
  }

  private fail(task: FakeExportImageTask, message: string, duringPoll: boolean): void {
    this.s3.removeArtifacts(task.S3ExportLocation.S3Bucket, task.s3Key);
    this.enterDeleting(task, message, duringPoll);
  }

  private advanceByClock(): void {
    for (const task of [...this.tasks.values()]) this.advance(task, false);
  }

  private stageIndex(task: FakeExportImageTask): number {
    const n = this.progressStages.length;
    if (n === 0) return 0;
    const b = task.behaviour;
    let index = Math.min(n - 1, task.polls);
    if (b.afterSeconds !== undefined && b.afterSeconds > 0) {
      const elapsed = this.world.clock.now - task.createdAt;
      index = Math.max(index, Math.min(n - 1, Math.floor((elapsed / b.afterSeconds) * n)));
    }
    return index;
  }

  /** Applies polls and the clock to one task. */
  private advance(task: FakeExportImageTask, polled: boolean): void {
    this.forgetIfDue(task);
    if (!this.tasks.has(task.ExportImageTaskId)) return;
    if (task.Status === 'deleting') {
      const d = task.deleting!;
      const expired = this.world.clock.now - d.since >= this.deletingSeconds;
      if (polled && d.pollsLeft > 0 && !expired) {
        d.pollsLeft--;
        return;
      }
      if (polled || expired) {
        task.Status = 'deleted';
        task.deleting = undefined;
        task.finishedAt = this.world.clock.now;
      }
      return;
    }
    if (task.Status !== 'active') return;
    const values = { ami: task.ImageId, bucket: task.S3ExportLocation.S3Bucket, id: task.ExportImageTaskId, key: task.s3Key };
    if (task.pendingFailure !== undefined && (polled || this.world.clock.now > task.createdAt)) {
      this.fail(task, task.pendingFailure, polled);
      return;
    }
    if (!this.images.has(task.ImageId) && !task.external) {
      // "The base AMI ... must exist ... If you have deleted the AMI, the export fails." (limits-image-export.html)
      this.fail(task, fill(this.deregisteredMessage, values), polled);
      return;
    }
    const b = task.behaviour;
    const outcome = b.outcome ?? 'complete';
    const byPolls = b.afterPolls !== undefined && task.polls >= b.afterPolls;
    const bySeconds = b.afterSeconds !== undefined && this.world.clock.now - task.createdAt >= b.afterSeconds;
    if (outcome === 'never' || (!byPolls && !bySeconds)) {
      const stage = this.progressStages[this.stageIndex(task)];
      if (stage) {
        task.Progress = stage.progress;
        task.StatusMessage = stage.statusMessage;
      }
      return;
    }
    if (outcome === 'fail') {
      this.fail(task, b.statusMessage ?? 'ClientError: The export failed.', polled);
      return;
    }
    if (!this.canWrite(task)) {
      // ASSUMED behaviour: the service writes through the role at the end; a role that lost its
      // trust or s3:PutObject on the key (or a bucket that is gone) ends the task `deleted`.
      this.fail(task, fill(this.writeDeniedMessage, values), polled);
      return;
    }
    task.Status = 'completed';
    task.Progress = undefined;
    task.StatusMessage = undefined;
    task.finishedAt = this.world.clock.now;
    this.s3.completeUpload(task.S3ExportLocation.S3Bucket, task.s3Key, b.imageBytes ?? 1048576);
  }

  private canWrite(task: FakeExportImageTask): boolean {
    if (task.external) return true;
    return this.s3.buckets.has(task.S3ExportLocation.S3Bucket)
      && this.roleUsable(task.RoleName, task.ExportImageTaskId)
      && this.iam.evaluate(task.RoleName, 's3:PutObject', `arn:aws:s3:::${task.S3ExportLocation.S3Bucket}/${task.s3Key}`) === 'allowed';
  }

  private forgetIfDue(task: FakeExportImageTask): void {
    const after = this.host.forgetFinishedAfterSeconds;
    if (after === undefined || task.finishedAt === undefined) return;
    if (this.world.clock.now - task.finishedAt >= after) this.tasks.delete(task.ExportImageTaskId);
  }
}
