import { BullModule } from '@nestjs/bullmq';
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { ConfigModule, type Env } from '@thumbnail/config';
import { createRedisConnection } from '@thumbnail/jobs';
import { MetricsModule } from '@thumbnail/metrics';
import { API_KEY_REGISTRY } from './auth/api-key.guard';
import type { ApiKeyRegistry } from './auth/api-keys';
import { urlForLog } from './auth/credentials-in-url';
import { ApiExceptionFilter } from './errors/api-exception.filter';
import { HealthController, InfrastructureModule, logDestination, pinoOptions, requestIdFor } from '@thumbnail/runtime';
import { RootController } from './health/root.controller';
import { ThumbnailsModule } from './thumbnails/thumbnails.module';

@Module({})
export class AppModule {
  static forRoot(config: Env, apiKeys: ApiKeyRegistry): DynamicModule {
    return {
      module: AppModule,
      // Global so feature modules can inject the API key registry parsed in main.ts.
      global: true,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot({
          pinoHttp: [
            {
              ...pinoOptions('api', config.LOG_LEVEL),
              genReqId: (req) => requestIdFor(req),
              customProps: (req) => ({ requestId: (req as { id?: string }).id }),
              // Probes and scrapes every few seconds would drown the useful lines.
              autoLogging: { ignore: (req) => /^\/(health|metrics)/.test(req.url ?? '') },
              serializers: {
                // The query is shown without its values (but our own parameters'): a client may send a secret there.
                req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: urlForLog(req.url) }),
                res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
              },
            },
            logDestination(),
          ],
        }),
        MetricsModule.forApi(),
        InfrastructureModule.forRoot('api'),
        BullModule.forRoot({
          // Producers fail fast while Redis is down (offline queue off) so uploads get 503 at once.
          connection: createRedisConnection(config.REDIS_URL, 'command', 'api-queue'),
        }),
        ThumbnailsModule,
      ],
      controllers: [RootController, HealthController],
      providers: [
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        { provide: API_KEY_REGISTRY, useValue: apiKeys },
      ],
      exports: [API_KEY_REGISTRY],
    };
  }
}
