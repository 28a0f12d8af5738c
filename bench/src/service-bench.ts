import { join } from 'node:path';
import type { BenchSettings } from './bench-settings';
import { appMemory, type AppMemory } from './app-memory';
import { bundleHashes } from './machine-info';
import { P99_TARGET_IMAGE } from './bench-settings';
import { BenchService, type StorageMode } from './bench-service';
import type { CorpusImage } from './corpus';
import { closedLoop, median, openLoop, percentiles, type ClosedLoopResult, type OpenLoopResult, type Percentiles } from './load-loops';
import { memoryKb, resetPeakRss } from './proc-stats';
import { ResourceMeter, type QuietGate, type QuietWait, type ResourceWindow } from './resource-meter';
import { closeClientConnections, multipartUpload, submitAndWait, type JobPhases, type MultipartUpload } from './thumbnail-client';

export interface PerThumb {
  /** CPU ms per thumbnail made in the window, all threads. */
  cpuMs: number;
  /** Of which on the main (JavaScript) thread. */
  mainThreadCpuMs: number;
}

export interface ServiceImageResult {
  id: string;
  saturation: Omit<ClosedLoopResult, 'latenciesMs'> & { clients: number; latencyMs: Percentiles };
  light: Omit<OpenLoopResult, 'latenciesMs'> & { latencyMs: Percentiles; phasesP50Ms: JobPhases | null };
  resources: ResourceWindow | null;
  perThumb: { api: PerThumb; worker: PerThumb; redis: PerThumb; minio: PerThumb; benchClient: number };
  /** How long the bench waited for other work on the machine to calm down first. */
  quietWait: QuietWait;
  /** Peak RSS over this image's saturation and light runs, MiB. */
  peakRssMiB: { api: number; worker: number };
  /** The apps' own memory figures (/metrics) after this image's runs. */
  memoryAfter: { api: AppMemory | null; worker: AppMemory | null };
}

export interface ServiceResult {
  storage: StorageMode;
  workerConcurrency: number;
  /** sha256 prefixes of the bundles this service started from. */
  bundles: Record<string, string | null>;
  /** RSS right after start-up, before any upload, MiB: what the peaks grow from. */
  rssAfterBootMiB: { api: number; worker: number };
  memoryAfterBoot: { api: AppMemory | null; worker: AppMemory | null };
  images: ServiceImageResult[];
  largestUpload: {
    id: string;
    bytes: number;
    completed: number;
    failed: number;
    errors: number;
    errorSamples: string[];
    perSecond: number;
    peakRssMiB: { api: number; worker: number };
    memoryAfter: { api: AppMemory | null; worker: AppMemory | null };
  } | null;
  error?: string;
}

function phaseMedians(phases: JobPhases[]): JobPhases | null {
  if (phases.length === 0) return null;
  const of = (key: keyof JobPhases) => median(phases.map((p) => p[key]));
  return { upload: of('upload'), queued: of('queued'), processing: of('processing'), notify: of('notify') };
}

function uploadOf(image: CorpusImage): MultipartUpload {
  return multipartUpload(image.data, `${image.id}.${image.extension}`, image.contentType);
}

function perThumb(resources: ResourceWindow | null, label: string, thumbnails: number): PerThumb {
  const usage = resources?.processes[label];
  if (!usage || thumbnails === 0) return { cpuMs: NaN, mainThreadCpuMs: NaN };
  return { cpuMs: (usage.cpuSeconds * 1000) / thumbnails, mainThreadCpuMs: (usage.mainThreadCpuSeconds * 1000) / thumbnails };
}

function peakMiB(pid: number | undefined): number {
  return pid ? (memoryKb(pid)?.peak ?? NaN) / 1024 : NaN;
}

