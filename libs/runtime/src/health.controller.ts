import { Controller, Get, Inject, Logger, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import { JobStore } from '@thumbnail/jobs';
import { checkReadiness, describeFailures } from './dependency-checks';
import { REDIS } from './infrastructure.module';
import { Storage } from '@thumbnail/storage';

const CHECK = {
  type: 'object',
  additionalProperties: false,
  required: ['ok'],
  properties: { ok: { type: 'boolean' }, reason: { type: 'string', description: 'Why it failed.' } },
};
const CHECKS = {
  type: 'object',
  additionalProperties: false,
  required: ['redis', 'storage', 'job_store'],
  properties: { redis: CHECK, storage: CHECK, job_store: CHECK },
};
const json = (schema: object) => ({ 'application/json': { schema } });
const envelope = (data: object) => ({ type: 'object', additionalProperties: false, required: ['data'], properties: { data } });

/** Liveness says the process answers; readiness says it can do its work. */
@ApiTags('service')
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
  @ApiOperation({ operationId: 'getLiveness', summary: 'Liveness: the process answers' })
  @ApiResponse({
    status: 200,
    description: 'Alive.',
    content: json(envelope({ type: 'object', additionalProperties: false, required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } })),
  })
  live() {
    return { data: { status: 'ok' } };
  }

  @Get('ready')
  @ApiOperation({ operationId: 'getReadiness', summary: 'Readiness: Redis, storage and the job store answer' })
  @ApiResponse({
    status: 200,
    description: 'Ready.',
    content: json(
      envelope({
        type: 'object',
        additionalProperties: false,
        required: ['status', 'checks'],
        properties: { status: { type: 'string', enum: ['ready'] }, checks: CHECKS },
      }),
    ),
  })
  @ApiResponse({
    status: 503,
    description: 'Not ready: `checks` says what is down.',
    headers: { 'Retry-After': { required: true, schema: { type: 'integer', minimum: 0 } } },
    content: json({
      type: 'object',
      additionalProperties: false,
      required: ['error', 'checks'],
      properties: {
        error: {
          type: 'object',
          additionalProperties: false,
          required: ['code', 'message'],
          properties: { code: { type: 'string', enum: ['not_ready'] }, message: { type: 'string' } },
        },
        checks: CHECKS,
      },
    }),
  })
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
