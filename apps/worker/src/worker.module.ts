import { BullModule } from '@nestjs/bullmq';
import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { APP_CONFIG, ConfigModule, type Env } from '@thumbnail/config';
import { ImageProcessor } from '@thumbnail/imaging';
import { createImageProcessor } from '@thumbnail/image-processors';
import { createRedisConnection, THUMBNAIL_QUEUE } from '@thumbnail/jobs';
import { MetricsModule } from '@thumbnail/metrics';
import { HealthController, InfrastructureModule, logDestination, pinoOptions } from '@thumbnail/runtime';
import { JobRetentionService } from './job-retention.service';
import { QueueReconcilerService } from './queue-reconciler.service';
import { ThumbnailMakerService } from './thumbnail-maker.service';
import { ThumbnailProcessor } from './thumbnail.processor';

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
        BullModule.registerQueue({ name: THUMBNAIL_QUEUE }),
      ],
      controllers: [HealthController],
      providers: [
        {
          provide: ImageProcessor,
          inject: [APP_CONFIG],
          useFactory: (c: Env) =>
            createImageProcessor({
              limitInputPixels: c.LIMIT_INPUT_PIXELS,
              timeoutSeconds: Math.max(1, Math.ceil(c.JOB_TIMEOUT_MS / 1000)),
              smallPngFastPath: c.SMALL_PNG_FAST_PATH,
            }),
        },
        ThumbnailMakerService,
        ThumbnailProcessor,
        QueueReconcilerService,
        JobRetentionService,
      ],
    };
  }
}
