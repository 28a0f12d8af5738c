import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import { PinoLogger } from 'nestjs-pino';
import { Counter, Registry } from 'prom-client';
import type { Env } from '@thumbnail/config';
import { createRedisConnection, originalKey, RedisJobStore, waitForRedis } from '@thumbnail/jobs';
import { FsStorage } from '@thumbnail/storage';
import { startRedisServer, type RunningRedisServer } from '@thumbnail/testing';
import { KeptOriginalsService } from './kept-originals.service';

const HOUR_MS = 3600 * 1000;

describe('KeptOriginalsService (real Redis job store and disk storage)', () => {
  let redisServer: RunningRedisServer;
  let redis: Redis;
  let store: RedisJobStore;
  let storage: FsStorage;
  let root: string;
  let deleted: Counter;
  let sweeper: KeptOriginalsService;

  beforeAll(async () => {
    redisServer = await startRedisServer();
    redis = createRedisConnection(redisServer.url, 'command', 'kept-originals-spec');
    await waitForRedis(redis, 5_000);
    store = new RedisJobStore(redis);
  });
  afterAll(async () => {
    redis?.disconnect();
    await redisServer?.destroy();
  });
  beforeEach(async () => {
    await redis.flushdb();
    root = mkdtempSync(join(tmpdir(), 'kept-originals-spec-'));
    storage = new FsStorage({ root });
    await storage.init();
    const registry = new Registry();
    deleted = new Counter({ name: 'deleted', help: 'h', registers: [registry] });
    sweeper = new KeptOriginalsService(
      { KEEP_ORIGINALS: false, RETRY_WINDOW_HOURS: 24, RETENTION_SWEEP_INTERVAL_MS: 600_000 } as Env,
      store,
      storage,
      new PinoLogger({ pinoHttp: { level: 'silent' } }),
      deleted,
      new Counter({ name: 'undeleted', help: 'h', registers: [registry] }),
    );
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** A job that failed for a transient reason, its original stored and kept until `keptUntil`. */
  async function failedJob(keptUntil: Date): Promise<string> {
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
      variants: [{ name: 'default', width: 100, height: 100, fit: 'cover', format: 'png', quality: null, output: null }],
      owner: null,
      requestId: null,
      createdAt: new Date(keptUntil.getTime() - 25 * HOUR_MS),
      callbackUrl: null,
    });
    await store.transition(id, {
      from: ['waiting'],
      to: 'failed',
      completedAt: new Date(keptUntil.getTime() - 24 * HOUR_MS),
      error: { code: 'storage_unavailable', message: 'x' },
      originalExpiresAt: keptUntil,
    });
    return id;
  }

  it('deletes the originals whose window has passed and keeps the others, once', async () => {
    const expired = await failedJob(new Date(Date.now() - HOUR_MS));
    const kept = await failedJob(new Date(Date.now() + HOUR_MS));
    expect(await sweeper.sweepOnce()).toBe(1);
    expect(await storage.head(originalKey(expired))).toBeNull();
    expect(await storage.head(originalKey(kept))).not.toBeNull();
    expect(await store.get(expired)).toMatchObject({ status: 'failed', originalExpiresAt: null, error: { code: 'storage_unavailable' } });
    expect((await deleted.get()).values[0].value).toBe(1);
    expect(await sweeper.sweepOnce()).toBe(0);
  });

  it('leaves the original of a job retried before the sweep reached it', async () => {
    const id = await failedJob(new Date(Date.now() - HOUR_MS));
    // The retry's own condition (kept after now) would refuse it by now; a retry from a moment
    // earlier, when the window was still open, got there first.
    await store.transition(id, { from: ['failed'], to: 'waiting', completedAt: null, originalExpiresAt: null });
    expect(await sweeper.sweepOnce()).toBe(0);
    expect(await storage.head(originalKey(id))).not.toBeNull();
  });
});
