import { loadConfig } from '@thumbnail/config';
import { createImageProcessor, SharpImageProcessor, type ImageProcessor, type ThumbnailPlan } from '@thumbnail/thumbnail-making';
import type { BenchSettings } from './bench-settings';
import type { CorpusImage } from './corpus';
import { closedLoop, median, type ClosedLoopResult } from './load-loops';
import { ResourceMeter, type QuietGate, type QuietWait, type ResourceWindow } from './resource-meter';
import { bareThumbnail } from './sharp-tools';

export interface LimitResult {
  id: string;
  /** Median of sequential makeThumbnail calls, one at a time, ms. */
  singleMs: number;
  /** The same for SharpImageProcessor alone: the "raw single-image sharp time". */
  sharpSingleMs: number;
  singleRuns: number;
  /** makeThumbnail with `cores` calls in flight, in this one process. */
  saturation: Omit<ClosedLoopResult, 'latenciesMs'>;
  /** CPU ms of this process per thumbnail at saturation (all threads). */
  cpuMsPerThumb: number;
  resources: ResourceWindow | null;
  /** The bare ceiling (sharp with ignoreIcc, no checks) at the same concurrency. */
  bare: { perSecond: number; completed: number; errors: number };
  /** SharpImageProcessor alone (no small-PNG fast path) at the same concurrency. */
  sharp: { perSecond: number; completed: number; errors: number };
  quietWait: QuietWait;
}

/**
 * The worker's own processor and plan, built from the same defaults the worker parses
 * (BENCH_APP_ENV's SMALL_PNG_FAST_PATH included), and sharp alone for comparison.
 */
export function workerProcessor(appEnv: Record<string, string> = {}): { processor: ImageProcessor; sharpAlone: ImageProcessor; plan: ThumbnailPlan } {
  const config = loadConfig(appEnv);
  const options = {
    limitInputPixels: config.LIMIT_INPUT_PIXELS,
    timeoutSeconds: Math.max(1, Math.ceil(config.JOB_TIMEOUT_MS / 1000)),
  };
  return {
    processor: createImageProcessor({ ...options, smallPngFastPath: config.SMALL_PNG_FAST_PATH }),
    sharpAlone: new SharpImageProcessor(options),
    // POST /thumbnail without `fit` asks for cover at THUMBNAIL_SIZE.
    plan: { width: config.THUMBNAIL_SIZE, height: config.THUMBNAIL_SIZE, fit: 'cover' },
  };
}

export async function measureLimit(images: CorpusImage[], settings: BenchSettings, gate: QuietGate, log: (line: string) => void): Promise<LimitResult[]> {
  const { processor, sharpAlone, plan } = workerProcessor(settings.appEnv);
  const results: LimitResult[] = [];
  for (const image of images) {
    results.push(await gate.measure(() => measureOne(image), (result) => result.resources?.otherBusyCores ?? 0));
    const result = results[results.length - 1];
    log(
      `limit ${image.id}: single ${result.singleMs.toFixed(1)} ms, ${result.saturation.perSecond.toFixed(1)}/s at ${settings.cores} in flight, ` +
        `sharp alone ${result.sharp.perSecond.toFixed(1)}/s, bare ${result.bare.perSecond.toFixed(1)}/s` + (result.saturation.errors ? `, ${result.saturation.errors} errors: ${result.saturation.errorSamples[0]}` : '') +
        ((result.resources?.otherBusyCores ?? 0) > gate.noisyOtherCores ? ` (other work used ${result.resources?.otherBusyCores.toFixed(2)} cores)` : ''),
    );
  }
  return results;

  /** One makeThumbnail at a time (after three warm-up calls), wall ms each. */
  async function singleTimes(run: ImageProcessor, image: CorpusImage): Promise<number[]> {
    const times: number[] = [];
    const end = performance.now() + settings.limit.singleMs;
    for (let call = 0; call < settings.limit.singleRuns + 3 && performance.now() < end; call++) {
      const started = performance.now();
      await run.makeThumbnail(image.data, plan);
      if (call >= 3) times.push(performance.now() - started);
    }
    return times;
  }

  async function measureOne(image: CorpusImage): Promise<LimitResult> {
    const quietWait = await gate.wait();
    const single = await singleTimes(processor, image);
    const sharpSingle = await singleTimes(sharpAlone, image);

    const meter = new ResourceMeter([]);
    let resources: ResourceWindow | null = null;
    const { latenciesMs: _latencies, ...saturation } = await closedLoop({
      concurrency: settings.cores,
      warmupMs: settings.limit.warmupMs,
      measureMs: settings.limit.measureMs,
      task: async () => {
        await processor.makeThumbnail(image.data, plan);
        return 'complete';
      },
      onWindowStart: () => meter.start(),
      onWindowEnd: () => (resources = meter.stop()),
    });
    const window = resources as ResourceWindow | null;

    // Two ceilings at the same concurrency: sharp's cheapest pipeline, and sharp alone.
    const ceiling = (task: () => Promise<unknown>) =>
      closedLoop({
        concurrency: settings.cores,
        warmupMs: Math.min(500, settings.limit.warmupMs),
        measureMs: settings.limit.bareMeasureMs,
        task: async () => {
          await task();
          return 'complete';
        },
      });
    const bare = await ceiling(() => bareThumbnail(image.data, plan.width));
    const sharpOnly = await ceiling(() => sharpAlone.makeThumbnail(image.data, plan));
    const result: LimitResult = {
      id: image.id,
      singleMs: median(single),
      singleRuns: single.length,
      sharpSingleMs: median(sharpSingle),
      saturation,
      cpuMsPerThumb: window && saturation.completed > 0 ? (window.benchCpuSeconds * 1000) / saturation.completed : NaN,
      resources: window,
      bare: { perSecond: bare.perSecond, completed: bare.completed, errors: bare.errors },
      sharp: { perSecond: sharpOnly.perSecond, completed: sharpOnly.completed, errors: sharpOnly.errors },
      quietWait,
    };
    return result;
  }
}
