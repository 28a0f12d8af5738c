import type { Redis } from 'ioredis';
import type { JobStore } from './job-store';
import { RedisJobStore } from './redis-job-store';

/** The job-store part of the configuration (the schema requires MONGO_URL with mongo). */
export type JobStoreSettings = { JOB_STORE: 'redis' } | { JOB_STORE: 'mongo'; MONGO_URL: string };

export interface JobStoreStartOptions {
  /** How long to keep trying to reach MongoDB at start before giving up (the pod restarts). */
  connectDeadlineMs?: number;
  onRetry?: (reason: string, attempt: number) => void;
}

/** Picks the job-store adapter from configuration; the only place that knows both. */
export async function createJobStore(
  settings: JobStoreSettings,
  redis: Redis,
  options: JobStoreStartOptions = {},
): Promise<JobStore> {
  if (settings.JOB_STORE === 'redis') return new RedisJobStore(redis);
  // Loaded lazily so the embedded default never loads the MongoDB driver.
  const { MongoJobStore } = await import('./mongo-job-store');
  const deadline = Date.now() + (options.connectDeadlineMs ?? 120_000);
  // In a cluster MongoDB may become ready after the apps: retry instead of crash-looping.
  for (let attempt = 1; ; attempt++) {
    try {
      return await MongoJobStore.connect(settings.MONGO_URL, {});
    } catch (error) {
      if (Date.now() > deadline) throw error;
      options.onRetry?.((error as Error).message, attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.min(500 * attempt, 5_000)));
    }
  }
}
