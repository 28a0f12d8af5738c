import {
  type DynamicModule,
  Global,
  Inject,
  Logger,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import { createJobStore, createRedisConnection, JobStore } from '@thumbnail/jobs';
import { createStorage, Storage } from '@thumbnail/storage';

/** The command (non-blocking) Redis connection shared by the job store and queue producers. */
export const REDIS = Symbol('REDIS');

/**
 * Storage, job store and Redis, chosen once from configuration. Shared by both apps so they
 * can never disagree on where data lives.
 */
@Global()
@Module({})
export class InfrastructureModule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Infrastructure');

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly storage: Storage,
    private readonly jobStore: JobStore,
  ) {}

  static forRoot(processName: string): DynamicModule {
    return {
      module: InfrastructureModule,
      providers: [
        {
          provide: REDIS,
          inject: [APP_CONFIG],
          useFactory: (config: Env) => createRedisConnection(config.REDIS_URL, 'command', processName),
        },
        {
          provide: Storage,
          inject: [APP_CONFIG],
          useFactory: (config: Env) => {
            const logger = new Logger('Infrastructure');
            return createStorage(config, {
              // The put already succeeded: a machine crash may now lose this object.
              onBackgroundSyncError: (key, error) =>
                logger.error({ key, reason: (error as Error).message }, 'Stored object could not be made durable'),
            });
          },
        },
        {
          provide: JobStore,
          inject: [APP_CONFIG, REDIS],
          useFactory: (config: Env, redis: Redis) => {
            const logger = new Logger('Infrastructure');
            return createJobStore(config, redis, {
              onRetry: (reason, attempt) => logger.warn({ reason, attempt }, 'Job store not reachable yet; retrying'),
            });
          },
        },
      ],
      exports: [REDIS, Storage, JobStore],
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    // Not fatal: a bucket that is missing now may be created by an operator later; readiness
    // reports it meanwhile and the log says why.
    await this.storage.init().catch((error: Error) =>
      this.logger.warn({ reason: error.message }, 'Storage not ready at start'),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.jobStore.close().catch(() => undefined);
    await this.storage.close().catch(() => undefined);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
