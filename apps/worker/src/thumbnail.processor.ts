import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { type Job, UnrecoverableError } from 'bullmq';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import { isJobId, THUMBNAIL_QUEUE, type ThumbnailJobPayload } from '@thumbnail/jobs';
import { logErrorsQuietly } from '@thumbnail/runtime';
import { ThumbnailMakerService } from './thumbnail-maker.service';

/**
 * Thin adapter between BullMQ and the maker: parses the payload and turns the outcome into what
 * BullMQ understands (return = done, UnrecoverableError = failed without retry, Error = retry).
 */
@Processor(THUMBNAIL_QUEUE, { autorun: false })
export class ThumbnailProcessor extends WorkerHost implements OnApplicationBootstrap {
  constructor(
    @Inject(APP_CONFIG) private readonly config: Env,
    private readonly maker: ThumbnailMakerService,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    // @Processor options are fixed at decoration time, before configuration is parsed, so the
    // worker starts paused (autorun: false) and gets its settings here.
    const worker = this.worker;
    logErrorsQuietly(worker, 'Worker', new Logger(ThumbnailProcessor.name));
    worker.concurrency = jobsInFlight(this.config.WORKER_CONCURRENCY);
    Object.assign(worker.opts, {
      lockDuration: this.config.WORKER_LOCK_DURATION_MS,
      stalledInterval: this.config.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: 2,
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
