import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import {
  enqueueWebhookDelivery,
  isFinished,
  viewJob,
  WEBHOOK_QUEUE,
  webhookDeliverySettings,
  type ThumbnailJob,
  type WebhookDeliveryPayload,
  type WebhookEventType,
} from '@thumbnail/jobs';
import { Storage } from '@thumbnail/storage';

/** The deliveries of a finished job could not be queued; its outcome is recorded. */
export class WebhookQueueUnavailableError extends Error {
  constructor(options: { cause: unknown }) {
    super('Could not queue the webhooks of a finished job', options);
    this.name = 'WebhookQueueUnavailableError';
  }
}

/** What a receiver gets: the Standard Webhooks shape, `data` being the job as GET shows it. */
export interface WebhookMessage {
  type: WebhookEventType;
  /** When the job finished. */
  timestamp: string;
  data: Awaited<ReturnType<typeof viewJob>>;
}

/**
 * Queues the webhooks of a job that finished for good, one delivery per receiver: the job's
 * callback_url and WEBHOOK_URL. Nothing without WEBHOOK_SECRET. The message is made here, once:
 * its `webhook-id` comes from the job and the moment it finished, so queuing it again (a
 * redelivered job) gives the same id, and a retried job's next outcome a new one.
 */
@Injectable()
export class WebhookNotifier {
  constructor(
    @Inject(APP_CONFIG) private readonly config: Env,
    private readonly storage: Storage,
    @InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue<WebhookDeliveryPayload>,
  ) {}

  async jobFinished(job: ThumbnailJob): Promise<void> {
    if (!this.config.WEBHOOK_SECRET || !isFinished(job.status) || !job.completedAt) return;
    const receivers: Pick<WebhookDeliveryPayload, 'receiver' | 'url'>[] = [];
    if (job.callbackUrl) receivers.push({ receiver: 'job', url: job.callbackUrl });
    if (this.config.WEBHOOK_URL) receivers.push({ receiver: 'operator', url: this.config.WEBHOOK_URL });
    if (receivers.length === 0) return;

    const type: WebhookEventType = job.status === 'complete' ? 'thumbnail.completed' : 'thumbnail.failed';
    const message: WebhookMessage = {
      type,
      timestamp: job.completedAt.toISOString(),
      data: await viewJob(job, this.storage, this.config.PUBLIC_URL ?? ''),
    };
    const body = JSON.stringify(message);
    const webhookId = `msg_${job.id}_${job.completedAt.getTime()}`;
    const settings = webhookDeliverySettings(this.config);
    try {
      await Promise.all(
        receivers.map((receiver) =>
          enqueueWebhookDelivery(this.queue, { webhookId, type, jobId: job.id, requestId: job.requestId, body, ...receiver }, settings),
        ),
      );
    } catch (error) {
      throw new WebhookQueueUnavailableError({ cause: error });
    }
  }
}
