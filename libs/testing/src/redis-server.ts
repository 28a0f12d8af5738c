import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { freePort } from './free-port';
import type { NetworkHost } from './test-network';

export interface RedisServerOptions {
  /** AOF persistence, as the chart runs Redis. */
  appendonly?: boolean;
  /**
   * When the AOF is fsynced: `always` (the default here, so a test's restart loses nothing) or
   * `everysec`, as the chart, Compose and `npm start` run Redis (docs/deployment.md, Durability).
   */
  appendfsync?: 'always' | 'everysec';
  /** Reuse a data directory (to restart a server on the same data). */
  dir?: string;
  port?: number;
  maxmemoryPolicy?: string;
  /** Run on this host of a test network, listening on its address, instead of on loopback. */
  host?: NetworkHost;
}

export interface RunningRedisServer {
  url: string;
  port: number;
  dir: string;
  /** The server's process (SIGSTOP freezes it: every command waits until SIGCONT). */
  pid: number;
  /** Stops the server (SIGTERM, then SIGKILL); keeps `dir` so a restart can reuse it. */
  stop(): Promise<void>;
  /** Stops the server and removes its data directory. */
  destroy(): Promise<void>;
}

/**
 * Starts a real `redis-server` (the Debian package, installed by scripts/setup) on a free
 * loopback port. Every test that needs Redis gets its own server and stops it.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RunningRedisServer> {
  const binary = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (binary.error) {
    throw new Error('redis-server is not installed: run `npm test` (its setup installs it) or `apt-get install redis-server`');
  }
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tg-redis-'));
  const address = options.host?.address ?? '127.0.0.1';
  const args = [
    '--port', String(port),
    '--bind', address,
    '--dir', dir,
    '--save', '',
    '--appendonly', options.appendonly ? 'yes' : 'no',
    '--appendfsync', options.appendfsync ?? 'always',
    '--maxmemory-policy', options.maxmemoryPolicy ?? 'noeviction',
    '--daemonize', 'no',
    '--loglevel', 'warning',
    // Protected mode refuses clients from other addresses when there is no password: on a test
    // network every client is on another host, and the network is the test's own.
    ...(options.host ? ['--protected-mode', 'no'] : []),
  ];
  const command = options.host ? options.host.command('redis-server', args) : { program: 'redis-server', args };
  const child = spawn(command.program, command.args, { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitForPort(address, port, child, 10_000);
  const stop = () => stopChild(child);
  return {
    url: `redis://${address}:${port}`,
    port,
    dir,
    pid: child.pid ?? -1,
    stop,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function waitForPort(host: string, port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (chunk) => (stderr += String(chunk)));
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${stderr}`)));
    const attempt = () => {
      const socket = createConnection({ port, host });
      socket.once('connect', () => {
        socket.end();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`redis-server did not listen on ${port}: ${stderr}`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
