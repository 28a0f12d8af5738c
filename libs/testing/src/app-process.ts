import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port';
import type { NetworkHost } from './test-network';
import { findWorkspaceRoot } from './workspace-root';

export type AppName = 'api' | 'worker';

export interface RunningApp {
  name: AppName;
  url: string;
  port: number;
  pid: number;
  /** Everything the process printed so far (JSON log lines). */
  output(): string;
  /** Resolves with the exit code (or signal) once the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const WORKSPACE = findWorkspaceRoot();

/** glibc malloc settings the worker image runs with. */
export const WORKER_ALLOCATOR_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };

/** Path of an app's built bundle; `nx build <app>` makes it (the e2e target depends on that). */
export function builtApp(name: AppName): string {
  const main = join(WORKSPACE, 'dist', 'apps', name, 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npx nx build ${name}\` first`);
  return main;
}

export interface StartAppOptions {
  port?: number;
  /** Run on this host of a test network, listening on its address, instead of on loopback. */
  host?: NetworkHost;
  /**
   * Host names this process alone resolves to the given addresses (name -> address), as its own
   * /etc/hosts would say: the process runs in a private mount namespace (`unshare`, as root)
   * where a copy of /etc/hosts with these lines is mounted over the real one. getaddrinfo reads
   * it as usual; nothing else on the machine sees it.
   */
  hosts?: Record<string, string>;
  /**
   * Wait for /health/ready (Redis, storage and the job store reachable) instead of /health: for
   * callers whose dependencies are up, so their first request does not race the connections.
   */
  ready?: boolean;
}

/**
 * Starts a built app as its own process, the way `npm start` and the images run it, and waits
 * until its /health answers. With `host`, it runs on that host of a test network and listens on
 * its address.
 */
export async function startApp(name: AppName, env: Record<string, string>, options: StartAppOptions = {}): Promise<RunningApp> {
  const port = options.port ?? (await freePort());
  const portVariable = name === 'api' ? 'PORT' : 'WORKER_PORT';
  // The API's V8 flag and the worker's allocator settings, as their images and `npm start` set
  // them (docker/Dockerfile says why).
  const nodeFlags = name === 'api' ? ['--max-semi-space-size=4'] : [];
  const address = options.host?.address ?? '127.0.0.1';
  let command = { program: process.execPath, args: [...nodeFlags, builtApp(name)] };
  const hostsDir = options.hosts ? mkdtempSync(join(tmpdir(), 'tg-hosts-')) : null;
  if (hostsDir && options.hosts) {
    const [program, ...args] = [...ownHostsFile(hostsDir, options.hosts), command.program, ...command.args];
    command = { program, args };
  }
  if (options.host) command = options.host.command(command.program, command.args);
  const allocator = name === 'worker' ? WORKER_ALLOCATOR_ENV : {};
  const child = spawn(command.program, command.args, {
    cwd: WORKSPACE,
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOST: address,
      LOG_LEVEL: 'info',
      ...allocator,
      ...env,
      [portVariable]: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += String(chunk)));
  child.stderr?.on('data', (chunk) => (output += String(chunk)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      if (hostsDir) rmSync(hostsDir, { recursive: true, force: true });
      resolve({ code, signal });
    }),
  );
  const url = `http://${address}:${port}`;
  await waitForHealth(url, options.ready ? '/health/ready' : '/health', child, () => output, 30_000);
  return {
    name,
    url,
    port,
    pid: child.pid ?? -1,
    output: () => output,
    exited,
    kill: (signal = 'SIGKILL') => void child.kill(signal),
    stop: async (graceMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The command prefix that runs a program with its own /etc/hosts: the machine's, plus `hosts`.
 * `sh` mounts the copy in the new namespace, then `exec`s the program under the same pid.
 */
function ownHostsFile(dir: string, hosts: Record<string, string>): string[] {
  const file = join(dir, 'hosts');
  const lines = Object.entries(hosts).map(([name, address]) => `${address} ${name}`);
  writeFileSync(file, `${readFileSync('/etc/hosts', 'utf8').trimEnd()}\n${lines.join('\n')}\n`);
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', file];
}

async function waitForHealth(url: string, path: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode}:\n${output()}`);
    try {
      const response = await fetch(`${url}${path}`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`no 200 from ${url}${path} within ${timeoutMs} ms:\n${output()}`);
}
