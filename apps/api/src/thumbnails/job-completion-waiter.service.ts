import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Gauge } from 'prom-client';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import { createRedisConnection, followFinishedJobs } from '@thumbnail/jobs';
import { InjectMetric, METRICS } from '@thumbnail/metrics';
import { logErrorsQuietly } from '@thumbnail/runtime';

/**
 * Lets `?wait=N` requests (GET /thumbnail/:id and POST /thumbnail) hold until the job finishes. Workers announce
 * finished jobs on a Redis channel; each API replica wakes its own waiters. A waiting client
 * costs a map entry and a timer, no polling.
 */
@Injectable()
export class JobCompletionWaiter implements OnModuleInit, OnModuleDestroy {
  private subscriber: Redis | null = null;
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Set on shutdown: held requests are answered now and no new wait begins. */
  private closed = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: Env,
    @InjectMetric(METRICS.heldRequests) private readonly held: Gauge,
  ) {}

  onModuleInit(): void {
    this.subscriber = createRedisConnection(this.config.REDIS_URL, 'blocking', 'api-job-finished');
    logErrorsQuietly(this.subscriber, 'Job-finished subscription', new Logger(JobCompletionWaiter.name));
    // Announcements sent while disconnected are lost: wake everyone to read their job again.
    void followFinishedJobs(this.subscriber, (jobId) => this.wake(jobId), () => this.wakeAll()).catch(() => undefined);
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    this.wakeAll();
    this.subscriber?.disconnect();
  }

  /** True once shutdown began: a caller should answer with what it has instead of waiting. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Resolves on the next announcement for `jobId`, or after `ms`, or at once during shutdown.
   * Call it before reading the job's status, so an announcement between the read and the wait
   * is not missed.
   */
  next(jobId: string, ms: number): { done: Promise<void>; cancel: () => void } {
    if (this.closed) return { done: Promise.resolve(), cancel: () => undefined };
    let cancel = () => undefined as void;
    const done = new Promise<void>((resolve) => {
      const set = this.waiters.get(jobId) ?? new Set();
      this.waiters.set(jobId, set);
      const finish = () => {
        clearTimeout(timer);
        if (set.delete(finish)) this.held.dec();
        if (set.size === 0) this.waiters.delete(jobId);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      set.add(finish);
      this.held.inc();
      cancel = finish;
    });
    return { done, cancel };
  }

  private wake(jobId: string): void {
    const set = this.waiters.get(jobId);
    if (!set) return;
    for (const finish of [...set]) finish();
  }

  private wakeAll(): void {
    for (const id of [...this.waiters.keys()]) this.wake(id);
  }
}
