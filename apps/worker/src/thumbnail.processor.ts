import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Counter } from 'prom-client';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import { isJobId, THUMBNAIL_QUEUE, type ThumbnailJobPayload } from '@thumbnail/jobs';
import { InjectMetric, METRICS } from '@thumbnail/metrics';
import { logErrorsQuietly } from '@thumbnail/runtime';
import { abandonedTooOften, maxStalledCount } from './abandoned-jobs';
import { ThumbnailMakerService } from './thumbnail-maker.service';

/**
 * Thin adapter between BullMQ and the maker: parses the payload and turns the outcome into what
 * BullMQ understands (return = done, UnrecoverableError = failed without retry, Error = retry).
 * It also hears what BullMQ decides without us: a job found abandoned by a dead worker, and a
 * job failed for having been abandoned too often.
 */
@Processor(THUMBNAIL_QUEUE, { autorun: false })
export class ThumbnailProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(ThumbnailProcessor.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: Env,
    private readonly maker: ThumbnailMakerService,
    @InjectMetric(METRICS.jobsStalled) private readonly stalls: Counter,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    // @Processor options are fixed at decoration time, before configuration is parsed, so the
    // worker starts paused (autorun: false) and gets its settings here.
    const worker = this.worker;
    logErrorsQuietly(worker, 'Worker', this.logger);
    worker.concurrency = jobsInFlight(this.config.WORKER_CONCURRENCY);
    Object.assign(worker.opts, {
      lockDuration: this.config.WORKER_LOCK_DURATION_MS,
      stalledInterval: this.config.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: maxStalledCount(this.config.JOB_ATTEMPTS),
    });
    void worker.run();
  }

  async process(job: Job<ThumbnailJobPayload>): Promise<string> {
    const { jobId, requestId } = job.data ?? {};
    if (!isJobId(jobId)) throw new UnrecoverableError('Malformed payload: no job id');
    const outcome = await this.maker.make(
      { jobId, requestId: typeof requestId === 'string' ? requestId : null },
      { number: job.attemptsMade + 1, allowed: job.opts.attempts ?? 1 },
    );
    switch (outcome.kind) {
      case 'complete':
      case 'skipped':
        return outcome.kind;
      case 'failed':
        throw new UnrecoverableError(outcome.error.code);
      case 'retry':
        throw new Error(outcome.error.code);
    }
  }

  /** A worker stopped holding this job without finishing it; BullMQ queued it again. */
  @OnWorkerEvent('stalled')
  onStalled(jobId: string): void {
    this.stalls.inc();
    this.logger.warn({ jobId }, 'Job abandoned by a worker that stopped (killed, out of memory, crashed or blocked); queued again');
  }

  /**
   * BullMQ fails a job abandoned more than maxStalledCount times without calling process():
   * the record, which no dead worker could finish, is failed here. If this does not get through
   * (the job store is down), the reconciler records it later.
   */
  @OnWorkerEvent('failed')
  async onFailed(job: Job<ThumbnailJobPayload> | undefined): Promise<void> {
    if (!job || !abandonedTooOften(job, this.config.JOB_ATTEMPTS) || !isJobId(job.data?.jobId)) return;
    const requestId = typeof job.data.requestId === 'string' ? job.data.requestId : null;
    try {
      await this.maker.failAbandoned({ jobId: job.data.jobId, requestId });
    } catch (error) {
      this.logger.warn({ jobId: job.data.jobId, reason: error instanceof Error ? error.message : String(error) }, 'Could not record an abandoned job as failed; the reconciler will');
    }
  }
}

/**
 * Jobs taken from the queue at once for WORKER_CONCURRENCY images made at once. Part of every
 * job is waiting (Redis round trips, the thumbnail's write and fsync), and with one job per image
 * slot the cores would idle through those waits. Only the image work, which holds the CPU and
 * the decoded pixels, is limited to WORKER_CONCURRENCY (ThumbnailMakerService), so memory still
 * follows that number.
 */
export function jobsInFlight(imageSlots: number): number {
  return imageSlots * 2;
}
