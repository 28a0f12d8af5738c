import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@thumbnail/config';
import { createStorage, type Storage } from '@thumbnail/storage';
import { startApp, startRedisServer, startS3rver, type RunningApp, type RunningRedisServer } from '@thumbnail/testing';
import { startFerretDb, type RunningFerretDb } from '@thumbnail/testing';

export interface ServiceOptions {
  storage?: 'fs' | 's3';
  /** `mongo`: job records in a FerretDB of the service's own (`ferretdb`, to stop and restart). */
  jobStore?: 'redis' | 'mongo';
  env?: Record<string, string>;
  /** Start no worker (tests that need jobs to stay waiting start one later). */
  withoutWorker?: boolean;
  /** STORAGE_DIR: this folder, which the test owns (e.g. a small disk), instead of a fresh one. */
  storageDir?: string;
  /**
   * For `storage: 's3'`: this S3 server instead of a fresh s3rver (e.g. one a test can take
   * down and bring back). The service stops it in `stop()`.
   */
  s3Server?: { endpoint: string; stop(): Promise<void> };
}

/**
 * The whole service as separate processes: its own redis-server, the built worker and API, and
 * for `storage: 's3'` an s3rver in this process spoken to over real HTTP.
 */
export class TestService {
  api!: RunningApp;
  workers: RunningApp[] = [];
  redis!: RunningRedisServer;
  ferretdb: RunningFerretDb | null = null;
  env: Record<string, string> = {};
  storageDir = '';
  private ownsStorageDir = false;
  private s3: { stop(): Promise<void> } | null = null;

  static async start(options: ServiceOptions = {}): Promise<TestService> {
    const service = new TestService();
    try {
      await service.boot(options);
    } catch (error) {
      // The caller never gets the instance, so it could not stop what did start.
      await service.stop().catch(() => undefined);
      throw error;
    }
    return service;
  }

  private async boot(options: ServiceOptions): Promise<void> {
    this.redis = await startRedisServer({ appendonly: true });
    this.ownsStorageDir = !options.storageDir;
    this.storageDir = options.storageDir ?? mkdtempSync(join(tmpdir(), 'tg-e2e-files-'));
    this.env = {
      REDIS_URL: this.redis.url,
      STORAGE_DRIVER: 'fs',
      STORAGE_DIR: this.storageDir,
      JOB_BACKOFF_MS: '200',
      WORKER_CONCURRENCY: '2',
      RECONCILE_INTERVAL_MS: '0',
      SHUTDOWN_TIMEOUT_MS: '10000',
      ...options.env,
    };
    if (options.jobStore === 'mongo') {
      this.ferretdb = await startFerretDb();
      Object.assign(this.env, { JOB_STORE: 'mongo', MONGO_URL: `${this.ferretdb.url}thumbnails`, ...options.env });
    }
    if (options.storage === 's3') {
      const s3 = options.s3Server ?? (await startS3rver({ buckets: [] }));
      this.s3 = s3;
      const publicEndpoint = s3.endpoint.replace('127.0.0.1', 'localhost');
      Object.assign(this.env, {
        STORAGE_DRIVER: 's3',
        S3_ENDPOINT: s3.endpoint,
        S3_PUBLIC_ENDPOINT: publicEndpoint,
        S3_BUCKET: 'thumbnails',
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
        S3_FORCE_PATH_STYLE: 'true',
        S3_CREATE_BUCKET: 'true',
        ...options.env,
      });
    }
    if (!options.withoutWorker) await this.startWorker();
    this.api = await startApp('api', this.env);
  }

  async startWorker(env: Record<string, string> = {}): Promise<RunningApp> {
    const worker = await startApp('worker', { ...this.env, ...env });
    this.workers.push(worker);
    return worker;
  }

  async restartApi(): Promise<void> {
    await this.api.stop();
    this.api = await startApp('api', this.env);
  }

  /**
   * Stops Redis (SIGTERM, so it finishes writing its AOF) and starts it again on the same port
   * and data directory, as a restarted Redis pod with a persistent volume would come back.
   */
  async restartRedis(options: { downForMs?: number } = {}): Promise<void> {
    const { port, dir } = this.redis;
    await this.redis.stop();
    if (options.downForMs) await new Promise((resolve) => setTimeout(resolve, options.downForMs));
    this.redis = await startRedisServer({ appendonly: true, dir, port });
  }

  /** The storage the service uses, opened with the same settings, to look at what it left there. */
  async openStorage(): Promise<Storage> {
    const storage = await createStorage(loadConfig(this.env));
    await storage.init();
    return storage;
  }

  /** Files under the disk storage's folder (`originals/…`, `thumbnails/…`). */
  storedFiles(folder: 'originals' | 'thumbnails'): string[] {
    try {
      return readdirSync(join(this.storageDir, folder)).filter((name) => !name.startsWith('.'));
    } catch {
      return [];
    }
  }

  /**
   * Originals stored since `before` (an earlier `storedFiles('originals')`): what a refused upload
   * must not leave. Comparing counts would race the worker, which deletes finished jobs' originals.
   */
  originalsAddedSince(before: string[]): string[] {
    return this.storedFiles('originals').filter((name) => !before.includes(name));
  }

  logs(): string {
    return [this.api?.output() ?? '', ...this.workers.map((w) => w.output())].join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all([this.api?.stop(), ...this.workers.map((w) => w.stop())]);
    await this.redis?.destroy();
    await this.ferretdb?.destroy();
    await this.s3?.stop();
    if (this.storageDir && this.ownsStorageDir) rmSync(this.storageDir, { recursive: true, force: true });
  }
}
