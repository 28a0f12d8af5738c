import type { Redis } from 'ioredis';
import {
  type RunningRedisServer,
  skipWithoutNetworkNamespaces,
  startRedisServer,
  startTestNetwork,
  type TestNetwork,
} from '@thumbnail/testing';
import { createRedisConnection, REDIS_REPLY_TIMEOUT_MS, waitForRedis } from './redis-connection';

async function settled(command: Promise<unknown>): Promise<{ error: string | null; ms: number }> {
  const started = Date.now();
  const error = await command.then(
    () => null,
    (reason: Error) => reason.message,
  );
  return { error, ms: Date.now() - started };
}

describe.skipIf(skipWithoutNetworkNamespaces())('a command connection to a Redis that goes silent (a network partition)', () => {
  let network: TestNetwork;
  let server: RunningRedisServer;
  let connection: Redis;

  beforeAll(async () => {
    network = await startTestNetwork(['redis']);
    server = await startRedisServer({ host: network.host('redis') });
    connection = createRedisConnection(server.url, 'command', 'partition-spec');
    await waitForRedis(connection, 5_000);
  });
  afterAll(async () => {
    connection?.disconnect();
    await server?.destroy();
    await network?.destroy();
  });

  it('fails a command once no reply came within the timeout, the next ones at once, and works again by itself', async () => {
    await connection.set('key', 'before');
    await network.cut('redis');

    // Without the timeout the command would wait for the kernel to give up, some 15 minutes.
    const first = await settled(connection.get('key'));
    expect(first.error).toMatch(/max retries/);
    expect(first.ms).toBeGreaterThanOrEqual(REDIS_REPLY_TIMEOUT_MS - 100);
    expect(first.ms).toBeLessThan(REDIS_REPLY_TIMEOUT_MS * 3);
    // The connection is dropped with it: no caller waits a second time.
    const next = await settled(connection.get('key'));
    expect(next.error).toMatch(/Stream isn't writeable/);
    expect(next.ms).toBeLessThan(REDIS_REPLY_TIMEOUT_MS);

    await network.restore('redis');
    await vi.waitFor(async () => expect(await connection.get('key')).toBe('before'), { timeout: 20_000, interval: 100 });
  });
});
