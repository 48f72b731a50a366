/**
 * TEST CODE ONLY: a local stand-in for the EC2 API of VM Import/Export instance export
 * (SPEC section 3): CreateInstanceExportTask (with the service's refusals), DescribeExportTasks,
 * CancelExportTask, and DescribeInstances / DescribeVolumes for the preflight checks.
 *
 * An export task moves `active` -> `completed` after a number of DescribeExportTasks polls that
 * include it, or after simulated seconds, or -> `cancelled` with a StatusMessage; on completion
 * the image object appears at `<prefix><taskId>.<ext>` in the fake S3. Cancelling removes the
 * in-progress upload. Tags are kept and returned.
 *
 * Image export (DescribeImages, ExportImage, DescribeExportImageTasks, CancelExportTask of
 * `export-ami-` tasks) is answered by the image side, fake-ec2-images.ts (`images`).
 */
import { awsError } from './errors';
import { FakeEc2Images, FakeEc2ImagesOptions, FakeImage, FakeImageSpec } from './fake-ec2-images';
import { FakeIam } from './fake-iam';
import { FakeS3 } from './fake-s3';
import { FakeWorld } from './world';

/** What happens to an export of an instance. */
export interface ExportBehaviour {
  /** `complete` (default), `cancel` (ends cancelled with `statusMessage`) or `never` (stays active). */
  readonly outcome?: 'complete' | 'cancel' | 'never';
  /** The change happens on this DescribeExportTasks poll of the task (1 = the first). */
  readonly afterPolls?: number;
  /** ... or once this many simulated seconds passed since the task was created. */
  readonly afterSeconds?: number;
  /** StatusMessage of a cancelled task. @default 'Task expired and automatically canceled' */
  readonly statusMessage?: string;
  /** Size of the written image in bytes. @default 1048576 */
  readonly imageBytes?: number;
}

/** One EBS volume of a fake instance. */
export interface FakeVolumeSpec {
  /** @default the instance's volumeSizeGiB (8) */
  readonly sizeGiB?: number;
  /** @default the instance's encrypted (false) */
  readonly encrypted?: boolean;
}

export interface FakeInstanceSpec {
  readonly instanceId: string;
  /** @default 'running' */
  readonly state?: string;
  /** Volumes that all look alike (see `volumes` for different ones). @default 1 */
  readonly volumeCount?: number;
  /** @default 8 */
  readonly volumeSizeGiB?: number;
  readonly encrypted?: boolean;
  /**
   * Each volume with its own size and encryption, in block device mapping order (the first is
   * the root volume); overrides volumeCount. Unset fields come from volumeSizeGiB / encrypted.
   */
  readonly volumes?: FakeVolumeSpec[];
  readonly productCodes?: string[];
  /** @default 'Linux/UNIX' */
  readonly platformDetails?: string;
  /** The billing code, e.g. `RunInstances:0002` (Windows) or `RunInstances:0800` (Windows BYOL). @default 'RunInstances' */
  readonly usageOperation?: string;
  /** `windows` for Windows instances (license-included or BYOL); unset (omitted from the answer) otherwise. */
  readonly platform?: string;
  /** Overrides the fake's default export behaviour for this instance. */
  readonly exportBehaviour?: ExportBehaviour;
  /** The instance's tags (DescribeInstances returns them as `Tags: [{ Key, Value }]` and filters on them). */
  readonly tags?: Record<string, string>;
}

/**
 * EC2's instance state codes (the low byte of `State.Code`; EC2 API reference, InstanceState).
 */
export const INSTANCE_STATE_CODES: Readonly<Record<string, number>> = {
  'pending': 0,
  'running': 16,
  'shutting-down': 32,
  'terminated': 48,
  'stopping': 64,
  'stopped': 80,
};

/** The DescribeInstances filter names the fake understands (any other is InvalidParameterValue). */
export const DESCRIBE_INSTANCES_FILTERS = ['tag:<key>', 'tag-key', 'instance-state-name', 'instance-state-code', 'instance-id'] as const;

