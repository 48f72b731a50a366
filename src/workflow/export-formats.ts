/**
 * The virtualization environment an instance is exported for.
 */
export enum TargetEnvironment {
  /** VMware: VMDK disk image, by default in an OVA container. */
  VMWARE = 'vmware',
  /** Citrix Xen: VHD disk image. */
  CITRIX = 'citrix',
  /** Microsoft Hyper-V: VHD disk image. */
  MICROSOFT = 'microsoft',
}

/**
 * The format of the exported disk image.
 */
export enum DiskImageFormat {
  /** VMware virtual disk (stream-optimized); the only format for `TargetEnvironment.VMWARE`; the default of `ImageExport`. */
  VMDK = 'VMDK',
  /** Virtual hard disk; the only format for Citrix and Microsoft. */
  VHD = 'VHD',
  /**
   * Raw disk image, for `ImageExport` (AMI export). Instance export rejects it for every target
   * environment: an `InstanceExport` with it is a synth-time error.
   */
  RAW = 'RAW',
}

/**
 * The container the disk image is wrapped in.
 */
export enum ContainerFormat {
  /** An OVA archive (VMware only): the object key ends in `.ova`. */
  OVA = 'ova',
  /** No container: the bare disk image (`.vmdk` or `.vhd`). */
  NONE = 'none',
}
