// The export of one AMI from a stack (ImageExport) and the VM Import/Export service role it
// writes through (VmImportServiceRole).
export * from './image-export';
export * from './vm-import-service-role';
