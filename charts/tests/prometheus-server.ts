import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

/**
 * A real Prometheus server (Debian's package) for tests: scrapes the given targets every second
 * and evaluates the given rule files, listening on loopback only.
 */

export const PROMETHEUS_BINARY = process.env.PROMETHEUS ?? '/usr/bin/prometheus';

export interface PrometheusOptions {
  /** Scrape job name to `host:port`; each job gets one static target and the default /metrics. */
  targets: Record<string, string>;
  ruleFiles: string[];
  port: number;
  /** Holds the generated config and the TSDB; the caller removes it. */
  dir: string;
  readyTimeoutMs?: number;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromResponse<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
  warnings?: string[];
}

export interface InstantQueryData {
  resultType: 'vector' | 'scalar' | 'matrix' | 'string';
  result: PromSample[] | [number, string];
}

export interface PromAlertRule {
  type: 'alerting';
  name: string;
  query: string;
  health: 'ok' | 'err' | 'unknown';
  lastError?: string;
  lastEvaluation: string;
  state: 'inactive' | 'pending' | 'firing';
}

export interface RulesData {
  groups: { name: string; file: string; rules: PromAlertRule[] }[];
}

export interface RunningPrometheus {
  url: string;
  /** What the server logged so far (the last 64 KiB), for failure messages. */
  output(): string;
  /** GET an API path (`/api/v1/...`) and parse the JSON answer, whatever the HTTP status. */
  api<T>(path: string, params?: Record<string, string>): Promise<PromResponse<T>>;
  /** An instant query; `time` in Unix seconds, default now. */
  query(expr: string, time?: number): Promise<PromResponse<InstantQueryData>>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const OUTPUT_LIMIT = 64 * 1024;

export function prometheusConfig(options: Pick<PrometheusOptions, 'targets' | 'ruleFiles'>): string {
  return stringify({
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: options.ruleFiles,
    scrape_configs: Object.entries(options.targets).map(([job, target]) => ({
      job_name: job,
      static_configs: [{ targets: [target] }],
    })),
  });
}

/** Throws a message saying how to install Prometheus when the binary is not there. */
export function requirePrometheus(): void {
  if (!existsSync(PROMETHEUS_BINARY)) {
    throw new Error(
      `${PROMETHEUS_BINARY} is missing. Run \`npm test\` once (its setup installs Debian's prometheus ` +
        `package), or apt-get install prometheus, or set PROMETHEUS to the binary's path.`,
    );
  }
}

export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  requirePrometheus();
  const configFile = join(options.dir, 'prometheus.yml');
  const dataDir = join(options.dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(configFile, prometheusConfig(options));

  const url = `http://127.0.0.1:${options.port}`;
  const child = spawn(
    PROMETHEUS_BINARY,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${options.port}`,
      '--log.level=warn',
    ],
    { cwd: options.dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + String(chunk)).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  // A test runner that dies mid-suite must not leave a server behind on the machine.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async (graceMs = 10_000) => {
    process.off('exit', killOnExit);
    // A process that failed to spawn never emits 'exit'.
    if (spawnError || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  const api = async <T>(path: string, params: Record<string, string> = {}): Promise<PromResponse<T>> => {
    const response = await fetch(`${url}${path}?${new URLSearchParams(params)}`);
    const text = await response.text();
    try {
      return JSON.parse(text) as PromResponse<T>;
    } catch {
      throw new Error(`GET ${path} answered ${response.status} with non-JSON: ${text.slice(0, 500)}`);
    }
  };

  try {
    await waitForReady(url, options.readyTimeoutMs ?? 30_000, () => {
      if (spawnError) throw spawnError;
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${output}`);
    });
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url,
    output: () => output,
    api,
    query: (expr, time) => api<InstantQueryData>('/api/v1/query', { query: expr, ...(time ? { time: String(time) } : {}) }),
    stop,
  };
}

async function waitForReady(url: string, timeoutMs: number, assertAlive: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    assertAlive();
    try {
      const response = await fetch(`${url}/-/ready`);
      if (response.ok) return;
      last = `${response.status} ${await response.text()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`prometheus at ${url} was not ready within ${timeoutMs} ms (last: ${last})`);
}
