import type { Job } from 'bullmq';

/**
 * How many times a job may be found abandoned (its worker stopped holding it without finishing:
 * killed, out of memory, a native crash) and handed to another worker. One more and BullMQ fails
 * the entry; the worker then records `worker_crashed`. Tied to JOB_ATTEMPTS, so a job that keeps
 * killing workers is tried as often as one that keeps meeting an unreachable storage.
 */
export function maxStalledCount(jobAttempts: number): number {
  return jobAttempts - 1;
}

/** Whether a queue entry failed because worker after worker stopped while holding it. */
export function abandonedTooOften(entry: Pick<Job, 'stalledCounter'>, jobAttempts: number): boolean {
  return entry.stalledCounter > maxStalledCount(jobAttempts);
}
