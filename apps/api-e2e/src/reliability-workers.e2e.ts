import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import { MAKE_THUMBNAIL_JOB } from '@thumbnail/jobs';
import { png50, type RunningMinio, skipWithoutTool } from '@thumbnail/testing';
import { call, submit, submitAndWait, waitFor } from './support/client';
import { acceptedId, eventually, listedCount, metric, pendingWrites, untilReady } from './support/reliability-http';
import { queueClient, settledEntry } from './support/reliability-redis';
import { TestService } from './support/service';
import { slowPng } from './support/slow-png';

const COMPLETE = 'thumbnail_jobs_finished_total{outcome="complete",code=""}';

/** Log lines (parsed) of one process that mention `jobId` and carry `msg`. */
function logLines(output: string, jobId: string, msg: string): Array<{ at: number; [key: string]: unknown }> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes(jobId))
    .map((line) => JSON.parse(line))
    .filter((line) => line.msg === msg)
    .map((line) => ({ ...line, at: Date.parse(line.time) }));
}

describe.skipIf(skipWithoutTool('minio'))('object storage stopped and started again (STORAGE_DRIVER=s3, MinIO)', () => {
  let service: TestService;
  let minio: RunningMinio;
  let api: string;
  let small: Buffer;

  beforeAll(async () => {
    small = await png50();
    service = await TestService.start({ storage: 's3', withoutWorker: true, env: { JOB_ATTEMPTS: '3', JOB_BACKOFF_MS: '200' } });
    minio = service.minio as RunningMinio;
    api = service.api.url;
    await untilReady(api);
  });
  afterAll(async () => service?.stop());

  it('answers an upload with 503 and Retry-After while storage is down, and records and stores nothing', async () => {
    const before = await listedCount(api);
    const stored = await service.storedObjects('originals');
    await minio.stop();

    const started = Date.now();
    const answer = await submit(api, small);
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBeTruthy();
    expect(answer.json).toMatchObject({ error: { code: 'service_unavailable', message: expect.stringMatching(/^Storage/) } });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await listedCount(api)).toBe(before);

    const ready = await call(`${api}/health/ready`);
    expect(ready.status).toBe(503);
    // The reason, which names the endpoint, is for the log only.
    expect(ready.json.checks.storage).toEqual({ ok: false, reason: 'unavailable; the log says why' });
    await vi.waitFor(() => expect(service.api.output()).toContain('"storage":"Storage unavailable: endpoint unreachable (ECONNREFUSED)"'));
    expect(ready.json.checks.redis.ok).toBe(true);
    await minio.restart();
    expect(await service.originalsAddedSince(stored)).toEqual([]);
  });

  it('fails a job whose original cannot be read with storage_unavailable after 3 attempts with backoff', async () => {
    await untilReady(api);
    const id = acceptedId(await submit(api, small));
    await minio.stop();
    // Without a retry window the original goes once the job has failed for good, as any
    // finished job's does (job-retry.e2e.ts keeps it and retries the job).
    const worker = await service.startWorker({ RETRY_WINDOW_HOURS: '0' });

    const job = await waitFor(api, id, 45);
    expect(job).toMatchObject({ status: 'failed', attempts: 3, thumbnailLink: null });
    expect(job.error.code).toBe('storage_unavailable');
    expect(await metric(worker.url, 'thumbnail_jobs_finished_total{outcome="failed",code="storage_unavailable"}')).toBe(1);

    // Three deliveries, the later ones after the exponential backoff (200 ms, then 400 ms).
    const attempts = logLines(worker.output(), id, 'Thumbnail attempt failed');
    expect(attempts.map((line) => line['attempt'])).toEqual([1, 2, 3]);
    expect(attempts[1].at - attempts[0].at).toBeGreaterThanOrEqual(200);
    expect(attempts[2].at - attempts[1].at).toBeGreaterThanOrEqual(400);

    // Its original could not be deleted either (storage is still down): the worker says so, with
    // the key, so an operator can remove it; the job's outcome stands.
    const undeleted = await eventually(() => {
      const lines = logLines(worker.output(), id, 'Could not delete the original of a finished job');
      expect(lines).toHaveLength(1);
      return lines[0];
    });
    expect(undeleted['key']).toBe(`originals/${id}`);
    expect(await metric(worker.url, 'thumbnail_original_delete_failures_total')).toBe(1);
    expect((await call(`${api}/thumbnail/${id}`)).json.data.status).toBe('failed');
  });

  it('reports ready again by itself once storage is back on the same address, and works', async () => {
    await minio.restart();
    await untilReady(api);
    await untilReady(service.workers[0].url);
    const job = await submitAndWait(api, small);
    expect(job.status).toBe('complete');
    expect(await service.storedObjects('thumbnails')).toContain(`${job._id}.png`);
  });
});

