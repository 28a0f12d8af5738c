import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningApp, type RunningMinio, type RunningRedisServer, startApp, startMinio, startRedisServer } from '@thumbnail/testing';
import { pidsByCommandLine } from './proc-stats';
import { registerProcess } from './process-registry';
import type { WatchedProcess } from './resource-meter';

export type StorageMode = 'fs' | 's3';

export interface BenchServiceOptions {
  storage: StorageMode;
  workerConcurrency: number;
  /** Load bench/src/cpu-profile-preload.cjs into both apps; SIGUSR2 starts and stops a profile. */
  cpuProfileDir?: string;
  /** Extra environment for both apps (BENCH_APP_ENV). */
  appEnv?: Record<string, string>;
}

/**
 * The whole service as separate processes, on the apps' embedded defaults: only what must
 * differ on a shared machine is set (Redis URL and storage folder, both private to this run)
 * plus WORKER_CONCURRENCY, pinned to the core count the brief asks for (which is also its default).
 */
export class BenchService {
  redis: RunningRedisServer | null = null;
  redisPid: number | null = null;
  minio: RunningMinio | null = null;
  minioPid: number | null = null;
  worker: RunningApp | null = null;
  api: RunningApp | null = null;
  storageDir = '';
  env: Record<string, string> = {};

  static async start(options: BenchServiceOptions): Promise<BenchService> {
    const service = new BenchService();
    try {
      await service.boot(options);
    } catch (error) {
      await service.stop();
      throw error;
    }
    return service;
  }

  private async boot(options: BenchServiceOptions): Promise<void> {
    // Persistence as the chart, Compose and `npm start` run it (AOF, fsynced every second), its
    // file under the run's TMPDIR: what keeping an accepted job costs is part of the figures.
    this.redis = await startRedisServer({ appendonly: true, appendfsync: 'everysec' });
    // redis-server retitles itself "redis-server 127.0.0.1:<port>".
    this.redisPid = pidsByCommandLine(new RegExp(`^redis-server \\S*:${this.redis.port}\\b`))[0] ?? null;
    if (this.redisPid) registerProcess(this.redisPid, 'redis-server');
    this.storageDir = mkdtempSync(join(tmpdir(), 'bench-files-'));
    this.env = {
      REDIS_URL: this.redis.url,
      STORAGE_DIR: this.storageDir,
      WORKER_CONCURRENCY: String(options.workerConcurrency),
      ...options.appEnv,
    };
    if (options.storage === 's3') {
      // MinIO as scripts/tools.sh builds it, its data under TMPDIR like the rest of the run.
      this.minio = await startMinio();
      this.minioPid = this.minio.pid() ?? null;
      if (this.minioPid) registerProcess(this.minioPid, 'minio');
      Object.assign(this.env, {
        STORAGE_DRIVER: 's3',
        S3_ENDPOINT: this.minio.endpoint,
        S3_BUCKET: 'thumbnails',
        S3_ACCESS_KEY_ID: this.minio.credentials.accessKeyId,
        S3_SECRET_ACCESS_KEY: this.minio.credentials.secretAccessKey,
        S3_FORCE_PATH_STYLE: 'true',
        S3_CREATE_BUCKET: 'true',
      });
    }
    const profiling = (name: string): Record<string, string> =>
      options.cpuProfileDir
        ? {
            NODE_OPTIONS: [this.env['NODE_OPTIONS'], `--require=${join(__dirname, 'cpu-profile-preload.cjs')}`].filter(Boolean).join(' '),
            BENCH_CPU_PROFILE_DIR: options.cpuProfileDir,
            BENCH_CPU_PROFILE_NAME: name,
          }
        : {};
    this.worker = await startApp('worker', { ...this.env, ...profiling('worker') });
    registerProcess(this.worker.pid, 'worker');
    this.api = await startApp('api', { ...this.env, ...profiling('api') });
    registerProcess(this.api.pid, 'api');
  }

  get workerUrl(): string {
    if (!this.worker) throw new Error('the worker is not running');
    return this.worker.url;
  }

  get apiUrl(): string {
    if (!this.api) throw new Error('the API is not running');
    return this.api.url;
  }

  watched(): WatchedProcess[] {
    const list: WatchedProcess[] = [];
    if (this.api) list.push({ label: 'api', pid: this.api.pid });
    if (this.worker) list.push({ label: 'worker', pid: this.worker.pid });
    if (this.redisPid) list.push({ label: 'redis', pid: this.redisPid });
    if (this.minioPid) list.push({ label: 'minio', pid: this.minioPid });
    return list;
  }

  logs(): string {
    return [this.api?.output() ?? '', this.worker?.output() ?? ''].join('\n');
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.api?.stop(), this.worker?.stop()]);
    await this.redis?.destroy().catch(() => undefined);
    await this.minio?.destroy().catch(() => undefined);
    if (this.storageDir) rmSync(this.storageDir, { recursive: true, force: true });
  }
}
