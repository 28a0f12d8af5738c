import type { Storage } from '@thumbnail/storage';
import type { JobStore } from './job-store';
import { variantKey } from './storage-keys';
import type { ThumbnailJob } from './thumbnail-job';

/**
 * Removes a finished job for good: every variant's image, its original if still kept, then its
 * record. Files before the record: if storage fails, the record stays and the next try finishes
 * the work; the other way round, a failure would leave files nothing points to. Keys follow from
 * the variants the job was asked for, not from what it recorded as made, because a delivery may
 * have written some and then failed the job. Only for finished jobs: a worker may still write a
 * waiting job's images.
 */
export async function removeFinishedJob(job: ThumbnailJob, jobStore: JobStore, storage: Storage): Promise<void> {
  for (const variant of job.variants) await storage.delete(variantKey(job.id, variant));
  await storage.delete(job.originalKey);
  await jobStore.delete(job.id);
}
