import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, startRedisServer, type RunningApp, type RunningRedisServer } from '@thumbnail/testing';
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
  s3rver: ChildProcess | null = null;
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
    // No persistence, as the harness starts it: Redis is not what is being measured.
    this.redis = await startRedisServer();
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
      const endpoint = await this.startS3rver();
      Object.assign(this.env, {
        STORAGE_DRIVER: 's3',
        S3_ENDPOINT: endpoint,
        S3_BUCKET: 'thumbnails',
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
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

  private async startS3rver(): Promise<string> {
    const child = spawn(process.execPath, [join(__dirname, 's3rver-process.cjs')], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.s3rver = child;
    if (child.pid) registerProcess(child.pid, 's3rver');
    let output = '';
    child.stderr?.on('data', (chunk) => (output += String(chunk)));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`s3rver did not start within 15 s: ${output}`)), 15_000);
      child.stdout?.on('data', (chunk) => {
        output += String(chunk);
        const match = /\{"port":(\d+)\}/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited with ${code}: ${output}`));
      });
    });
    return `http://127.0.0.1:${port}`;
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
    if (this.s3rver?.pid) list.push({ label: 's3rver', pid: this.s3rver.pid });
    return list;
  }

  logs(): string {
    return [this.api?.output() ?? '', this.worker?.output() ?? ''].join('\n');
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.api?.stop(), this.worker?.stop()]);
    await this.redis?.destroy().catch(() => undefined);
    const s3rver = this.s3rver;
    if (s3rver && s3rver.exitCode === null && s3rver.signalCode === null) {
      const exited = new Promise<void>((resolve) => s3rver.once('exit', () => resolve()));
      s3rver.kill('SIGTERM');
      const timer = setTimeout(() => s3rver.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    if (this.storageDir) rmSync(this.storageDir, { recursive: true, force: true });
  }
}
