import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import { THUMBNAIL_QUEUE } from '@thumbnail/jobs';
import { QUEUE_STATES, registerQueueDepthGauge } from '@thumbnail/metrics';
import { logErrorsQuietly } from '@thumbnail/runtime';
import { errors } from '../errors/api-error';

/** How stale the waiting count may be: one Redis read per second, not one per upload. */
const COUNT_TTL_MS = 1_000;

/**
 * Backpressure: refuses new uploads while the backlog is over MAX_QUEUE_DEPTH, before a single
 * byte of the body is read, and answers 503 at once when Redis is down.
 */
@Injectable()
export class QueueAdmissionService implements OnModuleInit {
  private cached: { at: number; waiting: number } | null = null;

  constructor(
    @InjectQueue(THUMBNAIL_QUEUE) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: Env,
  ) {}

  onModuleInit(): void {
    logErrorsQuietly(this.queue, 'Queue', new Logger(QueueAdmissionService.name));
    registerQueueDepthGauge(() => this.queue.getJobCounts(...QUEUE_STATES));
  }

  async assertRoom(): Promise<void> {
    const waiting = await this.waitingCount();
    if (waiting >= this.config.MAX_QUEUE_DEPTH) throw errors.queueFull();
    // Count our own admissions until the next read, so a burst cannot overshoot by a second's worth.
    if (this.cached) this.cached.waiting++;
  }

  private async waitingCount(): Promise<number> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < COUNT_TTL_MS) return this.cached.waiting;
    try {
      const waiting = await this.queue.getWaitingCount();
      this.cached = { at: now, waiting };
      return waiting;
    } catch {
      throw errors.unavailable('The job queue (Redis)');
    }
  }
}
