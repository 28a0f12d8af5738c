import { Controller, Get, Inject, Logger, Res } from '@nestjs/common';
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
  private readonly logger = new Logger('Readiness');
  /** The causes last logged, so a probe every few seconds logs a change once, not every time. */
  private loggedCauses = '{}';

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
    this.logChange(readiness.causes);
    if (readiness.ready) return { data: { status: 'ready', checks: readiness.checks } };
    void reply.status(503).header('retry-after', '5');
    return {
      error: { code: 'not_ready', message: `Not ready: ${describeFailures(readiness)}` },
      checks: readiness.checks,
    };
  }

  /** What the dependencies said goes to the log (the answer only names them), once per change. */
  private logChange(causes: Record<string, string>): void {
    const current = JSON.stringify(causes);
    if (current === this.loggedCauses) return;
    this.loggedCauses = current;
    if (Object.keys(causes).length > 0) this.logger.warn({ causes }, 'Not ready: a dependency is down');
    else this.logger.log('Ready: every dependency answers again');
  }
}
