import { startRedisServer } from '@thumbnail/testing';
import { announceJobFinished, followFinishedJobs } from './job-finished-channel';
import { createRedisConnection, waitForRedis } from './redis-connection';

/** Waits for `condition` to hold (vi.waitFor retries until it stops throwing). */
const until = (condition: () => boolean) =>
  vi.waitFor(() => {
    if (!condition()) throw new Error('not yet');
  }, { timeout: 10_000, interval: 20 });

describe('job-finished channel', () => {
  it('delivers announcements to followers, and tells them when they reconnect after a loss', async () => {
    const server = await startRedisServer();
    const publisher = createRedisConnection(server.url, 'command', 'publisher');
    const subscriber = createRedisConnection(server.url, 'blocking', 'subscriber');
    try {
      await Promise.all([waitForRedis(publisher, 5_000), waitForRedis(subscriber, 5_000)]);
      const seen: string[] = [];
      let reconnects = 0;
      await followFinishedJobs(subscriber, (id) => seen.push(id), () => reconnects++);
      await announceJobFinished(publisher, 'job-1');
      await announceJobFinished(publisher, 'job-2');
      await until(() => seen.length === 2);
      expect(seen).toEqual(['job-1', 'job-2']);
      expect(reconnects).toBe(0);

      await server.stop();
      const restarted = await startRedisServer({ port: server.port, dir: server.dir });
      await until(() => reconnects === 1);
      await waitForRedis(publisher, 5_000);
      await until(() => subscriber.status === 'ready');
      // ioredis subscribes again by itself after the reconnect.
      await until(() => {
        void announceJobFinished(publisher, 'job-3').catch(() => undefined);
        return seen.includes('job-3');
      });
      await restarted.destroy();
    } finally {
      publisher.disconnect();
      subscriber.disconnect();
      await server.destroy();
    }
  });
});
