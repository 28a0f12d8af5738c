import type { Redis } from 'ioredis';
import { createRedisConnection, followFinishedJobs, waitForRedis } from '@thumbnail/jobs';
import {
  type RunningApp,
  type RunningMinio,
  type RunningRedisServer,
  S3BucketInspector,
  startApp,
  startMinio,
  startRedisServer,
  startTestNetwork,
  type TestNetwork,
} from '@thumbnail/testing';

export interface PartitionedServiceOptions {
  /** Settings of every process. */
  env: Record<string, string>;
  /** One worker per name (each on a host of that name), with settings of its own on top of `env`. */
  workers: Record<string, Record<string, string>>;
  /** Host names the workers alone resolve to these addresses (their own /etc/hosts). */
  workerHosts?: Record<string, string>;
}

/**
 * The whole service as a cluster runs it: Redis, MinIO, the API and each worker on a host (a
 * network namespace) of its own, so a test can cut any one of them off the network. The test
 * process is a client on the same network, never cut.
 */
export class PartitionedService {
  network!: TestNetwork;
  redis!: RunningRedisServer;
  minio!: RunningMinio;
  api!: RunningApp;
  readonly workers = new Map<string, RunningApp>();
  bucket!: S3BucketInspector;
  /** Job ids as workers announced them on the job-finished channel, in order. */
  readonly announced: string[] = [];
  private subscriber: Redis | null = null;
  private hosts: string[] = [];

  static async start(options: PartitionedServiceOptions): Promise<PartitionedService> {
    const service = new PartitionedService();
    try {
      await service.boot(options);
    } catch (error) {
      await service.stop();
      throw error;
    }
    return service;
  }

  private async boot(options: PartitionedServiceOptions): Promise<void> {
    const workerNames = Object.keys(options.workers);
    this.hosts = ['redis', 'minio', 'api', ...workerNames];
    this.network = await startTestNetwork(this.hosts);
    [this.redis, this.minio] = await Promise.all([
      startRedisServer({ appendonly: true, host: this.network.host('redis') }),
      startMinio({ host: this.network.host('minio') }),
    ]);
    const env = {
      ...options.env,
      REDIS_URL: this.redis.url,
      STORAGE_DRIVER: 's3',
      S3_ENDPOINT: this.minio.endpoint,
      S3_BUCKET: 'thumbnails',
      S3_ACCESS_KEY_ID: this.minio.credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: this.minio.credentials.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
      S3_CREATE_BUCKET: 'true',
    };
    // The workers first: the first one creates the bucket.
    for (const name of workerNames) {
      const host = this.network.host(name);
      this.workers.set(name, await startApp('worker', { ...env, ...options.workers[name] }, { host, hosts: options.workerHosts }));
    }
    this.api = await startApp('api', env, { host: this.network.host('api') });
    this.bucket = await S3BucketInspector.open(this.minio, 'thumbnails');
    this.subscriber = createRedisConnection(this.redis.url, 'blocking', 'e2e-job-finished');
    await waitForRedis(this.subscriber, 5_000);
    await followFinishedJobs(this.subscriber, (id) => this.announced.push(id), () => undefined);
  }

  worker(name: string): RunningApp {
    const worker = this.workers.get(name);
    if (!worker) throw new Error(`no worker ${name}`);
    return worker;
  }

  logs(): string {
    return [this.api?.output() ?? '', ...[...this.workers.values()].map((worker) => worker.output())].join('\n');
  }

  async stop(): Promise<void> {
    // A test that failed part-way may leave a host cut: reconnect everyone so each stops gracefully.
    for (const host of this.hosts) await this.network.restore(host);
    this.subscriber?.disconnect();
    this.bucket?.close();
    await Promise.all([this.api?.stop(), ...[...this.workers.values()].map((worker) => worker.stop())]);
    await this.redis?.destroy();
    await this.minio?.destroy();
    await this.network?.destroy();
  }
}
