import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger, PinoLogger } from 'nestjs-pino';
import type { Gauge } from 'prom-client';
import { loadConfigOrExit } from '@thumbnail/config';
import { METRICS, metricToken } from '@thumbnail/metrics';
import { APP_VERSION, onTerminate } from '@thumbnail/runtime';
import { jobsInFlight, ThumbnailProcessor } from './thumbnail.processor';
import { WebhookDeliveryProcessor } from './webhooks/webhook-delivery.processor';
import { WorkerModule } from './worker.module';

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  // The worker's HTTP side only serves /health and /metrics to the cluster.
  const app = await NestFactory.create<NestFastifyApplication>(WorkerModule.forRoot(config), new FastifyAdapter(), {
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  app.get<Gauge<string>>(metricToken(METRICS.workerConcurrency)).set(config.WORKER_CONCURRENCY);
  await app.listen(config.WORKER_PORT, config.HOST);

  const pino = await app.resolve(PinoLogger);
  pino.setContext('main');
  pino.info(
    {
      port: config.WORKER_PORT,
      concurrency: config.WORKER_CONCURRENCY,
      jobsInFlight: jobsInFlight(config.WORKER_CONCURRENCY),
      webhooks: config.WEBHOOK_SECRET
        ? { operatorReceiver: config.WEBHOOK_URL !== undefined, allowedHosts: config.WEBHOOK_ALLOWED_HOSTS.length, retriesEndWithinSeconds: webhookRetrySeconds(config) }
        : 'off',
      version: APP_VERSION,
    },
    'Worker consuming thumbnail jobs',
  );

  onTerminate(
    async () => {
      // Stop taking jobs and let the in-flight ones finish (or return them to the queue if the
      // drain times out: their lock then expires and another worker takes them). Webhook
      // attempts in flight end within WEBHOOK_TIMEOUT_MS.
      await Promise.all([app.get(ThumbnailProcessor).worker.close(), app.get(WebhookDeliveryProcessor).worker.close()]);
      await app.close();
    },
    { timeoutMs: config.SHUTDOWN_TIMEOUT_MS, logger: pino.logger },
  );
}

/** The longest a webhook can take from its first attempt to its last (docs/configuration.md). */
function webhookRetrySeconds(config: ReturnType<typeof loadConfigOrExit>): number {
  const backoff = config.WEBHOOK_BACKOFF_MS * (2 ** (config.WEBHOOK_ATTEMPTS - 1) - 1);
  return Math.round((backoff + config.WEBHOOK_ATTEMPTS * config.WEBHOOK_TIMEOUT_MS) / 1000);
}

void bootstrap();
