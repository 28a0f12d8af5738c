import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import { JobStore } from '@thumbnail/jobs';
import { checkReadiness, describeFailures } from './dependency-checks';
import { REDIS } from './infrastructure.module';
import { Storage } from '@thumbnail/storage';

/** Liveness says the process answers; readiness says it can do its work. */
@ApiExcludeController()
@Controller('health')
export class HealthController {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly storage: Storage,
    private readonly jobStore: JobStore,
  ) {}

  @Get()
  live() {
    return { data: { status: 'ok' } };
  }

  @Get('ready')
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    const readiness = await checkReadiness({ redis: this.redis, storage: this.storage, jobStore: this.jobStore });
    if (readiness.ready) return { data: { status: 'ready', checks: readiness.checks } };
    void reply.status(503).header('retry-after', '5');
    return {
      error: { code: 'not_ready', message: `Not ready: ${describeFailures(readiness)}` },
      checks: readiness.checks,
    };
  }
}
