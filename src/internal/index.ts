// Helpers of the constructs, not part of the public API (src/index.ts does not export them):
// constants shared with the handlers, cdk-nag acknowledgements, the custom resource function
// and the handler bundles.
export * from './acknowledgements';
export * from './custom-resource-handler';
export * from './export-constants';
export * from './handler-assets';
export * from './handler-provider';
export * from './handler-runtime';
export * from './state-machine-logs';
