import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Connection } from 'mongoose';
import { png50, pngWithIccProfile400, skipWithoutTool, truncated } from '@thumbnail/testing';
import { call, form, type Json, UUID_V4 } from './support/client';
import { backdateMongoJob, countMongoJobs, inspectMongo, mongoJobRecord } from './support/mongo-records';
import { eventually, metric, untilReady } from './support/reliability-http';
import { queueClient, settledEntry } from './support/reliability-redis';
import { TestService } from './support/service';

const DAY_MS = 24 * 60 * 60 * 1000;
const COMPLETE = 'thumbnail_jobs_finished_total{outcome="complete",code=""}';
const ALICE = 'alice-mongo-key';
const BOB = 'bob-mongo-key';
const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');
const as = (key?: string): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {});

async function upload(api: string, file: Buffer, key?: string, filename?: string): Promise<string> {
  const answer = await call(`${api}/thumbnail`, { method: 'POST', body: form(file, { filename }), headers: as(key) });
  if (answer.status !== 202) throw new Error(`upload answered ${answer.status}: ${answer.text}`);
  return answer.json.data.job_id;
}

/** The job once it is complete or failed, read with `?wait=` as `key`. */
async function finished(api: string, id: string, key?: string): Promise<Json> {
  return eventually(async () => {
    const job = (await call(`${api}/thumbnail/${id}?wait=10`, { headers: as(key) })).json.data;
    if (job?.status !== 'complete' && job?.status !== 'failed') throw new Error(`job ${id} is ${job?.status}`);
    return job;
  }, 60_000, 0);
}

/** Every job id a key sees in `GET /thumbnail?<query>`, following the cursor page by page. */
async function listAll(api: string, query: string, key?: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor = '';
  let pages = 0;
  do {
    const page = await call(`${api}/thumbnail?${query}${cursor ? `&cursor=${cursor}` : ''}`, { headers: as(key) });
    expect(page.status).toBe(200);
    ids.push(...page.json.data.map((job: { _id: string }) => job._id));
    cursor = page.json.page.next_cursor ?? '';
    pages++;
  } while (cursor);
  return { ids, pages };
}

/** Newest first, ties broken by id, as the list promises. */
function newestFirst(jobs: Json[]): string[] {
  return [...jobs]
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a._id < b._id ? 1 : -1))
    .map((job) => job._id);
}

/** A 100x100 PNG, checked from its signature and IHDR chunk. */
function expect100x100Png(png: Buffer): void {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([100, 100]);
}

/**
 * The service with JOB_STORE=mongo on FerretDB: the MongoDB wire protocol over SQLite, a real
 * server process like the apps. The GitHub workflow runs the adapter's cases on real MongoDB too.
 */
