import { appendFileSync } from 'node:fs';
import { startTicks } from './proc-stats';

/**
 * Writes "pid start-ticks label" for every process the bench starts to BENCH_PID_FILE, so that
 * run.sh can stop exactly those processes (and no others) if this one dies before its own
 * cleanup ran.
 */
export function registerProcess(pid: number, label: string): void {
  const file = process.env['BENCH_PID_FILE'];
  if (!file || pid <= 0) return;
  const ticks = startTicks(pid);
  if (ticks !== null) appendFileSync(file, `${pid} ${ticks} ${label}\n`);
}
