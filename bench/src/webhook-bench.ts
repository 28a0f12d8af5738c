import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BenchSettings } from './bench-settings';
import { BenchService } from './bench-service';
import type { CorpusImage } from './corpus';
import { closedLoop, median } from './load-loops';
import { ResourceMeter, type QuietGate, type ResourceWindow } from './resource-meter';
import { closeClientConnections, multipartUpload, type MultipartUpload, submitAndWait } from './thumbnail-client';

/**
 * The smallest image, where the fixed cost per job weighs most and a webhook's cost shows most,
 * then photos of the sizes users upload.
 */
export const WEBHOOK_BENCH_IMAGES = ['png-icc-400', 'jpeg-1mp', 'jpeg-16mp'];

export interface WebhookRun {
  webhooks: boolean;
  perSecond: number;
  thumbnails: number;
  /** Worker CPU ms per thumbnail in the window (all threads). */
  workerCpuMs: number;
  /** Webhooks the receiver got for the jobs of the window and the warm-up (0 with webhooks off). */
  webhooksReceived: number;
  /** Of those, ones whose webhook-id it had seen before (at least once delivery: should be rare). */
  duplicates: number;
  /** Jobs of the window and the warm-up. */
  jobs: number;
  /** CPU ms per thumbnail of the API and of Redis, all threads. */
  apiCpuMs: number;
  redisCpuMs: number;
  /** Worker, API and Redis together: the service's CPU, without the load client and the receiver. */
  serviceCpuMs: number;
  otherBusyCores: number;
}

export interface WebhookMedians {
  perSecond: number;
  workerCpuMs: number;
  apiCpuMs: number;
  redisCpuMs: number;
  serviceCpuMs: number;
}

export interface WebhookImageResult {
  image: string;
  /** In the order measured: off, on, off, on... */
  runs: WebhookRun[];
  median: { off: WebhookMedians; on: WebhookMedians };
  /** Median throughput with webhooks over without: 1.0 = no cost. */
  throughputRatio: number;
  /** Median service CPU per thumbnail with webhooks over without: 1.0 = no cost. */
  serviceCpuRatio: number;
  /** The spread of throughput between runs of the same setting, as a fraction of their median: what is measurable. */
  throughputSpread: number;
}

export interface WebhookBenchResult {
  clients: number;
  images: WebhookImageResult[];
}

/**
 * The cost of completion webhooks to thumbnail throughput: the fs service at saturation on each
 * image, without webhooks and with WEBHOOK_URL set (every job's webhook signed, queued and
 * delivered to a receiver on 127.0.0.1 in this process, which answers 204), alternated so that
 * drift on a shared machine falls on both. Each run is a fresh service.
 */
