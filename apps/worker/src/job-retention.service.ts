import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type { Counter } from 'prom-client';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import { JobStore, removeFinishedJob } from '@thumbnail/jobs';
import { InjectMetric, METRICS } from '@thumbnail/metrics';
import { Storage } from '@thumbnail/storage';
import { PeriodicPass } from './periodic-pass';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Jobs removed per store read. */
const BATCH = 100;

/**
 * JOB_RETENTION_DAYS: removes finished jobs that many days after they finished, with their
 * thumbnail and any kept original, so a confidential image does not outlive its record. Every
 * worker sweeps; removing a job twice is harmless, so they need not take turns.
 */
@Injectable()
export class JobRetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private stopping = false;
  private readonly passes = new PeriodicPass(
    () => this.sweep(new Date(Date.now() - this.config.JOB_RETENTION_DAYS * DAY_MS)),
    // The jobs stay; the next sweep tries them again.
    (error) => this.logger.warn({ reason: error.message }, 'Retention sweep failed'),
  );

  constructor(
    @Inject(APP_CONFIG) private readonly config: Env,
    private readonly jobStore: JobStore,
    private readonly storage: Storage,
    private readonly logger: PinoLogger,
    @InjectMetric(METRICS.jobsExpired) private readonly expired: Counter,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.JOB_RETENTION_DAYS === 0) return;
    this.passes.start(this.config.RETENTION_SWEEP_INTERVAL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.passes.stop();
  }

  /** Returns how many jobs were removed. Overlapping calls share one sweep. */
  sweepOnce(): Promise<number> {
    return this.passes.runOnce();
  }

  private async sweep(finishedBefore: Date): Promise<number> {
    const removed = new Set<string>();
    for (;;) {
      const jobs = await this.jobStore.expiredJobs(finishedBefore, BATCH);
      for (const job of jobs) {
        if (this.stopping) return removed.size;
        // A store that kept answering with a job it had said it removed would loop forever.
        if (removed.has(job.id)) throw new Error(`job ${job.id} is still listed after its removal`);
        await removeFinishedJob(job, this.jobStore, this.storage);
        this.expired.inc();
        removed.add(job.id);
      }
      if (jobs.length < BATCH || this.stopping) break;
    }
    if (removed.size > 0) {
      this.logger.info({ removed: removed.size, finishedBefore: finishedBefore.toISOString() }, 'Removed jobs past JOB_RETENTION_DAYS');
    }
    return removed.size;
  }
}
