import { createHash, randomUUID } from 'node:crypto';
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
  type ThumbnailVariant,
} from '@thumbnail/jobs';
import { InjectMetric, METRICS } from '@thumbnail/metrics';
import { Storage } from '@thumbnail/storage';
import { ApiError, errors } from '../errors/api-error';
import { quotedText } from '../errors/quoted-text';
import { CallbackUrls } from './callback-urls';
import { IdempotencyKeys } from './idempotency-keys.service';
import { cleanFilename } from './job-view';
import { QueueAdmissionService } from './queue-admission.service';
import { UploadInspector } from './upload-inspector';
import { UploadLimits } from './upload-limits';
import { claimingStream, UploadSpace, type UploadReservation } from './upload-space';
import { VariantPresets } from './variant-presets';

interface StoredUpload {
  filename: string;
  inspector: UploadInspector;
  /** SHA-256 of the file's bytes, when the request carries an Idempotency-Key. */
  digest: string | null;
}

/** The job a POST answers with; `replayed` when an Idempotency-Key found it instead of making it. */
export interface Submission {
  job: ThumbnailJob;
  replayed: boolean;
}

/**
 * POST /thumbnail: streams the upload to storage while checking it, then records and queues
 * the job. Whatever goes wrong on the way, no stored object and no record is left behind.
 */
