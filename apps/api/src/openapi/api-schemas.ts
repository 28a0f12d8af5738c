import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { PRESET_FORMATS } from '@thumbnail/config';
import { JOB_FAILURE_CODES, JOB_STATUSES, THUMBNAIL_FITS, type JobView } from '@thumbnail/jobs';
import { ACCEPTED_MEDIA_TYPES } from '@thumbnail/upload-inspection';

/*
 * The JSON bodies the API answers with, as JSON Schema for the OpenAPI document. Every object
 * forbids properties it does not list, so a field added to an answer without being documented
 * here fails the conformance suite (apps/api-e2e/src/openapi-conformance.e2e.ts).
 */

const ID = '6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77';

const jobId: SchemaObject = { type: 'string', format: 'uuid', example: ID };
const timestamp: SchemaObject = { type: 'string', format: 'date-time' };
const nullable = (schema: SchemaObject): SchemaObject => ({ ...schema, nullable: true });

/** One schema per field of JobView: the compiler refuses a field missing here or one too many. */
const jobProperties: Record<keyof JobView, SchemaObject> = {
  _id: jobId,
  filename: { type: 'string', description: 'Storage key of the original.', example: `originals/${ID}` },
  originalFilename: {
    type: 'string',
    minLength: 1,
    maxLength: 255,
    description: 'The name the client sent, for display only: path, control and bidi characters removed.',
    example: 'holiday.png',
  },
  status: { type: 'string', enum: [...JOB_STATUSES] },
  thumbnailFilename: nullable({ type: 'string', description: 'Storage key of the thumbnail once complete.', example: `thumbnails/${ID}.png` }),
  thumbnailLink: nullable({
    type: 'string',
    format: 'uri',
    description: 'Where to download the thumbnail (complete jobs only): this API, or a presigned S3 link.',
    example: `http://localhost:3000/thumbnail/${ID}/image`,
  }),
  createdAt: timestamp,
  startedAt: nullable(timestamp),
  completedAt: nullable(timestamp),
  attempts: { type: 'integer', minimum: 0 },
  fit: { type: 'string', enum: [...THUMBNAIL_FITS] },
  width: { type: 'integer', minimum: 1, example: 100 },
  height: { type: 'integer', minimum: 1, example: 100 },
  contentType: { type: 'string', enum: [...ACCEPTED_MEDIA_TYPES], description: 'Recognised from the bytes, never from the name or the declared type.' },
  bytes: { type: 'integer', minimum: 1, description: 'Size of the original.' },
  error: {
    type: 'object',
    additionalProperties: false,
    required: ['code', 'message'],
    description: 'Why a failed job failed.',
    properties: { code: { type: 'string', enum: [...JOB_FAILURE_CODES] }, message: { type: 'string' } },
  },
  variants: {
    type: 'array',
    minItems: 1,
    description: 'Every image the job makes, in the order asked for; `bytes` and `link` once it is complete.',
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'format', 'width', 'height', 'bytes', 'link'],
      properties: {
        name: { type: 'string', example: 'default' },
        format: { type: 'string', enum: [...PRESET_FORMATS] },
        width: { type: 'integer', minimum: 1, description: 'As made; before that, the preset\'s box (an upper bound with fit `inside`).' },
        height: { type: 'integer', minimum: 1 },
        bytes: nullable({ type: 'integer', minimum: 0 }),
        link: nullable({ type: 'string', format: 'uri', description: 'This API (`?variant=` for any but `default`), or a presigned S3 link.' }),
      },
    },
  },
  placeholder: nullable({
    type: 'object',
    additionalProperties: false,
    required: ['thumbhash'],
    description: 'Once complete: a ThumbHash of the image to show while a variant loads.',
    properties: { thumbhash: { type: 'string', format: 'byte', example: 'HBkSHYSIeHiPiHh8eJd4eTN0EEQG' } },
  }),
};

const jobRequired = Object.keys(jobProperties).filter((name) => name !== 'error');

const links: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  required: ['self', 'image'],
  properties: {
    self: { type: 'string', format: 'uri-reference', example: `/thumbnail/${ID}` },
    image: { type: 'string', format: 'uri-reference', example: `/thumbnail/${ID}/image` },
  },
};

/** Wraps a body the way every successful answer is wrapped: `{"data": …}`. */
function envelope(data: SchemaObject): SchemaObject {
  return { type: 'object', additionalProperties: false, required: ['data'], properties: { data } };
}

export const JOB_SCHEMA: SchemaObject = { type: 'object', additionalProperties: false, required: jobRequired, properties: jobProperties };

/** GET /thumbnail/{id}. */
export const JOB_BODY = envelope(JOB_SCHEMA);

/** GET /thumbnail. */
export const JOB_LIST_BODY: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  required: ['data', 'page'],
  properties: {
    data: { type: 'array', items: JOB_SCHEMA, description: 'Newest first.' },
    page: {
      type: 'object',
      additionalProperties: false,
      required: ['limit', 'next_cursor'],
      properties: {
        limit: { type: 'integer', minimum: 1, maximum: 500 },
        next_cursor: nullable({ type: 'string', description: 'Pass as `cursor` for the next page; null on the last page.' }),
      },
    },
  },
};

/**
 * 202 to POST /thumbnail: queued, or not finished within `wait`, or an Idempotency-Key's replay
 * (any status then); and to a retry. `job_id` stays the first key.
 */
export const SUBMISSION_BODY = envelope({
  type: 'object',
  additionalProperties: false,
  required: ['job_id', 'status', 'links'],
  properties: { job_id: jobId, status: { type: 'string', enum: [...JOB_STATUSES] }, links },
});

/** 201 to POST /thumbnail?wait=: finished in time; the job's fields follow `job_id` and `links`. */
export const FINISHED_SUBMISSION_BODY = envelope({
  type: 'object',
  additionalProperties: false,
  required: ['job_id', 'links', ...jobRequired],
  properties: {
    job_id: jobId,
    links,
    ...jobProperties,
    status: { type: 'string', enum: ['complete', 'failed'] },
  },
});

export const GREETING_BODY = envelope({ type: 'string', example: 'Hello from Thumbnail Generator v1.0.0' });

/**
 * `{"error":{"code","message"}}` with the codes this answer can carry; `status` for a job that is
 * not in the state asked for, `request_id` on 500s.
 */
export function errorBody(codes: readonly string[]): SchemaObject {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        additionalProperties: false,
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', enum: [...codes] },
          message: { type: 'string' },
          status: { type: 'string', enum: [...JOB_STATUSES], description: 'The job\'s status, when it is not the one needed.' },
          request_id: { type: 'string' },
          known_variants: { type: 'array', items: { type: 'string' }, description: 'With `unknown_variant` and `too_many_variants`: the presets there are.' },
        },
      },
    },
  };
}
