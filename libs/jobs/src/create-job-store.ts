import type { Redis } from 'ioredis';
import type { JobStore } from './job-store';
import { RedisJobStore } from './redis-job-store';

export interface JobStoreSettings {
  JOB_STORE: 'redis' | 'mongo';
  MONGO_URL?: string;
  JOB_RETENTION_DAYS: number;
}

/** Picks the job-store adapter from configuration; the only place that knows both. */
export async function createJobStore(settings: JobStoreSettings, redis: Redis): Promise<JobStore> {
  if (settings.JOB_STORE === 'mongo') {
    // Loaded lazily so the embedded default never loads the MongoDB driver.
    const { MongoJobStore } = await import('./mongo-job-store');
    return MongoJobStore.connect(settings.MONGO_URL as string, { retentionDays: settings.JOB_RETENTION_DAYS });
  }
  return new RedisJobStore(redis);
}
