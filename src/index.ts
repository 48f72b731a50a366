export * from './bucket';
export * from './workflow';
export * from './instance-export';
export * from './image-export';
export * from './fleet';
