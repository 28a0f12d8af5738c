import type { JobError } from './thumbnail-job';

/**
 * Every code a failed job records, and what it says about trying again. The one home of that
 * rule: the worker's retries, the originals it keeps, and POST /thumbnail/:id/retry all read it.
 * - `transient`: the failure says nothing against the image (storage or the job store was
 *   unreachable, the machine too busy, a bug), so the same upload may succeed later: its original
 *   is kept for RETRY_WINDOW_HOURS and a client may retry the job.
 * - `retriedByWorker`: the worker tries again by itself, up to JOB_ATTEMPTS with backoff. Not a
 *   timeout: an image that ran out of time once most likely will again, and every try holds an
 *   image slot for JOB_TIMEOUT_MS.
 */
export const JOB_FAILURES = {
  invalid_image: { transient: false, retriedByWorker: false },
  image_too_large: { transient: false, retriedByWorker: false },
  original_missing: { transient: false, retriedByWorker: false },
  processing_timeout: { transient: true, retriedByWorker: false },
  storage_unavailable: { transient: true, retriedByWorker: true },
  internal_error: { transient: true, retriedByWorker: true },
  // Every worker that took it died making it: most likely the image kills the process, and would again.
  worker_crashed: { transient: false, retriedByWorker: false },
} as const satisfies Record<string, { transient: boolean; retriedByWorker: boolean }>;

export type JobFailureCode = keyof typeof JOB_FAILURES;

export const JOB_FAILURE_CODES = Object.keys(JOB_FAILURES) as JobFailureCode[];

/** True when the job may be retried: its failure was not the image's fault. */
export function isTransientFailure(error: JobError | null): boolean {
  return error !== null && Object.hasOwn(JOB_FAILURES, error.code) && JOB_FAILURES[error.code as JobFailureCode].transient;
}

/** True when the worker retries this failure itself before failing the job. */
export function isRetriedByWorker(code: string): boolean {
  return Object.hasOwn(JOB_FAILURES, code) && JOB_FAILURES[code as JobFailureCode].retriedByWorker;
}
