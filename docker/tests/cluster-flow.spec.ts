import sharp from 'sharp';
import { METRICS, QUEUE_STATES } from '@thumbnail/metrics';
import {
  pngWithIccProfile400,
  skipWithoutTool,
  startFerretDb,
  startMinio,
  startRedisServer,
  type RunningFerretDb,
  type RunningMinio,
  type RunningRedisServer,
} from '@thumbnail/testing';
import { startAppContainer, type AppContainer } from './support/app-containers';
import { builtImage, skipWithoutImages } from './support/built-images';
import { renderChartPods, type ChartPod, type Component } from './support/chart-pod';
import { PROCESS_FACTS, readFacts, type ProcessFacts } from './support/container-facts';
import { parsePrometheusText, samplesOf, type Exposition } from './support/prometheus-text';
import { download, finishedJob, getJob, jobReaches, pngSize, submit } from './support/thumbnail-client';

/**
 * A PNG the worker needs a while for (6000x6000, interlaced, so libvips decodes every pixel
 * instead of shrinking on load): still in flight when the test stops the worker.
 */
function slowPng(): Promise<Buffer> {
  const size = 6000;
  const circle = Buffer.from(`<svg width="${size}" height="${size}"><circle cx="3000" cy="3000" r="2500" fill="orange"/></svg>`);
  return sharp({ create: { width: size, height: size, channels: 3, background: { r: 40, g: 90, b: 160 } } })
    .composite([{ input: circle }])
    .png({ progressive: true, compressionLevel: 1 })
    .toBuffer();
}

