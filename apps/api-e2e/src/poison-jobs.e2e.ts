import sharp from 'sharp';
import type { RunningApp } from '@thumbnail/testing';
import { png50 } from '@thumbnail/testing';
import { call, submit, submitAndWait, waitFor } from './support/client';
import { acceptedId, eventually, metric } from './support/reliability-http';
import { TestService } from './support/service';

/**
 * A PNG the worker needs a second or more for (6000x6000, interlaced, so libvips decodes every
 * pixel): long enough to catch the worker holding it.
 */
function slowPng(): Promise<Buffer> {
  const size = 6000;
  return sharp({ create: { width: size, height: size, channels: 3, background: { r: 40, g: 90, b: 160 } } })
    .png({ progressive: true, compressionLevel: 1 })
    .toBuffer();
}

/**
 * Whatever kills a worker (an OOM kill, a native abort, a node crash) kills it while it holds
 * the job; here the test does it with SIGKILL. The worker is stopped (SIGSTOP) before the record
 * is read, so it cannot finish the job between the look and the kill.
 */
async function killWhileHolding(worker: RunningApp, api: string, id: string, attempt: number): Promise<void> {
  await eventually(async () => {
    const job = (await call(`${api}/thumbnail/${id}`)).json.data;
    expect([job.status, job.attempts]).toEqual(['processing', attempt]);
  }, 30_000, 20);
  worker.kill('SIGSTOP');
  const held = (await call(`${api}/thumbnail/${id}`)).json.data;
  expect([held.status, held.attempts]).toEqual(['processing', attempt]);
  worker.kill('SIGKILL');
  expect((await worker.exited).signal).toBe('SIGKILL');
}

describe('a job that kills every worker that takes it (JOB_ATTEMPTS=2)', () => {
  let service: TestService;
  let api: string;

  beforeAll(async () => {
    service = await TestService.start({
      withoutWorker: true,
      env: {
        JOB_ATTEMPTS: '2',
        WORKER_CONCURRENCY: '1',
        MAX_UPLOAD_BYTES: String(64 * 1024 * 1024),
        // A dead worker's job is found within about three seconds, not a minute.
        WORKER_LOCK_DURATION_MS: '2000',
        WORKER_STALLED_INTERVAL_MS: '1000',
      },
    });
    api = service.api.url;
  });
  afterAll(async () => service?.stop());

  it('fails as worker_crashed after its second dead worker, counted, its original deleted, and can be deleted', async () => {
    const id = acceptedId(await submit(api, await slowPng()));
    expect(service.storedFiles('originals')).toContain(id);

    // Each worker is replaced when it dies, as a Deployment (or npm start) replaces it.
    let worker = await service.startWorker();
    await killWhileHolding(worker, api, id, 1);
    const firstDeath = Date.now();
    worker = await service.startWorker();
    await killWhileHolding(worker, api, id, 2);
    worker = await service.startWorker();

    const job = await waitFor(api, id, 60);
    const failedAfterMs = Date.now() - firstDeath;
    expect(job).toMatchObject({ status: 'failed', attempts: 2, thumbnailLink: null, error: { code: 'worker_crashed' } });
    expect(job.error.message).toMatch(/stopped before finishing/);
    console.log(`Poison job failed ${failedAfterMs} ms after the first worker died (lock 2 s, stalled check every 1 s)`);

    // The third worker found it abandoned a second time (as the second had found it the first
    // time, before it took it), and BullMQ failed it without another delivery.
    expect(await metric(worker.url, 'thumbnail_jobs_stalled_total')).toBe(1);
    expect(await metric(worker.url, 'thumbnail_jobs_finished_total{outcome="failed",code="worker_crashed"}')).toBe(1);
    await eventually(() => expect(service.storedFiles('originals')).not.toContain(id));
    expect(worker.output()).toContain('Job failed: every worker that took it stopped before finishing');

    expect((await call(`${api}/thumbnail/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await call(`${api}/thumbnail/${id}`)).status).toBe(404);
  }, 120_000);

  it('goes on making other jobs with the worker that is left', async () => {
    const worker = service.workers[service.workers.length - 1];
    for (let i = 0; i < 3; i++) expect((await submitAndWait(api, await png50())).status).toBe('complete');
    expect(await metric(worker.url, 'thumbnail_jobs_finished_total{outcome="complete",code=""}')).toBe(3);
    expect(await metric(worker.url, 'thumbnail_jobs_stalled_total')).toBe(1);
  });
});

describe('a poison job with KEEP_ORIGINALS=true', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await TestService.start({
      withoutWorker: true,
      env: { JOB_ATTEMPTS: '1', KEEP_ORIGINALS: 'true', WORKER_CONCURRENCY: '1', MAX_UPLOAD_BYTES: String(64 * 1024 * 1024), WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' },
    });
  });
  afterAll(async () => service?.stop());

  it('fails as worker_crashed after its first dead worker (JOB_ATTEMPTS=1) and keeps the original', async () => {
    const api = service.api.url;
    const id = acceptedId(await submit(api, await slowPng()));
    await killWhileHolding(await service.startWorker(), api, id, 1);
    await service.startWorker();
    expect(await waitFor(api, id, 60)).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'worker_crashed' } });
    expect(service.storedFiles('originals')).toContain(id);
  }, 60_000);
});
