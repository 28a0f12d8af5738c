import { NotFoundException } from '@nestjs/common';
import { JobStoreUnavailableError } from '@thumbnail/jobs';
import { StorageUnavailableError } from '@thumbnail/storage';
import { errors } from './api-error';
import { toErrorResponse } from './error-response';

describe('toErrorResponse', () => {
  it('shows our own errors as they are, with their headers', () => {
    expect(toErrorResponse(errors.queueFull(), 'r1')).toEqual({
      status: 429,
      body: { error: { code: 'queue_full', message: 'Too many jobs are waiting; try again shortly.' } },
      headers: { 'retry-after': '5' },
      unexpected: false,
    });
    expect(toErrorResponse(errors.notComplete('processing'), 'r1').body.error).toMatchObject({
      code: 'job_not_complete',
      status: 'processing',
    });
  });

  it('maps framework 4xx errors to a code without leaking their internals', () => {
    const answer = toErrorResponse(new NotFoundException('Cannot GET /secret/path'), 'r1');
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ error: { code: 'not_found', message: 'No such resource.' } });
  });

  it.each([
    [Object.assign(new Error("'/thumbnail/%E0%A4%A?token=s3cret' is not a valid url component"), { code: 'FST_ERR_BAD_URL', statusCode: 400 }), 400, 'bad_request'],
    [Object.assign(new Error('Unsupported Media Type: application/x-s3cret'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }), 415, 'unsupported_media_type'],
    [Object.assign(new Error("Body cannot be empty when content-type is set to 'application/json'"), { code: 'FST_ERR_CTP_EMPTY_JSON_BODY', statusCode: 400 }), 400, 'bad_request'],
    [Object.assign(new Error("'/thumbnail/s3cret…' is exceeding the max param length"), { code: 'FST_ERR_MAX_PARAM_LENGTH', statusCode: 414 }), 414, 'uri_too_long'],
    [Object.assign(new Error('Unexpected token s3cret in JSON at position 1'), { statusCode: 400 }), 400, 'bad_request'],
    [Object.assign(new Error('Request Header Fields Too Large: s3cret'), { statusCode: 431 }), 431, 'headers_too_large'],
    [Object.assign(new Error('teapot s3cret'), { statusCode: 418 }), 418, 'bad_request'],
  ])('answers the framework’s own error %# with our code and message, never its text (which quotes the request)', (error, status, code) => {
    const answer = toErrorResponse(error, 'r1');
    expect(answer).toMatchObject({ status, unexpected: false });
    expect(answer.body.error.code).toBe(code);
    expect(JSON.stringify(answer.body)).not.toMatch(/s3cret|application\/x-|token/);
  });

  it.each([
    [new StorageUnavailableError('credentials rejected (SignatureDoesNotMatch) at minio.internal:9000'), 'Storage is unavailable; try again shortly.'],
    [new JobStoreUnavailableError('connect ECONNREFUSED 10.0.0.7:27017'), 'The job store is unavailable; try again shortly.'],
  ])('answers a dependency outage with 503 and Retry-After, its reason for the log only', (outage, message) => {
    const answer = toErrorResponse(outage, 'r1');
    expect(answer).toMatchObject({ status: 503, headers: { 'retry-after': '5' }, unexpected: false, outage: outage.message });
    expect(answer.body).toEqual({ error: { code: 'service_unavailable', message } });
  });

  it('hides unexpected errors behind a generic message that quotes the request id', () => {
    const answer = toErrorResponse(new Error('ENOENT: /var/lib/secret at Object.<anonymous> (x.js:1:1)'), 'req-42');
    expect(answer.status).toBe(500);
    expect(answer.unexpected).toBe(true);
    expect(answer.body.error.code).toBe('internal_error');
    expect(answer.body.error.message).toContain('req-42');
    expect(JSON.stringify(answer.body)).not.toContain('ENOENT');
  });
});
