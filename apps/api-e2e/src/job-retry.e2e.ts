import { pngWithIccProfile400, truncated } from '@thumbnail/testing';
import { call, submit, submitAndWait, waitFor } from './support/client';
import { metric } from './support/reliability-http';
import { TestService } from './support/service';

/**
 * Failures made for real: storage stops answering (MinIO stopped while a job waits), so the
 * worker's reads fail and, after JOB_ATTEMPTS, the job fails with storage_unavailable, a
 * transient failure. Once MinIO is back, a retry can run it.
 */
describe('POST /thumbnail/:id/retry', () => {
  let service: TestService;
  let api: string;

  beforeAll(async () => {
    service = await TestService.start({ storage: 's3', withoutWorker: true, env: { JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '100' } });
    api = service.api.url;
  });
  afterAll(async () => service?.stop());

  /** A job that failed with storage_unavailable, by a worker started with `env` while storage was down. */
  async function failedInOutage(env: Record<string, string> = {}): Promise<string> {
    await Promise.all(service.workers.map((worker) => worker.stop()));
    const id = (await submit(api, await pngWithIccProfile400())).json.data.job_id;
    await service.minio?.stop();
    await service.startWorker(env);
    const failed = await waitFor(api, id, 90);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'storage_unavailable' } });
    await service.minio?.restart();
    return id;
  }

  it('runs a job that failed for a transient reason again from its kept original, and it completes', async () => {
    const id = await failedInOutage();
    expect(await service.storedObjects('originals')).toContain(id);

    const answer = await call(`${api}/thumbnail/${id}/retry`, { method: 'POST' });
    expect(answer.status).toBe(202);
    expect(answer.headers.get('location')).toBe(`/thumbnail/${id}`);
    expect(answer.json.data).toMatchObject({ job_id: id, status: 'waiting' });

    const done = await waitFor(api, id, 60);
    expect(done).toMatchObject({ status: 'complete', attempts: 3, completedAt: expect.any(String) });
    expect(done.error).toBeUndefined();
    expect((await fetch(`${api}/thumbnail/${id}/image`)).status).toBe(200);
    // Complete now: its original goes, as any finished job's does.
    await vi.waitFor(async () => expect(await service.storedObjects('originals')).not.toContain(id), { timeout: 10_000 });
    expect(await metric(api, 'thumbnail_jobs_retried_total')).toBe(1);

    const again = await call(`${api}/thumbnail/${id}/retry`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(again.json.error).toMatchObject({ code: 'job_not_retryable', status: 'complete', message: expect.stringMatching(/only a failed job/) });
  });

  it('with RETRY_WINDOW_HOURS=0 keeps no original for a retry: 409', async () => {
    const id = await failedInOutage({ RETRY_WINDOW_HOURS: '0' });
    const answer = await call(`${api}/thumbnail/${id}/retry`, { method: 'POST' });
    expect(answer.status).toBe(409);
    expect(answer.json.error).toMatchObject({ code: 'job_not_retryable', status: 'failed', message: expect.stringMatching(/original is no longer kept/) });
  });

  it('answers 409 with the reason for a job that failed because of its image, and keeps nothing of it', async () => {
    await Promise.all(service.workers.map((worker) => worker.stop()));
    await service.startWorker();
    const failed = await submitAndWait(api, truncated(await pngWithIccProfile400(), 0.5));
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'invalid_image' } });
    const answer = await call(`${api}/thumbnail/${failed._id}/retry`, { method: 'POST' });
    expect(answer.status).toBe(409);
    expect(answer.json.error).toMatchObject({
      code: 'job_not_retryable',
      status: 'failed',
      message: 'The job cannot be retried: it failed with invalid_image, which trying again would not change.',
    });
    await vi.waitFor(async () => expect(await service.storedObjects('originals')).not.toContain(failed._id), { timeout: 10_000 });
    expect((await call(`${api}/thumbnail/${failed._id}`)).json.data.status).toBe('failed');
  });

  it('answers 409 for a job that has not failed, and 404 for one that does not exist', async () => {
    await Promise.all(service.workers.map((worker) => worker.stop()));
    const waiting = (await submit(api, await pngWithIccProfile400())).json.data.job_id;
    const answer = await call(`${api}/thumbnail/${waiting}/retry`, { method: 'POST' });
    expect(answer.status).toBe(409);
    expect(answer.json.error).toMatchObject({ code: 'job_not_retryable', status: 'waiting' });
    expect((await call(`${api}/thumbnail/6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77/retry`, { method: 'POST' })).status).toBe(404);
    expect((await call(`${api}/thumbnail/not-an-id/retry`, { method: 'POST' })).status).toBe(404);
  });
});
