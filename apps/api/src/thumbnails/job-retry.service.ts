import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Counter } from 'prom-client';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import {
  isTransientFailure,
  JobStore,
  queueJobSettings,
  requeueThumbnailJob,
  THUMBNAIL_QUEUE,
  type ThumbnailJob,
  type ThumbnailJobPayload,
} from '@thumbnail/jobs';
import { InjectMetric, METRICS } from '@thumbnail/metrics';
import { Storage } from '@thumbnail/storage';
import { errors } from '../errors/api-error';
import { ThumbnailQueryService } from './thumbnail-query.service';

/**
 * POST /thumbnail/:id/retry: runs a failed job again from its kept original, when its failure
 * was transient (JOB_FAILURES) and the original is still kept (RETRY_WINDOW_HOURS, or
 * KEEP_ORIGINALS). The job keeps its id, its attempts count on, and its webhooks go out again
 * when it finishes, under a new webhook-id.
 */
@Injectable()
export class JobRetryService {
  private readonly logger = new Logger(JobRetryService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: Env,
    @InjectQueue(THUMBNAIL_QUEUE) private readonly queue: Queue<ThumbnailJobPayload>,
    private readonly query: ThumbnailQueryService,
    private readonly jobStore: JobStore,
    private readonly storage: Storage,
    @InjectMetric(METRICS.jobsRetried) private readonly retried: Counter,
  ) {}

  async retry(id: string, owner: string | null, requestId: string): Promise<ThumbnailJob> {
    const job = await this.query.find(id, owner);
    this.assertRetryable(job, new Date());
    if (!(await this.storage.head(job.originalKey))) throw errors.notRetryable(job.status, 'its original is no longer stored.');
    const moved = await this.jobStore.transition(job.id, {
      from: ['failed'],
      // The original must outlive this moment: a sweep that got there first has deleted it.
      originalKeptAfter: this.config.KEEP_ORIGINALS ? undefined : new Date(),
      to: 'waiting',
      completedAt: null,
      originalExpiresAt: null,
    });
    if (!moved.applied) {
      // Changed since it was read: deleted, retried by another request, or its window ended.
      if (!moved.job) throw errors.notFound();
      if (moved.job.status !== 'failed') this.assertRetryable(moved.job, new Date());
      throw errors.notRetryable('failed', 'its original is no longer kept.');
    }
    try {
      await requeueThumbnailJob(this.queue, { jobId: job.id, requestId }, queueJobSettings(this.config));
    } catch (error) {
      this.logger.warn({ jobId: job.id, reason: (error as Error).message }, 'Could not queue a retried job; it stays failed');
      await this.jobStore
        .transition(job.id, { from: ['waiting'], to: 'failed', completedAt: job.completedAt, originalExpiresAt: job.originalExpiresAt })
        .catch(() => undefined);
      throw errors.unavailable('The job queue (Redis)', error);
    }
    this.retried.inc();
    this.logger.log({ jobId: job.id, previousError: job.error?.code }, 'Failed job queued again');
    return moved.job;
  }

  /** Refuses (409, with the reason) a job that is not failed, failed for good, or lost its original. */
  private assertRetryable(job: ThumbnailJob, now: Date): void {
    if (job.status !== 'failed') throw errors.notRetryable(job.status, `it is ${job.status}; only a failed job can be retried.`);
    if (!isTransientFailure(job.error)) {
      throw errors.notRetryable(job.status, `it failed with ${job.error?.code ?? 'no code'}, which trying again would not change.`);
    }
    if (!this.config.KEEP_ORIGINALS && !(job.originalExpiresAt && job.originalExpiresAt > now)) {
      throw errors.notRetryable(job.status, `its original is no longer kept (originals of failed jobs are kept ${this.config.RETRY_WINDOW_HOURS} hours).`);
    }
  }
}