export interface FakeExportTask {
  readonly ExportTaskId: string;
  Description?: string;
  State: 'active' | 'cancelling' | 'cancelled' | 'completed';
  StatusMessage?: string;
  readonly InstanceExportDetails: { InstanceId: string; TargetEnvironment: string };
  readonly ExportToS3Task: { ContainerFormat?: string; DiskImageFormat: string; S3Bucket: string; S3Key: string };
  readonly Tags: Array<{ Key: string; Value: string }>;
  /** Simulated second of creation. */
  readonly createdAt: number;
  /** DescribeExportTasks calls that returned it. */
  polls: number;
  /** Simulated second it completed or was cancelled. */
  finishedAt?: number;
  readonly behaviour: ExportBehaviour;
}

/**
 * What CancelExportTask answers for a task that already completed (undocumented; SPEC section 3
 * only says it fails): `incorrect-state` (an IncorrectState error), `invalid-parameter` (an
 * InvalidParameterValue error saying it completed), `succeeds` (no error, and the task and its
 * object are removed: the answer that would lose an image if the library ever called it).
 */
export type CancelCompletedAnswer = 'incorrect-state' | 'invalid-parameter' | 'succeeds';

export interface FakeEc2Options {
  /** The VM Import/Export service's canonical ID the bucket must grant. */
  readonly serviceCanonicalId: string;
  /** Concurrent active conversion tasks. @default 5 */
  readonly quota?: number;
  /** @default { outcome: 'complete', afterPolls: 3 } */
  readonly defaultBehaviour?: ExportBehaviour;
  /**
   * Simulated seconds after which a finished (completed or cancelled) task is no longer listed
   * by DescribeExportTasks (how long the service keeps them is undocumented). @default never
   */
  readonly forgetFinishedAfterSeconds?: number;
  /** @default 'incorrect-state' */
  readonly cancelCompletedAnswer?: CancelCompletedAnswer;
  /**
   * The error CreateInstanceExportTask answers when the conversion-task quota is full. The real
   * code is unpublished (SPEC section 3), so tests run every plausible answer.
   * @default ResourceLimitExceeded, 'You have reached the maximum number of concurrent conversion tasks (<quota>).'
   */
  readonly quotaError?: { readonly code: string; readonly message: string };
  /** The fake IAM the image side asks about the service role. @default a new, empty one */
  readonly iam?: FakeIam;
  /** Options of the image side (ExportImage). */
  readonly images?: FakeEc2ImagesOptions;
}

const TARGETS: Record<string, string> = { vmware: 'vmdk', citrix: 'vhd', microsoft: 'vhd' };

/** A fake instance as the fake keeps it. */
export interface FakeInstance {
  readonly instanceId: string;
  readonly state: string;
  readonly volumes: ReadonlyArray<{ readonly sizeGiB: number; readonly encrypted: boolean }>;
  readonly productCodes: string[];
  readonly platformDetails: string;
  readonly usageOperation: string;
  readonly platform?: string;
  readonly exportBehaviour?: ExportBehaviour;
  readonly tags?: Readonly<Record<string, string>>;
}

export class FakeEc2 {
  public readonly instances = new Map<string, FakeInstance>();
  public readonly tasks = new Map<string, FakeExportTask>();
  public quota: number;
  public defaultBehaviour: ExportBehaviour;
  public forgetFinishedAfterSeconds: number | undefined;
  public cancelCompletedAnswer: CancelCompletedAnswer;
  public quotaError: { readonly code: string; readonly message: string } | undefined;
  public serviceCanonicalId: string;
  /** The image side: AMIs, ExportImage, DescribeExportImageTasks (fake-ec2-images.ts). */
  public readonly images: FakeEc2Images;
  private taskCounter = 0;

  constructor(private readonly world: FakeWorld, private readonly s3: FakeS3, options: FakeEc2Options) {
    this.quota = options.quota ?? 5;
    this.defaultBehaviour = options.defaultBehaviour ?? { outcome: 'complete', afterPolls: 3 };
    this.serviceCanonicalId = options.serviceCanonicalId;
    this.forgetFinishedAfterSeconds = options.forgetFinishedAfterSeconds;
    this.cancelCompletedAnswer = options.cancelCompletedAnswer ?? 'incorrect-state';
    this.quotaError = options.quotaError;
    this.images = new FakeEc2Images(world, s3, options.iam ?? new FakeIam(world), this, options.images);
  }

