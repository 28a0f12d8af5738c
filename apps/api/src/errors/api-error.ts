/**
 * A rejection the client can act on: a stable `code` to branch on and a human `message`.
 * Everything a client sees as an error goes through this shape.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Extra fields for the error body, e.g. the status of a job that is not complete. */
    readonly details: Record<string, string | string[]> = {},
    /** What made us refuse, for the log only (the client sees `message`). */
    cause?: unknown,
  ) {
    super(message, { cause });
    this.name = 'ApiError';
  }
}

export const RETRY_AFTER_SECONDS = '5';

export const errors = {
  fileRequired: (detail = 'Send the image as multipart/form-data in a field named "file".') =>
    new ApiError(400, 'file_required', detail),
  malformedMultipart: () =>
    new ApiError(400, 'malformed_multipart', 'The multipart body ended early or is malformed.'),
  /** A credential in the URL: proxies and logs keep URLs, so it is refused before anything else. */
  credentialsInUrl: (parameter: string | null) =>
    new ApiError(
      400,
      'credentials_in_url',
      `${parameter ? `The query parameter "${parameter}"` : 'A query parameter'} looks like a credential; send the API key as ` +
        '"Authorization: Bearer <key>", never in the URL (and replace a key that was sent in one).',
    ),
  requestTimeout: (what: 'idle' | 'request', limitMs: number) =>
    new ApiError(
      408,
      'request_timeout',
      what === 'idle'
        ? `The request body stopped arriving for ${limitMs} ms; nothing was stored.`
        : `The request took longer than ${limitMs} ms to arrive; nothing was stored.`,
      { connection: 'close' },
    ),
  tooManyFiles: () =>
    new ApiError(400, 'too_many_files', 'Send exactly one file per request, in the field "file".'),
  invalidParameter: (name: string, detail: string) =>
    new ApiError(400, 'invalid_parameter', `Query or form parameter "${name}" ${detail}`),
  invalidHeader: (name: string, detail: string) => new ApiError(400, 'invalid_parameter', `Header ${name} ${detail}`),
  fileTooLarge: (maxBytes: number) =>
    new ApiError(413, 'file_too_large', `The file is larger than the limit of ${maxBytes} bytes.`, {
      connection: 'close',
    }),
  unsupportedMediaType: (detail?: string) =>
    new ApiError(
      415,
      'unsupported_media_type',
      detail ?? 'The file is not a JPEG, PNG, WebP, GIF, AVIF or TIFF image (judged by its content, not its name).',
    ),
  imageTooLarge: (width: number, height: number, limit: number) =>
    new ApiError(
      422,
      'image_too_large',
      `The image declares ${width}x${height} pixels, more than the limit of ${limit} pixels.`,
    ),
  imageSideTooLong: (width: number, height: number, maxSide: number) =>
    new ApiError(
      422,
      'image_too_large',
      `The image declares ${width}x${height} pixels; no side may be longer than ${maxSide} pixels.`,
    ),
  queueFull: () =>
    new ApiError(429, 'queue_full', 'Too many jobs are waiting; try again shortly.', {
      'retry-after': RETRY_AFTER_SECONDS,
    }),
  /** Too many requests of one kind from one API key at once (listing). */
  tooManyRequests: (detail: string, retryAfterSeconds = 1) =>
    new ApiError(429, 'too_many_requests', detail, { 'retry-after': String(retryAfterSeconds) }),
  insufficientStorage: () =>
    new ApiError(
      507,
      'insufficient_storage',
      'The server is short of disk space for uploads and stored nothing; try again later.',
      { 'retry-after': '60' },
    ),
  notComplete: (status: string) =>
    new ApiError(409, 'job_not_complete', `The job is ${status}; its thumbnail is not available.`, {}, { status }),
  notFinished: (status: string) =>
    new ApiError(
      409,
      'job_not_finished',
      `The job is ${status}; it can be deleted once it is complete or failed (wait for it with ?wait=30).`,
      {},
      { status },
    ),
  notFound: (what = 'No such job.') => new ApiError(404, 'not_found', what),
  idempotencyKeyReused: () =>
    new ApiError(
      422,
      'idempotency_key_reused',
      'This Idempotency-Key was used with a different request (file or fields); send a new key for a new upload.',
    ),
  idempotencyKeyInUse: () =>
    new ApiError(409, 'idempotency_key_in_use', 'A request with this Idempotency-Key is still being handled; try again shortly.', {
      'retry-after': '1',
    }),
  notRetryable: (status: string, reason: string) =>
    new ApiError(409, 'job_not_retryable', `The job cannot be retried: ${reason}`, {}, { status }),
  shuttingDown: () =>
    new ApiError(503, 'service_unavailable', 'This server is shutting down; send the upload again.', {
      'retry-after': '1',
    }),
  /** `cause`: the dependency's own error, logged with the request id (clients never see it). */
  unavailable: (what: string, cause?: unknown) =>
    new ApiError(
      503,
      'service_unavailable',
      `${what} is unavailable; try again shortly.`,
      { 'retry-after': RETRY_AFTER_SECONDS },
      {},
      cause,
    ),
};
