import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import { createConnection } from 'node:net';

/** A server program the tests started: its process and what it printed, for failure messages. */
export interface ServerProcess {
  child: ChildProcess;
  /** The last few KB of what it wrote to stdout and stderr. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const OUTPUT_TAIL_BYTES = 8 * 1024;

/** Starts `command` with its output kept (a tail of it), never inheriting the test's stdio. */
export function spawnServer(command: string, args: string[], options: SpawnOptions = {}): ServerProcess {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // A missing binary is reported by waitForPort as an exit, not as an unhandled 'error'.
  child.on('error', (error) => keep(Buffer.from(String(error))));
  return { child, output: () => output, stop: (graceMs) => stopChild(child, graceMs) };
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`; rejects if `server` exits first. */
export function waitForPort(port: number, server: ServerProcess, name: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      reject(new Error(`${name}: ${message}\n${server.output()}`));
    };
    server.child.once('exit', (code, signal) => fail(`exited with ${code ?? signal} before listening on ${port}`));
    const attempt = () => {
      if (settled) return;
      const socket = createConnection({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.end();
        settled = true;
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) fail(`did not listen on ${port} within ${timeoutMs} ms`);
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

/** Polls `ready` until it resolves true (or the deadline passes, or the server exits). */
export async function waitUntilReady(
  ready: () => Promise<boolean>,
  server: ServerProcess,
  name: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`${name}: exited with ${server.child.exitCode ?? server.child.signalCode}\n${server.output()}`);
    }
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${name}: not ready within ${timeoutMs} ms\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