describe.skipIf(skipWithoutTool('ferretdb'))('JOB_STORE=mongo on FerretDB', () => {
  describe('uploads, lists and API keys, with two workers', () => {
    let service: TestService;
    let api: string;
    let records: Connection | undefined;

    beforeAll(async () => {
      service = await TestService.start({
        jobStore: 'mongo',
        env: { API_KEYS: `${digest(ALICE)},${digest(BOB)}`, WORKER_CONCURRENCY: '2' },
      });
      await service.startWorker();
      api = service.api.url;
      records = await inspectMongo(service.env['MONGO_URL']);
    });
    afterAll(async () => {
      await records?.close();
      await service?.stop();
    });

    it('takes an upload to a complete job with a 100x100 thumbnail, and a truncated one to failed, in MongoDB', async () => {
      const id = await upload(api, await pngWithIccProfile400(), ALICE, 'photo 400.png');
      expect(id).toMatch(UUID_V4);
      const job = await finished(api, id, ALICE);
      expect(job).toMatchObject({
        _id: id,
        status: 'complete',
        originalFilename: 'photo 400.png',
        thumbnailFilename: `thumbnails/${id}.png`,
        attempts: 1,
      });
      const image = await fetch(`${api}/thumbnail/${id}/image`, { headers: as(ALICE) });
      expect(image.status).toBe(200);
      expect(image.headers.get('content-type')).toBe('image/png');
      expect100x100Png(Buffer.from(await image.arrayBuffer()));

      const broken = await finished(api, await upload(api, truncated(await pngWithIccProfile400(), 0.5), ALICE), ALICE);
      expect(broken).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'invalid_image' } });

      // The records are MongoDB documents, not Redis hashes.
      const stored = await mongoJobRecord(records as Connection, id);
      expect(stored).toMatchObject({ status: 'complete', thumbnailKey: `thumbnails/${id}.png`, owner: expect.any(String) });
      expect(stored?.['completedAt']).toBeInstanceOf(Date);
    });

    it('pages through a list with the cursor, newest first, and filters it by status', async () => {
      const small = await png50();
      const broken = truncated(await pngWithIccProfile400(), 0.5);
      const jobs: Json[] = [];
      for (const file of [small, broken, small, small, broken]) jobs.push(await finished(api, await upload(api, file, BOB), BOB));

      const all = await listAll(api, 'limit=2', BOB);
      expect(all.ids).toEqual(newestFirst(jobs));
      expect(all.pages).toBe(3);

      const complete = jobs.filter((job) => job.status === 'complete');
      const failed = jobs.filter((job) => job.status === 'failed');
      expect(complete).toHaveLength(3);
      expect(await listAll(api, 'limit=2&status=complete', BOB)).toEqual({ ids: newestFirst(complete), pages: 2 });
      expect(await listAll(api, 'limit=2&status=failed', BOB)).toEqual({ ids: newestFirst(failed), pages: 1 });
      expect((await listAll(api, 'status=waiting', BOB)).ids).toEqual([]);
      expect((await call(`${api}/thumbnail?cursor=bogus`, { headers: as(BOB) })).json.error.code).toBe('invalid_parameter');
    });

    it("shows each key only its own jobs: another key's job is not found, and absent from its lists", async () => {
      const small = await png50();
      const alicesJob = (await finished(api, await upload(api, small, ALICE), ALICE))._id;
      const bobsJob = (await finished(api, await upload(api, small, BOB), BOB))._id;
      const alices = (await listAll(api, 'limit=500', ALICE)).ids;
      const bobs = (await listAll(api, 'limit=500', BOB)).ids;
      expect(alices).toContain(alicesJob);
      expect(bobs).toContain(bobsJob);
      expect(alices.filter((id) => bobs.includes(id))).toEqual([]);
      // Every record has one of the two owners: none is missing from both lists.
      expect(await countMongoJobs(records as Connection)).toBe(alices.length + bobs.length);

      for (const [id, owner, other] of [[alicesJob, ALICE, BOB], [bobsJob, BOB, ALICE]]) {
        for (const path of [`/thumbnail/${id}`, `/thumbnail/${id}/image`]) {
          expect((await call(`${api}${path}`, { headers: as(other) })).status).toBe(404);
        }
        expect((await call(`${api}/thumbnail/${id}`, { method: 'DELETE', headers: as(other) })).status).toBe(404);
        expect((await listAll(api, 'limit=500&status=complete', other)).ids).not.toContain(id);
        expect((await call(`${api}/thumbnail/${id}`, { headers: as(owner) })).json.data.status).toBe('complete');
      }
      expect((await call(`${api}/thumbnail`)).status).toBe(401);
    });

    it('completes each job of a burst exactly once across two workers, counted once', async () => {
      const [first, second] = service.workers;
      const before = [await metric(first.url, COMPLETE), await metric(second.url, COMPLETE)];
      const small = await png50();
      const ids = await Promise.all(Array.from({ length: 24 }, () => upload(api, small, ALICE)));

      const jobs = await Promise.all(ids.map((id) => finished(api, id, ALICE)));
      expect(jobs.map((job) => [job.status, job.attempts])).toEqual(ids.map(() => ['complete', 1]));
      const done = [(await metric(first.url, COMPLETE)) - before[0], (await metric(second.url, COMPLETE)) - before[1]];
      expect(done[0] + done[1]).toBe(ids.length);
      // Both took part: the transitions of the two workers really interleaved on the store.
      expect(done[0]).toBeGreaterThan(0);
      expect(done[1]).toBeGreaterThan(0);
      const thumbnails = service.storedFiles('thumbnails');
      expect(ids.filter((id) => !thumbnails.includes(`${id}.png`))).toEqual([]);
    });
  });

  describe('retention, and the job store going away', () => {
    let service: TestService;
    let api: string;
    let records: Connection | undefined;

    beforeAll(async () => {
      service = await TestService.start({
        jobStore: 'mongo',
        env: { JOB_RETENTION_DAYS: '2', RETENTION_SWEEP_INTERVAL_MS: '500', KEEP_ORIGINALS: 'true' },
      });
      api = service.api.url;
      records = await inspectMongo(service.env['MONGO_URL']);
    });
    afterAll(async () => {
      await records?.close();
      await service?.stop();
    });

    it('removes jobs finished over two days ago with their files, and keeps the younger ones', async () => {
      const complete = await finished(api, await upload(api, await png50()));
      const failed = await finished(api, await upload(api, truncated(await pngWithIccProfile400(), 0.5)));
      const finishedYesterday = await finished(api, await upload(api, await png50()));
      expect([complete.status, failed.status, finishedYesterday.status]).toEqual(['complete', 'failed', 'complete']);
      const worker = service.workers[0].url;
      const expiredBefore = await metric(worker, 'thumbnail_jobs_expired_total');

      const mongo = records as Connection;
      await backdateMongoJob(mongo, complete._id, 3 * DAY_MS);
      await backdateMongoJob(mongo, failed._id, 2 * DAY_MS + 60_000);
      await backdateMongoJob(mongo, finishedYesterday._id, 1 * DAY_MS);

      await eventually(async () => expect((await call(`${api}/thumbnail/${complete._id}`)).status).toBe(404), 10_000);
      await eventually(async () => expect((await call(`${api}/thumbnail/${failed._id}`)).status).toBe(404), 10_000);
      expect(service.storedFiles('thumbnails')).toEqual([`${finishedYesterday._id}.png`]);
      expect(service.storedFiles('originals')).toEqual([finishedYesterday._id]);
      expect(await countMongoJobs(mongo)).toBe(1);
      expect((await call(`${api}/thumbnail/${finishedYesterday._id}/image`)).status).toBe(200);
      expect(await metric(worker, 'thumbnail_jobs_expired_total')).toBe(expiredBefore + 2);
      expect(service.logs()).toContain('"msg":"Removed jobs past JOB_RETENTION_DAYS"');
    });

    it('answers uploads 503 and names the job store as not ready while it is down; both apps recover once it is back', async () => {
      const kept = await finished(api, await upload(api, await png50()));
      const ferretdb = service.ferretdb;
      if (!ferretdb) throw new Error('the service runs no FerretDB');
      const apps = [service.api, service.workers[0]];
      const originals = service.storedFiles('originals');

      await ferretdb.stop();
      const refused = await call(`${api}/thumbnail`, { method: 'POST', body: form(await png50()) });
      expect(refused.status).toBe(503);
      expect(refused.json.error).toMatchObject({ code: 'service_unavailable', message: expect.stringMatching(/job store/i) });
      expect(refused.headers.get('retry-after')).toBeTruthy();
      expect(await service.originalsAddedSince(originals)).toEqual([]);
      expect((await call(`${api}/thumbnail/${kept._id}`)).status).toBe(503);
      for (const app of apps) {
        const ready = await call(`${app.url}/health/ready`);
        expect(ready.status, app.name).toBe(503);
        expect(ready.json.checks, app.name).toMatchObject({ redis: { ok: true }, storage: { ok: true }, job_store: { ok: false } });
        expect(ready.json.error.message, app.name).toMatch(/^Not ready: job_store down \(/);
      }

      await ferretdb.restart();
      for (const app of apps) await untilReady(app.url, 30_000);
      expect((await call(`${api}/thumbnail/${kept._id}`)).json.data).toEqual(kept);
      const after = await finished(api, await upload(api, await png50()));
      expect(after.status).toBe('complete');
    });
  });

  // The job store and the queue fail apart: MongoDB unreachable for a few seconds (a replica-set
  // election) can fail every delivery of a job, leaving a failed queue entry and an unfinished
  // record.
  describe('a job whose deliveries all failed while the job store was down', () => {
    let service: TestService;
    let api: string;
    let queue: Queue | undefined;
    let records: Connection | undefined;

    beforeAll(async () => {
      service = await TestService.start({ jobStore: 'mongo', env: { JOB_ATTEMPTS: '2', RECONCILE_INTERVAL_MS: '500' } });
      api = service.api.url;
      queue = queueClient(service.redis.url);
      records = await inspectMongo(service.env['MONGO_URL']);
    });
    afterAll(async () => {
      await queue?.close();
      await records?.close();
      await service?.stop();
    });

    it('is queued again by the reconciler once the store is back, and completes', async () => {
      const entries = queue as Queue;
      const ferretdb = service.ferretdb;
      if (!ferretdb) throw new Error('the service runs no FerretDB');
      // Held in the queue until the store is down, so that every delivery meets the outage.
      await entries.pause();
      const id = await upload(api, await png50());
      await ferretdb.stop();
      await entries.resume();
      await settledEntry(entries, id, 'failed');

      await ferretdb.restart();
      await untilReady(service.workers[0].url, 30_000);
      expect((await call(`${api}/thumbnail/${id}`)).json.data.status).toBe('waiting');
      // Past the reconciler's grace period, as the redis variant does (reliability-redis.e2e.ts).
      await backdateMongoJob(records as Connection, id, 60_000);
      const job = await eventually(async () => {
        const current = (await call(`${api}/thumbnail/${id}?wait=5`)).json.data;
        expect(current.status).toBe('complete');
        return current;
      }, 30_000, 0);
      expect(job.attempts).toBe(1);
      expect(service.logs()).toContain('Re-queued a job whose deliveries all failed');
    });
  });
});
