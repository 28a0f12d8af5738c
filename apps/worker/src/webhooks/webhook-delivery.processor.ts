import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { type Job, UnrecoverableError } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import type { Counter } from 'prom-client';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import { WEBHOOK_QUEUE, type WebhookDeliveryPayload } from '@thumbnail/jobs';
import { InjectMetric, METRICS } from '@thumbnail/metrics';
import { logErrorsQuietly } from '@thumbnail/runtime';
import { WebhookSender } from './webhook-sender';

/**
 * Delivers queued webhooks, one attempt per run: 2xx is done; a refused address is final at
 * once; anything else is tried again after the queue's exponential backoff until
 * WEBHOOK_ATTEMPTS, then counted as failed. Logs name the receiver's host, never the URL (its path
 * or query may hold the receiver's token) and never the secret.
 */
@Processor(WEBHOOK_QUEUE, { autorun: false })
export class WebhookDeliveryProcessor extends WorkerHost implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(APP_CONFIG) private readonly config: Env,
    private readonly sender: WebhookSender,
    private readonly logger: PinoLogger,
    @InjectMetric(METRICS.webhookAttempts) private readonly attempts: Counter<string>,
    @InjectMetric(METRICS.webhookDeliveries) private readonly deliveries: Counter<string>,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    const worker = this.worker;
    logErrorsQuietly(worker, 'Webhook worker', new Logger(WebhookDeliveryProcessor.name));
    // Without a secret nothing is queued, and nothing here needs to wait on Redis.
    if (!this.config.WEBHOOK_SECRET) return;
    worker.concurrency = this.config.WEBHOOK_CONCURRENCY;
    void worker.run();
  }

  onApplicationShutdown(): void {
    this.sender.close();
  }

  async process(job: Job<WebhookDeliveryPayload>): Promise<string> {
    const delivery = job.data;
    if (!delivery || typeof delivery.url !== 'string' || typeof delivery.body !== 'string' || typeof delivery.webhookId !== 'string') {
      throw new UnrecoverableError('Malformed webhook payload');
    }
    const attempt = job.attemptsMade + 1;
    const allowed = job.opts.attempts ?? 1;
    const outcome = await this.sender.send(delivery);
    const receiver = delivery.receiver === 'operator' ? 'operator' : 'job';
    this.attempts.inc({ receiver, result: outcome.result });
    const log = this.logger.logger.child({
      jobId: delivery.jobId,
      requestId: delivery.requestId,
      webhookId: delivery.webhookId,
      receiver,
      host: hostOf(delivery.url),
      attempt,
    });

    if (outcome.result === 'delivered') {
      this.deliveries.inc({ receiver, outcome: 'delivered' });
      log.info({ status: outcome.status }, 'Webhook delivered');
      return 'delivered';
    }
    if (outcome.result === 'refused') {
      this.deliveries.inc({ receiver, outcome: 'refused' });
      log.warn({ reason: outcome.reason }, 'Webhook refused: its URL is not one webhooks may go to');
      throw new UnrecoverableError('refused');
    }
    const detail = outcome.result === 'rejected' ? { status: outcome.status } : outcome.result === 'unreachable' ? { code: outcome.code } : {};
    if (attempt >= allowed) {
      this.deliveries.inc({ receiver, outcome: 'failed' });
      log.warn({ result: outcome.result, ...detail }, 'Webhook failed: the last attempt failed too');
      throw new UnrecoverableError(outcome.result);
    }
    log.info({ result: outcome.result, ...detail }, 'Webhook attempt failed; it will be tried again');
    throw new Error(outcome.result);
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}
