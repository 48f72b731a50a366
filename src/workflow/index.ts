// The export workflow (Step Functions), its input and output, formats and events.
export * from './export-formats';
export * from './export-events';
export * from './instance-export-workflow';
export * from './workflow-input';
export * from './workflow-image-input';
