import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import { PinoLogger } from 'nestjs-pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Env } from '@thumbnail/config';
import { createRedisConnection, originalKey, RedisJobStore, thumbnailKey, type ThumbnailVariant, waitForRedis } from '@thumbnail/jobs';
import { FsStorage, StorageUnavailableError } from '@thumbnail/storage';
import { startRedisServer, type RunningRedisServer } from '@thumbnail/testing';
import { ImageProcessor, InvalidImageError, type MadeVariants, type VariantPlan } from '@thumbnail/thumbnail-making';
import { ThumbnailMakerService } from './thumbnail-maker.service';

/** An image processor that answers what the case needs; the port is ours to substitute. */
class ScriptedProcessor extends ImageProcessor {
  plans: VariantPlan[][] = [];
  /** By default, `<format> bytes <index>` for each plan, at the plan's size. */
  next: (plans: readonly VariantPlan[]) => Promise<MadeVariants> = async (plans) => ({
    images: plans.map((plan, i) => ({ data: Buffer.from(`${plan.format} bytes ${i}`), format: plan.format, width: plan.width, height: plan.height })),
    thumbhash: Buffer.from([1, 2, 3, 4]),
  });
  override makeVariants(_input: Buffer, plans: readonly VariantPlan[]): Promise<MadeVariants> {
    this.plans.push([...plans]);
    return this.next(plans);
  }
}

const DEFAULT_VARIANT: ThumbnailVariant = { name: 'default', width: 100, height: 100, fit: 'cover', format: 'png', quality: null, output: null };

