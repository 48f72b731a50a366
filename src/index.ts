export * from './canonical-ids';
export * from './vm-export-bucket';
