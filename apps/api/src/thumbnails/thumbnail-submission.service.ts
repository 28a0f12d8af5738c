import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { FastifyRequest } from 'fastify';
// request.isMultipart() and request.parts() are the plugin's (main.ts registers it).
import type {} from '@fastify/multipart';
import type { Counter, Histogram } from 'prom-client';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import {
  JobStore,
  enqueueThumbnailJob,
  originalKey,
  queueJobSettings,
  THUMBNAIL_FITS,
  THUMBNAIL_QUEUE,
  type ThumbnailFit,
  type ThumbnailJob,
  type ThumbnailJobPayload,
} from '@thumbnail/jobs';
import { InjectMetric, METRICS } from '@thumbnail/metrics';
import { Storage } from '@thumbnail/storage';
import { ApiError, errors } from '../errors/api-error';
import { declaredBodyBytes } from './declared-body-bytes';
import { cleanFilename } from './job-view';
import { QueueAdmissionService } from './queue-admission.service';
import { UploadInspector } from './upload-inspector';
import { UploadLimits } from './upload-limits';
import { UploadSpace } from './upload-space';

interface StoredUpload {
  filename: string;
  inspector: UploadInspector;
}

/**
 * POST /thumbnail: streams the upload to storage while checking it, then records and queues
 * the job. Whatever goes wrong on the way, no stored object and no record is left behind.
 */
@Injectable()
export class ThumbnailSubmissionService {
  private readonly logger = new Logger(ThumbnailSubmissionService.name);
  /** Client streams being read right now, so shutdown can cut them off instead of waiting. */
  private readonly uploading = new Set<Readable>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: Env,
    @InjectQueue(THUMBNAIL_QUEUE) private readonly queue: Queue<ThumbnailJobPayload>,
    private readonly storage: Storage,
    private readonly jobStore: JobStore,
    private readonly admission: QueueAdmissionService,
    private readonly space: UploadSpace,
    private readonly limits: UploadLimits,
    @InjectMetric(METRICS.jobsSubmitted) private readonly submitted: Counter,
    @InjectMetric(METRICS.uploadBytes) private readonly uploadBytes: Histogram,
  ) {}

  async submit(request: FastifyRequest, queryFit: unknown, owner: string | null): Promise<ThumbnailJob> {
    if (!request.isMultipart()) throw errors.fileRequired();
    await this.admission.assertRoom();

    const id = randomUUID();
    const key = originalKey(id);
    let fit = parseFit(queryFit ?? 'cover');
    let upload: StoredUpload | null = null;
    // Claimed right before the try whose finally gives it back: a refusal in between would keep
    // the room claimed for good.
    const releaseSpace = await this.space.claim(declaredBodyBytes(request.headers));
    try {
      const parts = request.parts({ limits: this.limits.parserLimits() });
      for await (const part of parts) {
        if (part.type === 'field') {
          if (part.fieldname === 'fit') fit = parseFit(part.value);
          continue;
        }
        if (part.fieldname !== 'file') {
          throw errors.fileRequired(`The file came in the field "${cleanFilename(part.fieldname)}"; send it in the field "file".`);
        }
        upload = await this.storeOriginal(key, part.file, part.filename);
      }
    } catch (error) {
      // The write may have started: adapters drop partial data, and deleting nothing is harmless.
      await this.discard(id, key);
      throw toUploadError(error, this.limits);
    } finally {
      // Stored or dropped: either way the disk's own free space now says what it took.
      releaseSpace();
    }
    if (!upload) throw errors.fileRequired();

    const image = upload.inspector.image;
    if (!image) throw new Error('inspector finished without a type');
    let job: ThumbnailJob;
    try {
      job = await this.jobStore.create({
        id,
        originalFilename: upload.filename,
        originalKey: key,
        contentType: image.mime,
        bytes: upload.inspector.bytes,
        fit,
        width: this.config.THUMBNAIL_SIZE,
        height: this.config.THUMBNAIL_SIZE,
        owner,
        requestId: String(request.id),
        createdAt: new Date(),
      });
    } catch (error) {
      await this.discard(id, key);
      throw error;
    }
    try {
      await enqueueThumbnailJob(this.queue, { jobId: id, requestId: String(request.id) }, queueJobSettings(this.config));
    } catch (error) {
      this.logger.warn({ jobId: id, reason: (error as Error).message }, 'Could not queue the job; discarding it');
      await this.jobStore.delete(id).catch(() => undefined);
      await this.discard(id, key);
      throw errors.unavailable('The job queue (Redis)');
    }
    this.submitted.inc();
    this.uploadBytes.observe(upload.inspector.bytes);
    this.logger.log({ jobId: id, bytes: upload.inspector.bytes, contentType: image.mime, fit }, 'Job queued');
    return job;
  }

  private async storeOriginal(key: string, file: Readable, filename: string): Promise<StoredUpload> {
    const inspector = new UploadInspector({
      maxBytes: this.limits.fileBytes,
      maxPixels: this.config.LIMIT_INPUT_PIXELS,
    });
    // pipeline() tears both streams down together: a client abort fails the storage write, and
    // a refusal by the inspector stops reading the client.
    pipeline(file, inspector, () => undefined);
    this.uploading.add(file);
    try {
      // Synced in the background: the answer does not wait for the disk, and the job record in
      // Redis is itself durable only within a second (docs/deployment.md, Durability).
      await this.storage.put(key, inspector, { contentType: 'application/octet-stream', durability: 'background' });
    } finally {
      this.uploading.delete(file);
    }
    return { filename: cleanFilename(filename), inspector };
  }

  /**
   * On shutdown: fails every upload still arriving with 503, so its partial data is discarded and
   * the client knows to retry elsewhere, rather than holding the drain until the timeout.
   */
  abortUploads(): number {
    for (const file of this.uploading) file.destroy(errors.shuttingDown());
    return this.uploading.size;
  }

  private async discard(id: string, key: string): Promise<void> {
    await this.storage.delete(key).catch((error: Error) =>
      this.logger.warn({ jobId: id, reason: error.message }, 'Could not delete a discarded upload'),
    );
  }
}

function parseFit(value: unknown): ThumbnailFit {
  if (typeof value === 'string' && (THUMBNAIL_FITS as readonly string[]).includes(value)) {
    return value as ThumbnailFit;
  }
  throw errors.invalidParameter('fit', `must be one of ${THUMBNAIL_FITS.join(', ')}.`);
}

/** Maps what multipart parsing and storage can throw to client-facing errors. */
function toUploadError(error: unknown, limits: UploadLimits): unknown {
  if (error instanceof ApiError) return error;
  const code = (error as { code?: string }).code;
  switch (code) {
    case 'FST_FILES_LIMIT':
      return errors.tooManyFiles();
    case 'FST_REQ_FILE_TOO_LARGE':
      return limits.tooLarge();
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new ApiError(400, 'too_many_parts', 'The form has too many parts; send one file and at most the field "fit".');
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return errors.fileRequired();
    default:
      // busboy's own words: a body cut short, a bad part header, a Content-Type without its boundary.
      if (/Unexpected end of (form|multipart)|terminated early|Malformed|Boundary not found/i.test((error as Error)?.message ?? '')) {
        return new ApiError(400, 'malformed_multipart', 'The multipart body ended early or is malformed.');
      }
      return error;
  }
}
