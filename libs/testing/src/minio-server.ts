import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './built-tools';
import { freePort } from './free-port';
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
}

export interface RunningMinio {
  /** `http://127.0.0.1:<port>`; use path-style addressing. */
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
}

/**
 * A real MinIO server (scripts/tools.sh builds it from its Go module) on a free loopback port,
 * storing in a fresh folder, ready when `/minio/health/ready` answers 200.
 */
export async function startMinio(options: MinioOptions = {}): Promise<RunningMinio> {
  const binary = requireTool('minio');
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tg-minio-'));
  const credentials = { accessKeyId: `tg-${randomBytes(6).toString('hex')}`, secretAccessKey: randomBytes(18).toString('base64url') };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: dir,
    MINIO_ROOT_USER: credentials.accessKeyId,
    MINIO_ROOT_PASSWORD: credentials.secretAccessKey,
    MINIO_BROWSER: 'off',
    MINIO_UPDATE: 'off',
    ...(options.kms ? { MINIO_KMS_SECRET_KEY: `tg-test-key:${randomBytes(32).toString('base64')}` } : {}),
  };
  const endpoint = `http://127.0.0.1:${port}`;
  let server: ServerProcess | null = null;

  const launch = async () => {
    const started = spawnServer(binary, ['server', '--quiet', '--address', `127.0.0.1:${port}`, join(dir, 'data')], { env });
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
      rmSync(dir, { recursive: true, force: true });
    },
    output: () => (server as ServerProcess | null)?.output() ?? '',
  };
}
