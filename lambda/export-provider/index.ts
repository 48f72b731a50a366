// Placeholder: the handler lands with the InstanceExport work.
export const handler = async (): Promise<Record<string, never>> => ({});
