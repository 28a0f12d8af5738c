import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { keepPrefixFolders } from './s3rver-flat-keys.cjs';

export { keepPrefixFolders };

export interface S3rverOptions {
  /** Buckets that exist from the start; others can still be created over the S3 API. */
  buckets?: string[];
}

export interface RunningS3rver {
  /** `http://127.0.0.1:<port>`; use with path-style addressing (`forcePathStyle: true`). */
  endpoint: string;
  port: number;
  /** Closes every connection, stops the server and removes its data directory. */
  stop(): Promise<void>;
}

/**
 * Access key s3rver accepts. It rejects any other key id with InvalidAccessKeyId, but it does not
 * verify SigV4 signatures, so a wrong secret goes unnoticed.
 */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/**
 * Starts s3rver in this process, serving real HTTP on 127.0.0.1 (port chosen by the OS, so
 * nothing can take it between picking and listening), storing objects in a fresh temp directory.
 * Apps running as separate processes can use `endpoint` too.
 */
export async function startS3rver(options: S3rverOptions = {}): Promise<RunningS3rver> {
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const app = new S3rver({
    directory,
    silent: true,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name, configs: [] })),
  });
  keepPrefixFolders(app);
  let server: Server | undefined;
  try {
    await app.configureBuckets();
    // Our own server rather than s3rver.run(): stop() must be able to cut keep-alive and
    // half-read connections, or close() waits for the SDK's idle sockets to time out.
    const listening = createServer(app.callback());
    server = listening;
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(0, '127.0.0.1', () => {
        listening.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    server?.close();
    await rm(directory, { recursive: true, force: true });
    throw error;
  }

  const running = server;
  const { port } = running.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    stop: () =>
      (stopped ??= (async () => {
        const closed = new Promise<void>((resolve) => running.close(() => resolve()));
        running.closeAllConnections();
        await closed;
        await rm(directory, { recursive: true, force: true });
      })()),
  };
}
