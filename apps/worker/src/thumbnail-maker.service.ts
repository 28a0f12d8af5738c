import { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { PinoLogger } from 'nestjs-pino';
import pLimit from 'p-limit';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { APP_CONFIG, DEFAULT_PRESET, type Env } from '@thumbnail/config';
import { ImageProcessor, ImageRejectedError, type MadeVariants } from '@thumbnail/thumbnail-making';
import {
  announceJobFinished,
  isRetriedByWorker,
  isTransientFailure,
  JobStore,
  JobStoreUnavailableError,
  VARIANT_CONTENT_TYPES,
  variantKey,
  type JobError,
  type ThumbnailJob,
  type ThumbnailJobPayload,
  type ThumbnailVariant,
} from '@thumbnail/jobs';
import { InjectMetric, METRICS } from '@thumbnail/metrics';
import { REDIS } from '@thumbnail/runtime';
import { Storage, StorageNotFoundError, StorageUnavailableError } from '@thumbnail/storage';
import { WebhookNotifier, WebhookQueueUnavailableError } from './webhooks/webhook-notifier.service';

export interface Attempt {
  /** 1-based number of this delivery. */
  number: number;
  /** Deliveries allowed before the job is failed for good. */
  allowed: number;
}

/**
 * What became of one delivery. `retry` asks the queue to deliver again after its backoff;
 * every other outcome is final for this delivery.
 */
export type Outcome =
  | { kind: 'complete'; job: ThumbnailJob }
  | { kind: 'failed'; error: JobError }
  | { kind: 'retry'; error: JobError }
  | { kind: 'skipped'; reason: 'missing' | 'already_finished' | 'superseded' };

/**
 * Makes one job's images: marks the job processing, reads the original, runs the image
 * pipeline once for all its variants, writes each, marks it complete with what was made and the
 * placeholder, queues its webhooks, deletes the original. Safe to run twice for the same job:
 * each variant's key is fixed and status changes are conditional, so a duplicate delivery writes
 * the same objects and changes nothing (its webhooks are queued again under the same ids, which
 * is how a worker killed before queuing them is made good). Each start counts an attempt and
 * every later change names it, so a delivery that outlived its lock (a worker cut off from
 * Redis) and whose job another delivery took over
 * changes nothing when it comes back.
 */
@Injectable()
export class ThumbnailMakerService {
  /**
   * The worker holds more jobs than it makes images at once (see jobsInFlight), so that one
   * job's waits (Redis round trips, the thumbnail's write and fsync) overlap other jobs' image
   * work. That work, from reading the original to the encoded thumbnail, holds the CPU and the
   * memory, so it alone is limited to WORKER_CONCURRENCY at a time.
   */
  private readonly imageSlots: pLimit.Limit;

  constructor(
    @Inject(APP_CONFIG) private readonly config: Env,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly jobStore: JobStore,
    private readonly storage: Storage,
    private readonly imaging: ImageProcessor,
    private readonly logger: PinoLogger,
    @InjectMetric(METRICS.jobsFinished) private readonly finished: Counter<string>,
    @InjectMetric(METRICS.originalDeleteFailures) private readonly undeletedOriginals: Counter,
    @InjectMetric(METRICS.jobWait) private readonly waitSeconds: Histogram<string>,
    @InjectMetric(METRICS.jobProcessing) private readonly processingSeconds: Histogram<string>,
    @InjectMetric(METRICS.jobsInProgress) private readonly inProgress: Gauge<string>,
    private readonly webhooks: WebhookNotifier,
  ) {
    this.imageSlots = pLimit(config.WORKER_CONCURRENCY);
  }

  async make(payload: ThumbnailJobPayload, attempt: Attempt): Promise<Outcome> {
    const log = this.logger.logger.child({ jobId: payload.jobId, requestId: payload.requestId, attempt: attempt.number });
    const startedAt = new Date();
    const started = await this.jobStore.transition(payload.jobId, {
      from: ['waiting', 'processing'],
      to: 'processing',
      startedAt,
      incrementAttempts: true,
    });
    if (!started.applied) {
      const reason = started.job ? 'already_finished' : 'missing';
      log.warn({ reason, status: started.job?.status }, 'Delivery skipped');
      // A worker killed between recording the outcome and queuing its webhooks or deleting the
      // original left that undone; this redelivery is the chance to finish it.
      if (started.job) {
        await this.webhooks.jobFinished(started.job);
        await this.discardOriginal(started.job, log);
      }
      return { kind: 'skipped', reason };
    }
    const job = started.job;
    if (job.attempts === 1) this.waitSeconds.observe((startedAt.getTime() - job.createdAt.getTime()) / 1000);

    const stopTimer = this.processingSeconds.startTimer();
    try {
      const made = await this.imageSlots(() => this.makeImages(job));
      // The images can take long enough for this delivery to lose its job; then they must not
      // land on the job's keys, which another delivery writes or a deletion emptied.
      const current = await this.jobStore.get(job.id);
      if (!isAttemptOf(current, job)) return this.superseded(current, log);
      const variants = await this.store(job, made);
      const original = job.variants.find((variant) => variant.name === DEFAULT_PRESET);
      const done = await this.jobStore.transition(job.id, {
        from: ['processing'],
        to: 'complete',
        attempt: job.attempts,
        completedAt: new Date(),
        // The original service's field names the default image, when the job made one.
        ...(original ? { thumbnailKey: variantKey(job.id, original) } : {}),
        variants,
        placeholder: { thumbhash: made.thumbhash.toString('base64') },
        error: null,
      });
      if (!done.applied) {
        // Lost during the writes: a deleted job's images are ours alone to remove; a live job's
        // are the same objects its own delivery writes.
        if (!done.job) {
          for (const variant of job.variants) {
            const key = variantKey(job.id, variant);
            await this.storage.delete(key).catch((error: unknown) =>
              log.warn({ key, err: error }, 'Could not delete the thumbnail of a job deleted meanwhile'),
            );
          }
        }
        return this.superseded(done.job, log);
      }
      this.finished.inc({ outcome: 'complete', code: '' });
      this.announce(job.id);
      await this.webhooks.jobFinished(done.job);
      await this.discardOriginal(done.job, log);
      const bytes = made.images.reduce((total, image) => total + image.data.length, 0);
      log.info({ ms: Date.now() - startedAt.getTime(), variants: variants.length, bytes }, 'Thumbnail complete');
      return { kind: 'complete', job: done.job };
    } catch (error) {
      // The outcome is recorded; the queue's redelivery queues the webhooks again.
      if (error instanceof WebhookQueueUnavailableError) throw error;
      return await this.handleFailure(job, attempt, error, log);
    } finally {
      stopTimer();
    }
  }

  /**
   * Records the end of a job that worker after worker stopped while making (killed, out of
   * memory, a native crash), once the queue has given up on it: nothing else would, since each
   * of those workers died with the record `processing`. It fails as `worker_crashed`, is counted
   * announced and sent to its webhooks like any failure, and its original goes unless
   * KEEP_ORIGINALS (a client retry would crash workers again). A record
   * already finished is left as it is.
   */
  async failAbandoned(payload: ThumbnailJobPayload): Promise<Outcome> {
    const log = this.logger.logger.child({ jobId: payload.jobId, requestId: payload.requestId });
    const error: JobError = { code: 'worker_crashed', message: WORKER_CRASHED };
    const failed = await this.jobStore.transition(payload.jobId, {
      from: ['waiting', 'processing'],
      to: 'failed',
      completedAt: new Date(),
      error,
    });
    if (!failed.applied) {
      if (failed.job) await this.discardOriginal(failed.job, log);
      return { kind: 'skipped', reason: failed.job ? 'already_finished' : 'missing' };
    }
    log.error({ code: error.code, attempts: failed.job.attempts }, 'Job failed: every worker that took it stopped before finishing');
    this.finished.inc({ outcome: 'failed', code: error.code });
    this.announce(payload.jobId);
    await this.webhooks.jobFinished(failed.job);
    await this.discardOriginal(failed.job, log);
    return { kind: 'failed', error };
  }

  private async makeImages(job: ThumbnailJob): Promise<MadeVariants> {
    this.inProgress.inc();
    try {
      const original = await this.storage.getBuffer(job.originalKey);
      const plans = job.variants.map(({ width, height, fit, format, quality }) => ({ width, height, fit, format, quality }));
      return await this.imaging.makeVariants(original, plans);
    } finally {
      this.inProgress.dec();
    }
  }

  /** Writes every variant (at once: on S3 each is a round trip) and says what each turned out to be. */
  private async store(job: ThumbnailJob, made: MadeVariants): Promise<ThumbnailVariant[]> {
    return Promise.all(
      job.variants.map(async (variant, i) => {
        const image = made.images[i];
        await this.storage.put(variantKey(job.id, variant), Readable.from([image.data]), {
          contentType: VARIANT_CONTENT_TYPES[variant.format],
        });
        return { ...variant, output: { width: image.width, height: image.height, bytes: image.data.length } };
      }),
    );
  }

  /** This delivery no longer holds its job: it leaves the record, the original and the counts alone. */
  private superseded(current: ThumbnailJob | null, log: PinoLogger['logger']): Outcome {
    const finished = current?.status === 'complete' || current?.status === 'failed';
    const reason = !current ? 'missing' : finished ? 'already_finished' : 'superseded';
    log.warn({ reason, status: current?.status, attempts: current?.attempts }, 'Delivery superseded; its work is dropped');
    return { kind: 'skipped', reason };
  }

  /** Wakes API requests waiting on this job; a lost announcement only delays them to their deadline. */
  private announce(jobId: string): void {
    void announceJobFinished(this.redis, jobId).catch(() => undefined);
  }

  private async handleFailure(
    job: ThumbnailJob,
    attempt: Attempt,
    error: unknown,
    log: PinoLogger['logger'],
  ): Promise<Outcome> {
    const reason = classify(error);
    const retried = isRetriedByWorker(reason.code);
    // libvips' own text goes to the log, never to the client.
    log.warn({ code: reason.code, transient: isTransientFailure(reason), err: error }, 'Thumbnail attempt failed');
    if (retried && attempt.number < attempt.allowed) {
      const requeued = await this.jobStore.transition(job.id, {
        from: ['processing'],
        to: 'waiting',
        attempt: job.attempts,
        error: reason,
      });
      if (!requeued.applied) return this.superseded(requeued.job, log);
      return { kind: 'retry', error: reason };
    }
    const completedAt = new Date();
    const failed = await this.jobStore.transition(job.id, {
      from: ['processing'],
      to: 'failed',
      attempt: job.attempts,
      completedAt,
      error: reason,
      originalExpiresAt: this.originalKeptUntil(reason, completedAt),
    });
    // Another delivery took the job over or finished it meanwhile (and may have deleted the
    // original this one then missed): its outcome stands.
    if (!failed.applied) return this.superseded(failed.job, log);
    this.finished.inc({ outcome: 'failed', code: reason.code });
    this.announce(job.id);
    await this.webhooks.jobFinished(failed.job);
    await this.discardOriginal(failed.job, log);
    return { kind: 'failed', error: reason };
  }

  /**
   * A job that failed for a transient reason may be retried by its client: its original stays
   * for RETRY_WINDOW_HOURS (the workers delete it then). With KEEP_ORIGINALS every original
   * stays anyway, and no time is set.
   */
  private originalKeptUntil(reason: JobError, failedAt: Date): Date | null {
    if (this.config.KEEP_ORIGINALS || !this.config.RETRY_WINDOW_HOURS || !isTransientFailure(reason)) return null;
    return new Date(failedAt.getTime() + this.config.RETRY_WINDOW_HOURS * 3600 * 1000);
  }

  /**
   * Once a job has finished for good nothing reads its original again, and keeping confidential
   * images nobody asked to keep is a liability (and a disk that only grows). Retries keep it, and
   * so does a transient failure until its retry window ends (`originalExpiresAt`).
   * A failed delete is logged, not fatal: the job's outcome is already recorded and announced.
   */
  private async discardOriginal(job: ThumbnailJob, log: PinoLogger['logger']): Promise<void> {
    if (this.config.KEEP_ORIGINALS || (job.originalExpiresAt && job.originalExpiresAt > new Date())) return;
    try {
      await this.storage.delete(job.originalKey);
    } catch (error) {
      this.undeletedOriginals.inc();
      log.warn({ key: job.originalKey, err: error }, 'Could not delete the original of a finished job');
    }
  }
}

const WORKER_CRASHED =
  'Every worker that took this job stopped before finishing it (it was killed, ran out of memory or crashed); the thumbnail was not made.';

/** Whether `current` is still the attempt `mine` started: nobody took it over, finished or deleted it. */
function isAttemptOf(current: ThumbnailJob | null, mine: ThumbnailJob): boolean {
  return current?.status === 'processing' && current.attempts === mine.attempts;
}

/** What went wrong, as a code from JOB_FAILURES (which says whether trying again may help). */
function classify(error: unknown): JobError {
  if (error instanceof ImageRejectedError) return { code: error.code, message: error.message };
  if (error instanceof StorageNotFoundError) return { code: 'original_missing', message: 'The uploaded file is no longer in storage.' };
  if (error instanceof StorageUnavailableError || error instanceof JobStoreUnavailableError) {
    return { code: 'storage_unavailable', message: 'Storage could not be reached; the job was retried and gave up.' };
  }
  return { code: 'internal_error', message: 'The thumbnail could not be made because of an internal error.' };
}
