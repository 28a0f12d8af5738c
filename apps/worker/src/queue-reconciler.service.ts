import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import {
  enqueueThumbnailJob,
  JobStore,
  queueJobSettings,
  THUMBNAIL_QUEUE,
  type JobStatus,
  type ThumbnailJobPayload,
} from '@thumbnail/jobs';
import { logErrorsQuietly } from '@thumbnail/runtime';
import { abandonedTooOften } from './abandoned-jobs';
import { PeriodicPass } from './periodic-pass';
import { ThumbnailMakerService } from './thumbnail-maker.service';

/** A record younger than this may still be on its way into the queue from the API. */
const GRACE_MS = 30_000;
const PAGE = 200;

/**
 * Finds job records that are waiting or processing but have no queue entry (for example after
 * Redis lost its data without persistence), or whose entry failed for good without the outcome
 * reaching the record (every delivery met an unreachable job store), and queues them again.
 * An entry that failed because worker after worker died holding it is not queued again (it
 * would kill them again, forever): its record is failed as `worker_crashed` instead.
 * Queue entries are keyed by job id, so several workers reconciling at once still queue each job
 * once.
 */
@Injectable()
export class QueueReconcilerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly passes = new PeriodicPass(
    () => this.pass(Date.now()),
    (error) => this.logger.warn({ reason: error.message }, 'Reconciliation pass failed'),
  );

  constructor(
    @Inject(APP_CONFIG) private readonly config: Env,
    @InjectQueue(THUMBNAIL_QUEUE) private readonly queue: Queue<ThumbnailJobPayload>,
    private readonly jobStore: JobStore,
    private readonly maker: ThumbnailMakerService,
    private readonly logger: PinoLogger,
  ) {}

  onApplicationBootstrap(): void {
    logErrorsQuietly(this.queue, 'Queue', this.logger);
    if (this.config.RECONCILE_INTERVAL_MS === 0) return;
    this.passes.start(this.config.RECONCILE_INTERVAL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.passes.stop();
  }

  /** Returns how many jobs were queued again. Overlapping calls share one pass. */
  reconcileOnce(): Promise<number> {
    return this.passes.runOnce();
  }

  private async pass(now: number): Promise<number> {
    let requeued = 0;
    for (const status of ['waiting', 'processing'] as JobStatus[]) {
      let cursor: string | undefined;
      do {
        const page = await this.jobStore.list({ limit: PAGE, cursor, status });
        for (const job of page.items) {
          if (now - job.createdAt.getTime() < GRACE_MS) continue;
          const entry = await this.queue.getJob(job.id);
          if (entry && abandonedTooOften(entry, this.config.JOB_ATTEMPTS) && (await entry.isFailed())) {
            // The worker that saw the entry fail could not record it (store down, or it died too).
            await this.maker.failAbandoned({ jobId: job.id, requestId: job.requestId });
            continue;
          }
          if (entry) {
            if (await this.retryFailedEntry(entry)) {
              requeued++;
              this.logger.warn({ jobId: job.id, status }, 'Re-queued a job whose deliveries all failed');
            }
            continue;
          }
          await enqueueThumbnailJob(this.queue, { jobId: job.id, requestId: job.requestId }, queueJobSettings(this.config));
          requeued++;
          this.logger.warn({ jobId: job.id, status }, 'Re-queued a job that had no queue entry');
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
    }
    return requeued;
  }

  /**
   * A failed entry of a record that is not finished: the worker could not record the outcome
   * (with JOB_STORE=mongo the store can be down while the queue is up), so nothing else would
   * ever finish the job. Its deliveries start over. False if the entry has not failed, or if
   * another worker's reconciler retried it first.
   */
  private async retryFailedEntry(entry: Job<ThumbnailJobPayload>): Promise<boolean> {
    if (!(await entry.isFailed())) return false;
    try {
      await entry.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return true;
    } catch (error) {
      if (await entry.isFailed()) throw error;
      return false;
    }
  }
}
