import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { QueueEvents } from 'bullmq';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import { createRedisConnection, THUMBNAIL_QUEUE } from '@thumbnail/jobs';
import { logErrorsQuietly } from '@thumbnail/runtime';

/**
 * Lets `GET /thumbnail/:id?wait=N` hold a request until the job finishes. One BullMQ
 * QueueEvents stream per API replica wakes the waiters of that replica; a waiting client costs
 * a map entry and a timer, no polling.
 */
@Injectable()
export class JobCompletionWaiter implements OnModuleInit, OnModuleDestroy {
  private events: QueueEvents | null = null;
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(@Inject(APP_CONFIG) private readonly config: Env) {}

  onModuleInit(): void {
    this.events = new QueueEvents(THUMBNAIL_QUEUE, {
      connection: createRedisConnection(this.config.REDIS_URL, 'blocking', 'api-events'),
    });
    logErrorsQuietly(this.events, 'Queue events', new Logger(JobCompletionWaiter.name));
    const wake = ({ jobId }: { jobId: string }) => this.wake(jobId);
    this.events.on('completed', wake);
    this.events.on('failed', wake);
  }

  async onModuleDestroy(): Promise<void> {
    for (const id of [...this.waiters.keys()]) this.wake(id);
    await this.events?.close();
  }

  /**
   * Resolves on the next completion or failure event for `jobId`, or after `ms`. Call it before
   * reading the job's status, so an event between the read and the wait is not missed.
   */
  next(jobId: string, ms: number): { done: Promise<void>; cancel: () => void } {
    let cancel = () => undefined as void;
    const done = new Promise<void>((resolve) => {
      const set = this.waiters.get(jobId) ?? new Set();
      this.waiters.set(jobId, set);
      const finish = () => {
        clearTimeout(timer);
        set.delete(finish);
        if (set.size === 0) this.waiters.delete(jobId);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      set.add(finish);
      cancel = finish;
    });
    return { done, cancel };
  }

  private wake(jobId: string): void {
    const set = this.waiters.get(jobId);
    if (!set) return;
    for (const finish of [...set]) finish();
  }
}
