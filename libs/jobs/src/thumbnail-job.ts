import type { JobStatus } from './job-status';

/** How the thumbnail fills its box; see libs/thumbnail-making for what each does to pixels. */
export const THUMBNAIL_FITS = ['cover', 'contain', 'fill'] as const;
export type ThumbnailFit = (typeof THUMBNAIL_FITS)[number];

/** A failure reason a client can branch on (`code`) and read (`message`). */
export interface JobError {
  code: string;
  message: string;
}

/** One thumbnail job as every job store keeps it. */
export interface ThumbnailJob {
  id: string;
  status: JobStatus;
  /** The name the client sent, cleaned for display only: it never becomes a key or a path. */
  originalFilename: string;
  /** Storage key of the uploaded bytes, derived from the id. */
  originalKey: string;
  /** Storage key of the thumbnail once complete. */
  thumbnailKey: string | null;
  /** The type recognised from the bytes (e.g. `image/png`), not the one the client declared. */
  contentType: string;
  bytes: number;
  fit: ThumbnailFit;
  width: number;
  height: number;
  /** Who submitted it (an API key id) when API keys are on; null otherwise. */
  owner: string | null;
  /** The API request that created it, for matching worker logs to uploads. */
  requestId: string | null;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  attempts: number;
  error: JobError | null;
  /** Where to send this job's webhook (the form field `callback_url`); never shown to clients. */
  callbackUrl: string | null;
  /**
   * For a job that failed for a transient reason: when the workers delete its original, which
   * is kept until then so the job can be retried (RETRY_WINDOW_HOURS). Null otherwise.
   */
  originalExpiresAt: Date | null;
}

export type NewThumbnailJob = Omit<
  ThumbnailJob,
  'status' | 'thumbnailKey' | 'startedAt' | 'completedAt' | 'attempts' | 'error' | 'originalExpiresAt'
>;

/** The record of a job just submitted. */
export function waitingJob(job: NewThumbnailJob): ThumbnailJob {
  return {
    ...job,
    status: 'waiting',
    thumbnailKey: null,
    startedAt: null,
    completedAt: null,
    attempts: 0,
    error: null,
    originalExpiresAt: null,
  };
}
