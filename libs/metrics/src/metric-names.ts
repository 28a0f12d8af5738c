/**
 * Every meter the apps expose. The alert rules and the Grafana dashboard in
 * charts/thumbnail-generator/files/ query these names: rename one there too.
 */
export const METRICS = {
  httpRequestDuration: 'http_request_duration_seconds',
  httpRequests: 'http_requests_total',
  jobsSubmitted: 'thumbnail_jobs_submitted_total',
  uploadBytes: 'thumbnail_upload_bytes',
  heldRequests: 'thumbnail_held_requests',
  queueJobs: 'thumbnail_queue_jobs',
  jobsFinished: 'thumbnail_jobs_finished_total',
  originalDeleteFailures: 'thumbnail_original_delete_failures_total',
  jobsExpired: 'thumbnail_jobs_expired_total',
  jobWait: 'thumbnail_job_wait_seconds',
  jobProcessing: 'thumbnail_job_processing_seconds',
  jobsInProgress: 'thumbnail_jobs_in_progress',
  workerConcurrency: 'thumbnail_worker_concurrency',
  fastPathFallbacks: 'thumbnail_fast_path_fallbacks_total',
  jobsStalled: 'thumbnail_jobs_stalled_total',
  webhookAttempts: 'thumbnail_webhook_attempts_total',
  webhookDeliveries: 'thumbnail_webhook_deliveries_total',
  keptOriginalsDeleted: 'thumbnail_kept_originals_deleted_total',
  jobsRetried: 'thumbnail_jobs_retried_total',
  idempotentReplays: 'thumbnail_idempotent_replays_total',
} as const;

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];
