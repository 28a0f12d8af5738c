import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BenchSettings } from './bench-settings';
import { BenchService } from './bench-service';
import type { CorpusImage } from './corpus';
import { closedLoop, median } from './load-loops';
import { ResourceMeter, type QuietGate, type ResourceWindow } from './resource-meter';
import { closeClientConnections, multipartUpload, submitAndWait } from './thumbnail-client';

/** Where the fixed cost per job weighs most, so a webhook's cost would show most. */
export const WEBHOOK_BENCH_IMAGE = 'png-icc-400';

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
  otherBusyCores: number;
}

export interface WebhookMedians {
  perSecond: number;
  workerCpuMs: number;
  apiCpuMs: number;
  redisCpuMs: number;
}

export interface WebhookBenchResult {
  image: string;
  clients: number;
  /** In the order measured: off, on, off, on... */
  runs: WebhookRun[];
  median: { off: WebhookMedians; on: WebhookMedians };
  /** Median throughput with webhooks over without: 1.0 = no cost. */
  throughputRatio: number;
}

/**
 * The cost of completion webhooks to thumbnail throughput: the fs service at saturation on one
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
  const image = corpus.find((c) => c.id === WEBHOOK_BENCH_IMAGE);
  if (!image) throw new Error(`the corpus has no ${WEBHOOK_BENCH_IMAGE}`);
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
  const upload = multipartUpload(image.data, `${image.id}.${image.extension}`, image.contentType);
  const runs: WebhookRun[] = [];
  try {
    const alternations = settings.quick ? 1 : 3;
    for (let round = 0; round < alternations; round++) {
      for (const webhooks of [false, true]) {
        const run = await gate.measure(
          () => measureOnce(webhooks),
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
  } finally {
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  }

  async function measureOnce(webhooks: boolean): Promise<WebhookRun> {
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

  const of = (on: boolean) => runs.filter((run) => run.webhooks === on);
  const medians = (on: boolean): WebhookMedians => ({
    perSecond: median(of(on).map((r) => r.perSecond)),
    workerCpuMs: median(of(on).map((r) => r.workerCpuMs)),
    apiCpuMs: median(of(on).map((r) => r.apiCpuMs)),
    redisCpuMs: median(of(on).map((r) => r.redisCpuMs)),
  });
  const result = { off: medians(false), on: medians(true) };
  return {
    image: image.id,
    clients: settings.service.clients,
    runs,
    median: result,
    throughputRatio: result.on.perSecond / result.off.perSecond,
  };
}
