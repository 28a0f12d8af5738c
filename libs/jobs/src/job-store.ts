import type { JobStatus } from './job-status';
import type { JobError, JobPlaceholder, NewThumbnailJob, ThumbnailJob, ThumbnailVariant } from './thumbnail-job';

export interface JobListQuery {
  /** 1..500 */
  limit: number;
  /** Opaque value from a previous page's `nextCursor`. */
  cursor?: string;
  status?: JobStatus;
  /** Only this owner's jobs; `undefined` means everyone's. */
  owner?: string | null;
}

export interface JobPage {
  /** Newest first; ties on `createdAt` broken by id, descending. */
  items: ThumbnailJob[];
  nextCursor: string | null;
}

/**
 * A status change that applies only while the job is in one of `from`. Stores apply it as one
 * atomic step, so a duplicated or replayed queue delivery can never move a finished job back.
 */
export interface JobTransition {
  from: readonly JobStatus[];
  /** Applies only while the job's kept original is still kept after this time (a retry). */
  originalKeptAfter?: Date;
  to: JobStatus;
  startedAt?: Date;
  /** `null` clears it (a retried job is not finished). */
  completedAt?: Date | null;
  thumbnailKey?: string;
  /** Replaces the job's variants (the worker records what it made). */
  variants?: ThumbnailVariant[];
  placeholder?: JobPlaceholder | null;
  /** `null` clears a previous attempt's error. */
  error?: JobError | null;
  incrementAttempts?: boolean;
  /** `null`: the original is no longer kept for a retry. */
  originalExpiresAt?: Date | null;
  /**
   * Applies only while the record's `attempts` is this number. Each delivery's start counts an
   * attempt, so a delivery passes the number it started and can finish only that attempt: one
   * cut off from the store past its lock, whose job another delivery has since taken over, comes
   * back to writes that change nothing.
   */
  attempt?: number;
}

export type TransitionResult =
  | { applied: true; job: ThumbnailJob }
  /** `job` is the record as it stands (null if there is none), so callers can see why. */
  | { applied: false; job: ThumbnailJob | null };

export class InvalidCursorError extends Error {
  constructor() {
    super('The cursor is not one this service handed out.');
    this.name = 'InvalidCursorError';
  }
}

export class DuplicateJobError extends Error {
  constructor(id: string) {
    super(`A job with id ${id} already exists`);
    this.name = 'DuplicateJobError';
  }
}

export class JobStoreUnavailableError extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`Job store unavailable: ${reason}`, options);
    this.name = 'JobStoreUnavailableError';
  }
}

/** Where job records live: Redis on embedded defaults, MongoDB in a cluster. */
export abstract class JobStore {
  /** Fails if a job with this id exists. */
  abstract create(job: NewThumbnailJob): Promise<ThumbnailJob>;
  abstract get(id: string): Promise<ThumbnailJob | null>;
  abstract list(query: JobListQuery): Promise<JobPage>;
  abstract transition(id: string, change: JobTransition): Promise<TransitionResult>;
  /**
   * Up to `limit` finished jobs (complete or failed) whose `completedAt` is before
   * `finishedBefore`: what JOB_RETENTION_DAYS removes. In no particular order.
   */
  abstract expiredJobs(finishedBefore: Date, limit: number): Promise<ThumbnailJob[]>;
  /**
   * Up to `limit` jobs whose kept original expired before `before` (their `originalExpiresAt`):
   * what RETRY_WINDOW_HOURS deletes. In no particular order.
   */
  abstract expiredOriginals(before: Date, limit: number): Promise<ThumbnailJob[]>;
  /** Removes the record (a submission that could not be queued, a deleted or expired job). */
  abstract delete(id: string): Promise<void>;
  /** Resolves when the store answers; rejects with the reason otherwise. */
  abstract ping(): Promise<void>;
  abstract close(): Promise<void>;
}
