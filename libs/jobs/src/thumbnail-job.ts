import { DEFAULT_PRESET, type ThumbnailPreset } from '@thumbnail/config';
import type { JobStatus } from './job-status';

/** How the thumbnail fills its box; see libs/thumbnail-making for what each does to pixels. */
export const THUMBNAIL_FITS = ['cover', 'contain', 'fill'] as const;
export type ThumbnailFit = (typeof THUMBNAIL_FITS)[number];

/** A failure reason a client can branch on (`code`) and read (`message`). */
export interface JobError {
  code: string;
  message: string;
}

/** What the worker made of one variant. */
export interface VariantOutput {
  /** Equal to the preset's box except with fit `inside`, which keeps the image's aspect ratio. */
  width: number;
  height: number;
  /** Null only for the `default` variant of a job made before variants existed. */
  bytes: number | null;
}

/**
 * One image a job makes: the preset as it was when the job was submitted (later configuration
 * changes never alter a job), and once made, its output. Its storage key follows from the job id,
 * `name` and `format` (storage-keys.ts).
 */
export interface ThumbnailVariant extends ThumbnailPreset {
  name: string;
  output: VariantOutput | null;
}

/** A tiny stand-in for the image, for a page to show while the thumbnail loads. */
export interface JobPlaceholder {
  /** ThumbHash (https://evanw.github.io/thumbhash/) of the image, base64. */
  thumbhash: string;
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
  /** The `default` preset's fit, width and height, as the original service recorded them. */
  fit: ThumbnailFit;
  width: number;
  height: number;
  /** The images this job makes, in the order the request named them (never empty). */
  variants: ThumbnailVariant[];
  /** Set when the job completes. */
  placeholder: JobPlaceholder | null;
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
  'status' | 'thumbnailKey' | 'startedAt' | 'completedAt' | 'attempts' | 'error' | 'placeholder' | 'originalExpiresAt'
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
    placeholder: null,
    originalExpiresAt: null,
  };
}

/**
 * The variants of a record written before jobs had any: its one `default` PNG, made if the job
 * completed (its size in bytes was not recorded).
 */
export function legacyVariants(job: Pick<ThumbnailJob, 'fit' | 'width' | 'height' | 'thumbnailKey'>): ThumbnailVariant[] {
  const output = job.thumbnailKey ? { width: job.width, height: job.height, bytes: null } : null;
  return [{ name: DEFAULT_PRESET, width: job.width, height: job.height, fit: job.fit, format: 'png', quality: null, output }];
}
