import type { Redis } from 'ioredis';
import { png50, pngWithIccProfile400, truncated } from '@thumbnail/testing';
import { call, submitAndWait } from './support/client';
import { eventually, metric } from './support/reliability-http';
import { backdateJob, inspectRedis } from './support/reliability-redis';
import { TestService } from './support/service';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * JOB_RETENTION_DAYS=2 with a sweep every half second. Nobody waits two days here: the jobs are
 * moved back in time in Redis (every timestamp and index entry, as if they had run then).
 */
describe('JOB_RETENTION_DAYS=2 (Redis job store, disk storage, KEEP_ORIGINALS=true)', () => {
  let service: TestService;
  let redis: Redis;
  let api: string;

  beforeAll(async () => {
    service = await TestService.start({
      env: { JOB_RETENTION_DAYS: '2', RETENTION_SWEEP_INTERVAL_MS: '500', KEEP_ORIGINALS: 'true' },
    });
    redis = await inspectRedis(service.redis.url);
    api = service.api.url;
  });
  afterAll(async () => {
    redis?.disconnect();
    await service?.stop();
  });

  it('removes jobs finished over two days ago with their files, and keeps the younger ones', async () => {
    const complete = await submitAndWait(api, await png50());
    const failed = await submitAndWait(api, truncated(await pngWithIccProfile400(), 0.5));
    const finishedYesterday = await submitAndWait(api, await png50());
    expect([complete.status, failed.status, finishedYesterday.status]).toEqual(['complete', 'failed', 'complete']);
    const worker = service.workers[0].url;
    const expiredBefore = await metric(worker, 'thumbnail_jobs_expired_total');

    await backdateJob(redis, complete._id, 3 * DAY_MS);
    await backdateJob(redis, failed._id, 2 * DAY_MS + 60_000);
    await backdateJob(redis, finishedYesterday._id, 1 * DAY_MS);

    await eventually(async () => expect((await call(`${api}/thumbnail/${complete._id}`)).status).toBe(404), 10_000);
    await eventually(async () => expect((await call(`${api}/thumbnail/${failed._id}`)).status).toBe(404), 10_000);
    expect(service.storedFiles('thumbnails')).toEqual([`${finishedYesterday._id}.png`]);
    expect(service.storedFiles('originals')).toEqual([finishedYesterday._id]);
    expect((await call(`${api}/thumbnail/${finishedYesterday._id}/image`)).status).toBe(200);
    expect(await metric(worker, 'thumbnail_jobs_expired_total')).toBe(expiredBefore + 2);
    expect(service.logs()).toContain('"msg":"Removed jobs past JOB_RETENTION_DAYS"');
  });
});
