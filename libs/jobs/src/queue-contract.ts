import type { JobsOptions } from 'bullmq';

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

/** The queue entry's id is the job id, so enqueuing the same job twice adds it once. */
export function thumbnailJobOptions(jobId: string, settings: QueueJobSettings): JobsOptions {
  return {
    jobId,
    attempts: settings.attempts,
    backoff: { type: 'exponential', delay: settings.backoffMs },
    removeOnComplete: { count: settings.keepCompleted },
    removeOnFail: { count: settings.keepFailed },
  };
}
