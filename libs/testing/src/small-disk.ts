import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type SmallDisk = { dir: string; unmount: () => void } | { dir: null; reason: string };

/**
 * A real filesystem of `size` (a tmpfs, e.g. "800k", "48m") mounted at a fresh folder, for tests
 * of what happens when a disk fills up. Mounting needs root (CI and `npm test` run as root
 * here); elsewhere `dir` is null and `reason` says why, for the test to print as it skips.
 */
export function mountSmallDisk(size: string): SmallDisk {
  const dir = mkdtempSync(join(tmpdir(), 'small-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    return { dir: null, reason: String((error as { stderr?: Buffer }).stderr ?? error).trim() };
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
