/*
 * CPU time of a process from /proc (Linux), for tests and the bench that measure what a
 * process costs.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** USER_HZ: the unit of the CPU times in /proc/<pid>/stat (100 almost everywhere). */
export function procClockTicks(): number {
  if (clockTicks === undefined) {
    const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim());
    clockTicks = Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  }
  return clockTicks;
}

/**
 * Fields of a /proc/<pid>/stat line after the command name, which may hold spaces; null once
 * the process has gone. Field 3 of proc(5) (state) is index 0, so field N is index N - 3.
 */
export function procStatFields(path: string): string[] | null {
  try {
    const text = readFileSync(path, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
  } catch {
    return null;
  }
}

const UTIME = 14 - 3;
const STIME = 15 - 3;

/** utime + stime of every thread of `pid` so far, in seconds; null once it has gone. */
export function processCpuSeconds(pid: number): number | null {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** utime + stime of one stat file (a process's, or one thread's under task/), in seconds. */
export function statCpuSeconds(path: string): number | null {
  const fields = procStatFields(path);
  if (!fields) return null;
  return (Number(fields[UTIME]) + Number(fields[STIME])) / procClockTicks();
}
