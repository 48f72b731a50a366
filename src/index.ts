export * from './canonical-ids';
export * from './vm-export-bucket';
export * from './export-formats';
export * from './export-events';
export * from './instance-export';
export * from './instance-export-workflow';
export * from './workflow-input';
