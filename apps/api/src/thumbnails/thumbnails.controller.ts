import { Controller, Delete, Get, Header, HttpCode, Logger, Param, Post, Query, Req, Res, StreamableFile, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isFinished, JOB_STATUSES, THUMBNAIL_FITS, type ThumbnailJob } from '@thumbnail/jobs';
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
import { JobDeletionService } from './job-deletion.service';
import type { JobView } from './job-view';
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
      // form is these two.
      additionalProperties: false,
      properties: {
        fit: { type: 'string', enum: [...THUMBNAIL_FITS], default: 'cover', description: 'Send before `file`.' },
        file: { type: 'string', format: 'binary', description: 'JPEG, PNG, WebP, GIF, AVIF or TIFF; judged by its bytes.' },
      },
    },
    encoding: { file: { contentType: ACCEPTED_MEDIA_TYPES.join(', ') } },
  })
  @ApiQuery({ name: 'fit', required: false, enum: THUMBNAIL_FITS, description: 'As the form field `fit` (which wins).' })
  @ApiQuery(waitParameter('Hold the answer until the job finishes: 201 with the finished job, or 202 when time is up.'))
  @ApiResponses(
    jsonResponse(202, 'Queued (or, with `wait`, not finished in time). `Location` points at the job.', SUBMISSION_BODY, {
      headers: { Location: HEADERS.location },
      links: jobLinks('/data/job_id'),
    }),
    jsonResponse(201, 'With `wait`: the job finished (complete or failed) in time; its fields follow `links`, as GET shows them.', FINISHED_SUBMISSION_BODY, {
      headers: { Location: HEADERS.location },
      links: jobLinks('/data/job_id'),
    }),
    errorResponse(
      400,
      ['file_required', 'too_many_files', 'too_many_parts', 'malformed_multipart', 'invalid_parameter', 'bad_request'],
      'No file in the field `file`, more than one file, too many parts, a body that ends early, or a bad `fit` or `wait`.',
    ),
    errorResponse(413, ['file_too_large', 'payload_too_large'], 'The file is over MAX_UPLOAD_BYTES (a declared Content-Length over it is refused unread).'),
    errorResponse(415, ['unsupported_media_type'], 'The bytes are not a JPEG, PNG, WebP, GIF, AVIF or TIFF image (PDF, SVG, HTML, HEIC…).'),
    errorResponse(422, ['image_too_large'], 'The image header declares more pixels than LIMIT_INPUT_PIXELS.'),
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
  ) {
    // A bad `wait` is refused before the upload is read.
    const seconds = parseWait(wait);
    const owner = ownerOf(request);
    const submitted = await this.submission.submit(request, fit, owner);
    const self = `/thumbnail/${submitted.id}`;
    const links = { self, image: `${self}/image` };
    void reply.header('location', self);
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
  @ApiOperation({ operationId: OPERATION_IDS.image, summary: 'The thumbnail (PNG)' })
  @ApiParam(JOB_ID_PARAMETER)
  @ApiResponses(
    {
      status: 200,
      description: 'The PNG.',
      content: { 'image/png': { schema: { type: 'string', format: 'binary' } } },
      headers: { ETag: HEADERS.etag, 'Last-Modified': HEADERS.lastModified, 'Cache-Control': HEADERS.cacheControl },
    },
    { status: 304, description: 'Not modified: `If-None-Match` named the current ETag.', headers: { ETag: HEADERS.etag } },
    errorResponse(404, ['not_found'], 'No such job (or another API key\'s).'),
    errorResponse(409, ['job_not_complete'], 'The job is not complete; `status` says what it is.'),
    errorResponse(410, ['thumbnail_missing'], 'The job is complete but its thumbnail is no longer stored.'),
  )
  @Header('cache-control', 'private, max-age=86400')
  @Header('x-content-type-options', 'nosniff')
  async image(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Param('id') id: string,
  ): Promise<StreamableFile | undefined> {
    const job = await this.query.find(id, ownerOf(request));
    const { info, open } = await this.query.thumbnail(job);
    void reply.header('etag', info.etag).header('last-modified', info.lastModified.toUTCString());
    if (request.headers['if-none-match'] === info.etag) {
      void reply.status(304);
      return undefined;
    }
    return new StreamableFile(await open(), { type: 'image/png', length: info.bytes });
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ operationId: OPERATION_IDS.delete, summary: 'Delete a finished job: its thumbnail, its original if kept, and its record' })
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
