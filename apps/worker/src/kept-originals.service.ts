import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type { Counter } from 'prom-client';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import { JobStore } from '@thumbnail/jobs';
import { InjectMetric, METRICS } from '@thumbnail/metrics';
import { Storage } from '@thumbnail/storage';
import { PeriodicPass } from './periodic-pass';

/** Jobs handled per store read. */
const BATCH = 100;

/**
 * RETRY_WINDOW_HOURS: deletes the original of a job that failed for a transient reason once its
 * retry window has passed (the job's `originalExpiresAt`). The record forgets the time first, and
 * only if the job is still failed, so a retry that got there first keeps its original, and a
 * retry that comes after is told the original is gone. Every worker sweeps, every
 * RETENTION_SWEEP_INTERVAL_MS; a job cleared by one is not seen by another.
 */
@Injectable()
export class KeptOriginalsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private stopping = false;
  private readonly passes = new PeriodicPass(
    () => this.sweep(new Date()),
    (error) => this.logger.warn({ reason: error.message }, 'Sweep of kept originals failed'),
  );

  constructor(
    @Inject(APP_CONFIG) private readonly config: Env,
    private readonly jobStore: JobStore,
    private readonly storage: Storage,
    private readonly logger: PinoLogger,
    @InjectMetric(METRICS.keptOriginalsDeleted) private readonly deleted: Counter,
    @InjectMetric(METRICS.originalDeleteFailures) private readonly undeleted: Counter,
  ) {}

  onApplicationBootstrap(): void {
    // With KEEP_ORIGINALS nothing sets a time (every original stays); with a window of 0 nothing
    // is kept. Times set before either change are still honoured by the next worker that sweeps.
    if (this.config.KEEP_ORIGINALS || this.config.RETRY_WINDOW_HOURS === 0) return;
    this.passes.start(this.config.RETENTION_SWEEP_INTERVAL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.passes.stop();
  }

  /** Returns how many originals were deleted. Overlapping calls share one sweep. */
  sweepOnce(): Promise<number> {
    return this.passes.runOnce();
  }

  private async sweep(now: Date): Promise<number> {
    let count = 0;
    for (;;) {
      const jobs = await this.jobStore.expiredOriginals(now, BATCH);
      let cleared = 0;
      for (const job of jobs) {
        if (this.stopping) return count;
        const forgotten = await this.jobStore.transition(job.id, { from: ['failed'], to: 'failed', originalExpiresAt: null });
        if (!forgotten.applied) continue;
        cleared++;
        try {
          await this.storage.delete(job.originalKey);
          this.deleted.inc();
          count++;
        } catch (error) {
          this.undeleted.inc();
          this.logger.warn({ jobId: job.id, key: job.originalKey, err: error }, 'Could not delete the original of a failed job past its retry window');
        }
      }
      // A full batch in which nothing could be cleared would come back the same.
      if (jobs.length < BATCH || cleared === 0 || this.stopping) break;
    }
    if (count > 0) this.logger.info({ deleted: count }, 'Deleted the originals of failed jobs past RETRY_WINDOW_HOURS');
    return count;
  }
}
