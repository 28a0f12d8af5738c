import { availableParallelism } from 'node:os';

/**
 * Durations and load levels of one `npm run bench`. Sized so the whole run stays under ~10
 * minutes (15 when shared) on 2 cores. BENCH_QUICK=1 shortens every measurement (a smoke run; its numbers are
 * not worth comparing).
 */
export type BenchPhase = 'limit' | 'nginx' | 'fs' | 's3' | 'webhooks' | 'profile' | 'variants';
export const ALL_PHASES: BenchPhase[] = ['limit', 'nginx', 'fs', 's3', 'webhooks', 'profile', 'variants'];

export interface BenchSettings {
  cores: number;
  quick: boolean;
  /** BENCH_ONLY=limit,fs...: run some phases only (experiments; targets then show n/a). */
  phases: BenchPhase[];
  /**
   * BENCH_APP_ENV="KEY=value;KEY2=value": extra environment for the api and worker, to try a
   * setting (LOG_LEVEL=warn, NODE_OPTIONS=--max-semi-space-size=2...) without touching code.
   */
  appEnv: Record<string, string>;
  limit: {
    /** Sequential makeThumbnail calls for the single-image time: at most this many... */
    singleRuns: number;
    /** ...or for this long, whichever comes first. */
    singleMs: number;
    warmupMs: number;
    measureMs: number;
    bareMeasureMs: number;
  };
  nginx: { threads: number; connections: number; seconds: number; workerProcesses: number };
  service: {
    /** Closed-loop clients at saturation. */
    clients: number;
    warmupMs: number;
    measureMs: number;
    /** Open-loop arrival rate for the latency figures. */
    lightRatePerSecond: number;
    lightSeconds: number;
    /** Longer for the image with a p99 target, so p99 is not simply the max. */
    lightSecondsForP99Image: number;
    largestUploadClients: number;
    largestUploadMs: number;
  };
  profile: { images: string[]; storage: 'fs' | 's3'; warmupMs: number; measureMs: number };
}

export function benchSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const cores = availableParallelism();
  const quick = env['BENCH_QUICK'] === '1';
  const scale = quick ? 0.25 : 1;
  const ms = (value: number) => Math.round(value * scale);
  const only = (env['BENCH_ONLY'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  const unknown = only.filter((p) => !(ALL_PHASES as string[]).includes(p));
  if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown phase(s) ${unknown.join(', ')}; known: ${ALL_PHASES.join(', ')}`);
  const appEnv: Record<string, string> = {};
  for (const pair of (env['BENCH_APP_ENV'] ?? '').split(';').map((p) => p.trim()).filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`BENCH_APP_ENV: "${pair}" is not KEY=value`);
    appEnv[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return {
    cores,
    quick,
    phases: only.length > 0 ? (only as BenchPhase[]) : ALL_PHASES,
    appEnv,
    limit: { singleRuns: quick ? 10 : 40, singleMs: ms(3000), warmupMs: ms(1000), measureMs: ms(5000), bareMeasureMs: ms(3000) },
    nginx: { threads: 2, connections: 4, seconds: quick ? 2 : 5, workerProcesses: 2 },
    service: {
      clients: 4 * cores,
      warmupMs: ms(1500),
      measureMs: ms(6000),
      lightRatePerSecond: 10,
      lightSeconds: quick ? 2 : 6,
      lightSecondsForP99Image: quick ? 3 : 12,
      largestUploadClients: cores,
      largestUploadMs: ms(6000),
    },
    profile: {
      images: (env['BENCH_PROFILE_IMAGES'] ?? 'png-icc-400,jpeg-16mp').split(',').filter(Boolean),
      storage: env['BENCH_PROFILE_STORAGE'] === 's3' ? 's3' : 'fs',
      warmupMs: ms(1000),
      measureMs: ms(5000),
    },
  };
}

/** The image whose light-load p99 has a target (< 100 ms). */
export const P99_TARGET_IMAGE = 'png-icc-400';
/** The image whose worker RSS has a target (< 350 MiB). */
export const WORKER_RSS_TARGET_IMAGE = 'jpeg-16mp';
