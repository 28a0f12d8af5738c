import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { sharpVersions } from './sharp-tools';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  sharp: string;
  libvips: string;
  redis: string | null;
  gitCommit: string | null;
  /** sha256 (first 12 hex) of the built bundles the service ran: the build under test. */
  builds: Record<string, string | null>;
  loadAverageAtStart: number[];
}

function firstLine(command: string, args: string[]): string | null {
  const answer = spawnSync(command, args, { encoding: 'utf8' });
  if (answer.error || answer.status !== 0) return null;
  return `${answer.stdout}${answer.stderr}`.trim().split('\n')[0] ?? null;
}

/** Which build the apps run: others may rebuild dist/ while the bench runs. */
export function bundleHashes(workspace: string): Record<string, string | null> {
  const builds: Record<string, string | null> = {};
  for (const app of ['api', 'worker']) {
    const main = join(workspace, 'dist', 'apps', app, 'main.js');
    builds[app] = existsSync(main) ? createHash('sha256').update(readFileSync(main)).digest('hex').slice(0, 12) : null;
  }
  return builds;
}

export function machineInfo(workspace: string): MachineInfo {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const versions = sharpVersions();
  return {
    cores: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    sharp: versions.sharp,
    libvips: versions.vips,
    redis: firstLine('redis-server', ['--version']),
    gitCommit: firstLine('git', ['-C', workspace, 'rev-parse', '--short', 'HEAD']),
    builds: bundleHashes(workspace),
    loadAverageAtStart: loadavg().map((value) => Math.round(value * 100) / 100),
  };
}
