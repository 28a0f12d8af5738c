import { Controller, Delete, Get, Header, HttpCode, Logger, Param, Post, Query, Req, Res, StreamableFile, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiHeader, ApiOperation, ApiParam, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isFinished, JOB_STATUSES, THUMBNAIL_FITS, type JobView, type ThumbnailJob } from '@thumbnail/jobs';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { ownerOf } from '../auth/request-owner';
import { errorExample, IMAGE_TYPES, jobExample, unknownVariantExample } from './openapi-examples';
import { parseIdempotencyKey } from './idempotency-keys.service';
import { JobDeletionService } from './job-deletion.service';
import { JobRetryService } from './job-retry.service';
import { ListingLimit } from './listing-limit.interceptor';
import { MAX_WAIT_SECONDS, parseWait, ThumbnailQueryService } from './thumbnail-query.service';
import { ThumbnailSubmissionService } from './thumbnail-submission.service';

@ApiTags('thumbnails')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('thumbnail')
export class ThumbnailsController {
  private readonly logger = new Logger(ThumbnailsController.name);

  constructor(
    private readonly submission: ThumbnailSubmissionService,
    private readonly query: ThumbnailQueryService,
    private readonly deletion: JobDeletionService,
    private readonly retries: JobRetryService,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Upload an image and queue a thumbnail job; with `wait`, hold the answer until it finishes' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['file'],
      properties: {
        fit: { type: 'string', enum: [...THUMBNAIL_FITS], default: 'cover', description: 'Fit of the `default` variant. Send before `file`.' },
        variants: {
          type: 'string',
          description: 'Presets to make, comma-separated (e.g. `default,w640`); absent: `default`. Replaces the query parameter. Send before `file`.',
          example: 'default',
        },
        file: { type: 'string', format: 'binary', description: 'JPEG, PNG, WebP, GIF, AVIF or TIFF; judged by its bytes.' },
        callback_url: {
          type: 'string',
          format: 'uri',
          maxLength: 2048,
          description:
            'Where to POST a signed webhook (Standard Webhooks) when the job completes or fails: `thumbnail.completed` or `thumbnail.failed`, `data` being the job as GET shows it. Only when the server has WEBHOOK_SECRET; hosts may be limited by WEBHOOK_ALLOWED_HOSTS.',
        },
      },
    },
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Up to 255 visible ASCII characters, unique per upload (a UUID). Sending the same request again with the same key (and API key) within IDEMPOTENCY_RETENTION_HOURS answers with the first job, with `Idempotent-Replayed: true`; the same key with another file or fields is refused with 422.',
  })
  @ApiQuery({ name: 'fit', required: false, enum: THUMBNAIL_FITS })
  @ApiQuery({
    name: 'variants',
    required: false,
    description: `Presets to make, comma-separated; absent: \`default\`. At most MAX_VARIANTS_PER_JOB, from the operator's THUMBNAIL_PRESETS.`,
    schema: { type: 'string', example: 'default' },
  })
  @ApiQuery({
    name: 'wait',
    required: false,
    description: `Seconds to hold the answer until the job finishes (max ${MAX_WAIT_SECONDS}): 201 with the finished job, or 202 when time is up`,
  })
  @ApiResponse({
    status: 202,
    description: 'Queued (or, with `wait`, not finished in time). `Location` points at the job.',
    schema: { example: { data: { job_id: '6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77', status: 'waiting', links: { self: '/thumbnail/6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77', image: '/thumbnail/6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77/image' } } } },
  })
  @ApiResponse({
    status: 201,
    description: 'With `wait`: the job finished (complete or failed) in time; the job follows the links, as GET shows it.',
    schema: { example: { data: { job_id: jobExample._id, links: { self: `/thumbnail/${jobExample._id}`, image: `/thumbnail/${jobExample._id}/image` }, ...jobExample } } },
  })
  @ApiResponse({
    status: 400,
    description: '`file_required`, `invalid_parameter`, `unknown_variant` or `too_many_variants` (both with `known_variants`), …',
    schema: { example: unknownVariantExample },
  })
  @ApiResponse({ status: 413, schema: { example: errorExample('file_too_large', 'The file is larger than the limit of 20971520 bytes.') } })
  @ApiResponse({ status: 415, schema: { example: errorExample('unsupported_media_type', 'The file is not a JPEG, PNG, WebP, GIF, AVIF or TIFF image (judged by its content, not its name).') } })
  @ApiResponse({ status: 404, description: 'The job an earlier request with this Idempotency-Key made has been deleted.', schema: { example: errorExample('not_found', 'The job this Idempotency-Key created has been deleted; send a new key to upload again.') } })
  @ApiResponse({ status: 409, description: 'A request with this Idempotency-Key is still being handled.', schema: { example: errorExample('idempotency_key_in_use', 'A request with this Idempotency-Key is still being handled; try again shortly.') } })
  @ApiResponse({ status: 422, description: '`image_too_large`, or `idempotency_key_reused`: the key came with a different request before.', schema: { example: errorExample('image_too_large', 'The image declares 50000x50000 pixels, more than the limit of 40000000 pixels.') } })
  @ApiResponse({ status: 429, schema: { example: errorExample('queue_full', 'Too many jobs are waiting; try again shortly.') } })
  @ApiResponse({ status: 503, schema: { example: errorExample('service_unavailable', 'Storage is unavailable; try again shortly.') } })
  @ApiResponse({ status: 507, schema: { example: errorExample('insufficient_storage', 'The server is short of disk space for uploads and stored nothing; try again later.') } })
  async submit(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Query('fit') fit?: string,
    @Query('wait') wait?: string,
    @Query('variants') variants?: string | string[],
  ) {
    // A bad `wait` or Idempotency-Key is refused before the upload is read.
    const seconds = parseWait(wait);
    const idempotencyKey = parseIdempotencyKey(request.headers['idempotency-key']);
    const owner = ownerOf(request);
    const { job: submitted, replayed } = await this.submission.submit(request, fit, owner, variants, idempotencyKey);
    const self = `/thumbnail/${submitted.id}`;
    const links = { self, image: `${self}/image` };
    void reply.header('location', self);
    if (replayed) void reply.header('idempotent-replayed', 'true');
    // `job_id` must stay the first key: existing clients cut it out of the raw text.
    const accepted = { data: { job_id: submitted.id, status: submitted.status, links } };
    if (seconds === 0) return accepted;
    let job: ThumbnailJob;
    try {
      job = await this.query.findWhenFinished(submitted.id, owner, seconds);
    } catch (error) {
      // The job is queued whatever happened to the wait: answer as a plain POST would, so the
      // client follows the job instead of uploading it again.
      this.logger.warn({ jobId: submitted.id, reason: (error as Error).message }, 'Could not wait for a submitted job');
      return accepted;
    }
    if (!isFinished(job.status)) return { data: { ...accepted.data, status: job.status } };
    void reply.status(201);
    return { data: { ...accepted.data, ...(await this.query.view(job, request)) } };
  }

  @Get()
  @UseInterceptors(ListingLimit)
  @ApiOperation({ summary: 'List jobs, newest first' })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } })
  @ApiQuery({ name: 'cursor', required: false, description: '`page.next_cursor` of the previous page' })
  @ApiQuery({ name: 'status', required: false, enum: JOB_STATUSES })
  @ApiResponse({ status: 200, schema: { example: { data: [jobExample], page: { limit: 50, next_cursor: null } } } })
  async list(
    @Req() request: FastifyRequest,
    @Query('limit') limit?: string,
    @Query('cursor') cursor?: string,
    @Query('status') status?: string,
  ): Promise<{ data: JobView[]; page: { limit: number; next_cursor: string | null } }> {
    const page = await this.query.list({ limit, cursor, status }, ownerOf(request));
    const data = await Promise.all(page.items.map((job) => this.query.view(job, request)));
    return { data, page: { limit: page.limit, next_cursor: page.nextCursor } };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One job; with `wait`, hold the request until it finishes' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiQuery({ name: 'wait', required: false, description: `Seconds to wait for completion (max ${MAX_WAIT_SECONDS})` })
  @ApiResponse({ status: 200, schema: { example: { data: jobExample } } })
  @ApiResponse({ status: 404, schema: { example: errorExample('not_found', 'No such job.') } })
  async get(
    @Req() request: FastifyRequest,
    @Param('id') id: string,
    @Query('wait') wait?: string,
  ): Promise<{ data: JobView }> {
    const seconds = parseWait(wait);
    const owner = ownerOf(request);
    const job = seconds > 0 ? await this.query.findWhenFinished(id, owner, seconds) : await this.query.find(id, owner);
    return { data: await this.query.view(job, request) };
  }

  @Get(':id/image')
  @ApiOperation({ summary: 'One of the job’s images: the `default` thumbnail (PNG), or the variant named by `variant`' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiQuery({ name: 'variant', required: false, description: 'A variant the job was asked for; absent: `default`', schema: { type: 'string', example: 'default' } })
  @ApiProduces(...IMAGE_TYPES)
  @ApiResponse({ status: 200, description: 'The image, with its format’s Content-Type' })
  @ApiResponse({ status: 304, description: 'Not modified (If-None-Match)' })
  @ApiResponse({ status: 400, schema: { example: unknownVariantExample } })
  @ApiResponse({ status: 404, description: 'No such job, or the job was not asked for that variant', schema: { example: errorExample('not_found', 'No such job.') } })
  @ApiResponse({ status: 409, schema: { example: { error: { code: 'job_not_complete', message: 'The job is processing; its thumbnail is not available.', status: 'processing' } } } })
  @Header('cache-control', 'private, max-age=86400')
  @Header('x-content-type-options', 'nosniff')
  async image(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Param('id') id: string,
    @Query('variant') variant?: string | string[],
  ): Promise<StreamableFile | undefined> {
    const job = await this.query.find(id, ownerOf(request));
    const { info, contentType, open } = await this.query.thumbnail(job, variant);
    void reply.header('etag', info.etag).header('last-modified', info.lastModified.toUTCString());
    if (request.headers['if-none-match'] === info.etag) {
      void reply.status(304);
      return undefined;
    }
    return new StreamableFile(await open(), { type: contentType, length: info.bytes });
  }

  @Post(':id/retry')
  @HttpCode(202)
  @ApiOperation({ summary: 'Run a failed job again, when its failure was transient and its original is still kept' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiResponse({
    status: 202,
    description: 'Queued again: the same job, waiting. `Location` points at it.',
    schema: { example: { data: { job_id: jobExample._id, status: 'waiting', links: { self: `/thumbnail/${jobExample._id}`, image: `/thumbnail/${jobExample._id}/image` } } } },
  })
  @ApiResponse({ status: 404, schema: { example: errorExample('not_found', 'No such job.') } })
  @ApiResponse({
    status: 409,
    description: 'Not retryable: not failed, failed for a reason a retry would not change (`invalid_image`, `image_too_large`, `original_missing`), or its original is no longer kept.',
    schema: { example: { error: { code: 'job_not_retryable', message: 'The job cannot be retried: it failed with invalid_image, which trying again would not change.', status: 'failed' } } },
  })
  @ApiResponse({ status: 503, schema: { example: errorExample('service_unavailable', 'The job queue (Redis) is unavailable; try again shortly.') } })
  async retry(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply, @Param('id') id: string) {
    const job = await this.retries.retry(id, ownerOf(request), String(request.id));
    const self = `/thumbnail/${job.id}`;
    void reply.header('location', self);
    return { data: { job_id: job.id, status: job.status, links: { self, image: `${self}/image` } } };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a finished job: its thumbnail, its original if kept, and its record' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiResponse({ status: 204, description: 'Deleted; the job and its files are gone' })
  @ApiResponse({ status: 404, schema: { example: errorExample('not_found', 'No such job.') } })
  @ApiResponse({ status: 409, schema: { example: { error: { code: 'job_not_finished', message: 'The job is processing; it can be deleted once it is complete or failed (wait for it with ?wait=30).', status: 'processing' } } } })
  @ApiResponse({ status: 503, schema: { example: errorExample('service_unavailable', 'Storage is unavailable; try again shortly.') } })
  async remove(@Req() request: FastifyRequest, @Param('id') id: string): Promise<void> {
    await this.deletion.delete(id, ownerOf(request));
  }
}
