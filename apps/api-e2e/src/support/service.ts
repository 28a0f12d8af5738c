import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@thumbnail/config';
import { createStorage, type Storage } from '@thumbnail/storage';
import {
  type RunningApp,
  type RunningFerretDb,
  type RunningMinio,
  type RunningRedisServer,
  S3BucketInspector,
  type StartAppOptions,
  startApp,
  startFerretDb,
  startMinio,
  startRedisServer,
} from '@thumbnail/testing';

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
   * For `storage: 's3'`: this MinIO instead of a fresh one (e.g. one with a KMS key, one that
   * records calls, or one shared by several services). The test that started it destroys it.
   */
  minio?: RunningMinio;
  /**
   * Return once the API answers /health, not /health/ready: for services started broken on
   * purpose (a wrong key, a missing bucket). Otherwise start waits until it is ready, so a
   * test's first request does not race the API's connections.
   */
  unready?: boolean;
}

/**
 * The whole service as separate processes: its own redis-server, the built worker and API, and
 * for `storage: 's3'` a MinIO server (its own unless given one).
 */
export class TestService {
  api!: RunningApp;
  workers: RunningApp[] = [];
  redis!: RunningRedisServer;
  ferretdb: RunningFerretDb | null = null;
  env: Record<string, string> = {};
  storageDir = '';
  private ownsStorageDir = false;
  /** For `storage: 's3'`: the MinIO it stores in (stop and restart it for an outage). */
  minio: RunningMinio | null = null;
  private ownsMinio = false;
  private inspector: S3BucketInspector | null = null;

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
      this.ownsMinio = !options.minio;
      const minio = options.minio ?? (await startMinio());
      this.minio = minio;
      const publicEndpoint = minio.endpoint.replace('127.0.0.1', 'localhost');
      Object.assign(this.env, {
        STORAGE_DRIVER: 's3',
        S3_ENDPOINT: minio.endpoint,
        S3_PUBLIC_ENDPOINT: publicEndpoint,
        S3_BUCKET: 'thumbnails',
        S3_ACCESS_KEY_ID: minio.credentials.accessKeyId,
        S3_SECRET_ACCESS_KEY: minio.credentials.secretAccessKey,
        S3_FORCE_PATH_STYLE: 'true',
        S3_CREATE_BUCKET: 'true',
        ...options.env,
      });
    }
    if (!options.withoutWorker) await this.startWorker();
    this.api = await startApp('api', this.env, { ready: !options.unready });
  }

  async startWorker(env: Record<string, string> = {}, options: StartAppOptions = {}): Promise<RunningApp> {
    const worker = await startApp('worker', { ...this.env, ...env }, options);
    this.workers.push(worker);
    return worker;
  }

  async restartApi(): Promise<void> {
    await this.api.stop();
    this.api = await startApp('api', this.env, { ready: true });
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

  /**
   * The service's bucket (S3_BUCKET) seen through the S3 API with MinIO's own credentials, which
   * stay right when a test gives the service wrong ones.
   */
  async bucket(): Promise<S3BucketInspector> {
    if (!this.minio) throw new Error('bucket() is for services started with storage: s3');
    this.inspector ??= await S3BucketInspector.open(this.minio, this.env['S3_BUCKET'] ?? '');
    return this.inspector;
  }

  /** Files under the disk storage's folder (`originals/…`, `thumbnails/…`). */
  storedFiles(folder: 'originals' | 'thumbnails'): string[] {
    // Reading the disk in an S3 run would find nothing, and every "stores nothing" would pass.
    if (this.minio) throw new Error('storedFiles reads the disk storage; S3 runs use storedObjects');
    try {
      return readdirSync(join(this.storageDir, folder)).filter((name) => !name.startsWith('.'));
    } catch {
      return [];
    }
  }

  /** Names of the stored objects in `folder` (`<id>`, `<id>.png`): in the bucket on S3, on disk otherwise. */
  async storedObjects(folder: 'originals' | 'thumbnails'): Promise<string[]> {
    if (!this.minio) return this.storedFiles(folder);
    const prefix = `${folder}/`;
    return (await (await this.bucket()).keys(prefix)).map((key) => key.slice(prefix.length));
  }

  /**
   * Originals stored since `before` (an earlier `storedObjects('originals')`): what a refused
   * upload must not leave. Comparing counts would race the worker, which deletes finished jobs'
   * originals.
   */
  async originalsAddedSince(before: string[]): Promise<string[]> {
    return (await this.storedObjects('originals')).filter((name) => !before.includes(name));
  }

  logs(): string {
    return [this.api?.output() ?? '', ...this.workers.map((w) => w.output())].join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all([this.api?.stop(), ...this.workers.map((w) => w.stop())]);
    await this.redis?.destroy();
    await this.ferretdb?.destroy();
    this.inspector?.close();
    if (this.ownsMinio) await this.minio?.destroy();
    if (this.storageDir && this.ownsStorageDir) rmSync(this.storageDir, { recursive: true, force: true });
  }
}
