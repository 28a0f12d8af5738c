import sharp from 'sharp';
import { loadConfig, presetCatalogue } from '@thumbnail/config';
import { createImageProcessor, type ImageProcessor, type VariantPlan } from '@thumbnail/thumbnail-making';
import { BenchService } from './bench-service';
import type { BenchSettings } from './bench-settings';
import type { CorpusImage } from './corpus';
import { closedLoop } from './load-loops';
import { memoryKb, resetPeakRss } from './proc-stats';
import { ResourceMeter, type QuietGate, type ResourceWindow } from './resource-meter';
import { closeClientConnections, multipartUpload, submitAndWait } from './thumbnail-client';

/**
 * The presets this phase configures: a responsive set (the default thumbnail plus two WebP
 * widths for `srcset`), and a large one for the memory run only.
 */
export const BENCH_PRESETS = {
  w320: { width: 320, height: 320, fit: 'inside', format: 'webp' },
  w640: { width: 640, height: 640, fit: 'inside', format: 'webp' },
  w2048: { width: 2048, height: 2048, fit: 'inside', format: 'webp' },
} as const;

/** Which variants each measured job asks for. `largest` is the costliest of `three` alone. */
export const VARIANT_SETS = {
  default: ['default'],
  largest: ['w640'],
  three: ['default', 'w320', 'w640'],
} as const;
type SetName = keyof typeof VARIANT_SETS;

/** The images whose jobs the service runs are measured on (all are measured in-process). */
const SERVICE_IMAGES = ['png-icc-400', 'jpeg-1mp', 'jpeg-16mp'];

export interface LibraryVariantsResult {
  id: string;
  /** CPU ms per makeVariants call (all threads of this process), sequential calls. */
  cpuMs: Record<SetName, number> & { w320: number; separate: number };
  calls: Record<SetName, number>;
  otherBusyCores: number;
}

export interface ServiceVariantsResult {
  id: string;
  /** Worker CPU ms per job (all threads), closed loop at `cores` clients. */
  workerCpuMs: Record<SetName, number>;
  jobs: Record<SetName, number>;
  otherBusyCores: number;
}

export interface VariantsMemoryResult {
  image: string;
  workerConcurrency: number;
  /** Worker peak RSS (VmHWM, reset before each run) while it made two such jobs at once, MiB. */
  runs: { variants: string[]; peakRssMiB: number }[];
}

export interface VariantsResult {
  presets: typeof BENCH_PRESETS;
  library: LibraryVariantsResult[];
  service: ServiceVariantsResult[];
  memory: VariantsMemoryResult | null;
}

/**
 * What extra variants cost when one job makes them from one decode: in this process (the
 * worker's image processor, as the limit phase measures it), in the worker of a running
 * service (its whole job: read, make, three writes, the record), and in worker memory.
 */
export async function measureVariants(corpus: CorpusImage[], settings: BenchSettings, gate: QuietGate, log: (line: string) => void): Promise<VariantsResult> {
  const config = loadConfig({ ...settings.appEnv, THUMBNAIL_PRESETS: JSON.stringify(BENCH_PRESETS) });
  const catalogue = presetCatalogue(config);
  const plansOf = (names: readonly string[]): VariantPlan[] =>
    names.map((name) => {
      const preset = catalogue.get(name);
      if (!preset) throw new Error(`no preset ${name}`);
      return { width: preset.width, height: preset.height, fit: preset.fit, format: preset.format, quality: preset.quality };
    });
  const processor = createImageProcessor({
    limitInputPixels: config.LIMIT_INPUT_PIXELS,
    timeoutSeconds: Math.max(1, Math.ceil(config.JOB_TIMEOUT_MS / 1000)),
    smallPngFastPath: config.SMALL_PNG_FAST_PATH,
  });

  const library: LibraryVariantsResult[] = [];
  for (const image of corpus) {
    const result = await gate.measure(async () => {
      await gate.wait();
      const meter = new ResourceMeter([]);
      meter.start();
      const cpu = {} as Record<SetName | 'w320', { ms: number; calls: number }>;
      for (const [name, names] of [...Object.entries(VARIANT_SETS), ['w320', ['w320']]] as [SetName | 'w320', readonly string[]][]) {
        cpu[name] = await cpuPerCall(processor, image.data, plansOf(names), settings);
      }
      const window = meter.stop();
      return {
        id: image.id,
        cpuMs: {
          default: cpu.default.ms,
          largest: cpu.largest.ms,
          three: cpu.three.ms,
          w320: cpu.w320.ms,
          separate: cpu.default.ms + cpu.w320.ms + cpu.largest.ms,
        },
        calls: { default: cpu.default.calls, largest: cpu.largest.calls, three: cpu.three.calls },
        otherBusyCores: window.otherBusyCores,
      };
    }, (r) => r.otherBusyCores);
    library.push(result);
    log(
      `variants ${image.id}: CPU per job ${result.cpuMs.default.toFixed(1)} ms default, ${result.cpuMs.largest.toFixed(1)} w640 alone, ` +
        `${result.cpuMs.three.toFixed(1)} for all three (${(result.cpuMs.three / result.cpuMs.largest).toFixed(2)}x the largest; three separate jobs ${result.cpuMs.separate.toFixed(1)})`,
    );
  }

  const service = await measureServiceJobs(corpus.filter((image) => SERVICE_IMAGES.includes(image.id)), settings, gate, log);
  const memory = await measureMemory(settings, log);
  return { presets: BENCH_PRESETS, library, service, memory };
}