async function scrape(app: AppContainer): Promise<Exposition> {
  const response = await fetch(`${app.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  return parsePrometheusText(await response.text());
}

describe.skipIf(skipWithoutImages() || skipWithoutTool('helm', 'minio', 'ferretdb'))(
  'the images, run as the chart runs its pods, against Redis, MinIO and FerretDB',
  () => {
    let redis: RunningRedisServer;
    let minio: RunningMinio;
    let ferretDb: RunningFerretDb;
    let pods: Record<Component, ChartPod>;
    const apps: Partial<Record<Component, AppContainer>> = {};
    let publicEndpoint: string;
    const app = (component: Component): AppContainer => {
      const started = apps[component];
      if (!started) throw new Error(`the ${component} container did not start`);
      return started;
    };

    beforeAll(async () => {
      [redis, minio, ferretDb] = await Promise.all([startRedisServer({ appendonly: true }), startMinio(), startFerretDb()]);
      // The chart's default cluster (STORAGE_DRIVER=s3 on MinIO, JOB_STORE=mongo) with presigned
      // links on an endpoint clients reach: `localhost` where the apps use 127.0.0.1.
      publicEndpoint = minio.endpoint.replace('127.0.0.1', 'localhost');
      pods = renderChartPods({ 'storage.publicEndpoint': publicEndpoint });
      expect(pods.api.env).toMatchObject({ STORAGE_DRIVER: 's3', JOB_STORE: 'mongo', S3_PUBLIC_ENDPOINT: publicEndpoint });
      // The servers' addresses and credentials instead of the in-cluster Services and Secrets
      // (these Redis and FerretDB take no password).
      const connections = {
        REDIS_URL: redis.url,
        REDIS_PASSWORD: '',
        MONGO_URL: `${ferretDb.url}thumbnails`,
        MONGO_PASSWORD: '',
        S3_ENDPOINT: minio.endpoint,
        S3_ACCESS_KEY_ID: minio.credentials.accessKeyId,
        S3_SECRET_ACCESS_KEY: minio.credentials.secretAccessKey,
      };
      apps.worker = await startAppContainer('worker', builtImage('worker'), pods.worker, connections);
      apps.api = await startAppContainer('api', builtImage('api'), pods.api, connections);
    });

    afterAll(async () => {
      await Promise.all(Object.values(apps).map((started) => started.container.remove()));
      await Promise.all([redis?.destroy(), minio?.destroy(), ferretDb?.destroy()]);
    });

    it.each(['api', 'worker'] as const)('%s: /health/ready reports Redis, storage and the job store up', async (component) => {
      const response = await fetch(`${app(component).url}/health/ready`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { data: { status: string; checks: Record<string, { ok: boolean }> } };
      expect(body.data.status).toBe('ready');
      expect(body.data.checks).toEqual({ redis: { ok: true }, storage: { ok: true }, job_store: { ok: true } });
    });

    it('refuses clients without the API key the chart generated into its Secret', async () => {
      expect(app('api').apiKey).toMatch(/^[A-Za-z0-9]{48}$/);
      const response = await fetch(`${app('api').url}/thumbnail`);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    });

    it('takes an upload to a 100x100 thumbnail, served by the API and by the presigned link', async () => {
      const api = app('api');
      const id = await submit(api, await pngWithIccProfile400(), 'good_image_400x400.png');
      const job = await finishedJob(api, id);
      expect(job).toMatchObject({ _id: id, status: 'complete', attempts: 1 });

      const fromApi = await download(`${api.url}/thumbnail/${id}/image`, api.apiKey);
      expect(fromApi.status).toBe(200);
      expect(fromApi.type).toBe('image/png');
      expect(pngSize(fromApi.bytes)).toEqual({ width: 100, height: 100 });

      // S3_PUBLIC_ENDPOINT: the link is presigned on the public endpoint, and MinIO serves it.
      expect(job.thumbnailLink).toMatch(new RegExp(`^${publicEndpoint}/thumbnails/.+X-Amz-Signature=`));
      const fromLink = await download(job.thumbnailLink as string);
      expect(fromLink.status).toBe(200);
      expect(fromLink.bytes.equals(fromApi.bytes)).toBe(true);
    });

    it('serves Prometheus metrics from both apps that parse, with the key metrics', async () => {
      const api = await scrape(app('api'));
      expect(api.types.get(METRICS.jobsSubmitted)).toBe('counter');
      expect(samplesOf(api, METRICS.jobsSubmitted)[0]?.value).toBeGreaterThanOrEqual(1);
      expect(api.types.get(METRICS.httpRequestDuration)).toBe('histogram');
      expect(samplesOf(api, `${METRICS.httpRequestDuration}_count`, { route: '/thumbnail/:id' })[0]?.value).toBeGreaterThanOrEqual(1);
      expect(api.types.get(METRICS.queueJobs)).toBe('gauge');
      expect(samplesOf(api, METRICS.queueJobs).map((sample) => sample.labels['state']).sort()).toEqual([...QUEUE_STATES].sort());
      expect(samplesOf(api, 'process_resident_memory_bytes')[0]?.value).toBeGreaterThan(0);

      const worker = await scrape(app('worker'));
      expect(worker.types.get(METRICS.jobsFinished)).toBe('counter');
      expect(samplesOf(worker, METRICS.jobsFinished, { outcome: 'complete' })[0]?.value).toBeGreaterThanOrEqual(1);
      expect(samplesOf(worker, `${METRICS.jobProcessing}_count`)[0]?.value).toBeGreaterThanOrEqual(1);
      // The chart's worker.concurrency reached the container as WORKER_CONCURRENCY.
      expect(samplesOf(worker, METRICS.workerConcurrency)[0]?.value).toBe(Number(pods.worker.env['WORKER_CONCURRENCY']));
    });

    it.each(['api', 'worker'] as const)("%s: the image's HEALTHCHECK passes", async (component) => {
      const check = await app(component).container.healthcheck();
      expect(check.code, check.stdout + check.stderr).toBe(0);
      expect((await app(component).container.inspect()).State.Health?.Status).toBe('healthy');
    });

    it.each(['api', 'worker'] as const)(
      '%s: runs as uid 10001 with no capabilities, no new privileges, a read-only root and a writable /tmp',
      async (component) => {
        const result = await app(component).container.exec(['node', '-e', PROCESS_FACTS]);
        expect(result.code, result.stderr).toBe(0);
        const facts = readFacts<ProcessFacts>(result.stdout);
        expect(facts.processes.find((p) => p.pid === 1)?.name).toBe('tini');
        expect(facts.processes.filter((p) => p.name === 'node' || p.name === 'MainThread').length).toBeGreaterThanOrEqual(1);
        for (const process of facts.processes) {
          expect(process, `pid ${process.pid}`).toMatchObject({
            uid: ['10001', '10001', '10001', '10001'],
            gid: ['10001', '10001', '10001', '10001'],
            capEff: '0000000000000000',
            capPrm: '0000000000000000',
            capBnd: '0000000000000000',
            noNewPrivs: '1',
            seccomp: '2',
          });
        }
        expect(facts.writes).toEqual({ root: 'EROFS', app: 'EROFS', tmp: 'ok' });
      },
    );

    it('drains on SIGTERM: the worker finishes the job in flight, and both apps exit 0 within SHUTDOWN_TIMEOUT_MS', async () => {
      const api = app('api');
      const worker = app('worker');
      const shutdownTimeoutMs = Number(pods.worker.env['SHUTDOWN_TIMEOUT_MS']);
      expect(shutdownTimeoutMs).toBeGreaterThan(0);

      const id = await submit(api, await slowPng(), 'large.png');
      await jobReaches(api, id, 'processing');
      const signalledAt = Date.now();
      // podman stop: SIGTERM to tini, which forwards it to node; SIGKILL only after the pod's
      // terminationGracePeriodSeconds, which would end in exit code 137.
      const workerExit = await worker.container.stop(pods.worker.graceSeconds);
      const workerDrainMs = Date.now() - signalledAt;
      expect(workerExit, await worker.container.logs()).toBe(0);
      expect(workerDrainMs).toBeLessThan(shutdownTimeoutMs);

      const job = await getJob(api, id);
      expect(job).toMatchObject({ status: 'complete', attempts: 1 });
      expect(Date.parse(job.completedAt as string)).toBeGreaterThanOrEqual(signalledAt);

      const apiSignalledAt = Date.now();
      const apiExit = await api.container.stop(pods.api.graceSeconds);
      expect(apiExit, await api.container.logs()).toBe(0);
      expect(Date.now() - apiSignalledAt).toBeLessThan(shutdownTimeoutMs);
    });
  },
);
