import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { PinoLogger } from 'nestjs-pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Env } from '@thumbnail/config';
import {
  createRedisConnection,
  enqueueThumbnailJob,
  originalKey,
  RedisJobStore,
  THUMBNAIL_QUEUE,
  type ThumbnailJobPayload,
  waitForRedis,
  WEBHOOK_QUEUE,
  type WebhookDeliveryPayload,
} from '@thumbnail/jobs';
import { FsStorage } from '@thumbnail/storage';
import { startRedisServer, type RunningRedisServer } from '@thumbnail/testing';
import { ImageProcessor, type MadeVariants } from '@thumbnail/thumbnail-making';
import { QueueReconcilerService } from './queue-reconciler.service';
import { ThumbnailMakerService } from './thumbnail-maker.service';
import { WebhookNotifier } from './webhooks/webhook-notifier.service';

class UnusedProcessor extends ImageProcessor {
  override makeVariants(): Promise<MadeVariants> {
    throw new Error('the reconciler makes no thumbnails');
  }
}

const config = { JOB_ATTEMPTS: 3, JOB_BACKOFF_MS: 100, KEEP_COMPLETED_QUEUE_ENTRIES: 10, KEEP_FAILED_QUEUE_ENTRIES: 10, KEEP_ORIGINALS: false, WORKER_CONCURRENCY: 1, RECONCILE_INTERVAL_MS: 0 } as Env;

/** Failed queue entries of job records left `processing`, on a real Redis with BullMQ's own scripts. */
describe('QueueReconcilerService and entries that failed without their record', () => {
  let server: RunningRedisServer;
  let redis: Redis;
  let queue: Queue<ThumbnailJobPayload>;
  let webhookQueue: Queue<WebhookDeliveryPayload>;
  let taker: Worker<ThumbnailJobPayload>;
  let store: RedisJobStore;
  let storage: FsStorage;
  let root: string;
  let reconciler: QueueReconcilerService;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = createRedisConnection(server.url, 'command', 'reconciler-spec');
    await waitForRedis(redis, 5_000);
    const { hostname, port } = new URL(server.url);
    const connection = { host: hostname, port: Number(port), maxRetriesPerRequest: null };
    queue = new Queue(THUMBNAIL_QUEUE, { connection });
    taker = new Worker(THUMBNAIL_QUEUE, null, { connection, autorun: false });
    webhookQueue = new Queue(WEBHOOK_QUEUE, { connection });
    store = new RedisJobStore(redis);
    root = mkdtempSync(join(tmpdir(), 'reconciler-spec-'));
    storage = new FsStorage({ root });
    await storage.init();
    const registry = new Registry();
    const logger = new PinoLogger({ pinoHttp: { level: 'silent' } });
    const maker = new ThumbnailMakerService(
      config,
      redis,
      store,
      storage,
      new UnusedProcessor(),
      logger,
      new Counter({ name: 'finished', help: 'h', labelNames: ['outcome', 'code'], registers: [registry] }),
      new Counter({ name: 'undeleted', help: 'h', registers: [registry] }),
      new Histogram({ name: 'wait', help: 'h', registers: [registry] }),
      new Histogram({ name: 'processing', help: 'h', registers: [registry] }),
      new Gauge({ name: 'in_progress', help: 'h', registers: [registry] }),
      new WebhookNotifier(config, storage, webhookQueue),
    );
    reconciler = new QueueReconcilerService(config, queue, store, maker, logger);
  });
  afterAll(async () => {
    await taker?.close();
    await queue?.close();
    await webhookQueue?.close();
    redis?.disconnect();
    await server?.destroy();
    rmSync(root, { recursive: true, force: true });
  });

  /** A job record a minute old (past the reconciler's grace), started once, and its queue entry failed as given. */
  async function failedWhileProcessing(stalls: number, reason: string): Promise<string> {
    const id = randomUUID();
    await storage.put(originalKey(id), Readable.from([Buffer.from('original')]));
    await store.create({
      id,
      originalFilename: 'a.png',
      originalKey: originalKey(id),
      contentType: 'image/png',
      bytes: 8,
      fit: 'cover',
      width: 100,
      height: 100,
      variants: [{ name: 'default', width: 100, height: 100, fit: 'cover', format: 'png', quality: null, output: null }],
      callbackUrl: null,
      owner: null,
      requestId: null,
      createdAt: new Date(Date.now() - 60_000),
    });
    await store.transition(id, { from: ['waiting'], to: 'processing', startedAt: new Date(), incrementAttempts: true });
    await enqueueThumbnailJob(queue, { jobId: id, requestId: null }, { attempts: 3, backoffMs: 100, keepCompleted: 10, keepFailed: 10 });
    const token = randomUUID();
    const entry = await taker.getNextJob(token);
    if (entry?.id !== id) throw new Error(`took ${entry?.id}, not ${id}`);
    // What BullMQ's stalled check counts each time it finds the job abandoned.
    await redis.hset(`bull:${THUMBNAIL_QUEUE}:${id}`, 'stc', String(stalls));
    await entry.moveToFailed(new UnrecoverableError(reason), token);
    return id;
  }

  it('fails as worker_crashed, and never queues again, a job abandoned by a worker more than JOB_ATTEMPTS - 1 times', async () => {
    const id = await failedWhileProcessing(3, 'job stalled more than allowable limit');
    expect(await reconciler.reconcileOnce()).toBe(0);
    expect(await store.get(id)).toMatchObject({ status: 'failed', error: { code: 'worker_crashed' } });
    expect(await queue.getJobState(id)).toBe('failed');
    expect(await storage.head(originalKey(id))).toBeNull();
    // Later passes find nothing left to do.
    expect(await reconciler.reconcileOnce()).toBe(0);
    expect(await queue.getJobState(id)).toBe('failed');
  });

  it('still queues again an entry that failed for another reason (its record could not be written)', async () => {
    const id = await failedWhileProcessing(1, 'storage_unavailable');
    expect(await reconciler.reconcileOnce()).toBe(1);
    expect(await queue.getJobState(id)).toBe('waiting');
    expect((await store.get(id))?.status).toBe('processing');
  });
});