/** Sequential calls (after two warm-up calls) for the limit phase's number of runs or time. */
async function cpuPerCall(processor: ImageProcessor, input: Buffer, plans: VariantPlan[], settings: BenchSettings): Promise<{ ms: number; calls: number }> {
  for (let i = 0; i < 2; i++) await processor.makeVariants(input, plans);
  const before = process.cpuUsage();
  const end = performance.now() + settings.limit.singleMs;
  let calls = 0;
  while (calls < settings.limit.singleRuns && (calls < 5 || performance.now() < end)) {
    await processor.makeVariants(input, plans);
    calls++;
  }
  const used = process.cpuUsage(before);
  return { ms: (used.user + used.system) / 1000 / calls, calls };
}

/** The worker's CPU per job in a running service on disk storage, one variant set at a time. */
async function measureServiceJobs(images: CorpusImage[], settings: BenchSettings, gate: QuietGate, log: (line: string) => void): Promise<ServiceVariantsResult[]> {
  const service = await BenchService.start({
    storage: 'fs',
    workerConcurrency: settings.cores,
    appEnv: { ...settings.appEnv, THUMBNAIL_PRESETS: JSON.stringify(BENCH_PRESETS) },
  });
  try {
    const results: ServiceVariantsResult[] = [];
    for (const image of images) {
      const result = await gate.measure(async () => {
        const workerCpuMs = { default: NaN, largest: NaN, three: NaN };
        const jobs = { default: 0, largest: 0, three: 0 };
        let other = 0;
        for (const set of ['default', 'largest', 'three'] as const) {
          await gate.wait();
          const upload = multipartUpload(image.data, `${image.id}.${image.extension}`, image.contentType, { variants: VARIANT_SETS[set].join(',') });
          const meter = new ResourceMeter(service.watched());
          let window: ResourceWindow | null = null;
          const loop = await closedLoop({
            concurrency: settings.cores,
            warmupMs: settings.service.warmupMs,
            measureMs: settings.service.measureMs,
            task: () => submitAndWait(service.apiUrl, upload),
            onWindowStart: () => meter.start(),
            onWindowEnd: () => (window = meter.stop()),
          });
          const measured = window as ResourceWindow | null;
          if (loop.errors > 0) throw new Error(`${image.id} ${set}: ${loop.errors} errors, e.g. ${loop.errorSamples[0]}`);
          jobs[set] = loop.completed;
          workerCpuMs[set] = measured && loop.completed > 0 ? (measured.processes['worker'].cpuSeconds * 1000) / loop.completed : NaN;
          other = Math.max(other, measured?.otherBusyCores ?? 0);
        }
        return { id: image.id, workerCpuMs, jobs, otherBusyCores: other };
      }, (r) => r.otherBusyCores);
      results.push(result);
      log(
        `variants service ${image.id}: worker CPU per job ${result.workerCpuMs.default.toFixed(1)} ms default, ${result.workerCpuMs.largest.toFixed(1)} w640 alone, ` +
          `${result.workerCpuMs.three.toFixed(1)} all three (${(result.workerCpuMs.three / result.workerCpuMs.largest).toFixed(2)}x the largest)`,
      );
    }
    return results;
  } finally {
    closeClientConnections();
    await service.stop();
  }
}

/**
 * Worker memory with presets, beside the figure docs/security.md gives for one default variant:
 * two 6000x6000 interlaced PNGs at once (decoded whole: no shrink-on-load), WORKER_CONCURRENCY=2.
 */
async function measureMemory(settings: BenchSettings, log: (line: string) => void): Promise<VariantsMemoryResult> {
  const size = 6000;
  // No SVG in it: the image processor built above has blocked every loader sharp does not need.
  const square = { width: size / 2, height: size / 2, channels: 3, background: { r: 240, g: 160, b: 30 } } as const;
  const png = await sharp({ create: { width: size, height: size, channels: 3, background: { r: 40, g: 90, b: 160 } } })
    .composite([{ input: { create: square }, left: size / 4, top: size / 4 }])
    .png({ progressive: true, compressionLevel: 1 })
    .toBuffer();
  const sets: string[][] = [['default'], [...VARIANT_SETS.three], ['default', 'w640', 'w2048']];
  const runs: VariantsMemoryResult['runs'] = [];
  // Twice round, interleaved, each run on a worker of its own: a worker's RSS keeps what earlier
  // jobs grew its heaps to, so a second run on the same worker would measure its history.
  for (let round = 0; round < 2; round++) {
    for (const variants of sets) {
      const service = await BenchService.start({
        storage: 'fs',
        workerConcurrency: 2,
        appEnv: { ...settings.appEnv, THUMBNAIL_PRESETS: JSON.stringify(BENCH_PRESETS), MAX_UPLOAD_BYTES: String(64 * 1024 * 1024) },
      });
      try {
        const workerPid = service.watched().find((p) => p.label === 'worker')?.pid;
        if (!workerPid) throw new Error('no worker pid');
        const upload = multipartUpload(png, 'large.png', 'image/png', { variants: variants.join(',') });
        resetPeakRss(workerPid);
        const outcomes = await Promise.all([submitAndWait(service.apiUrl, upload), submitAndWait(service.apiUrl, upload)]);
        if (outcomes.some((outcome) => outcome !== 'complete')) throw new Error(`memory run ${variants.join(',')}: ${outcomes.join(', ')}`);
        const peakRssMiB = (memoryKb(workerPid)?.peak ?? NaN) / 1024;
        runs.push({ variants, peakRssMiB });
        log(`variants memory: two ${size}x${size} interlaced PNGs at once, ${variants.join(',')}: worker peak ${peakRssMiB.toFixed(0)} MiB`);
      } finally {
        closeClientConnections();
        await service.stop();
      }
    }
  }
  return { image: `${size}x${size} interlaced PNG, ${(png.length / 1024).toFixed(0)} KiB`, workerConcurrency: 2, runs };
}
