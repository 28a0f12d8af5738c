export * from './storage';
export * from './storage-key';
export * from './fs-storage';
export * from './s3-storage';
export * from './create-storage';
