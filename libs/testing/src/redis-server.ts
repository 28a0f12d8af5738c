import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { freePort } from './free-port';

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
}

export interface RunningRedisServer {
  url: string;
  port: number;
  dir: string;
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
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', options.appendonly ? 'yes' : 'no',
    '--appendfsync', options.appendfsync ?? 'always',
    '--maxmemory-policy', options.maxmemoryPolicy ?? 'noeviction',
    '--daemonize', 'no',
    '--loglevel', 'warning',
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitForPort(port, child, 10_000);
  const stop = () => stopChild(child);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (chunk) => (stderr += String(chunk)));
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${stderr}`)));
    const attempt = () => {
      const socket = createConnection({ port, host: '127.0.0.1' });
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
