import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findWorkspaceRoot, freePort, png50, startRedisServer } from '@thumbnail/testing';
import { call, submitAndWait } from './support/client';

/** `npm start` (scripts/start.sh) as a user runs it, on its own data folder and ports. */
class NpmStart {
  readonly exited: Promise<number | null>;
  private output = '';

  private constructor(
    readonly child: ChildProcess,
    readonly api: string,
  ) {
    child.stdout?.on('data', (chunk) => (this.output += String(chunk)));
    child.stderr?.on('data', (chunk) => (this.output += String(chunk)));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static run(env: { DATA_DIR: string; PORT: number; WORKER_PORT: number; REDIS_PORT: number }): NpmStart {
    const child = spawn('bash', ['scripts/start.sh'], {
      cwd: findWorkspaceRoot(),
      env: { ...process.env, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new NpmStart(child, `http://127.0.0.1:${env.PORT}`);
  }

  /** The script's own lines (`[start.sh] ...`), not the apps' JSON logs. */
  lines(): string[] {
    return this.output.split('\n').filter((line) => line.startsWith('[start.sh]'));
  }

  async up(): Promise<void> {
    await vi.waitFor(
      () => {
        if (this.child.exitCode !== null) throw new Error(`npm start exited with ${this.child.exitCode}:\n${this.output}`);
        if (!this.lines().some((line) => line.includes('is up'))) throw new Error('not up yet');
      },
      { timeout: 240_000, interval: 200 },
    );
  }
}

/** The pids npm start recorded in its data folder, by the command they run. */
function recorded(dataDir: string): { pid: number; command: string }[] {
  const file = join(dataDir, 'npm-start.pids');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => ({ pid: Number(line.split(' ')[0]), command: line.slice(line.indexOf(' ') + 1) }));
}

/** Local addresses of the sockets listening on `port`, from /proc/net/tcp and tcp6. */
function listeningAddresses(port: number): string[] {
  const addresses: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || !local) continue; // 0A: LISTEN
      const [hex, portHex] = local.split(':');
      if (parseInt(portHex, 16) !== port) continue;
      // IPv4 as the kernel prints it: four bytes in little-endian hex (0100007F is 127.0.0.1).
      const ipv4 = hex.length === 8 ? [0, 1, 2, 3].map((i) => parseInt(hex.slice(6 - 2 * i, 8 - 2 * i), 16)).join('.') : null;
      addresses.push(ipv4 ?? `[${hex}]`);
    }
  }
  return addresses;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// npm start builds the apps first (a cache hit after npm test's own build, minutes without one)
// and each case waits up to 240 s for it (up()); vitest's default per case would cut that short.
describe('npm start (scripts/start.sh)', { timeout: 300_000 }, () => {
  let dataDir: string;
  let ports: { PORT: number; WORKER_PORT: number; REDIS_PORT: number };
  const started: NpmStart[] = [];

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tg-npm-start-'));
    ports = { PORT: await freePort(), WORKER_PORT: await freePort(), REDIS_PORT: await freePort() };
  });
  afterEach(async () => {
    for (const run of started.splice(0)) {
      run.child.kill('SIGTERM');
      await run.exited;
    }
    // Whatever a hard-killed run left behind and no later run stopped.
    for (const { pid } of recorded(dataDir)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }, 120_000);

  function run(): NpmStart {
    const npmStart = NpmStart.run({ DATA_DIR: dataDir, ...ports });
    started.push(npmStart);
    return npmStart;
  }

  it('keeps serving when the worker dies: it starts the worker again, and jobs complete', async () => {
    const npmStart = run();
    await npmStart.up();
    // Local use: both apps listen on the loopback address only (the worker may still be
    // starting: npm start waits for the API), and need no API key.
    await vi.waitFor(() => {
      expect(listeningAddresses(ports.PORT)).toEqual(['127.0.0.1']);
      expect(listeningAddresses(ports.WORKER_PORT)).toEqual(['127.0.0.1']);
    }, { timeout: 30_000, interval: 200 });
    // The durability promise (docs/deployment.md): its Redis keeps an AOF, fsynced every second.
    const config = (name: string) =>
      spawnSync('redis-cli', ['-p', String(ports.REDIS_PORT), 'config', 'get', name], { encoding: 'utf8' }).stdout.trim().split('\n')[1];
    expect([config('appendonly'), config('appendfsync'), config('maxmemory-policy')]).toEqual(['yes', 'everysec', 'noeviction']);
    const png = await png50();
    expect((await submitAndWait(npmStart.api, png)).status).toBe('complete');

    const worker = recorded(dataDir).find((entry) => entry.command.includes('dist/apps/worker/main.js'));
    if (!worker) throw new Error(`no worker recorded in ${dataDir}`);
    process.kill(worker.pid, 'SIGKILL');
    await vi.waitFor(() => expect(npmStart.lines().join('\n')).toMatch(/worker exited \(code 137\); starting it again/), {
      timeout: 30_000,
    });
    expect((await call(`${npmStart.api}/health`)).status).toBe(200);
    expect((await submitAndWait(npmStart.api, png)).status).toBe('complete');
    expect(npmStart.child.exitCode).toBeNull();
  });

  it('after a hard stop, the next npm start stops what the last one left running and comes back on the same data', async () => {
    const first = run();
    await first.up();
    const job = await submitAndWait(first.api, await png50());
    const left = recorded(dataDir).map((entry) => entry.pid);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(left.filter(alive).length).toBeGreaterThan(0); // Redis, the apps and their supervisors live on

    const second = run();
    await second.up();
    expect(second.lines().join('\n')).toMatch(/restarting the Redis an earlier npm start left running/);
    expect(left.filter(alive)).toEqual([]);
    // Jobs survive: same Redis data (AOF) and the same files.
    const again = await call(`${second.api}/thumbnail/${job._id}`);
    expect(again.json.data).toMatchObject({ _id: job._id, status: 'complete' });
    expect((await fetch(`${second.api}/thumbnail/${job._id}/image`)).status).toBe(200);
  });

  it('refuses, naming what to set, when a stranger’s Redis holds the port', async () => {
    const stranger = await startRedisServer({ port: ports.REDIS_PORT });
    try {
      const npmStart = run();
      expect(await npmStart.exited).toBe(1);
      expect(npmStart.lines().join('\n')).toMatch(
        new RegExp(`port ${ports.REDIS_PORT} is taken .*: set REDIS_URL to use that Redis, or REDIS_PORT for another port`),
      );
      expect((await fetch(`${npmStart.api}/health`).catch(() => null))?.status).toBeUndefined();
    } finally {
      await stranger.destroy();
    }
  });

  it('stops everything it started on SIGTERM', async () => {
    const npmStart = run();
    await npmStart.up();
    const children = recorded(dataDir).map((entry) => entry.pid);
    npmStart.child.kill('SIGTERM');
    expect(await npmStart.exited).toBe(0);
    expect(children.filter(alive)).toEqual([]);
    expect(existsSync(join(dataDir, 'npm-start.pids'))).toBe(false);
  });
});
