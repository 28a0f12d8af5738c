import { BullModule } from '@nestjs/bullmq';
import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { APP_CONFIG, ConfigModule, type Env } from '@thumbnail/config';
import { createImageProcessor, ImageProcessor } from '@thumbnail/thumbnail-making';
import { createRedisConnection, THUMBNAIL_QUEUE, WEBHOOK_QUEUE } from '@thumbnail/jobs';
import type { Counter } from 'prom-client';
import { METRICS, MetricsModule, metricToken } from '@thumbnail/metrics';
import { APP_VERSION, HealthController, InfrastructureModule, logDestination, pinoOptions } from '@thumbnail/runtime';
import { CallbackPolicy } from '@thumbnail/webhooks';
import { JobRetentionService } from './job-retention.service';
import { KeptOriginalsService } from './kept-originals.service';
import { QueueReconcilerService } from './queue-reconciler.service';
import { ThumbnailMakerService } from './thumbnail-maker.service';
import { ThumbnailProcessor } from './thumbnail.processor';
import { WebhookDeliveryProcessor } from './webhooks/webhook-delivery.processor';
import { WebhookNotifier } from './webhooks/webhook-notifier.service';
import { WebhookSender } from './webhooks/webhook-sender';

@Module({})
export class WorkerModule {
  static forRoot(config: Env): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot({
          pinoHttp: [{ ...pinoOptions('worker', config.LOG_LEVEL), autoLogging: false }, logDestination()],
        }),
        MetricsModule.forWorker(),
        InfrastructureModule.forRoot('worker'),
        BullModule.forRoot({
          // Workers block on Redis and must survive reconnects: maxRetriesPerRequest null.
          connection: createRedisConnection(config.REDIS_URL, 'blocking', 'worker-queue'),
        }),
        BullModule.registerQueue({ name: THUMBNAIL_QUEUE }, { name: WEBHOOK_QUEUE }),
      ],
      controllers: [HealthController],
      providers: [
        {
          provide: ImageProcessor,
          inject: [APP_CONFIG, metricToken(METRICS.fastPathFallbacks)],
          useFactory: (c: Env, fallbacks: Counter) => {
            const logger = new Logger('ImageProcessor');
            return createImageProcessor({
              limitInputPixels: c.LIMIT_INPUT_PIXELS,
              timeoutSeconds: Math.max(1, Math.ceil(c.JOB_TIMEOUT_MS / 1000)),
              // One libvips thread per image: each thread holds rows of its own, so the slot's
              // memory estimate holds on any number of cores; images run side by side in slots.
              concurrency: 1,
              smallPngFastPath: c.SMALL_PNG_FAST_PATH,
              onFastPathFallback: (reason) => {
                fallbacks.inc();
                logger.warn({ reason: reason instanceof Error ? reason.message : String(reason) }, 'Small-PNG fast path failed on an image; sharp makes it instead');
              },
            });
          },
        },
        ThumbnailMakerService,
        ThumbnailProcessor,
        QueueReconcilerService,
        JobRetentionService,
        KeptOriginalsService,
        WebhookNotifier,
        WebhookDeliveryProcessor,
        {
          provide: WebhookSender,
          inject: [APP_CONFIG],
          useFactory: (c: Env) =>
            new WebhookSender({
              secret: c.WEBHOOK_SECRET,
              policy: new CallbackPolicy(c.WEBHOOK_ALLOWED_HOSTS, c.WEBHOOK_URL),
              timeoutMs: c.WEBHOOK_TIMEOUT_MS,
              maxSockets: c.WEBHOOK_CONCURRENCY,
              userAgent: `thumbnail-generator/${APP_VERSION}`,
            }),
        },
      ],
    };
  }
}
