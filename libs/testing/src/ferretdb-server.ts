import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './built-tools';
import { freePort } from './free-port';
import { spawnServer, waitForPort, type ServerProcess } from './server-process';

export interface RunningFerretDb {
  /** `mongodb://127.0.0.1:<port>/`: the MongoDB wire protocol, no authentication. */
  url: string;
  port: number;
  dir: string;
  /** Stops the server; keeps `dir`, so `restart()` brings the same records back. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and removes its data folder. */
  destroy(): Promise<void>;
  output(): string;
}

/**
 * FerretDB 1.x (scripts/tools.sh builds it from its Go module): MongoDB's wire protocol over
 * SQLite files in a fresh folder, on a free loopback port. It is the protocol, not MongoDB; the
 * GitHub workflow runs the same suites against real MongoDB.
 */
export async function startFerretDb(options: { dir?: string; port?: number } = {}): Promise<RunningFerretDb> {
  const binary = requireTool('ferretdb');
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tg-ferretdb-'));
  mkdirSync(join(dir, 'sqlite'), { recursive: true });
  const args = [
    '--handler=sqlite',
    `--sqlite-url=file:${join(dir, 'sqlite')}/`,
    `--listen-addr=127.0.0.1:${port}`,
    // No debug HTTP listener: its fixed default port would collide between servers.
    '--debug-addr=',
    `--state-dir=${dir}`,
    '--telemetry=disable',
    '--log-level=warn',
  ];
  let server: ServerProcess | null = null;
  const launch = async () => {
    const started = spawnServer(binary, args, { env: { PATH: process.env['PATH'] } });
    server = started;
    await waitForPort(port, started, 'ferretdb');
  };
  const stop = async () => {
    await server?.stop();
  };
  try {
    await launch();
  } catch (error) {
    await stop();
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `mongodb://127.0.0.1:${port}/`,
    port,
    dir,
    stop,
    restart: launch,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    output: () => (server as ServerProcess | null)?.output() ?? '',
  };
}