export async function measureService(
  storage: StorageMode,
  images: CorpusImage[],
  largest: CorpusImage | null,
  settings: BenchSettings,
  gate: QuietGate,
  log: (line: string) => void,
): Promise<ServiceResult> {
  const service = await BenchService.start({ storage, workerConcurrency: settings.cores, appEnv: settings.appEnv });
  const rssMiB = (pid: number | undefined) => (pid ? (memoryKb(pid)?.rss ?? NaN) / 1024 : NaN);
  const result: ServiceResult = {
    storage,
    workerConcurrency: settings.cores,
    bundles: bundleHashes(join(__dirname, '..', '..')),
    rssAfterBootMiB: { api: rssMiB(service.api?.pid), worker: rssMiB(service.worker?.pid) },
    memoryAfterBoot: { api: await appMemory(service.apiUrl), worker: await appMemory(service.workerUrl) },
    images: [],
    largestUpload: null,
  };
  try {
    const api = service.apiUrl;
    const measureImage = async (image: CorpusImage): Promise<ServiceImageResult> => {
      const upload = uploadOf(image);
      const task = () => submitAndWait(api, upload);
      const apiPid = service.api?.pid;
      const workerPid = service.worker?.pid;
      const quietWait = await gate.wait();
      for (const pid of [apiPid, workerPid]) if (pid) resetPeakRss(pid);

      const meter = new ResourceMeter(service.watched());
      let resources: ResourceWindow | null = null;
      const { latenciesMs: saturationLatencies, ...saturation } = await closedLoop({
        concurrency: settings.service.clients,
        warmupMs: settings.service.warmupMs,
        measureMs: settings.service.measureMs,
        task,
        onWindowStart: () => meter.start(false),
        onWindowEnd: () => (resources = meter.stop()),
      });
      const window = resources as ResourceWindow | null;
      const seconds = image.id === P99_TARGET_IMAGE ? settings.service.lightSecondsForP99Image : settings.service.lightSeconds;
      const phases: JobPhases[] = [];
      const { latenciesMs: lightLatencies, ...light } = await openLoop({
        ratePerSecond: settings.service.lightRatePerSecond,
        count: Math.round(settings.service.lightRatePerSecond * seconds),
        task: () => submitAndWait(api, upload, (p) => phases.push(p)),
      });
      const made = saturation.completed + saturation.failed;
      const imageResult: ServiceImageResult = {
        id: image.id,
        saturation: { ...saturation, clients: settings.service.clients, latencyMs: percentiles(saturationLatencies) },
        light: { ...light, latencyMs: percentiles(lightLatencies), phasesP50Ms: phaseMedians(phases) },
        resources: window,
        perThumb: {
          api: perThumb(window, 'api', made),
          worker: perThumb(window, 'worker', made),
          redis: perThumb(window, 'redis', made),
          minio: perThumb(window, 'minio', made),
          benchClient: window && made > 0 ? (window.benchCpuSeconds * 1000) / made : NaN,
        },
        peakRssMiB: { api: peakMiB(apiPid), worker: peakMiB(workerPid) },
        memoryAfter: { api: await appMemory(api), worker: await appMemory(service.workerUrl) },
        quietWait,
      };
      const errors = saturation.errors + light.errors + saturation.failed + light.failed;
      log(
        `service/${storage} ${image.id}: ${saturation.perSecond.toFixed(1)}/s with ${settings.service.clients} clients; ` +
          `at ${settings.service.lightRatePerSecond}/s p50 ${imageResult.light.latencyMs.p50.toFixed(1)} ms ` +
          `p99 ${imageResult.light.latencyMs.p99.toFixed(1)} ms (n=${imageResult.light.latencyMs.n})` +
          (errors ? `; ${errors} failed/errors: ${[...saturation.errorSamples, ...light.errorSamples][0] ?? 'job failed'}` : '') +
          (window && window.otherBusyCores > gate.noisyOtherCores ? ` (other work used ${window.otherBusyCores.toFixed(2)} cores)` : ''),
      );
      return imageResult;
    };
    for (const image of images) {
      result.images.push(await gate.measure(() => measureImage(image), (r) => r.resources?.otherBusyCores ?? 0));
    }

    if (largest) {
      const apiPid = service.api?.pid;
      const workerPid = service.worker?.pid;
      for (const pid of [apiPid, workerPid]) if (pid) resetPeakRss(pid);
      const upload = uploadOf(largest);
      const run = await closedLoop({
        concurrency: settings.service.largestUploadClients,
        warmupMs: 0,
        measureMs: settings.service.largestUploadMs,
        task: () => submitAndWait(api, upload),
      });
      result.largestUpload = {
        id: largest.id,
        bytes: largest.data.length,
        completed: run.completed,
        failed: run.failed,
        errors: run.errors,
        errorSamples: run.errorSamples,
        perSecond: run.perSecond,
        peakRssMiB: { api: peakMiB(apiPid), worker: peakMiB(workerPid) },
        memoryAfter: { api: await appMemory(api), worker: await appMemory(service.workerUrl) },
      };
      log(
        `service/${storage} ${largest.id}: ${run.completed} done (${run.perSecond.toFixed(1)}/s), ` +
          `API peak ${result.largestUpload.peakRssMiB.api.toFixed(0)} MiB, worker peak ${result.largestUpload.peakRssMiB.worker.toFixed(0)} MiB` +
          (run.errors + run.failed ? `; ${run.errors + run.failed} failed/errors: ${run.errorSamples[0] ?? 'job failed'}` : ''),
      );
    }
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    log(`service/${storage} stopped early: ${result.error}\n${service.logs().slice(-4000)}`);
  } finally {
    closeClientConnections();
    await service.stop();
  }
  return result;
}
