import { REDIS_REPLY_TIMEOUT_MS } from '@thumbnail/jobs';
import { png50, skipWithoutNetworkNamespaces, skipWithoutTool } from '@thumbnail/testing';
import { type Answer, call, type Json, submit, waitFor } from './support/client';
import { PartitionedService } from './support/partitioned-service';
import { acceptedId, eventually, untilReady } from './support/reliability-http';

const COMPLETE = 'thumbnail_jobs_finished_total{outcome="complete",code=""}';
/** Counted when a delivery ends, whatever became of it (the maker's processing timer). */
const DELIVERIES_ENDED = 'thumbnail_job_processing_seconds_count';
/** Every request to a partitioned service is bounded, so a hang fails with a reason. */
const CLIENT_TIMEOUT_MS = 30_000;

function expectUnavailable(answer: Answer<Json>): void {
  expect(answer.status).toBe(503);
  expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(answer.json).toMatchObject({ error: { code: 'service_unavailable', message: expect.any(String) } });
}

async function timed<T>(action: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = Date.now();
  const result = await action();
  return { result, ms: Date.now() - started };
}

describe.skipIf(skipWithoutNetworkNamespaces() || skipWithoutTool('minio'))(
  'network partitions (Redis, MinIO, the API and two workers, each on a host of its own)',
  () => {
    let service: PartitionedService;
    let api: string;
    let image: Buffer;
    /** Every job the API accepted (202): each must end complete. */
    const accepted: string[] = [];

    beforeAll(async () => {
      image = await png50();
      service = await PartitionedService.start({
        env: {
          JOB_ATTEMPTS: '3',
          JOB_BACKOFF_MS: '200',
          WORKER_CONCURRENCY: '1',
          WORKER_STALLED_INTERVAL_MS: '1000',
          // No reconciler: a job lost to a partition must show as lost, not be quietly re-queued.
          RECONCILE_INTERVAL_MS: '0',
          SHUTDOWN_TIMEOUT_MS: '5000',
        },
        workers: {
          // A's lock expires within 2 s of A being cut off: the redelivery these cases wait for.
          'worker-a': { WORKER_LOCK_DURATION_MS: '2000' },
          // B keeps a job for a minute, so a B cut off in its turn still holds it when A returns.
          'worker-b': { WORKER_LOCK_DURATION_MS: '60000' },
        },
      });
      api = service.api.url;
    }, 120_000);
    afterAll(async () => service?.stop());
    afterEach((context) => {
      // What each process logged is the only account of a partition case that went wrong.
      if (context.task.result?.state === 'fail') console.error(service?.logs().slice(-20_000));
    });

    async function record(id: string): Promise<Json> {
      return (await call(`${api}/thumbnail/${id}`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })).json.data;
    }

    /** A sample of one worker's /metrics; the worker must not be cut off. */
    async function sample(worker: string, name: string): Promise<number> {
      const metrics = await call(`${service.worker(worker).url}/metrics`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) });
      const line = metrics.text.split('\n').find((l) => l.startsWith(`${name} `));
      return line ? Number(line.slice(name.length + 1)) : 0;
    }

    /** Completions counted by both workers together. */
    async function completions(): Promise<number> {
      return (await sample('worker-a', COMPLETE)) + (await sample('worker-b', COMPLETE));
    }

    const announcements = (id: string) => service.announced.filter((announced) => announced === id).length;

    /**
     * Submits a job only worker A can take (B is cut off from Redis) and on which A stalls (A is
     * cut off from MinIO, so its read of the original hangs), waits until A has started it, then
     * cuts A off entirely. B stays cut off from Redis: the caller lets it back.
     */
    async function jobHeldByCutOffWorkerA(): Promise<{ id: string; cutAt: number }> {
      const network = service.network;
      await network.cut('worker-b', { from: ['redis'] });
      await network.cut('worker-a', { from: ['minio'] });
      const id = acceptedId(await submit(api, image));
      accepted.push(id);
      await eventually(async () => expect(await record(id)).toMatchObject({ status: 'processing', attempts: 1 }), CLIENT_TIMEOUT_MS);
      await network.cut('worker-a');
      return { id, cutAt: Date.now() };
    }

    it('redelivers the job of a worker cut off mid-job once its lock expires, completes it once, and the stale worker changes nothing when it returns', async () => {
      const network = service.network;
      const [endedOnA, completedBefore] = [await sample('worker-a', DELIVERIES_ENDED), await completions()];

      const { id, cutAt } = await jobHeldByCutOffWorkerA();
      await network.restore('worker-b');
      const done = await waitFor(api, id, 60);
      expect(done).toMatchObject({ status: 'complete', attempts: 2, thumbnailFilename: `thumbnails/${id}.png` });
      const redeliveredMs = Date.parse(done.startedAt) - cutAt;
      expect(redeliveredMs).toBeGreaterThan(0);
      expect(await sample('worker-b', COMPLETE)).toBeGreaterThan(0);
      expect(announcements(id)).toBe(1);

      // A comes back with its delivery still under way; once that has ended, nothing has changed.
      await network.restore('worker-a');
      const restoredAt = Date.now();
      await eventually(async () => expect(await sample('worker-a', DELIVERIES_ENDED)).toBe(endedOnA + 1), 60_000, 200);
      const staleEndedMs = Date.now() - restoredAt;
      expect(await record(id)).toEqual(done);
      expect(await service.bucket.keys(`thumbnails/${id}`)).toEqual([`thumbnails/${id}.png`]);
      expect(await service.bucket.keys(`originals/${id}`)).toEqual([]);
      expect(await completions()).toBe(completedBefore + 1);
      expect(announcements(id)).toBe(1);
      console.info(
        `worker cut off mid-job: redelivered ${redeliveredMs} ms after the cut; its stale delivery ended ${staleEndedMs} ms after it came back`,
      );
    }, 150_000);

    it('ignores a stale worker that returns while another worker holds its job, and completes the job once', async () => {
      const network = service.network;
      const [endedOnA, completedOnA, completedBefore] = [
        await sample('worker-a', DELIVERIES_ENDED),
        await sample('worker-a', COMPLETE),
        await completions(),
      ];

      const { id } = await jobHeldByCutOffWorkerA();
      // B takes the job over once A's lock expires and stalls on the original in its turn; then B
      // is cut off entirely, still holding the job, and A comes back.
      await network.cut('worker-b', { from: ['minio'] });
      await network.restore('worker-b', { from: ['redis'] });
      await eventually(async () => expect(await record(id)).toMatchObject({ status: 'processing', attempts: 2 }), CLIENT_TIMEOUT_MS);
      await network.cut('worker-b');
      const heldByB = await record(id);
      await network.restore('worker-a');
      await eventually(async () => expect(await sample('worker-a', DELIVERIES_ENDED)).toBe(endedOnA + 1), 60_000, 200);

      // A's delivery has ended without a trace: no status change, thumbnail, deleted original,
      // counted completion or announcement.
      expect(await record(id)).toEqual(heldByB);
      expect(await service.bucket.keys(`thumbnails/${id}`)).toEqual([]);
      expect(await service.bucket.keys(`originals/${id}`)).toEqual([`originals/${id}`]);
      expect(await sample('worker-a', COMPLETE)).toBe(completedOnA);
      expect(announcements(id)).toBe(0);

      // B comes back and finishes the job, once.
      await network.restore('worker-b');
      const done = await waitFor(api, id, 60);
      expect(done).toMatchObject({ status: 'complete', thumbnailFilename: `thumbnails/${id}.png` });
      expect(done.attempts).toBeGreaterThanOrEqual(2);
      expect(await service.bucket.keys(`thumbnails/${id}`)).toEqual([`thumbnails/${id}.png`]);
      await eventually(async () => expect(await service.bucket.keys(`originals/${id}`)).toEqual([]));
      expect(await completions()).toBe(completedBefore + 1);
      expect(announcements(id)).toBe(1);
    }, 150_000);

    it('answers 503 with Retry-After while the API is cut off from Redis, says so when asked, and recovers by itself', async () => {
      const network = service.network;
      const known = accepted[0] ?? acceptedId(await submit(api, image));
      const originals = await service.bucket.keys('originals/');
      await network.cut('api', { from: ['redis'] });

      const upload = await timed(() => submit(api, image, {}, AbortSignal.timeout(CLIENT_TIMEOUT_MS)));
      expectUnavailable(upload.result);
      const read = await timed(() => call(`${api}/thumbnail/${known}`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) }));
      expectUnavailable(read.result);
      const list = await timed(() => call(`${api}/thumbnail?limit=5`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) }));
      expectUnavailable(list.result);
      // Bounded by how long a Redis connection waits for a reply, not by the kernel's 15 minutes.
      for (const answered of [upload, read, list]) expect(answered.ms).toBeLessThan(REDIS_REPLY_TIMEOUT_MS * 5);
      const ready = await call(`${api}/health/ready`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) });
      expect(ready.status).toBe(503);
      expect(ready.json.checks.redis.ok).toBe(false);
      expect(await service.bucket.keys('originals/')).toEqual(originals);

      await network.restore('api');
      const restoredAt = Date.now();
      await untilReady(api, 60_000);
      const recoveredMs = Date.now() - restoredAt;
      const id = acceptedId(await submit(api, image, {}, AbortSignal.timeout(CLIENT_TIMEOUT_MS)));
      accepted.push(id);
      expect(await waitFor(api, id, 60)).toMatchObject({ status: 'complete' });
      console.info(
        `API cut off from Redis: 503 to an upload in ${upload.ms} ms, to a read in ${read.ms} ms, to the list in ${list.ms} ms; ready ${recoveredMs} ms after the link came back`,
      );
    }, 120_000);

    it('lost no accepted job and made none up: each is complete, with one thumbnail, counted and announced once', async () => {
      expect(accepted.length).toBeGreaterThanOrEqual(3);
      for (const id of accepted) {
        expect((await waitFor(api, id, 60)).status).toBe('complete');
        expect(await service.bucket.keys(`thumbnails/${id}`)).toEqual([`thumbnails/${id}.png`]);
        expect(announcements(id)).toBe(1);
      }
      expect(await completions()).toBe(accepted.length);
      // The upload refused during the cut left no record behind either.
      const listed = (await call(`${api}/thumbnail?limit=500`)).json.data.map((job: Json) => job._id);
      expect(listed.sort()).toEqual([...accepted].sort());
    });
  },
);
