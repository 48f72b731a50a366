export * from './bucket';
export * from './workflow';
export * from './instance-export';