/** The form's fields besides `file`. */
const FORM_FIELDS: ReadonlySet<string> = new Set(['fit', 'variants', 'callback_url']);

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
    private readonly presets: VariantPresets,
    private readonly callbacks: CallbackUrls,
    private readonly idempotency: IdempotencyKeys,
    @InjectMetric(METRICS.jobsSubmitted) private readonly submitted: Counter,
    @InjectMetric(METRICS.uploadBytes) private readonly uploadBytes: Histogram,
    @InjectMetric(METRICS.idempotentReplays) private readonly replays: Counter<string>,
  ) {}

  /**
   * @param queryVariants the `variants` query parameter; a `variants` form field replaces it.
   *   Unknown presets are refused before the upload is read when they come in the query.
   * @param idempotencyKey the request's Idempotency-Key, parsed (null without one).
   */
  async submit(
    request: FastifyRequest,
    queryFit: unknown,
    owner: string | null,
    queryVariants?: unknown,
    idempotencyKey: string | null = null,
  ): Promise<Submission> {
    if (!request.isMultipart()) throw errors.fileRequired();
    await this.admission.assertRoom();

    const id = randomUUID();
    const key = originalKey(id);
    let fit = queryFit === undefined ? undefined : parseFit(queryFit);
    let variantNames = queryVariants === undefined ? undefined : this.presets.parse(queryVariants);
    let formVariants: string[] = [];
    let callbackUrl: string | null = null;
    let upload: StoredUpload | null = null;
    // Opened right before the try whose finally closes it: a refusal in between would keep its
    // room claimed for good.
    const reservation = await this.space.open();
    try {
      const parts = request.parts({ limits: this.limits.parserLimits() });
      for await (const part of parts) {
        if (part.type === 'field') {
          if (part.fieldname === 'fit') fit = parseFit(part.value);
          if (part.fieldname === 'variants') {
            // Repeated fields add up, as checkboxes send them.
            formVariants = [...formVariants, String(part.value)];
            variantNames = this.presets.parse(formVariants);
          }
          if (part.fieldname === 'callback_url') callbackUrl = this.callbacks.accept(String(part.value), part.valueTruncated);
          // A field nobody reads is a client's mistake (a misspelt `fit`, say), not something to drop quietly.
          // (`file` sent as text is answered below: no file came.)
          if (!FORM_FIELDS.has(part.fieldname) && part.fieldname !== 'file') {
            throw errors.invalidParameter(quotedText(part.fieldname), `is not a field of this form, which takes ${[...FORM_FIELDS, 'file'].join(', ')}.`);
          }
          continue;
        }
        if (part.fieldname !== 'file') {
          throw errors.fileRequired(`The file came in the field "${cleanFilename(part.fieldname)}"; send it in the field "file".`);
        }
        upload = await this.storeOriginal(key, part.file, part.filename, reservation, idempotencyKey !== null);
      }
    } catch (error) {
      // The write may have started: adapters drop partial data, and deleting nothing is harmless.
      await this.discard(id, key);
      throw toUploadError(error, this.limits);
    } finally {
      // Stored or dropped: either way the disk's own free space now says what it took.
      reservation.close();
    }
    if (!upload) throw errors.fileRequired();

    const image = upload.inspector.image;
    if (!image) throw new Error('inspector finished without a type');
    const variants = this.presets.variants(variantNames, fit);
    if (idempotencyKey !== null) {
      const print = fingerprint(upload, variants, callbackUrl);
      const claim = await this.idempotency.claim(owner, idempotencyKey, print, id).catch(async (error: unknown) => {
        await this.discard(id, key);
        throw error;
      });
      if (claim.kind !== 'claimed') {
        // The first request's upload is the one kept; this copy of it goes.
        await this.discard(id, key);
        this.replays.inc({ result: claim.kind === 'mismatch' ? 'mismatch' : 'replayed' });
        if (claim.kind === 'mismatch') throw errors.idempotencyKeyReused();
        const first = await this.jobStore.get(claim.jobId);
        if (!first) throw errors.notFound('The job this Idempotency-Key created has been deleted; send a new key to upload again.');
        this.logger.log({ jobId: first.id }, 'Idempotent replay answered with the first job');
        return { job: first, replayed: true };
      }
    }
    let job: ThumbnailJob;
    try {
      job = await this.jobStore.create({
        id,
        originalFilename: upload.filename,
        originalKey: key,
        contentType: image.mime,
        bytes: upload.inspector.bytes,
        ...this.presets.original(fit),
        variants,
        owner,
        requestId: String(request.id),
        createdAt: new Date(),
        callbackUrl,
      });
    } catch (error) {
      await this.releaseKey(owner, idempotencyKey, id);
      await this.discard(id, key);
      throw error;
    }
    try {
      await enqueueThumbnailJob(this.queue, { jobId: id, requestId: String(request.id) }, queueJobSettings(this.config));
    } catch (error) {
      this.logger.warn({ jobId: id, reason: (error as Error).message }, 'Could not queue the job; discarding it');
      await this.jobStore.delete(id).catch(() => undefined);
      await this.releaseKey(owner, idempotencyKey, id);
      await this.discard(id, key);
      throw errors.unavailable('The job queue (Redis)');
    }
    // Not confirmed (Redis failed right after queuing): the pending claim expires within a
    // minute. A replay meanwhile waits, then gets 409; one after that makes a second job.
    if (idempotencyKey !== null) await this.idempotency.confirm(owner, idempotencyKey, id).catch(() => undefined);
    this.submitted.inc();
    this.uploadBytes.observe(upload.inspector.bytes);
    this.logger.log(
      { jobId: id, bytes: upload.inspector.bytes, contentType: image.mime, fit: job.fit, variants: variantNames, callback: callbackUrl !== null },
      'Job queued',
    );
    return { job, replayed: false };
  }

  private async releaseKey(owner: string | null, idempotencyKey: string | null, id: string): Promise<void> {
    if (idempotencyKey === null) return;
    await this.idempotency.release(owner, idempotencyKey, id).catch((error: Error) =>
      this.logger.warn({ jobId: id, reason: error.message }, 'Could not free an Idempotency-Key; it frees itself within a minute'),
    );
  }

  private async storeOriginal(
    key: string,
    file: Readable,
    filename: string,
    reservation: UploadReservation,
    digest: boolean,
  ): Promise<StoredUpload> {
    const inspector = new UploadInspector({
      maxBytes: this.limits.fileBytes,
      maxPixels: this.config.LIMIT_INPUT_PIXELS,
    });
    const claimed = claimingStream(reservation);
    // Beside the pipe, not in it: a second reader of the same chunks.
    const hash = digest ? createHash('sha256') : null;
    if (hash) file.on('data', (chunk: Buffer) => hash.update(chunk));
    // pipeline() tears the streams down together: a client abort fails the storage write, and a
    // refusal by the inspector or for disk space stops reading the client.
    pipeline(file, inspector, claimed, () => undefined);
    this.uploading.add(file);
    try {
      // Synced in the background: the answer does not wait for the disk, and the job record in
      // Redis is itself durable only within a second (docs/deployment.md, Durability).
      await this.storage.put(key, claimed, {
        contentType: 'application/octet-stream',
        durability: 'background',
        onWritten: (bytes) => reservation.written(bytes),
      });
    } finally {
      this.uploading.delete(file);
    }
    return { filename: cleanFilename(filename), inspector, digest: hash?.digest('hex') ?? null };
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

/**
 * What makes two uploads the same request for an Idempotency-Key: the file's bytes and name and
 * the fields, as the job would be made from them (`fit` from the form or the query alike).
 */
function fingerprint(upload: StoredUpload, variants: readonly ThumbnailVariant[], callbackUrl: string | null): string {
  const request = { file: upload.digest, filename: upload.filename, variants, callbackUrl };
  return createHash('sha256').update(JSON.stringify(request)).digest('hex');
}

function parseFit(value: unknown): ThumbnailFit {
  if (typeof value === 'string' && (THUMBNAIL_FITS as readonly string[]).includes(value)) {
    return value as ThumbnailFit;
  }
  throw errors.invalidParameter('fit', `must be one of ${THUMBNAIL_FITS.join(', ')}.`);
}

/** What busboy (the multipart parser) says about a body that is not a well-formed form. */
const MALFORMED_FORM = /^(Multipart: Boundary not found|Unexpected end of (form|multipart)|Malformed)|terminated early/i;

/** Maps what multipart parsing and storage can throw to client-facing errors. */
function toUploadError(error: unknown, limits: UploadLimits): unknown {
  if (error instanceof ApiError) return error;
  const { code, statusCode, message } = (error ?? {}) as { code?: unknown; statusCode?: unknown; message?: unknown };
  switch (code) {
    case 'FST_FILES_LIMIT':
      return errors.tooManyFiles();
    case 'FST_REQ_FILE_TOO_LARGE':
      return limits.tooLarge();
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new ApiError(400, 'too_many_parts', 'The form has too many parts; send one file and at most the fields "fit", "variants" and "callback_url".');
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return errors.fileRequired();
  }
  // @fastify/multipart's other refusals of the form (a field named __proto__, a bad JSON field, a
  // body closed part-way) are 4xx errors of its own; their messages are not ours to show.
  const multipartRefusal = typeof code === 'string' && code.startsWith('FST_') && typeof statusCode === 'number' && statusCode < 500;
  if (multipartRefusal || (typeof message === 'string' && MALFORMED_FORM.test(message))) return errors.malformedMultipart();
  return error;
}