describe.skipIf(skipWithoutTool('minio'))('MinIO restarted while jobs are waiting (JOB_ATTEMPTS=10)', () => {
  let service: TestService;
  let queue: Queue | undefined;

  beforeAll(async () => {
    // Ten attempts with a 200 ms exponential backoff leave about 100 s for MinIO to come back.
    service = await TestService.start({ storage: 's3', env: { JOB_ATTEMPTS: '10', JOB_BACKOFF_MS: '200' } });
    queue = queueClient(service.redis.url);
  });
  afterAll(async () => {
    await queue?.close();
    await service?.stop();
  });

  it('refuses uploads while it is down, retries the jobs accepted before, and loses none', async () => {
    const api = service.api.url;
    const minio = service.minio as RunningMinio;
    const worker = service.workers[0];
    const small = await png50();
    const first = await submitAndWait(api, small);
    expect(first.status).toBe('complete');

    // Jobs accepted (originals stored) but held in the queue until MinIO is gone.
    await queue?.pause();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(acceptedId(await submit(api, small)));
    await minio.stop();
    const refused = await submit(api, small);
    expect(refused.status).toBe(503);
    expect(refused.json.error.code).toBe('service_unavailable');

    await queue?.resume();
    // Every held job reaches the worker and fails its first attempt on the outage.
    await eventually(() => {
      for (const id of ids) expect(logLines(worker.output(), id, 'Thumbnail attempt failed').length).toBeGreaterThan(0);
    }, 30_000);
    await minio.restart();

    for (const id of ids) {
      const job = await waitFor(api, id, 60);
      expect(job).toMatchObject({ status: 'complete', thumbnailFilename: `thumbnails/${id}.png` });
      expect(job.attempts).toBeGreaterThan(1);
      expect(logLines(worker.output(), id, 'Thumbnail attempt failed')[0]).toMatchObject({ code: 'storage_unavailable' });
    }
    // Nothing lost, nothing doubled: every accepted job complete, one thumbnail each, originals gone.
    const listed = (await call(`${api}/thumbnail?limit=500`)).json.data as Array<{ _id: string; status: string }>;
    expect(listed.map((job) => [job._id, job.status]).sort()).toEqual([first._id, ...ids].map((id) => [id, 'complete']).sort());
    expect(await service.storedObjects('thumbnails')).toEqual([first._id, ...ids].map((id) => `${id}.png`).sort());
    await eventually(async () => expect(await service.storedObjects('originals')).toEqual([]));
    expect(await metric(worker.url, COMPLETE)).toBe(ids.length + 1);
  }, 120_000);
});

describe('the same job delivered twice', () => {
  let service: TestService;
  let api: string;
  let queue: Queue | undefined;

  beforeAll(async () => {
    service = await TestService.start({ withoutWorker: true, env: { WORKER_CONCURRENCY: '2' } });
    api = service.api.url;
    queue = queueClient(service.redis.url);
  });
  afterAll(async () => {
    await queue?.close();
    await service?.stop();
  });

  /** A second queue entry for a job that already has one, as a replayed or duplicated add makes. */
  async function deliverAgain(jobId: string, entryId: string): Promise<void> {
    await queue?.add(MAKE_THUMBNAIL_JOB, { jobId, requestId: null }, { jobId: entryId });
  }

  async function entryResult(entryId: string): Promise<unknown> {
    return settledEntry(queue as Queue, entryId, 'completed');
  }

  it('makes one thumbnail and counts one completion when two deliveries race', async () => {
    const slow = await slowPng();
    const ids: string[] = [];
    // Queue order A, A', B, B': a worker running two at a time takes each pair together.
    for (let i = 0; i < 2; i++) {
      const id = acceptedId(await submit(api, slow));
      await deliverAgain(id, `duplicate-${id}`);
      ids.push(id);
    }
    const worker = await service.startWorker();

    for (const id of ids) {
      const job = await waitFor(api, id);
      expect(job.status).toBe('complete');
      // Both deliveries got as far as starting it: they really overlapped.
      expect(job.attempts).toBe(2);
      const results = [await entryResult(id), await entryResult(`duplicate-${id}`)];
      expect(results.sort()).toEqual(['complete', 'skipped']);
    }
    expect(service.storedFiles('thumbnails').sort()).toEqual(ids.map((id) => `${id}.png`).sort());
    expect(pendingWrites(service.storageDir)).toEqual([]);
    expect(await metric(worker.url, COMPLETE)).toBe(ids.length);
  });

  it('changes nothing when a finished job is delivered again', async () => {
    const worker = service.workers[0];
    const before = await metric(worker.url, COMPLETE);
    const job = await submitAndWait(api, await png50());
    expect(job.status).toBe('complete');
    expect(await metric(worker.url, COMPLETE)).toBe(before + 1);

    // As if the worker had been killed between recording the outcome and deleting the original.
    expect(await entryResult(job._id)).toBe('complete');
    writeFileSync(join(service.storageDir, 'originals', job._id), 'left behind');

    await deliverAgain(job._id, `again-${job._id}`);
    expect(await entryResult(`again-${job._id}`)).toBe('skipped');
    expect(service.storedFiles('originals')).not.toContain(job._id);

    const after = (await call(`${api}/thumbnail/${job._id}`)).json.data;
    expect(after).toEqual(job);
    expect(service.storedFiles('thumbnails').filter((name) => name.startsWith(job._id))).toEqual([`${job._id}.png`]);
    expect(await metric(worker.url, COMPLETE)).toBe(before + 1);
  });
});
