import { createRedisConnection, type JobStore, waitForRedis } from '@thumbnail/jobs';
import type { Storage } from '@thumbnail/storage';
import { startRedisServer } from '@thumbnail/testing';
import { checkReadiness, describeFailures } from './dependency-checks';

const healthy = { ping: async () => undefined };

describe('checkReadiness', () => {
  it('is ready when Redis (noeviction), storage and the job store answer', async () => {
    const server = await startRedisServer();
    const redis = createRedisConnection(server.url, 'command', 'readiness-test');
    try {
      await waitForRedis(redis, 5_000);
      const readiness = await checkReadiness({ redis, storage: healthy as Storage, jobStore: healthy as JobStore });
      expect(readiness).toEqual({
        ready: true,
        checks: { redis: { ok: true }, storage: { ok: true }, job_store: { ok: true } },
        causes: {},
      });
    } finally {
      redis.disconnect();
      await server.destroy();
    }
  });

  it('fails and says why when Redis may evict keys', async () => {
    const server = await startRedisServer({ maxmemoryPolicy: 'allkeys-lru' });
    const redis = createRedisConnection(server.url, 'command', 'readiness-test');
    try {
      await waitForRedis(redis, 5_000);
      const readiness = await checkReadiness({ redis, storage: healthy as Storage, jobStore: healthy as JobStore });
      expect(readiness.ready).toBe(false);
      expect(describeFailures(readiness)).toMatch(/redis down \(maxmemory-policy is "allkeys-lru"; set it to "noeviction"/);
    } finally {
      redis.disconnect();
      await server.destroy();
    }
  });

  it('names a dependency that does not answer in time instead of hanging, and keeps what the other said for the log', async () => {
    const server = await startRedisServer();
    const redis = createRedisConnection(server.url, 'command', 'readiness-test');
    try {
      await waitForRedis(redis, 5_000);
      const hung = { ping: () => new Promise<void>(() => undefined) } as Storage;
      const failing = { ping: async () => Promise.reject(new Error('connect ECONNREFUSED 10.0.0.7:27017')) } as JobStore;
      const started = Date.now();
      const readiness = await checkReadiness({ redis, storage: hung, jobStore: failing });
      expect(Date.now() - started).toBeLessThan(4_000);
      expect(readiness.checks['storage']).toEqual({ ok: false, reason: 'no answer within 3000 ms' });
      expect(describeFailures(readiness)).toBe(
        'storage down (no answer within 3000 ms); job_store down (unavailable; the log says why)',
      );
      // The driver's message names an address: the answer never shows it, the log does.
      expect(JSON.stringify(readiness.checks)).not.toContain('10.0.0.7');
      expect(readiness.causes).toEqual({ storage: 'no answer within 3000 ms', job_store: 'connect ECONNREFUSED 10.0.0.7:27017' });
    } finally {
      redis.disconnect();
      await server.destroy();
    }
  });
});
