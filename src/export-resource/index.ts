// The custom resource, wait condition and attributes of one export, and the synth-time checks
// of its properties: shared by InstanceExport and ImageExport (not part of the public API).
export * from './export-props-checks';
export * from './export-resource';
