export * from './storage';
export * from './storage-key';
export * from './fs-storage';
// The S3 adapter itself is not exported: createStorage loads it (and the AWS SDK) on demand.
export type { S3StorageOptions } from './s3-storage';
export * from './create-storage';
