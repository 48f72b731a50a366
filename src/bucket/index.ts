// The export bucket: VmExportBucket and the VM Import/Export canonical account IDs it grants.
export * from './canonical-ids';
export * from './vm-export-bucket';
