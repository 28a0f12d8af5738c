import { Controller, Delete, Get, Header, HttpCode, Logger, Param, Post, Query, Req, Res, StreamableFile, UseGuards, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isFinished, JOB_STATUSES, THUMBNAIL_FITS, VARIANT_CONTENT_TYPES, type JobView, type ThumbnailJob } from '@thumbnail/jobs';
import { ACCEPTED_MEDIA_TYPES } from '@thumbnail/upload-inspection';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { ownerOf } from '../auth/request-owner';
import {
  ApiResponses,
  COMMON_THUMBNAIL_RESPONSES,
  errorResponse,
  HEADERS,
  jobLinks,
  jsonResponse,
  OPERATION_IDS,
} from '../openapi/api-responses';
import { FINISHED_SUBMISSION_BODY, JOB_BODY, JOB_LIST_BODY, SUBMISSION_BODY } from '../openapi/api-schemas';
import { IDEMPOTENCY_HEADER_PATTERN, parseIdempotencyKey } from './idempotency-keys.service';
import { JobDeletionService } from './job-deletion.service';
import { JobRetryService } from './job-retry.service';
import { ListingLimit } from './listing-limit.interceptor';
import { MAX_WAIT_SECONDS, parseWait, ThumbnailQueryService } from './thumbnail-query.service';
import { ThumbnailSubmissionService } from './thumbnail-submission.service';

const JOB_ID_PARAMETER = { name: 'id', schema: { type: 'string', format: 'uuid' }, description: 'The `job_id` POST answered with.' };

function waitParameter(what: string) {
  return {
    name: 'wait',
    required: false,
    allowEmptyValue: true,
    schema: { type: 'number', minimum: 0 },
    description: `Seconds (at most ${MAX_WAIT_SECONDS}; more counts as ${MAX_WAIT_SECONDS}). ${what}`,
  };
}

