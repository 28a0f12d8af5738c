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
