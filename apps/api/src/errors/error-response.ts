import { JobStoreUnavailableError } from '@thumbnail/jobs';
import { StorageUnavailableError } from '@thumbnail/storage';
import { ApiError, errors } from './api-error';

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** A bug: log it with its stack. */
  unexpected: boolean;
  /** A dependency is down: its reason goes to the log, never to the client. */
  outage?: string;
}

export interface ErrorBody {
  error: { code: string; message: string; request_id?: string; [detail: string]: string | string[] | undefined };
}

/**
 * Codes and messages for the HTTP framework's own 4xx errors (Fastify, NestJS, Node's parser).
 * Their messages are never shown: many quote the request (its URL, its content type).
 */
export const STATUS_CODES: Record<number, [string, string]> = {
  400: ['bad_request', 'The request is malformed.'],
  401: ['unauthorized', 'Missing or invalid API key.'],
  404: ['not_found', 'No such resource.'],
  405: ['method_not_allowed', 'Method not allowed on this resource.'],
  406: ['not_acceptable', 'Not acceptable.'],
  408: ['request_timeout', 'The request took too long to arrive.'],
  413: ['payload_too_large', 'The request body is too large.'],
  414: ['uri_too_long', 'The URL is too long.'],
  415: ['unsupported_media_type', 'Unsupported content type.'],
  429: ['too_many_requests', 'Too many requests.'],
  431: ['headers_too_large', 'The request headers are too large.'],
};

/** Fastify errors worth a more precise message than their status's. */
const FRAMEWORK_MESSAGES: Record<string, string> = {
  FST_ERR_BAD_URL: 'The URL is not valid: it has a malformed percent-encoding.',
  FST_ERR_MAX_PARAM_LENGTH: 'A path segment of the URL is too long.',
};

/**
 * Turns anything thrown while handling a request into the client-facing error shape. Only
 * ApiError messages are ours to show; for anything else the client gets a generic message and
 * the request id, and the details go to the log.
 */
export function toErrorResponse(error: unknown, requestId: string): ErrorResponse {
  if (error instanceof ApiError) return fromApiError(error);
  const outage = dependencyOutage(error);
  if (outage) return { ...fromApiError(outage), outage: (error as Error).message };
  const status = statusOf(error);
  if (status >= 400 && status < 500) return clientErrorResponse(status, frameworkCode(error));
  return {
    status: 500,
    body: {
      error: {
        code: 'internal_error',
        message: `Something went wrong on our side. Quote request id ${requestId} when reporting it.`,
        request_id: requestId,
      },
    },
    headers: {},
    unexpected: true,
  };
}

/** The answer to a client error the framework found (a 4xx status), in our words. */
export function clientErrorResponse(status: number, frameworkCode = ''): ErrorResponse {
  const [code, message] = STATUS_CODES[status] ?? ['bad_request', 'The request could not be handled.'];
  return {
    status,
    body: { error: { code, message: FRAMEWORK_MESSAGES[frameworkCode] ?? message } },
    headers: {},
    unexpected: false,
  };
}

function statusOf(error: unknown): number {
  if (typeof error !== 'object' || error === null) return 500;
  const e = error as { getStatus?: () => number; statusCode?: number; status?: number };
  if (typeof e.getStatus === 'function') return e.getStatus();
  if (typeof e.statusCode === 'number') return e.statusCode;
  return 500;
}

function frameworkCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : '';
}

function fromApiError(error: ApiError): ErrorResponse {
  return {
    status: error.status,
    body: { error: { code: error.code, message: error.message, ...error.details } },
    headers: error.headers,
    unexpected: false,
  };
}

/** What the adapters throw when storage or the job store cannot serve: 503, try again later. */
function dependencyOutage(error: unknown): ApiError | null {
  if (error instanceof StorageUnavailableError) return errors.unavailable('Storage');
  if (error instanceof JobStoreUnavailableError) return errors.unavailable('The job store');
  return null;
}
