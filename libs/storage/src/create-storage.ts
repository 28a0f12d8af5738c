import type { Env } from '@thumbnail/config';
import { FsStorage } from './fs-storage';
import type { Storage } from './storage';

/**
 * Picks the adapter from STORAGE_DRIVER, once, at module registration; await `init()` next.
 * The S3 adapter is loaded only when chosen: the AWS SDK is a large share of a process's memory.
 */
export async function createStorage(
  config: Env,
  events: { onBackgroundSyncError?: (key: string, error: unknown) => void } = {},
): Promise<Storage> {
  if (config.STORAGE_DRIVER === 'fs') {
    // No upload outlives REQUEST_TIMEOUT_MS; the minute on top covers its last write and fsync.
    return new FsStorage({ root: config.STORAGE_DIR, tmpMaxAgeMs: config.REQUEST_TIMEOUT_MS + 60_000, ...events });
  }
  const { S3Storage } = await import('./s3-storage');
  return new S3Storage({
    endpoint: config.S3_ENDPOINT,
    publicEndpoint: config.S3_PUBLIC_ENDPOINT,
    region: config.S3_REGION,
    bucket: config.S3_BUCKET,
    accessKeyId: config.S3_ACCESS_KEY_ID,
    secretAccessKey: config.S3_SECRET_ACCESS_KEY,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    sse: config.S3_SSE,
    createBucket: config.S3_CREATE_BUCKET,
    presignTtlSeconds: config.PRESIGN_TTL_SECONDS,
  });
}
