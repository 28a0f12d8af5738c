import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './built-tools';
import { freePort } from './free-port';
import type { NetworkHost } from './test-network';
import { type MinioAuditRecorder, type MinioCall, startMinioAuditRecorder } from './minio-audit-recorder';
import { spawnServer, waitUntilReady, type ServerProcess } from './server-process';

export interface MinioOptions {
  /** Reuse a data folder and port (to bring a stopped server back with its objects). */
  dir?: string;
  port?: number;
  /**
   * A static KMS key (MINIO_KMS_SECRET_KEY), so SSE-S3 (`S3_SSE=AES256`) encrypts objects
   * without a KMS server. Off by default: MinIO then refuses SSE requests.
   */
  kms?: boolean;
  /** Keep the S3 calls MinIO serves (its audit log), for `calls()`. */
  recordCalls?: boolean;
  /** Run on this host of a test network, listening on its address, instead of on loopback. */
  host?: NetworkHost;
}

export interface RunningMinio {
  /** `http://127.0.0.1:<port>` (the host's address on a test network); use path-style addressing. */
  endpoint: string;
  port: number;
  dir: string;
  /** The root user's key pair (MINIO_ROOT_USER / MINIO_ROOT_PASSWORD), random per server. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Stops the server (SIGTERM); keeps `dir`, so `restart()` brings the same objects back. */
  stop(): Promise<void>;
  /** Starts it again on the same port, folder and credentials after `stop()`. */
  restart(): Promise<void>;
  /** Stops the server and removes its data folder. */
  destroy(): Promise<void>;
  /** What it printed last, for failure messages. */
  output(): string;
  /** The running server's process id (undefined while stopped), e.g. to measure its CPU. */
  pid(): number | undefined;
  /** The S3 calls it has answered so far, oldest first; needs `recordCalls`. */
  calls(): MinioCall[];
  /**
   * Whether any file MinIO keeps on disk contains `bytes` as they are: what server-side
   * encryption must prevent for an object's content.
   */
  storesInClear(bytes: Buffer): boolean;
}

/**
 * A real MinIO server (scripts/tools.sh builds it from its Go module) on a free loopback port,
 * storing in a fresh folder, ready when `/minio/health/ready` answers 200.
 */
export async function startMinio(options: MinioOptions = {}): Promise<RunningMinio> {
  const binary = requireTool('minio');
  // The recorder listens on the test process's loopback, which no host of a test network reaches.
  if (options.host && options.recordCalls) throw new Error('startMinio: recordCalls is not available with host');
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tg-minio-'));
  const recorder: MinioAuditRecorder | null = options.recordCalls ? await startMinioAuditRecorder() : null;
  const credentials = { accessKeyId: `tg-${randomBytes(6).toString('hex')}`, secretAccessKey: randomBytes(18).toString('base64url') };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: dir,
    MINIO_ROOT_USER: credentials.accessKeyId,
    MINIO_ROOT_PASSWORD: credentials.secretAccessKey,
    MINIO_BROWSER: 'off',
    MINIO_UPDATE: 'off',
    ...(options.kms ? { MINIO_KMS_SECRET_KEY: `tg-test-key:${randomBytes(32).toString('base64')}` } : {}),
    ...(recorder ? { MINIO_AUDIT_WEBHOOK_ENABLE_TESTS: 'on', MINIO_AUDIT_WEBHOOK_ENDPOINT_TESTS: recorder.url } : {}),
  };
  const address = options.host?.address ?? '127.0.0.1';
  const endpoint = `http://${address}:${port}`;
  let server: ServerProcess | null = null;

  const launch = async () => {
    const args = ['server', '--quiet', '--address', `${address}:${port}`, join(dir, 'data')];
    const command = options.host ? options.host.command(binary, args) : { program: binary, args };
    const started = spawnServer(command.program, command.args, { env });
    server = started;
    await waitUntilReady(async () => (await fetch(`${endpoint}/minio/health/ready`)).status === 200, started, 'minio');
  };
  const stop = async () => {
    await server?.stop();
  };
  try {
    await launch();
  } catch (error) {
    await stop();
    await recorder?.close();
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    endpoint,
    port,
    dir,
    credentials,
    stop,
    restart: launch,
    destroy: async () => {
      await stop();
      await recorder?.close();
      rmSync(dir, { recursive: true, force: true });
    },
    output: () => (server as ServerProcess | null)?.output() ?? '',
    pid: () => {
      const child = (server as ServerProcess | null)?.child;
      return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
    },
    calls: () => {
      if (!recorder) throw new Error('calls() needs startMinio({ recordCalls: true })');
      return recorder.calls();
    },
    storesInClear: (bytes) =>
      readdirSync(join(dir, 'data'), { recursive: true, withFileTypes: true }).some(
        (entry) => entry.isFile() && readFileSync(join(entry.parentPath, entry.name)).includes(bytes),
      ),
  };
}
