// The export of one EC2 instance from a stack: InstanceExport.
export * from './instance-export';
