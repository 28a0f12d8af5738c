import type { JobsOptions, Queue } from 'bullmq';
import type { Env } from '@thumbnail/config';

/**
 * The queue both apps share. Renaming the queue or the job strands every job already queued
 * under the old name: drain the queue before changing either.
 */
export const THUMBNAIL_QUEUE = 'thumbnails';
export const MAKE_THUMBNAIL_JOB = 'make-thumbnail';

/** Ids only: never image bytes, URLs or credentials (payloads sit in Redis in clear). */
export interface ThumbnailJobPayload {
  jobId: string;
  requestId: string | null;
}

export interface QueueJobSettings {
  attempts: number;
  backoffMs: number;
  keepCompleted: number;
  keepFailed: number;
}

/** The queue settings configuration gives every job (JOB_ATTEMPTS, JOB_BACKOFF_MS, KEEP_*). */
export function queueJobSettings(config: Env): QueueJobSettings {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoffMs: config.JOB_BACKOFF_MS,
    keepCompleted: config.KEEP_COMPLETED_QUEUE_ENTRIES,
    keepFailed: config.KEEP_FAILED_QUEUE_ENTRIES,
  };
}

/**
 * Queues a job record for the workers: the one way a job enters the queue (a submission, or the
 * reconciler bringing back a record that lost its entry). Adding a job that is already queued
 * adds nothing.
 */
export async function enqueueThumbnailJob(
  queue: Queue<ThumbnailJobPayload>,
  payload: ThumbnailJobPayload,
  settings: QueueJobSettings,
): Promise<void> {
  await queue.add(MAKE_THUMBNAIL_JOB, payload, thumbnailJobOptions(payload.jobId, settings));
}

/** The queue entry's id is the job id, so enqueuing the same job twice adds it once. */
function thumbnailJobOptions(jobId: string, settings: QueueJobSettings): JobsOptions {
  return {
    jobId,
    attempts: settings.attempts,
    backoff: { type: 'exponential', delay: settings.backoffMs },
    removeOnComplete: { count: settings.keepCompleted },
    removeOnFail: { count: settings.keepFailed },
  };
}