  /** Adds a fake AMI (see FakeEc2Images.addImage). */
  public addImage(spec: FakeImageSpec): FakeImage {
    return this.images.addImage(spec);
  }

  /** Drops every finished task from the service's memory now (as if its retention ran out). */
  public forgetFinished(): void {
    for (const [id, task] of this.tasks) {
      if (task.State === 'completed' || task.State === 'cancelled') this.tasks.delete(id);
    }
    this.images.forgetFinished();
  }

  public addInstance(spec: FakeInstanceSpec): void {
    const sizeGiB = spec.volumeSizeGiB ?? 8;
    const encrypted = spec.encrypted ?? false;
    const volumes: FakeVolumeSpec[] = spec.volumes ?? Array.from({ length: spec.volumeCount ?? 1 }, () => ({}));
    this.instances.set(spec.instanceId, {
      instanceId: spec.instanceId,
      state: spec.state ?? 'running',
      volumes: volumes.map((v) => ({ sizeGiB: v.sizeGiB ?? sizeGiB, encrypted: v.encrypted ?? encrypted })),
      productCodes: spec.productCodes ?? [],
      platformDetails: spec.platformDetails ?? 'Linux/UNIX',
      usageOperation: spec.usageOperation ?? 'RunInstances',
      ...(spec.platform !== undefined ? { platform: spec.platform } : {}),
      exportBehaviour: spec.exportBehaviour,
      ...(spec.tags !== undefined ? { tags: { ...spec.tags } } : {}),
    });
  }

  /** Tasks in a state (after applying the clock). */
  public tasksIn(...states: string[]): FakeExportTask[] {
    this.advanceByClock();
    return [...this.tasks.values()].filter((t) => states.includes(t.State));
  }

  /** Tasks carrying the tag. */
  public tasksTagged(key: string, value: string): FakeExportTask[] {
    return [...this.tasks.values()].filter((t) => t.Tags.some((tag) => tag.Key === key && tag.Value === value));
  }

  /**
   * Occupies conversion-task slots with exports of other instances (not managed by this
   * library) that complete after `afterSeconds` simulated seconds.
   */
  public occupySlots(count: number, afterSeconds: number): FakeExportTask[] {
    const out: FakeExportTask[] = [];
    for (let i = 0; i < count; i++) {
      const id = this.nextTaskId();
      out.push(this.addTask(id, `i-${'f'.repeat(16)}${i % 10}`, 'vmware', 'VMDK', 'ova', 'other-team-bucket', 'other/', [],
        undefined, { outcome: 'complete', afterSeconds }));
    }
    return out;
  }

  public handle(operation: string, input: any): any {
    this.advanceByClock();
    switch (operation) {
      case 'DescribeInstances':
        return this.describeInstances(input);
      case 'DescribeVolumes':
        return this.describeVolumes(input);
      case 'CreateInstanceExportTask':
        return { ExportTask: this.view(this.create(input)) };
      case 'DescribeExportTasks':
        return this.describeExportTasks(input);
      case 'CancelExportTask':
        if (this.images.owns(input.ExportTaskId)) return this.images.handle(operation, input);
        this.cancel(input.ExportTaskId);
        return {};
      case 'DescribeImages':
      case 'ExportImage':
      case 'DescribeExportImageTasks':
        return this.images.handle(operation, input);
      default:
        throw awsError('ec2', 'InvalidAction', `fake-aws: EC2 ${operation} is not implemented`, 400);
    }
  }

  // ---------------------------------------------------------------------------------------------

  private nextTaskId(): string {
    this.taskCounter++;
    return `export-i-${this.taskCounter.toString(16).padStart(17, '0')}`;
  }

