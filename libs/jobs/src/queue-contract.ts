import type { Job, JobsOptions, Queue } from 'bullmq';
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

/**
 * Brings a job whose record was just set back to waiting (POST /thumbnail/:id/retry) into the
 * queue. Its old entry, kept among the failed ones (KEEP_FAILED_QUEUE_ENTRIES), would make a plain
 * add a no-op: that one is retried with its attempts reset. An entry that is waiting or active
 * already stays as it is; no entry at all gets a new one.
 */
export async function requeueThumbnailJob(
  queue: Queue<ThumbnailJobPayload>,
  payload: ThumbnailJobPayload,
  settings: QueueJobSettings,
): Promise<void> {
  const entry: Job<ThumbnailJobPayload> | undefined = await queue.getJob(payload.jobId);
  if (entry && (await entry.isFailed())) {
    try {
      await entry.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return;
    } catch (error) {
      // Trimmed between the two calls: a new entry below. Still failed: a real error.
      if (await entry.isFailed()) throw error;
    }
  } else if (entry && !(await entry.isCompleted())) {
    return;
  }
  // A completed entry (a delivery that found the job already finished) is replaced.
  if (entry) await entry.remove().catch(() => undefined);
  await queue.add(MAKE_THUMBNAIL_JOB, payload, thumbnailJobOptions(payload.jobId, settings));
}

/**
 * Webhook deliveries: one entry per message and receiver, retried with backoff up to
 * WEBHOOK_ATTEMPTS, so a slow or dead receiver never holds up thumbnails. Renaming the queue or
 * the job strands the deliveries already queued.
 */
export const WEBHOOK_QUEUE = 'webhook-deliveries';
export const DELIVER_WEBHOOK_JOB = 'deliver-webhook';

export const WEBHOOK_EVENT_TYPES = ['thumbnail.completed', 'thumbnail.failed'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * One webhook to one receiver. Unlike thumbnail payloads it carries the message itself, signed
 * afresh at every attempt: the body a receiver verifies must be the same on every attempt, even
 * if the job changes or is deleted meanwhile. It holds no image and never the secret; the URL
 * is the job's callback_url (also in its record) or WEBHOOK_URL.
 */
export interface WebhookDeliveryPayload {
  /** The Standard Webhooks `webhook-id`: the same for every attempt and every receiver. */
  webhookId: string;
  type: WebhookEventType;
  jobId: string;
  requestId: string | null;
  /** `job`: the job's callback_url; `operator`: WEBHOOK_URL. */
  receiver: 'job' | 'operator';
  url: string;
  /** The JSON text to sign and send. */
  body: string;
}

export interface WebhookDeliverySettings {
  attempts: number;
  backoffMs: number;
  keepFailed: number;
  /** How long a delivered entry stays, so that queuing the same webhook again adds nothing. */
  keepDeliveredSeconds: number;
}

/**
 * WEBHOOK_ATTEMPTS, WEBHOOK_BACKOFF_MS, how many failed deliveries stay for inspection, and how
 * long delivered ones stay. The same webhook is queued again only when a worker died after its
 * job finished and the job was redelivered: its lock lapses, the next stalled check finds it,
 * and it is taken as soon as a slot frees (within a job's time limit); twice that covers it.
 * Kept longer, delivered bodies would only fill Redis (an entry per job and receiver, at full
 * throughput) and keep job details there for no use.
 */
export function webhookDeliverySettings(config: Env): WebhookDeliverySettings {
  const redeliveryMs = config.WORKER_LOCK_DURATION_MS + config.WORKER_STALLED_INTERVAL_MS + config.JOB_TIMEOUT_MS;
  return {
    attempts: config.WEBHOOK_ATTEMPTS,
    backoffMs: config.WEBHOOK_BACKOFF_MS,
    keepFailed: config.KEEP_FAILED_QUEUE_ENTRIES,
    keepDeliveredSeconds: Math.ceil((2 * redeliveryMs) / 1000),
  };
}

/**
 * Queues a webhook for a receiver. The entry id is the message's and the receiver's, so queuing
 * it again (a worker that died after the job finished, and the redelivery that found it
 * finished) adds nothing while the first entry is kept (`keepDeliveredSeconds` once delivered).
 */
export async function enqueueWebhookDelivery(
  queue: Queue<WebhookDeliveryPayload>,
  payload: WebhookDeliveryPayload,
  settings: WebhookDeliverySettings,
): Promise<void> {
  await queue.add(DELIVER_WEBHOOK_JOB, payload, {
    jobId: `${payload.webhookId}.${payload.receiver}`,
    attempts: settings.attempts,
    // Up to a fifth less at random, so that deliveries held back by one outage do not all
    // come back at the same moment.
    backoff: { type: 'exponential', delay: settings.backoffMs, jitter: 0.2 },
    removeOnComplete: { age: settings.keepDeliveredSeconds },
    removeOnFail: { count: settings.keepFailed },
  });
}
