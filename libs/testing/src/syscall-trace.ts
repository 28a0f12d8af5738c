import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One system call as strace saw it start: its name and its arguments, file descriptors shown as their paths. */
export interface TracedCall {
  name: string;
  args: string;
}

export interface SyscallTrace {
  /** Detaches strace and returns the calls it saw, in the order they started. */
  stop(): Promise<TracedCall[]>;
}

/** For `describe.skipIf(...)`: true when strace is missing, after printing why. */
export function skipWithoutStrace(): boolean {
  if (!spawnSync('strace', ['-V']).error) return false;
  console.warn('SKIPPED: strace is not installed: run `npm test` (its setup installs it) or `apt-get install strace`');
  return true;
}

/**
 * Attaches strace to every thread of process `pid` (this test's own process works: durable
 * writes happen on libuv's threads), recording the named system calls until `stop()`.
 * Resolves once strace has attached, so what the caller does next is seen.
 */
export async function traceSyscalls(pid: number, syscalls: string[]): Promise<SyscallTrace> {
  const dir = mkdtempSync(join(tmpdir(), 'tg-strace-'));
  const log = join(dir, 'trace');
  // -f: all threads, -y: paths for file descriptors. strace says on stderr when it has attached.
  const child = spawn('strace', ['-f', '-y', '-e', `trace=${syscalls.join(',')}`, '-o', log, '-p', String(pid)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`strace did not attach to ${pid}: ${stderr}`)), 10_000);
    child.stderr.on('data', (chunk) => {
      stderr += String(chunk);
      if (/Process \d+ attached/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`strace exited with ${code} before attaching: ${stderr}`));
    });
  });
  return {
    async stop() {
      child.kill('SIGINT');
      await exited;
      const lines = readFileSync(log, 'utf8').split('\n');
      rmSync(dir, { recursive: true, force: true });
      return lines.flatMap(parseCall);
    },
  };
}

/** `1234 fsync(21</a/b>) = 0` or `1234 fsync(21</a/b> <unfinished ...>`; resumptions are not starts. */
function parseCall(line: string): TracedCall[] {
  const match = /^\d+\s+([a-z0-9_]+)\((.*?)(?:\) += .*| <unfinished \.\.\.>)$/.exec(line.trim());
  return match ? [{ name: match[1], args: match[2] }] : [];
}
