import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import type { HeaderObject, LinksObject, SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { errorBody } from './api-schemas';

/*
 * The responses of the OpenAPI document, built from the schemas in api-schemas.ts. Each names its
 * exact content type, its headers and, for answers that carry a job id, the links a client (and
 * Schemathesis' stateful phase) follows to the job's other operations.
 */

type ResponseOptions = Parameters<typeof ApiResponse>[0];

export const OPERATION_IDS = {
  submit: 'submitJob',
  list: 'listJobs',
  get: 'getJob',
  image: 'getThumbnail',
  delete: 'deleteJob',
  retry: 'retryJob',
} as const;

export const HEADERS = {
  location: { required: true, description: 'The job: `/thumbnail/<id>`.', schema: { type: 'string', format: 'uri-reference' } },
  retryAfter: { required: true, description: 'Seconds to wait before trying again.', schema: { type: 'integer', minimum: 0 } },
  wwwAuthenticate: { required: true, schema: { type: 'string', enum: ['Bearer'] } },
  etag: { required: true, description: 'Changes whenever the thumbnail does; send it back as `If-None-Match`.', schema: { type: 'string' } },
  lastModified: { required: true, schema: { type: 'string' } },
  cacheControl: { required: true, schema: { type: 'string', enum: ['private, max-age=86400'] } },
  idempotentReplayed: { required: false, description: 'Present on a replay of an Idempotency-Key: the job is the first request\'s.', schema: { type: 'string', enum: ['true'] } },
} satisfies Record<string, HeaderObject>;

/** From an answer carrying a job id at `idPointer` (a JSON pointer into the body) to the job's operations. */
export function jobLinks(idPointer: string): LinksObject {
  const parameters = { id: `$response.body#${idPointer}` };
  return {
    GetJob: { operationId: OPERATION_IDS.get, parameters, description: 'The job, as it is now.' },
    GetThumbnail: { operationId: OPERATION_IDS.image, parameters, description: 'Its thumbnail, once complete.' },
    DeleteJob: { operationId: OPERATION_IDS.delete, parameters, description: 'Delete it, once finished.' },
    RetryJob: { operationId: OPERATION_IDS.retry, parameters, description: 'Run it again, once failed for a transient reason.' },
  };
}

export function jsonResponse(
  status: number,
  description: string,
  schema: SchemaObject,
  extra: { headers?: Record<string, HeaderObject>; links?: LinksObject } = {},
): ResponseOptions {
  return { status, description, content: { 'application/json': { schema } }, ...extra };
}

/** An error answer: `{"error":{"code","message"}}` with one of `codes`. */
export function errorResponse(status: number, codes: readonly string[], description: string, headers?: Record<string, HeaderObject>): ResponseOptions {
  return jsonResponse(status, description, errorBody(codes), headers ? { headers } : {});
}

/** Several responses on one operation (or on every operation of a controller). */
export function ApiResponses(...responses: ResponseOptions[]): MethodDecorator & ClassDecorator {
  return applyDecorators(...responses.map((response) => ApiResponse(response)));
}

/** What every /thumbnail operation can also answer. */
export const COMMON_THUMBNAIL_RESPONSES = [
  errorResponse(401, ['unauthorized'], 'API keys are on (API_KEYS) and the request has no valid `Authorization: Bearer <key>`.', {
    'WWW-Authenticate': HEADERS.wwwAuthenticate,
  }),
  errorResponse(
    408,
    ['request_timeout'],
    'The headers or the body stopped arriving (body: for BODY_IDLE_TIMEOUT_MS), or the request was still arriving after REQUEST_TIMEOUT_MS; nothing was stored, and the connection is closed.',
  ),
  errorResponse(503, ['service_unavailable'], 'Redis, storage or the job store is unreachable; nothing was changed.', {
    'Retry-After': HEADERS.retryAfter,
  }),
];
