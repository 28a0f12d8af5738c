/** The four states a client sees. Stored as these exact strings in every job store. */
export const JOB_STATUSES = ['waiting', 'processing', 'complete', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export function isJobStatus(value: unknown): value is JobStatus {
  return typeof value === 'string' && (JOB_STATUSES as readonly string[]).includes(value);
}

export function isFinished(status: JobStatus): boolean {
  return status === 'complete' || status === 'failed';
}
