/*
 * What /proc says about a process: CPU seconds (all threads, and the main JS thread alone), peak
 * and current resident memory, and the machine's busy time. Linux only, as the bench is.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { procClockTicks, procStatFields as statFields, processCpuSeconds, statCpuSeconds } from '@thumbnail/testing';

// Indexes into statFields(): field 3 (state) is index 0, so field N is index N - 3.
const PPID = 4 - 3;
const CUTIME = 16 - 3;
const CSTIME = 17 - 3;
const STARTTIME = 22 - 3;

/** utime + stime of every thread of `pid` so far, in seconds; null once it has gone. */
export const cpuSeconds = processCpuSeconds;

/** CPU seconds of `pid`'s children that have ended and been reaped (cutime + cstime). */
export function reapedChildrenCpuSeconds(pid: number): number | null {
  const fields = statFields(`/proc/${pid}/stat`);
  if (!fields) return null;
  return (Number(fields[CUTIME]) + Number(fields[CSTIME])) / procClockTicks();
}

/** utime + stime of the main thread alone (the one running JavaScript in Node), in seconds. */
export function mainThreadCpuSeconds(pid: number): number | null {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`);
}

/** Start time in clock ticks since boot: with the pid, names one process even if pids wrap. */
export function startTicks(pid: number): number | null {
  const fields = statFields(`/proc/${pid}/stat`);
  return fields ? Number(fields[STARTTIME]) : null;
}

export interface MemoryKb {
  /** VmRSS: resident now. */
  rss: number;
  /** VmHWM: the most it has been resident since start or since `resetPeakRss`. */
  peak: number;
}

export function memoryKb(pid: number): MemoryKb | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const value = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: value('VmRSS'), peak: value('VmHWM') };
  } catch {
    return null;
  }
}

/**
 * Sets VmHWM back to the current RSS (`echo 5 > clear_refs`, Linux 4.0+), so the next peak
 * belongs to the next measurement. Needs to own the process (or be root); false if refused.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Busy and total CPU seconds of the whole machine since boot (all cores, from /proc/stat). */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guests are already in user.
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = ticks[3] + ticks[4];
  return { busy: (total - idle) / procClockTicks(), total: total / procClockTicks() };
}

function pids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** Processes whose parent is `ppid` (nginx's workers under its master). */
export function childPids(ppid: number): number[] {
  return pids().filter((pid) => Number(statFields(`/proc/${pid}/stat`)?.[PPID]) === ppid);
}

/** Processes whose command line (arguments joined by spaces) matches. */
export function pidsByCommandLine(pattern: RegExp): number[] {
  return pids().filter((pid) => {
    try {
      return pattern.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {
      return false;
    }
  });
}
