import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { keepPrefixFolders } from '@thumbnail/testing';

export interface RestartableS3rver {
  /** `http://127.0.0.1:<port>`, the same across `pause()` and `resume()`. */
  endpoint: string;
  port: number;
  /** Stops listening and cuts every connection: clients then get ECONNREFUSED. Keeps the data. */
  pause(): Promise<void>;
  /** Listens again on the same port, with the same buckets and objects. */
  resume(): Promise<void>;
  /** Stops listening and removes the data directory. */
  stop(): Promise<void>;
}

/**
 * An s3rver like `startS3rver` from @thumbnail/testing, except that it can stop answering and
 * come back on the same port with its data: an object store outage as clients see it.
 */
export async function startRestartableS3rver(buckets: string[] = []): Promise<RestartableS3rver> {
  const directory = await mkdtemp(join(tmpdir(), 's3rver-restartable-'));
  const app = new S3rver({ directory, silent: true, configureBuckets: buckets.map((name) => ({ name, configs: [] })) });
  keepPrefixFolders(app);
  await app.configureBuckets();
  let server: Server | null = null;

  const listen = async (port: number): Promise<number> => {
    const listening = createServer(app.callback());
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(port, '127.0.0.1', () => {
        listening.off('error', reject);
        resolve();
      });
    });
    server = listening;
    return (listening.address() as AddressInfo).port;
  };
  const close = async () => {
    const running = server;
    if (!running) return;
    server = null;
    const closed = new Promise<void>((resolve) => running.close(() => resolve()));
    running.closeAllConnections();
    await closed;
  };

  const port = await listen(0);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    pause: close,
    resume: async () => {
      if (!server) await listen(port);
    },
    stop: async () => {
      await close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