describe('ThumbnailMakerService outcomes (real Redis job store and disk storage)', () => {
  let redisServer: RunningRedisServer;
  let redis: Redis;
  let store: RedisJobStore;
  let storage: FsStorage;
  let root: string;
  let processor: ScriptedProcessor;
  let registry: Registry;
  let finished: Counter<string>;
  let maker: ThumbnailMakerService;

  beforeAll(async () => {
    redisServer = await startRedisServer();
    redis = createRedisConnection(redisServer.url, 'command', 'maker-spec');
    await waitForRedis(redis, 5_000);
    store = new RedisJobStore(redis);
  });
  afterAll(async () => {
    redis?.disconnect();
    await redisServer?.destroy();
  });

  beforeEach(async () => {
    await redis.flushdb();
    root = mkdtempSync(join(tmpdir(), 'maker-spec-'));
    storage = new FsStorage({ root });
    await storage.init();
    processor = new ScriptedProcessor();
    registry = new Registry();
    finished = new Counter({ name: 'finished', help: 'h', labelNames: ['outcome', 'code'], registers: [registry] });
    maker = new ThumbnailMakerService(
      { KEEP_ORIGINALS: false, WORKER_CONCURRENCY: 1 } as Env,
      redis,
      store,
      storage,
      processor,
      new PinoLogger({ pinoHttp: { level: 'silent' } }),
      finished,
      new Counter({ name: 'undeleted', help: 'h', registers: [registry] }),
      new Histogram({ name: 'wait', help: 'h', registers: [registry] }),
      new Histogram({ name: 'processing', help: 'h', registers: [registry] }),
      new Gauge({ name: 'in_progress', help: 'h', registers: [registry] }),
    );
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  async function submittedJob(variants: ThumbnailVariant[] = [DEFAULT_VARIANT]): Promise<string> {
    const id = randomUUID();
    await storage.put(originalKey(id), Readable.from([Buffer.from('original bytes')]));
    await store.create({
      id,
      originalFilename: 'a.png',
      originalKey: originalKey(id),
      contentType: 'image/png',
      bytes: 14,
      fit: 'cover',
      width: 100,
      height: 100,
      variants,
      owner: null,
      requestId: 'req-1',
      createdAt: new Date(),
    });
    return id;
  }

  const counted = async (outcome: string, code: string) =>
    (await finished.get()).values.find((v) => v.labels.outcome === outcome && v.labels.code === code)?.value ?? 0;

  it('complete: writes the thumbnail, records it, counts it and deletes the original', async () => {
    const id = await submittedJob();
    const outcome = await maker.make({ jobId: id, requestId: 'req-1' }, { number: 1, allowed: 3 });
    expect(outcome.kind).toBe('complete');
    expect(await store.get(id)).toMatchObject({ status: 'complete', thumbnailKey: thumbnailKey(id), attempts: 1, error: null });
    expect((await storage.getBuffer(thumbnailKey(id))).toString()).toBe('png bytes 0');
    expect(await storage.head(originalKey(id))).toBeNull();
    expect(await counted('complete', '')).toBe(1);
  });

  it('complete with several variants: one call for all, each stored under its key, recorded with its output and the placeholder', async () => {
    const variants: ThumbnailVariant[] = [
      { name: 'w640', width: 640, height: 640, fit: 'inside', format: 'webp', quality: 80, output: null },
      DEFAULT_VARIANT,
      { name: 'hero', width: 1200, height: 630, fit: 'cover', format: 'jpeg', quality: 70, output: null },
    ];
    const id = await submittedJob(variants);
    processor.next = async (plans) => ({
      images: plans.map((plan, i) => ({ data: Buffer.from(`image ${i}`.repeat(i + 1)), format: plan.format, width: plan.width - i, height: plan.height })),
      thumbhash: Buffer.from([9, 8, 7]),
    });
    expect((await maker.make({ jobId: id, requestId: null }, { number: 1, allowed: 3 })).kind).toBe('complete');
    expect(processor.plans).toEqual([variants.map(({ width, height, fit, format, quality }) => ({ width, height, fit, format, quality }))]);
    const job = await store.get(id);
    expect(job).toMatchObject({ status: 'complete', thumbnailKey: `thumbnails/${id}.png`, placeholder: { thumbhash: Buffer.from([9, 8, 7]).toString('base64') } });
    expect(job?.variants.map((variant) => [variant.name, variant.output])).toEqual([
      ['w640', { width: 640, height: 640, bytes: 7 }],
      ['default', { width: 99, height: 100, bytes: 14 }],
      ['hero', { width: 1198, height: 630, bytes: 21 }],
    ]);
    expect((await storage.getBuffer(`thumbnails/${id}.w640.webp`)).toString()).toBe('image 0');
    expect((await storage.getBuffer(`thumbnails/${id}.png`)).toString()).toBe('image 1image 1');
    expect((await storage.getBuffer(`thumbnails/${id}.hero.jpg`)).length).toBe(21);
  });

  it('complete without a default variant: the original service’s thumbnail key stays empty', async () => {
    const id = await submittedJob([{ name: 'small', width: 50, height: 50, fit: 'cover', format: 'avif', quality: 50, output: null }]);
    expect((await maker.make({ jobId: id, requestId: null }, { number: 1, allowed: 3 })).kind).toBe('complete');
    expect(await store.get(id)).toMatchObject({ status: 'complete', thumbnailKey: null });
    expect((await storage.getBuffer(`thumbnails/${id}.small.avif`)).toString()).toBe('avif bytes 0');
    expect(await storage.head(thumbnailKey(id))).toBeNull();
  });

  it('failed without retry: an image at fault is final on the first attempt', async () => {
    const id = await submittedJob();
    processor.next = () => Promise.reject(new InvalidImageError());
    const outcome = await maker.make({ jobId: id, requestId: null }, { number: 1, allowed: 3 });
    expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'invalid_image' } });
    expect(await store.get(id)).toMatchObject({ status: 'failed', error: { code: 'invalid_image' } });
    expect(await storage.head(originalKey(id))).toBeNull();
    expect(await counted('failed', 'invalid_image')).toBe(1);
  });

  it('retry: a transient failure puts the job back to waiting and keeps the original, until the last attempt', async () => {
    const id = await submittedJob();
    processor.next = () => Promise.reject(new Error('libvips ran out of something'));
    const first = await maker.make({ jobId: id, requestId: null }, { number: 1, allowed: 2 });
    expect(first).toMatchObject({ kind: 'retry', error: { code: 'internal_error' } });
    expect(await store.get(id)).toMatchObject({ status: 'waiting', attempts: 1, error: { code: 'internal_error' } });
    expect(await storage.head(originalKey(id))).not.toBeNull();
    expect(await counted('failed', 'internal_error')).toBe(0);

    const last = await maker.make({ jobId: id, requestId: null }, { number: 2, allowed: 2 });
    expect(last).toMatchObject({ kind: 'failed', error: { code: 'internal_error' } });
    expect(await store.get(id)).toMatchObject({ status: 'failed', attempts: 2 });
    expect(await storage.head(originalKey(id))).toBeNull();
    expect(await counted('failed', 'internal_error')).toBe(1);
  });

  it('failed: an original gone from storage is final, as original_missing', async () => {
    const id = await submittedJob();
    await storage.delete(originalKey(id));
    const outcome = await maker.make({ jobId: id, requestId: null }, { number: 1, allowed: 3 });
    expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'original_missing' } });
  });

  it('skipped: a redelivery of a finished job changes nothing and removes a left-behind original', async () => {
    const id = await submittedJob();
    await maker.make({ jobId: id, requestId: null }, { number: 1, allowed: 3 });
    const before = await store.get(id);
    // As if a killed worker had recorded the outcome but not deleted the original.
    await storage.put(originalKey(id), Readable.from([Buffer.from('original bytes')]));
    const outcome = await maker.make({ jobId: id, requestId: null }, { number: 1, allowed: 3 });
    expect(outcome).toEqual({ kind: 'skipped', reason: 'already_finished' });
    expect(await store.get(id)).toEqual(before);
    expect(await storage.head(originalKey(id))).toBeNull();
    expect(await counted('complete', '')).toBe(1);
  });

  it('skipped: a delivery for a job with no record', async () => {
    const outcome = await maker.make({ jobId: randomUUID(), requestId: null }, { number: 1, allowed: 3 });
    expect(outcome).toEqual({ kind: 'skipped', reason: 'missing' });
  });

  describe('a delivery that outlived its lock (its worker cut off) while another took the job over', () => {
    /** What another worker's delivery does first once the stale one's lock has expired. */
    const takeOver = (id: string) =>
      store.transition(id, { from: ['waiting', 'processing'], to: 'processing', incrementAttempts: true });

    async function expectUntouched(id: string, record: unknown): Promise<void> {
      expect(await store.get(id)).toEqual(record);
      expect(await storage.head(thumbnailKey(id))).toBeNull();
      expect(await storage.head(originalKey(id))).not.toBeNull();
      expect(await counted('complete', '')).toBe(0);
    }

    it('writes no thumbnail and records nothing once its image is made', async () => {
      const id = await submittedJob();
      let record: unknown;
      processor.next = async () => {
        record = (await takeOver(id)).job;
        return { images: [{ data: Buffer.from('late png'), format: 'png', width: 100, height: 100 }], thumbhash: Buffer.from([1]) };
      };
      const outcome = await maker.make({ jobId: id, requestId: null }, { number: 1, allowed: 3 });
      expect(outcome).toEqual({ kind: 'skipped', reason: 'superseded' });
      expect(record).toMatchObject({ status: 'processing', attempts: 2 });
      await expectUntouched(id, record);
    });

    it('does not put the job back to waiting when its attempt fails', async () => {
      const id = await submittedJob();
      let record: unknown;
      processor.next = async () => {
        record = (await takeOver(id)).job;
        throw new StorageUnavailableError('endpoint unreachable (timed out)');
      };
      const outcome = await maker.make({ jobId: id, requestId: null }, { number: 1, allowed: 3 });
      expect(outcome).toEqual({ kind: 'skipped', reason: 'superseded' });
      await expectUntouched(id, record);
    });

    it('does not fail the job when its last attempt fails', async () => {
      const id = await submittedJob();
      let record: unknown;
      processor.next = async () => {
        record = (await takeOver(id)).job;
        throw new InvalidImageError();
      };
      const outcome = await maker.make({ jobId: id, requestId: null }, { number: 3, allowed: 3 });
      expect(outcome).toEqual({ kind: 'skipped', reason: 'superseded' });
      await expectUntouched(id, record);
      expect(await counted('failed', 'invalid_image')).toBe(0);
    });

    it('records nothing when the job is taken over during the thumbnail write, and leaves the shared thumbnail', async () => {
      const id = await submittedJob();
      let record: unknown;
      const put = storage.put.bind(storage);
      vi.spyOn(storage, 'put').mockImplementationOnce(async (key: string, body: Readable) => {
        record = (await takeOver(id)).job;
        return put(key, body);
      });
      const outcome = await maker.make({ jobId: id, requestId: null }, { number: 1, allowed: 3 });
      expect(outcome).toEqual({ kind: 'skipped', reason: 'superseded' });
      expect(await store.get(id)).toEqual(record);
      // The same object the delivery now holding the job writes: not this one's to remove.
      expect(await storage.head(thumbnailKey(id))).not.toBeNull();
      expect(await storage.head(originalKey(id))).not.toBeNull();
      expect(await counted('complete', '')).toBe(0);
    });

    it('removes the thumbnail it wrote when the job was finished by another delivery and deleted meanwhile', async () => {
      const id = await submittedJob();
      const put = storage.put.bind(storage);
      vi.spyOn(storage, 'put').mockImplementationOnce(async (key: string, body: Readable) => {
        await takeOver(id);
        await store.transition(id, { from: ['processing'], to: 'complete', completedAt: new Date(), attempt: 2 });
        await store.delete(id);
        return put(key, body);
      });
      const outcome = await maker.make({ jobId: id, requestId: null }, { number: 1, allowed: 3 });
      expect(outcome).toEqual({ kind: 'skipped', reason: 'missing' });
      expect(await storage.head(thumbnailKey(id))).toBeNull();
      expect(await counted('complete', '')).toBe(0);
    });
  });

  describe('a job whose workers kept stopping while making it', () => {
    async function processingJob(): Promise<string> {
      const id = await submittedJob();
      // Where every dead worker left it: started, never finished.
      await store.transition(id, { from: ['waiting'], to: 'processing', startedAt: new Date(), incrementAttempts: true });
      return id;
    }

    it('fails as worker_crashed, counted, its original deleted', async () => {
      const id = await processingJob();
      const outcome = await maker.failAbandoned({ jobId: id, requestId: 'req-1' });
      expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'worker_crashed' } });
      const job = await store.get(id);
      expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'worker_crashed' } });
      expect(job?.error?.message).toMatch(/stopped before finishing/);
      expect(job?.completedAt).toBeInstanceOf(Date);
      expect(await storage.head(originalKey(id))).toBeNull();
      expect(await counted('failed', 'worker_crashed')).toBe(1);
    });

    it('keeps the original with KEEP_ORIGINALS', async () => {
      const keeping = new ThumbnailMakerService(
        { KEEP_ORIGINALS: true, WORKER_CONCURRENCY: 1 } as Env,
        redis,
        store,
        storage,
        processor,
        new PinoLogger({ pinoHttp: { level: 'silent' } }),
        finished,
        new Counter({ name: 'undeleted_kept', help: 'h', registers: [registry] }),
        new Histogram({ name: 'wait_kept', help: 'h', registers: [registry] }),
        new Histogram({ name: 'processing_kept', help: 'h', registers: [registry] }),
        new Gauge({ name: 'in_progress_kept', help: 'h', registers: [registry] }),
      );
      const id = await processingJob();
      expect((await keeping.failAbandoned({ jobId: id, requestId: null })).kind).toBe('failed');
      expect((await store.get(id))?.status).toBe('failed');
      expect(await storage.head(originalKey(id))).not.toBeNull();
    });

    it('leaves a job another delivery finished as it was, counting nothing', async () => {
      const id = await submittedJob();
      await maker.make({ jobId: id, requestId: null }, { number: 1, allowed: 3 });
      const before = await store.get(id);
      expect(await maker.failAbandoned({ jobId: id, requestId: null })).toEqual({ kind: 'skipped', reason: 'already_finished' });
      expect(await store.get(id)).toEqual(before);
      expect(await counted('failed', 'worker_crashed')).toBe(0);
    });
  });
});
