import { availableParallelism } from 'node:os';
import { cpuSeconds, machineCpuSeconds, mainThreadCpuSeconds, memoryKb, reapedChildrenCpuSeconds, resetPeakRss } from './proc-stats';

export interface WatchedProcess {
  label: string;
  pid: number;
}

export interface ProcessUsage {
  /** CPU seconds of all its threads during the window. */
  cpuSeconds: number;
  /** CPU seconds of its main thread (JavaScript, in Node) during the window. */
  mainThreadCpuSeconds: number;
  /** Peak resident memory during the window (VmHWM after a reset), MiB. */
  peakRssMiB: number;
  /** True when the peak was reset as the window opened; otherwise it includes earlier moments. */
  peakIsWindowed: boolean;
}

export interface ResourceWindow {
  seconds: number;
  processes: Record<string, ProcessUsage>;
  /** CPU seconds of the bench process itself (the load client). */
  benchCpuSeconds: number;
  /** CPU seconds of the bench's child processes that ended in the window (wrk). */
  endedChildrenCpuSeconds: number;
  /** Average number of busy cores on the whole machine. */
  machineBusyCores: number;
  /** Busy cores not explained by the watched processes and the bench process: other work. */
  otherBusyCores: number;
  cores: number;
}

interface Snapshot {
  at: number;
  cpu: Map<number, { all: number; main: number }>;
  bench: number;
  children: number;
  machine: number;
}

/** CPU and peak memory of some processes over one measurement window. */
export class ResourceMeter {
  private begin: Snapshot | null = null;
  private readonly windowed = new Map<number, boolean>();

  constructor(private readonly watched: WatchedProcess[]) {}

  /** `resetPeaks: false` when the caller already reset them earlier (to include a warm-up). */
  start(resetPeaks = true): void {
    for (const { pid } of this.watched) this.windowed.set(pid, resetPeaks && resetPeakRss(pid));
    this.begin = this.snapshot();
  }

  stop(): ResourceWindow {
    if (!this.begin) throw new Error('ResourceMeter.stop() before start()');
    const end = this.snapshot();
    const seconds = (end.at - this.begin.at) / 1000;
    const processes: Record<string, ProcessUsage> = {};
    let watchedCpu = 0;
    for (const { label, pid } of this.watched) {
      const before = this.begin.cpu.get(pid);
      const after = end.cpu.get(pid);
      const all = before && after ? after.all - before.all : NaN;
      const main = before && after ? after.main - before.main : NaN;
      if (Number.isFinite(all)) watchedCpu += all;
      processes[label] = {
        cpuSeconds: all,
        mainThreadCpuSeconds: main,
        peakRssMiB: (memoryKb(pid)?.peak ?? NaN) / 1024,
        peakIsWindowed: this.windowed.get(pid) ?? false,
      };
    }
    const benchCpuSeconds = end.bench - this.begin.bench;
    const endedChildrenCpuSeconds = end.children - this.begin.children;
    const machineBusyCores = (end.machine - this.begin.machine) / seconds;
    return {
      seconds,
      processes,
      benchCpuSeconds,
      endedChildrenCpuSeconds,
      machineBusyCores,
      otherBusyCores: Math.max(0, machineBusyCores - (watchedCpu + benchCpuSeconds + endedChildrenCpuSeconds) / seconds),
      cores: availableParallelism(),
    };
  }

  private snapshot(): Snapshot {
    const cpu = new Map<number, { all: number; main: number }>();
    for (const { pid } of this.watched) {
      const all = cpuSeconds(pid);
      const main = mainThreadCpuSeconds(pid);
      if (all !== null && main !== null) cpu.set(pid, { all, main });
    }
    const usage = process.cpuUsage();
    return {
      at: performance.now(),
      cpu,
      bench: (usage.user + usage.system) / 1e6,
      children: reapedChildrenCpuSeconds(process.pid) ?? 0,
      machine: machineCpuSeconds().busy,
    };
  }
}

export interface QuietWait {
  waitedMs: number;
  /** Busy cores measured by the last sample before going ahead. */
  busyCores: number;
  quiet: boolean;
}

/**
 * Other people's builds and tests share this machine's cores. Before each measurement, while the
 * bench's own processes are idle, wait (boundedly) until the machine is nearly idle, so a
 * neighbour's compile does not end up in our figures. Each wait is capped, and so is the total.
 */
export class QuietGate {
  private spentMs = 0;
  private retrySpentMs = 0;
  retries = 0;

  constructor(
    private readonly maxBusyCores = 0.3,
    private readonly maxWaitMs = 20_000,
    private readonly totalBudgetMs = 90_000,
    private readonly sampleMs = 500,
    /** Measuring time that may go into repeating measurements disturbed by other work. */
    private readonly retryBudgetMs = 90_000,
    /** A measurement is repeated when other work used more than this many cores during it. */
    readonly noisyOtherCores = 0.25,
  ) {}

  /**
   * Runs one measurement (which should start with `wait()`). If other work used more than
   * `noisyOtherCores` meanwhile and the retry budget allows, runs it once more and keeps the
   * quieter of the two.
   */
  async measure<T>(run: () => Promise<T>, otherCores: (result: T) => number): Promise<T> {
    const first = await run();
    if (!(otherCores(first) > this.noisyOtherCores) || this.retrySpentMs >= this.retryBudgetMs) return first;
    const began = performance.now();
    this.retries++;
    const second = await run();
    this.retrySpentMs += performance.now() - began;
    return otherCores(second) < otherCores(first) ? second : first;
  }

  async wait(): Promise<QuietWait> {
    const began = performance.now();
    let busyCores = NaN;
    for (;;) {
      const before = machineCpuSeconds().busy;
      const at = performance.now();
      await new Promise((resolve) => setTimeout(resolve, this.sampleMs));
      busyCores = (machineCpuSeconds().busy - before) / ((performance.now() - at) / 1000);
      const waitedMs = performance.now() - began;
      if (busyCores <= this.maxBusyCores || waitedMs >= this.maxWaitMs || this.spentMs + waitedMs >= this.totalBudgetMs) {
        this.spentMs += waitedMs;
        return { waitedMs, busyCores, quiet: busyCores <= this.maxBusyCores };
      }
    }
  }

  get totalWaitedMs(): number {
    return this.spentMs;
  }
}