  private view(task: FakeExportTask): any {
    return {
      ExportTaskId: task.ExportTaskId,
      ...(task.Description !== undefined ? { Description: task.Description } : {}),
      State: task.State,
      ...(task.StatusMessage !== undefined ? { StatusMessage: task.StatusMessage } : {}),
      InstanceExportDetails: { ...task.InstanceExportDetails },
      ExportToS3Task: { ...task.ExportToS3Task },
      Tags: task.Tags.map((t) => ({ ...t })),
    };
  }

  /**
   * DescribeInstances. With InstanceIds (the preflight call) every id must exist
   * (InvalidInstanceID.NotFound). `Filters` narrow the result: several filters must all match,
   * several values of one filter are alternatives (exact values; EC2's `*` / `?` wildcards are
   * not modelled); an unknown filter name is InvalidParameterValue. `MaxResults` (5..1000, not
   * together with InstanceIds: InvalidParameterCombination, as the API reference says) pages the
   * result with an opaque `NextToken` (an unknown token is InvalidParameterValue). Each instance
   * comes in its own reservation when paging or filtering (callers must not rely on grouping);
   * the plain call keeps today's single reservation.
   */
  private describeInstances(raw: any): any {
    // The SDK does not send null members: treat them as absent.
    const input = Object.fromEntries(Object.entries(raw ?? {}).filter(([, v]) => v !== null && v !== undefined)) as any;
    const filters: Array<{ Name?: string; Values?: string[] }> = input.Filters ?? [];
    for (const f of filters) {
      const name = String(f.Name ?? '');
      const known = name.startsWith('tag:') && name.length > 4
        || ['tag-key', 'instance-state-name', 'instance-state-code', 'instance-id'].includes(name);
      if (!known) throw awsError('ec2', 'InvalidParameterValue', `The filter '${name}' is invalid`);
    }
    const hasIds = Array.isArray(input.InstanceIds) && input.InstanceIds.length > 0;
    if (input.MaxResults !== undefined) {
      if (hasIds) {
        throw awsError('ec2', 'InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
      }
      const max = Number(input.MaxResults);
      if (!Number.isInteger(max) || max < 5 || max > 1000) {
        throw awsError('ec2', 'InvalidParameterValue', `Value ( ${input.MaxResults} ) for parameter maxResults is invalid. Expecting a value greater than 5.`);
      }
    }
    // An empty InstanceIds list answers no instance, as the fake always did.
    const ids: string[] = input.InstanceIds ?? [...this.instances.keys()];
    const missing = ids.filter((id) => !this.instances.has(id));
    if (missing.length > 0) {
      throw awsError('ec2', 'InvalidInstanceID.NotFound', `The instance ID '${missing.join(', ')}' does not exist`);
    }
    const selected = ids.filter((id) => filters.every((f) => this.instanceMatches(this.instances.get(id)!, f)));
    const paged = input.MaxResults !== undefined || input.NextToken !== undefined;
    let offset = 0;
    if (input.NextToken !== undefined) {
      offset = this.decodeInstancesToken(input.NextToken, filters);
    }
    const pageSize = input.MaxResults !== undefined ? Number(input.MaxResults) : 1000;
    const page = paged ? selected.slice(offset, offset + pageSize) : selected;
    const nextOffset = offset + pageSize;
    const nextToken = paged && nextOffset < selected.length ? this.encodeInstancesToken(nextOffset, filters) : undefined;
    const instances = page.map((id) => this.instanceView(id));
    if (!paged && filters.length === 0) {
      return { Reservations: [{ ReservationId: 'r-0123456789abcdef0', Instances: instances }] };
    }
    return {
      Reservations: instances.map((instance) => ({
        ReservationId: `r-${instance.InstanceId.slice(2).padStart(17, '0').slice(-17)}`,
        OwnerId: this.world.accountId,
        Instances: [instance],
      })),
      ...(nextToken !== undefined ? { NextToken: nextToken } : {}),
    };
  }

  private instanceMatches(i: FakeInstance, filter: { Name?: string; Values?: string[] }): boolean {
    const name = String(filter.Name);
    const values = (filter.Values ?? []).map(String);
    const tags = i.tags ?? {};
    if (name.startsWith('tag:')) {
      const key = name.slice(4);
      return key in tags && values.includes(tags[key]);
    }
    switch (name) {
      case 'tag-key': return values.some((v) => v in tags);
      case 'instance-state-name': return values.includes(i.state);
      case 'instance-state-code': return values.includes(String(INSTANCE_STATE_CODES[i.state] ?? -1));
      case 'instance-id': return values.includes(i.instanceId);
      default: return false;
    }
  }

  /** Tokens are bound to the filters they were issued for; anything else is InvalidParameterValue. */
  private encodeInstancesToken(offset: number, filters: unknown): string {
    return Buffer.from(JSON.stringify({ o: offset, f: filters })).toString('base64url');
  }

  private decodeInstancesToken(token: unknown, filters: unknown): number {
    const invalid = () => awsError('ec2', 'InvalidParameterValue', `Invalid value '${String(token)}' for nextToken`);
    if (typeof token !== 'string' || token === '') throw invalid();
    let parsed: any;
    try {
      parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    } catch {
      throw invalid();
    }
    if (!Number.isInteger(parsed?.o) || parsed.o < 0 || JSON.stringify(parsed.f) !== JSON.stringify(filters)) throw invalid();
    return parsed.o;
  }

  private instanceView(id: string): any {
    const i = this.instances.get(id)!;
    return {
      InstanceId: id,
      State: { Code: INSTANCE_STATE_CODES[i.state] ?? 0, Name: i.state },
      RootDeviceType: 'ebs',
      ImageId: 'ami-0123456789abcdef0',
      ...(i.platform !== undefined ? { Platform: i.platform } : {}),
      PlatformDetails: i.platformDetails,
      UsageOperation: i.usageOperation,
      ProductCodes: i.productCodes.map((code) => ({ ProductCodeId: code, ProductCodeType: 'marketplace' })),
      BlockDeviceMappings: i.volumes.map((_, n) => ({
        DeviceName: n === 0 ? '/dev/xvda' : `/dev/xvd${String.fromCharCode(98 + n)}`,
        Ebs: { VolumeId: this.volumeId(id, n), Status: 'attached' },
      })),
      NetworkInterfaces: [{ NetworkInterfaceId: 'eni-0123456789abcdef0' }],
      ...(i.tags !== undefined ? { Tags: Object.entries(i.tags).map(([Key, Value]) => ({ Key, Value })) } : {}),
    };
  }

  private volumeId(instanceId: string, n: number): string {
    return `vol-${instanceId.slice(2, 15)}${n.toString(16).padStart(4, '0')}`;
  }

  private describeVolumes(input: any): any {
    const volumes: any[] = [];
    for (const [id, i] of this.instances) {
      i.volumes.forEach((v, n) => {
        volumes.push({ VolumeId: this.volumeId(id, n), Size: v.sizeGiB, Encrypted: v.encrypted, State: 'in-use' });
      });
    }
    const ids: string[] | undefined = input.VolumeIds;
    if (!ids) return { Volumes: volumes };
    const missing = ids.filter((v) => !volumes.some((vol) => vol.VolumeId === v));
    if (missing.length > 0) throw awsError('ec2', 'InvalidVolume.NotFound', `The volume '${missing[0]}' does not exist.`);
    return { Volumes: volumes.filter((v) => ids.includes(v.VolumeId)) };
  }

  private create(input: any): FakeExportTask {
    const instanceId: string = input.InstanceId;
    if (!instanceId) throw awsError('ec2', 'MissingParameter', 'The request must contain the parameter InstanceId');
    const target: string = String(input.TargetEnvironment ?? '');
    const s3Task = input.ExportToS3Task ?? {};
    const disk = String(s3Task.DiskImageFormat ?? '').toLowerCase();
    const container = s3Task.ContainerFormat ? String(s3Task.ContainerFormat).toLowerCase() : undefined;
    if (!(target in TARGETS)) {
      throw awsError('ec2', 'InvalidParameterValue', `Value (${target}) for parameter targetEnvironment is invalid.`);
    }
    if (disk !== TARGETS[target]) {
      throw awsError('ec2', 'Unsupported', `diskImageFormat '${disk}' not supported for targetEnvironment '${target}'. Valid value(s): ['${TARGETS[target]}']`);
    }
    if (container !== undefined && (container !== 'ova' || disk !== 'vmdk')) {
      throw awsError('ec2', 'Unsupported', `containerFormat '${container}' not supported for diskImageFormat '${disk}'.`);
    }
    if (typeof input.Description === 'string' && input.Description.length > 255) {
      throw awsError('ec2', 'InvalidParameterValue', 'Value for parameter description is invalid. Length exceeds 255 characters.');
    }
    const instance = this.instances.get(instanceId);
    if (!instance) throw awsError('ec2', 'InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
    if (instance.state !== 'running' && instance.state !== 'stopped') {
      throw awsError('ec2', 'IncorrectInstanceState', `The instance '${instanceId}' is not in a state from which it can be exported.`);
    }
    if (instance.volumes.length > 1) {
      // The guide's "VM export errors" list this refusal as `Client.UnsupportedOperation`. The
      // `Client.` part is the guides' way of marking a client error (they write
      // `Client.UnauthorizedOperation` too); the Query API's <Code>, which the SDK v3 copies into
      // the error's `name`, is `UnsupportedOperation`. The library accepts both.
      throw awsError('ec2', 'UnsupportedOperation', 'This instance has multiple volumes attached. Please remove additional volumes.');
    }
    if (instance.productCodes.length > 0) {
      throw awsError('ec2', 'NotExportable', `${instance.productCodes[0]} is a marketplace AMI and is not exportable`);
    }
    const bucketName: string = s3Task.S3Bucket;
    const bucket = bucketName ? this.s3.buckets.get(bucketName) : undefined;
    if (!bucket) throw awsError('ec2', 'InvalidParameter', 'The given S3 bucket does not exist');
    if (bucket.region !== this.world.region) {
      throw awsError('ec2', 'InvalidParameter', 'The given S3 object is not local to the region');
    }
    const id = this.serviceCanonicalId;
    if (bucket.ownership === 'BucketOwnerEnforced' || !this.s3.grants(bucketName, id, 'READ_ACP') || !this.s3.grants(bucketName, id, 'WRITE')) {
      throw awsError('ec2', 'AuthFailure', 'vm-import-export@amazon.com must have WRITE and READ_ACL permission on the S3 bucket.');
    }
    if (this.tasksIn('active').length + this.images.activeCountingAgainstInstanceQuota() >= this.quota) {
      const q = this.quotaError ?? { code: 'ResourceLimitExceeded', message: `You have reached the maximum number of concurrent conversion tasks (${this.quota}).` };
      throw awsError('ec2', q.code, q.message);
    }
    const tags = (input.TagSpecifications ?? [])
      .filter((s: any) => s.ResourceType === 'export-instance-task')
      .flatMap((s: any) => s.Tags ?? [])
      .map((t: any) => ({ Key: String(t.Key), Value: String(t.Value ?? '') }));
    return this.addTask(this.nextTaskId(), instanceId, target, disk.toUpperCase(), container, bucketName, s3Task.S3Prefix ?? '',
      tags, input.Description, instance.exportBehaviour ?? this.defaultBehaviour);
  }

  private addTask(
    id: string, instanceId: string, target: string, disk: string, container: string | undefined,
    bucket: string, prefix: string, tags: Array<{ Key: string; Value: string }>, description: string | undefined,
    behaviour: ExportBehaviour,
  ): FakeExportTask {
    const ext = container === 'ova' ? 'ova' : disk.toLowerCase();
    const task: FakeExportTask = {
      ExportTaskId: id,
      ...(description !== undefined ? { Description: description } : {}),
      State: 'active',
      InstanceExportDetails: { InstanceId: instanceId, TargetEnvironment: target },
      ExportToS3Task: {
        ...(container ? { ContainerFormat: container } : {}),
        DiskImageFormat: disk,
        S3Bucket: bucket,
        S3Key: `${prefix}${id}.${ext}`,
      },
      Tags: tags,
      createdAt: this.world.clock.now,
      polls: 0,
      behaviour,
    };
    this.tasks.set(id, task);
    this.s3.startUpload(bucket, task.ExportToS3Task.S3Key);
    return task;
  }

  private describeExportTasks(input: any): any {
    const ids: string[] | undefined = input.ExportTaskIds && input.ExportTaskIds.length > 0 ? input.ExportTaskIds : undefined;
    if (ids) {
      const missing = ids.find((id) => !this.tasks.has(id));
      if (missing) {
        throw awsError('ec2', 'InvalidExportTaskID.NotFound', `The export task ID '${missing}' does not exist`);
      }
    }
    const selected = ids ? ids.map((id) => this.tasks.get(id)!) : [...this.tasks.values()];
    for (const task of selected) {
      task.polls++;
      this.advance(task);
    }
    return { ExportTasks: selected.map((t) => this.view(t)) };
  }

  private cancel(exportTaskId: string): void {
    const task = this.tasks.get(exportTaskId);
    if (!task) {
      throw awsError('ec2', 'InvalidExportTaskID.NotFound', `The export task ID '${exportTaskId}' does not exist`);
    }
    if (task.State === 'completed') {
      this.cancelCompleted(task);
      return;
    }
    if (task.State === 'cancelled' || task.State === 'cancelling') {
      throw awsError('ec2', 'IncorrectState', `Export task ${exportTaskId} has already been cancelled.`);
    }
    task.State = 'cancelled';
    task.StatusMessage = 'Canceled by user';
    task.finishedAt = this.world.clock.now;
    this.s3.removeArtifacts(task.ExportToS3Task.S3Bucket, task.ExportToS3Task.S3Key);
  }

  private cancelCompleted(task: FakeExportTask): void {
    switch (this.cancelCompletedAnswer) {
      case 'incorrect-state':
        throw awsError('ec2', 'IncorrectState', `Export task ${task.ExportTaskId} cannot be cancelled: it is completed.`);
      case 'invalid-parameter':
        throw awsError('ec2', 'InvalidParameterValue', `The export task ${task.ExportTaskId} has already completed and cannot be canceled.`);
      case 'succeeds':
        task.State = 'cancelled';
        task.StatusMessage = 'Canceled by user';
        this.s3.removeArtifacts(task.ExportToS3Task.S3Bucket, task.ExportToS3Task.S3Key);
        return;
    }
  }

  /** Applies the clock to every active task (time-based behaviours). */
  private advanceByClock(): void {
    for (const task of this.tasks.values()) this.advance(task);
  }

  private advance(task: FakeExportTask): void {
    this.forgetIfDue(task);
    if (task.State !== 'active') return;
    const b = task.behaviour;
    const outcome = b.outcome ?? 'complete';
    if (outcome === 'never') return;
    const byPolls = b.afterPolls !== undefined && task.polls >= b.afterPolls;
    const bySeconds = b.afterSeconds !== undefined && this.world.clock.now - task.createdAt >= b.afterSeconds;
    if (!byPolls && !bySeconds) return;
    if (outcome === 'cancel') {
      task.State = 'cancelled';
      task.StatusMessage = b.statusMessage ?? 'Task expired and automatically canceled';
      this.s3.removeArtifacts(task.ExportToS3Task.S3Bucket, task.ExportToS3Task.S3Key);
    } else {
      task.State = 'completed';
      this.s3.completeUpload(task.ExportToS3Task.S3Bucket, task.ExportToS3Task.S3Key, b.imageBytes ?? 1048576);
    }
    task.finishedAt = this.world.clock.now;
  }

  private forgetIfDue(task: FakeExportTask): void {
    const after = this.forgetFinishedAfterSeconds;
    if (after === undefined || task.finishedAt === undefined) return;
    if (this.world.clock.now - task.finishedAt >= after) this.tasks.delete(task.ExportTaskId);
  }
}
