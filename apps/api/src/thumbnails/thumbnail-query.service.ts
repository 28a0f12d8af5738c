import { Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { APP_CONFIG, DEFAULT_PRESET, type Env } from '@thumbnail/config';
import {
  InvalidCursorError,
  isFinished,
  isJobId,
  isJobStatus,
  JobStore,
  VARIANT_CONTENT_TYPES,
  variantKey,
  viewJob,
  type JobStatus,
  type JobView,
  type ThumbnailJob,
  type ThumbnailVariant,
} from '@thumbnail/jobs';
import { Storage, StorageNotFoundError, type StoredObjectInfo } from '@thumbnail/storage';
import { ApiError, errors } from '../errors/api-error';
import { JobCompletionWaiter } from './job-completion-waiter.service';
import { VariantPresets } from './variant-presets';

export const MAX_WAIT_SECONDS = 30;
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;
/** The largest page a listing may ask for. */
export const MAX_PAGE_SIZE = MAX_LIMIT;

export interface JobListView {
  data: JobView[];
  page: { limit: number; next_cursor: string | null };
}

/** Reads jobs for clients: one job, the list, and the thumbnail bytes. */
@Injectable()
export class ThumbnailQueryService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: Env,
    private readonly jobStore: JobStore,
    private readonly storage: Storage,
    private readonly waiter: JobCompletionWaiter,
    private readonly presets: VariantPresets,
  ) {}

  /** A job that exists and belongs to `owner` (another owner's job is "not found", not "forbidden"). */
  async find(id: string, owner: string | null): Promise<ThumbnailJob> {
    if (!isJobId(id)) throw errors.notFound();
    const job = await this.jobStore.get(id);
    if (!job || (owner !== null && job.owner !== owner)) throw errors.notFound();
    return job;
  }

  /**
   * The job, after waiting up to `waitSeconds` for it to finish (or less, if shutdown begins).
   * One read per wake-up: the subscription comes first, so a job finishing between the read and
   * the wait still wakes it.
   */
  async findWhenFinished(id: string, owner: string | null, waitSeconds: number): Promise<ThumbnailJob> {
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      const remaining = deadline - Date.now();
      const next = remaining > 0 && !this.waiter.isClosed ? this.waiter.next(id, remaining) : null;
      let job: ThumbnailJob;
      try {
        job = await this.find(id, owner);
      } catch (error) {
        next?.cancel();
        throw error;
      }
      if (!next || isFinished(job.status)) {
        next?.cancel();
        return job;
      }
      await next.done;
    }
  }

  async list(query: { limit?: unknown; cursor?: unknown; status?: unknown }, owner: string | null): Promise<{
    items: ThumbnailJob[];
    limit: number;
    nextCursor: string | null;
  }> {
    const limit = parseLimit(query.limit);
    const status = parseStatus(query.status);
    const cursor = query.cursor === undefined || query.cursor === '' ? undefined : String(query.cursor);
    try {
      const page = await this.jobStore.list({ limit, cursor, status, owner: owner ?? undefined });
      return { items: page.items, limit, nextCursor: page.nextCursor };
    } catch (error) {
      if (error instanceof InvalidCursorError) throw errors.invalidParameter('cursor', 'is not one this service handed out.');
      throw error;
    }
  }

  view(job: ThumbnailJob, request: FastifyRequest): Promise<JobView> {
    return viewJob(job, this.storage, this.baseUrl(request));
  }

  /**
   * One of the job's images, by variant name (absent: `default`). A name that is no preset at
   * all is the request's mistake (400, with the presets); a preset this job was not asked for
   * is not found. A variant the job lists stays served after its preset left the configuration.
   */
  async thumbnail(
    job: ThumbnailJob,
    variantName: unknown,
  ): Promise<{ info: StoredObjectInfo; contentType: string; open: () => Promise<Readable> }> {
    const variant = this.variantOf(job, variantName);
    if (job.status !== 'complete') throw errors.notComplete(job.status);
    const key = variantKey(job.id, variant);
    const info = await this.storage.head(key);
    if (!info) throw thumbnailMissing();
    return {
      info,
      contentType: VARIANT_CONTENT_TYPES[variant.format],
      open: () =>
        this.storage.get(key).catch((error: unknown) => {
          throw error instanceof StorageNotFoundError ? thumbnailMissing() : error;
        }),
    };
  }

  private variantOf(job: ThumbnailJob, name: unknown): ThumbnailVariant {
    if (name !== undefined && typeof name !== 'string') throw errors.invalidParameter('variant', 'must be one preset name.');
    const wanted = name === undefined || name === '' ? DEFAULT_PRESET : name;
    const variant = job.variants.find((candidate) => candidate.name === wanted);
    if (variant) return variant;
    if (!this.presets.isKnown(wanted)) throw this.presets.unknown(wanted);
    throw errors.notFound(`This job was not asked for the variant "${wanted}"; it has ${job.variants.map((v) => v.name).join(', ')}.`);
  }

  private baseUrl(request: FastifyRequest): string {
    return this.config.PUBLIC_URL?.replace(/\/+$/, '') ?? `${request.protocol}://${request.host}`;
  }
}

function thumbnailMissing(): ApiError {
  return new ApiError(410, 'thumbnail_missing', 'The thumbnail is no longer stored.');
}

/** The page size a listing asks for; invalid sizes are refused by `parseLimit`. */
export function requestedPageSize(value: unknown): number {
  const limit = Number(value);
  return value === undefined || value === '' || !Number.isInteger(limit) ? DEFAULT_LIMIT : Math.min(MAX_LIMIT, Math.max(1, limit));
}

function parseLimit(value: unknown): number {
  if (value === undefined || value === '') return DEFAULT_LIMIT;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw errors.invalidParameter('limit', `must be a whole number from 1 to ${MAX_LIMIT}.`);
  }
  return limit;
}

function parseStatus(value: unknown): JobStatus | undefined {
  if (value === undefined || value === '') return undefined;
  if (!isJobStatus(value)) {
    throw errors.invalidParameter('status', 'must be one of waiting, processing, complete, failed.');
  }
  return value;
}

export function parseWait(value: unknown): number {
  if (value === undefined || value === '') return 0;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw errors.invalidParameter('wait', `must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}.`);
  }
  return Math.min(seconds, MAX_WAIT_SECONDS);
}
