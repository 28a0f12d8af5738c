import type { Redis } from 'ioredis';
import sharp from 'sharp';
import { png50 } from '@thumbnail/testing';
import { call, submit, waitFor } from './support/client';
import { acceptedId, eventually, isAlive, untilReady } from './support/reliability-http';
import {
  backdateJob,
  deleteQueueKeys,
  inspectRedis,
  keysMatching,
  memoryOf,
  queueKeys,
  usedMemory,
} from './support/reliability-redis';
import { TestService } from './support/service';

async function submitMany(api: string, file: Buffer, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(acceptedId(await submit(api, file)));
  return ids;
}

async function listedIds(api: string, status?: string): Promise<string[]> {
  const page = await call(`${api}/thumbnail?limit=500${status ? `&status=${status}` : ''}`);
  return page.json.data.map((job: { _id: string }) => job._id);
}

/** Runs `task(0..count-1)` with at most `parallel` at a time. */
async function inPool(count: number, parallel: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

describe('Redis stopped and started again on its AOF', () => {
  let service: TestService;
  let api: string;
  let small: Buffer;

  beforeAll(async () => {
    small = await png50();
    service = await TestService.start({ withoutWorker: true });
    api = service.api.url;
  });
  afterAll(async () => service?.stop());

  it('keeps every job queued before the restart: a worker started afterwards completes them all', async () => {
    const ids = await submitMany(api, small, 5);

    await service.restartRedis();
    await untilReady(api);
    await service.startWorker();

    for (const id of ids) expect((await waitFor(api, id)).status).toBe('complete');
    expect((await listedIds(api)).sort()).toEqual([...ids].sort());
    expect(service.storedFiles('thumbnails').sort()).toEqual(ids.map((id) => `${id}.png`).sort());
  });

  it('lets a running worker reconnect by itself when Redis comes back', async () => {
    const [worker] = service.workers;
    // Down long enough for the reconnect backoff to reach its 2 s cap.
    await service.restartRedis({ downForMs: 3_000 });
    await untilReady(api);
    await untilReady(worker.url);

    const id = acceptedId(await submit(api, small));
    // One held request: the API's event listener reconnected too, so it is woken at once.
    const started = Date.now();
    const job = (await call(`${api}/thumbnail/${id}?wait=20`)).json.data;
    expect(job).toMatchObject({ status: 'complete', attempts: 1 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(service.workers).toHaveLength(1);
    expect(isAlive(worker.pid)).toBe(true);
  });
});

describe('queue reconciler', () => {
  let service: TestService;
  let api: string;
  let redis: Redis | undefined;

  beforeAll(async () => {
    service = await TestService.start({ withoutWorker: true });
    api = service.api.url;
  });
  afterAll(async () => {
    redis?.disconnect();
    await service?.stop();
  });

  it('queues again job records whose queue entries were lost, once they are past the grace period', async () => {
    const ids = await submitMany(api, await png50(), 5);
    redis = await inspectRedis(service.redis.url);
    expect(await deleteQueueKeys(redis)).toBeGreaterThan(0);
    expect(await queueKeys(redis)).toEqual([]);

    // The reconciler leaves records younger than 30 s alone (the API may be about to queue
    // them). Rather than wait, move four records' creation a minute back, field and index
    // members together; the fifth stays young and must be left waiting.
    const [young, ...old] = ids;
    for (const id of old) await backdateJob(redis, id, 60_000);

    const worker = await service.startWorker({ RECONCILE_INTERVAL_MS: '500' });
    for (const id of old) expect((await waitFor(api, id)).status).toBe('complete');
    const requeued = worker.output().split('\n').filter((line) => line.includes('Re-queued a job that had no queue entry'));
    expect(requeued).toHaveLength(old.length);

    // The pass that queued those four again went through every waiting record, the young one
    // too, and left it: still waiting, with no queue entry.
    expect((await call(`${api}/thumbnail/${young}`)).json.data.status).toBe('waiting');
    expect(await redis.exists(`bull:thumbnails:${young}`)).toBe(0);

    await backdateJob(redis, young, 60_000);
    expect((await waitFor(api, young)).status).toBe('complete');

    // The rewritten index members stayed consistent through the status changes.
    expect((await listedIds(api)).sort()).toEqual([...ids].sort());
    expect((await listedIds(api, 'complete')).sort()).toEqual([...ids].sort());
    expect(await listedIds(api, 'waiting')).toEqual([]);
    await eventually(async () => expect(await redis?.zcard('tg:idx:status:processing')).toBe(0));
  });
});

describe('queue entries of completed jobs are bounded by KEEP_COMPLETED_QUEUE_ENTRIES', () => {
  const KEEP = 100;
  let service: TestService;
  let redis: Redis | undefined;

  beforeAll(async () => {
    service = await TestService.start({ env: { KEEP_COMPLETED_QUEUE_ENTRIES: String(KEEP), WORKER_CONCURRENCY: '2' } });
  });
  afterAll(async () => {
    redis?.disconnect();
    await service?.stop();
  });

  it('keeps at most 100 completed queue entries over 1,500 jobs; only job records grow', async () => {
    const api = service.api.url;
    const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toBuffer();
    const store = await inspectRedis(service.redis.url);
    redis = store;

    const runJobs = async (count: number, total: number) => {
      await inPool(count, 8, async () => {
        const answer = await submit(api, tiny);
        if (answer.status !== 202) throw new Error(`submit answered ${answer.status}: ${answer.text}`);
      });
      await eventually(async () => expect(await store.zcard('tg:idx:status:complete')).toBe(total), 60_000, 200);
    };
    const measure = async () => {
      const queue = await queueKeys(store);
      // BullMQ's event stream is capped separately (about 10,000 entries by default).
      const events = 'bull:thumbnails:events';
      const records = await keysMatching(store, 'tg:*');
      return {
        used: await usedMemory(store),
        completedEntries: await store.zcard('bull:thumbnails:completed'),
        queueKeys: queue.length,
        queueBytes: await memoryOf(store, queue.filter((key) => key !== events)),
        eventEntries: await store.xlen(events),
        eventBytes: await memoryOf(store, [events]),
        recordBytes: await memoryOf(store, records),
      };
    };

    await runJobs(500, 500);
    const first = await measure();
    await runJobs(1000, 1500);
    const second = await measure();

    for (const at of [first, second]) {
      expect(at.completedEntries).toBeLessThanOrEqual(KEEP);
      // One hash per kept entry plus a handful of queue-wide keys.
      expect(at.queueKeys).toBeLessThanOrEqual(KEEP + 10);
    }
    expect(second.queueBytes).toBeLessThanOrEqual(first.queueBytes * 1.1 + 4096);

    const perJob = (key: keyof typeof first) => (second[key] - first[key]) / 1000;
    const report = {
      usedBytesPerJob: Math.round(perJob('used')),
      recordBytesPerJob: Math.round(perJob('recordBytes')),
      eventBytesPerJob: Math.round(perJob('eventBytes')),
      queueBytes: second.queueBytes,
      eventEntries: second.eventEntries,
    };
    console.log('Redis memory over 1,000 more jobs', report);
    // Records (hash plus index members, about 2 KB with the variants list and the placeholder)
    // stay by design; a kept queue entry would add about another 1.2 KB per job.
    expect(report.recordBytesPerJob).toBeLessThan(2304);
    expect(report.usedBytesPerJob).toBeLessThan((report.recordBytesPerJob + report.eventBytesPerJob) * 1.25);
  }, 120_000);
});