@ApiTags('thumbnails')
@ApiBearerAuth()
@ApiResponses(...COMMON_THUMBNAIL_RESPONSES)
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
  @ApiOperation({
    operationId: OPERATION_IDS.submit,
    summary: 'Upload an image and queue a thumbnail job; with `wait`, hold the answer until it finishes',
  })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['file'],
      // Other fields are ignored, but not every one is harmless (`__proto__` is refused): the
      // form is these.
      additionalProperties: false,
      properties: {
        fit: { type: 'string', enum: [...THUMBNAIL_FITS], default: 'cover', description: 'Fit of the `default` variant. Send before `file`.' },
        variants: {
          type: 'string',
          description: 'Presets to make, comma-separated (e.g. `default,w640`); absent: `default`. Replaces the query parameter. Send before `file`.',
          example: 'default',
        },
        callback_url: {
          type: 'string',
          format: 'uri',
          maxLength: 2048,
          description:
            'Where to POST a signed webhook (Standard Webhooks) when the job completes or fails: `thumbnail.completed` or `thumbnail.failed`, `data` being the job as GET shows it. Only when the server has WEBHOOK_SECRET; hosts may be limited by WEBHOOK_ALLOWED_HOSTS.',
        },
        file: { type: 'string', format: 'binary', description: 'JPEG, PNG, WebP, GIF, AVIF or TIFF; judged by its bytes.' },
      },
    },
    encoding: { file: { contentType: ACCEPTED_MEDIA_TYPES.join(', ') } },
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    schema: { type: 'string', pattern: IDEMPOTENCY_HEADER_PATTERN.source },
    description:
      'Unique per upload (a UUID). Sending the same request again with the same key (and API key) within IDEMPOTENCY_RETENTION_HOURS answers with the first job, with `Idempotent-Replayed: true`; the same key with another file or fields is refused with 422.',
  })
  @ApiQuery({ name: 'fit', required: false, enum: THUMBNAIL_FITS, description: 'As the form field `fit` (which wins).' })
  @ApiQuery({
    name: 'variants',
    required: false,
    schema: { type: 'string', example: 'default' },
    description: "Presets to make, comma-separated; absent: `default`. At most MAX_VARIANTS_PER_JOB, from the operator's THUMBNAIL_PRESETS. The form field `variants` replaces it.",
  })
  @ApiQuery(waitParameter('Hold the answer until the job finishes: 201 with the finished job, or 202 when time is up.'))
  @ApiResponses(
    jsonResponse(202, 'Queued (or, with `wait`, not finished in time; or a replay of an Idempotency-Key, then with `Idempotent-Replayed: true` and the first job\'s status). `Location` points at the job.', SUBMISSION_BODY, {
      headers: { Location: HEADERS.location, 'Idempotent-Replayed': HEADERS.idempotentReplayed },
      links: jobLinks('/data/job_id'),
    }),
    jsonResponse(201, 'With `wait`: the job finished (complete or failed) in time; its fields follow `links`, as GET shows them.', FINISHED_SUBMISSION_BODY, {
      headers: { Location: HEADERS.location },
      links: jobLinks('/data/job_id'),
    }),
    errorResponse(
      400,
      ['file_required', 'too_many_files', 'too_many_parts', 'malformed_multipart', 'invalid_parameter', 'unknown_variant', 'too_many_variants', 'bad_request'],
      'No file in the field `file`, more than one file, too many parts, a body that ends early, a bad `fit`, `variants`, `wait`, `callback_url` or Idempotency-Key, a preset that is not configured or too many of them (both with `known_variants`).',
    ),
    errorResponse(404, ['not_found'], 'The job an earlier request with this Idempotency-Key made has been deleted.'),
    errorResponse(409, ['idempotency_key_in_use'], 'A request with this Idempotency-Key is still being handled.'),
    errorResponse(413, ['file_too_large', 'payload_too_large'], 'The file is over MAX_UPLOAD_BYTES (a declared Content-Length over it is refused unread).'),
    errorResponse(415, ['unsupported_media_type'], 'The bytes are not a JPEG, PNG, WebP, GIF, AVIF or TIFF image (PDF, SVG, HTML, HEIC…).'),
    errorResponse(422, ['image_too_large', 'idempotency_key_reused'], 'The image header declares more pixels than LIMIT_INPUT_PIXELS or a side over 65,535; or the Idempotency-Key came with a different request before.'),
    errorResponse(429, ['queue_full'], 'More than MAX_QUEUE_DEPTH jobs are waiting.', { 'Retry-After': HEADERS.retryAfter }),
    errorResponse(507, ['insufficient_storage'], 'Disk storage: the upload would leave less than MIN_FREE_STORAGE_BYTES free; nothing was stored.', {
      'Retry-After': HEADERS.retryAfter,
    }),
  )
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
  @ApiOperation({ operationId: OPERATION_IDS.list, summary: 'List jobs, newest first' })
  // An empty `?limit=`, `?cursor=` or `?status=` counts as not sent.
  @ApiQuery({ name: 'limit', required: false, allowEmptyValue: true, schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } })
  @ApiQuery({
    name: 'cursor',
    required: false,
    allowEmptyValue: true,
    // An opaque token this service hands out; the format names it for generators (the
    // conformance suite's Schemathesis hooks make valid ones).
    schema: { type: 'string', format: 'page-cursor' },
    description: '`page.next_cursor` of an earlier page; any other value is refused (400 `invalid_parameter`).',
  })
  @ApiQuery({ name: 'status', required: false, allowEmptyValue: true, enum: JOB_STATUSES })
  @ApiResponses(
    jsonResponse(200, 'A page of jobs.', JOB_LIST_BODY, {
      links: {
        NextPage: {
          operationId: OPERATION_IDS.list,
          parameters: { cursor: '$response.body#/page/next_cursor' },
          description: 'The next page (while `next_cursor` is not null).',
        },
      },
    }),
    errorResponse(400, ['invalid_parameter'], 'A bad `limit`, `status` or `cursor`.'),
    errorResponse(429, ['too_many_requests'], 'More than LIST_CONCURRENCY_PER_KEY listings of this API key at once.', { 'Retry-After': HEADERS.retryAfter }),
  )
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
  @ApiOperation({ operationId: OPERATION_IDS.get, summary: 'One job; with `wait`, hold the request until it finishes' })
  @ApiParam(JOB_ID_PARAMETER)
  @ApiQuery(waitParameter('Hold the request until the job is complete or failed.'))
  @ApiResponses(
    jsonResponse(200, 'The job.', JOB_BODY, { links: jobLinks('/data/_id') }),
    errorResponse(400, ['invalid_parameter'], 'A bad `wait`.'),
    errorResponse(404, ['not_found'], 'No such job (or another API key\'s).'),
  )
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
  @ApiOperation({ operationId: OPERATION_IDS.image, summary: 'One of the job\'s images: the `default` thumbnail (PNG), or the variant named by `variant`' })
  @ApiParam(JOB_ID_PARAMETER)
  @ApiQuery({ name: 'variant', required: false, allowEmptyValue: true, schema: { type: 'string', example: 'default' }, description: 'A variant the job was asked for; absent: `default`.' })
  @ApiResponses(
    {
      status: 200,
      description: 'The image, with its format\'s Content-Type.',
      content: Object.fromEntries(Object.values(VARIANT_CONTENT_TYPES).map((type) => [type, { schema: { type: 'string', format: 'binary' } }])),
      headers: { ETag: HEADERS.etag, 'Last-Modified': HEADERS.lastModified, 'Cache-Control': HEADERS.cacheControl },
    },
    { status: 304, description: 'Not modified: `If-None-Match` named the current ETag.', headers: { ETag: HEADERS.etag } },
    errorResponse(400, ['invalid_parameter', 'unknown_variant'], 'A `variant` that is no preset (with `known_variants`).'),
    errorResponse(404, ['not_found'], 'No such job (or another API key\'s), or a variant the job was not asked for.'),
    errorResponse(409, ['job_not_complete'], 'The job is not complete; `status` says what it is.'),
    errorResponse(410, ['thumbnail_missing'], 'The job is complete but its thumbnail is no longer stored.'),
  )
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
  @ApiOperation({ operationId: OPERATION_IDS.retry, summary: 'Run a failed job again, when its failure was transient and its original is still kept' })
  @ApiParam(JOB_ID_PARAMETER)
  @ApiResponses(
    jsonResponse(202, 'Queued again: the same job, waiting. `Location` points at it.', SUBMISSION_BODY, {
      headers: { Location: HEADERS.location },
      links: jobLinks('/data/job_id'),
    }),
    errorResponse(404, ['not_found'], 'No such job (or another API key\'s).'),
    errorResponse(
      409,
      ['job_not_retryable'],
      'Not retryable: not failed, failed for a reason a retry would not change (`invalid_image`, `image_too_large`, `original_missing`, `worker_crashed`), or its original is no longer kept; `status` says what the job is.',
    ),
  )
  async retry(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply, @Param('id') id: string) {
    const job = await this.retries.retry(id, ownerOf(request), String(request.id));
    const self = `/thumbnail/${job.id}`;
    void reply.header('location', self);
    return { data: { job_id: job.id, status: job.status, links: { self, image: `${self}/image` } } };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ operationId: OPERATION_IDS.delete, summary: 'Delete a finished job: its images, its original if kept, and its record' })
  @ApiParam(JOB_ID_PARAMETER)
  @ApiResponses(
    { status: 204, description: 'Deleted; the job and its files are gone.' },
    errorResponse(404, ['not_found'], 'No such job (or another API key\'s).'),
    errorResponse(409, ['job_not_finished'], 'The job is waiting or processing; `status` says which (wait for it with `?wait=30`, then delete).'),
  )
  async remove(@Req() request: FastifyRequest, @Param('id') id: string): Promise<void> {
    await this.deletion.delete(id, ownerOf(request));
  }
}