export async function measureWebhooks(
  corpus: CorpusImage[],
  settings: BenchSettings,
  gate: QuietGate,
  log: (line: string) => void,
): Promise<WebhookBenchResult> {
  const images = WEBHOOK_BENCH_IMAGES.map((id) => {
    const image = corpus.find((c) => c.id === id);
    if (!image) throw new Error(`the corpus has no ${id}`);
    return image;
  });
  let received = 0;
  let duplicates = 0;
  const seen = new Set<string>();
  const receiver = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      received++;
      const id = String(request.headers['webhook-id']);
      if (seen.has(id)) duplicates++;
      seen.add(id);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/thumbnails`;
  const webhookEnv = {
    WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
    WEBHOOK_URL: receiverUrl,
    PUBLIC_URL: 'http://thumbnails.bench.invalid',
  };
  const results: WebhookImageResult[] = [];
  try {
    for (const image of images) results.push(await measureImage(image));
  } finally {
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  }
  return { clients: settings.service.clients, images: results };

  async function measureImage(image: CorpusImage): Promise<WebhookImageResult> {
    const upload = multipartUpload(image.data, `${image.id}.${image.extension}`, image.contentType);
    const runs: WebhookRun[] = [];
    const alternations = settings.quick ? 1 : 3;
    for (let round = 0; round < alternations; round++) {
      for (const webhooks of [false, true]) {
        const run = await gate.measure(
          () => measureOnce(upload, webhooks),
          (r) => r.otherBusyCores,
        );
        runs.push(run);
        log(
          `webhooks ${webhooks ? 'on ' : 'off'} ${image.id}: ${run.perSecond.toFixed(1)}/s, CPU ms per thumbnail worker ${run.workerCpuMs.toFixed(2)} ` +
            `api ${run.apiCpuMs.toFixed(2)} redis ${run.redisCpuMs.toFixed(2)}` +
            (webhooks ? `, ${run.webhooksReceived} webhooks (${run.duplicates} repeated) for ${run.jobs} jobs` : '') +
            (run.otherBusyCores > gate.noisyOtherCores ? ` (other work used ${run.otherBusyCores.toFixed(2)} cores)` : ''),
        );
      }
    }
    const of = (on: boolean) => runs.filter((run) => run.webhooks === on);
    const medians = (on: boolean): WebhookMedians => ({
      perSecond: median(of(on).map((r) => r.perSecond)),
      workerCpuMs: median(of(on).map((r) => r.workerCpuMs)),
      apiCpuMs: median(of(on).map((r) => r.apiCpuMs)),
      redisCpuMs: median(of(on).map((r) => r.redisCpuMs)),
      serviceCpuMs: median(of(on).map((r) => r.serviceCpuMs)),
    });
    const spread = (on: boolean) => {
      const rates = of(on).map((r) => r.perSecond);
      return (Math.max(...rates) - Math.min(...rates)) / median(rates);
    };
    const off = medians(false);
    const on = medians(true);
    return {
      image: image.id,
      runs,
      median: { off, on },
      throughputRatio: on.perSecond / off.perSecond,
      serviceCpuRatio: on.serviceCpuMs / off.serviceCpuMs,
      throughputSpread: Math.max(spread(false), spread(true)),
    };
  }

  async function measureOnce(upload: MultipartUpload, webhooks: boolean): Promise<WebhookRun> {
    const service = await BenchService.start({
      storage: 'fs',
      workerConcurrency: settings.cores,
      appEnv: { ...settings.appEnv, ...(webhooks ? webhookEnv : {}) },
    });
    try {
      await gate.wait();
      const meter = new ResourceMeter(service.watched());
      let window: ResourceWindow | null = null;
      const before = received;
      const duplicatesBefore = duplicates;
      let jobs = 0;
      const result = await closedLoop({
        concurrency: settings.service.clients,
        warmupMs: settings.service.warmupMs,
        measureMs: settings.service.measureMs,
        task: async () => {
          const outcome = await submitAndWait(service.apiUrl, upload);
          jobs++;
          return outcome;
        },
        onWindowStart: () => meter.start(false),
        onWindowEnd: () => (window = meter.stop()),
      });
      // Every job's webhook arrives (they are sent as the jobs finish): wait for the stragglers.
      const deadline = Date.now() + 10_000;
      while (webhooks && received - before < jobs && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      const resources = window as ResourceWindow | null;
      const thumbnails = result.completed + result.failed;
      const cpuMs = (label: string) => {
        const usage = resources?.processes[label];
        return usage && thumbnails > 0 ? (usage.cpuSeconds * 1000) / thumbnails : NaN;
      };
      return {
        webhooks,
        perSecond: result.perSecond,
        thumbnails,
        workerCpuMs: cpuMs('worker'),
        apiCpuMs: cpuMs('api'),
        redisCpuMs: cpuMs('redis'),
        serviceCpuMs: cpuMs('worker') + cpuMs('api') + cpuMs('redis'),
        webhooksReceived: received - before,
        duplicates: duplicates - duplicatesBefore,
        jobs,
        otherBusyCores: resources?.otherBusyCores ?? 0,
      };
    } finally {
      closeClientConnections();
      await service.stop();
    }
  }
}
