/*
 * Two bounded load shapes. Closed loop: N lanes, each starting its next task when the previous
 * one ends, for a fixed time; measures capacity. Open loop: tasks started on a fixed schedule
 * whatever happens to the earlier ones; measures latency at a given arrival rate.
 */

export type TaskOutcome = 'complete' | 'failed';

export interface LoopCounts {
  /** Tasks that ended `complete` inside the window. */
  completed: number;
  /** Tasks that ended `failed` (the service's answer, e.g. a job that failed). */
  failed: number;
  /** Tasks that threw (HTTP errors, timeouts). */
  errors: number;
  /** A few error messages, for the report. */
  errorSamples: string[];
}

export interface ClosedLoopResult extends LoopCounts {
  /** Length of the counting window, seconds. */
  seconds: number;
  /** Completed tasks per second inside the window. */
  perSecond: number;
  /** Duration of each task that completed inside the window, ms. */
  latenciesMs: number[];
}

export interface ClosedLoopOptions {
  concurrency: number;
  /** Run but do not count for this long first (JIT, connection pools, caches). */
  warmupMs: number;
  measureMs: number;
  task: () => Promise<TaskOutcome>;
  /** Called as the counting window opens and closes (to read CPU and memory). */
  onWindowStart?: () => void;
  onWindowEnd?: () => void;
}

const MAX_ERRORS = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function closedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const begin = performance.now();
  const plannedEnd = begin + options.warmupMs + options.measureMs;
  let windowStart = Infinity;
  let windowEnd = Infinity;
  const startTimer = setTimeout(() => {
    windowStart = performance.now();
    options.onWindowStart?.();
  }, options.warmupMs);
  const endTimer = setTimeout(() => {
    windowEnd = performance.now();
    options.onWindowEnd?.();
  }, options.warmupMs + options.measureMs);

  const counts: LoopCounts = { completed: 0, failed: 0, errors: 0, errorSamples: [] };
  const latenciesMs: number[] = [];
  let totalErrors = 0;
  const lane = async () => {
    while (performance.now() < plannedEnd && windowEnd === Infinity && totalErrors < MAX_ERRORS) {
      const started = performance.now();
      let outcome: TaskOutcome | Error;
      try {
        outcome = await options.task();
      } catch (error) {
        outcome = error instanceof Error ? error : new Error(String(error));
      }
      const finished = performance.now();
      const counted = finished >= windowStart && finished <= windowEnd;
      if (outcome instanceof Error) {
        totalErrors++;
        if (counted) counts.errors++;
        if (counts.errorSamples.length < 5) counts.errorSamples.push(outcome.message);
        await sleep(20); // a refused connection must not turn the lane into a busy loop
      } else if (counted) {
        if (outcome === 'complete') {
          counts.completed++;
          latenciesMs.push(finished - started);
        } else {
          counts.failed++;
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, lane));
  } finally {
    clearTimeout(startTimer);
    clearTimeout(endTimer);
  }
  if (windowEnd === Infinity) {
    // Every lane stopped early (too many errors): close the window now.
    windowEnd = performance.now();
    if (windowStart !== Infinity) options.onWindowEnd?.();
  }
  const seconds = windowStart === Infinity ? 0 : (windowEnd - windowStart) / 1000;
  return { ...counts, seconds, perSecond: seconds > 0 ? counts.completed / seconds : 0, latenciesMs };
}

export interface OpenLoopResult extends LoopCounts {
  ratePerSecond: number;
  /** Tasks started. */
  started: number;
  /** Duration of each completed task, from its start to its end, ms. */
  latenciesMs: number[];
}

export async function openLoop(options: { ratePerSecond: number; count: number; task: () => Promise<TaskOutcome> }): Promise<OpenLoopResult> {
  const counts: LoopCounts = { completed: 0, failed: 0, errors: 0, errorSamples: [] };
  const latenciesMs: number[] = [];
  const interval = 1000 / options.ratePerSecond;
  const begin = performance.now();
  const running: Promise<void>[] = [];
  for (let i = 0; i < options.count; i++) {
    const due = begin + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const started = performance.now();
    running.push(
      options.task().then(
        (outcome) => {
          if (outcome === 'complete') {
            counts.completed++;
            latenciesMs.push(performance.now() - started);
          } else {
            counts.failed++;
          }
        },
        (error: unknown) => {
          counts.errors++;
          if (counts.errorSamples.length < 5) counts.errorSamples.push(error instanceof Error ? error.message : String(error));
        },
      ),
    );
  }
  await Promise.all(running);
  return { ...counts, ratePerSecond: options.ratePerSecond, started: options.count, latenciesMs };
}

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles (with n samples, p99 is the max until n >= 100). */
export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
  return { n: sorted.length, p50: rank(50), p95: rank(95), p99: rank(99), max: sorted[sorted.length - 1] ?? NaN };
}

export function median(values: number[]): number {
  return percentiles(values).p50;
}
