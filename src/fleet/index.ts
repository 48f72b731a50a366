// The fleet workflow: many instances, a few exports at a time, one child export execution each.
export * from './instance-export-fleet';
export * from './fleet-input';
