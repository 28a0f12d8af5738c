import type { Storage } from '@thumbnail/storage';
import type { JobStore } from './job-store';
import { thumbnailKey } from './storage-keys';
import type { ThumbnailJob } from './thumbnail-job';

/**
 * Removes a finished job for good: its thumbnail, its original if still kept, then its record.
 * Files before the record: if storage fails, the record stays and the next try finishes the
 * work; the other way round, a failure would leave files nothing points to. The fixed thumbnail
 * key, not the record's, because a delivery may have written one and then failed the job.
 * Only for finished jobs: a worker may still write a waiting job's thumbnail.
 */
export async function removeFinishedJob(job: ThumbnailJob, jobStore: JobStore, storage: Storage): Promise<void> {
  await storage.delete(thumbnailKey(job.id));
  await storage.delete(job.originalKey);
  await jobStore.delete(job.id);
}
