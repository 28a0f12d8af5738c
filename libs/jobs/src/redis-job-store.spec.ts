import { startRedisServer, type RunningRedisServer } from '@thumbnail/testing';
import type { Redis } from 'ioredis';
import { describeJobStoreContract } from './job-store.contract';
import { JobStoreUnavailableError } from './job-store';
import { createRedisConnection, waitForRedis } from './redis-connection';
import { RedisJobStore } from './redis-job-store';

describeJobStoreContract('redis', async () => {
  const server = await startRedisServer();
  const redis = createRedisConnection(server.url, 'command', 'contract');
  await waitForRedis(redis, 5_000);
  return {
    store: new RedisJobStore(redis),
    reset: async () => void (await redis.flushdb()),
    dropVariantFields: async (id) => void (await redis.hdel(`tg:job:${id}`, 'variants', 'thumbhash')),
    teardown: async () => {
      redis.disconnect();
      await server.destroy();
    },
  };
});

describe('RedisJobStore when Redis is down', () => {
  let server: RunningRedisServer;
  let redis: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = createRedisConnection(server.url, 'command', 'down-test');
    await waitForRedis(redis, 5_000);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.destroy();
  });

  it('fails at once with JobStoreUnavailableError instead of hanging', async () => {
    await server.stop();
    const store = new RedisJobStore(redis);
    const started = Date.now();
    await expect(store.get('00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(JobStoreUnavailableError);
    await expect(store.expiredJobs(new Date(), 10)).rejects.toBeInstanceOf(JobStoreUnavailableError);
    await expect(store.ping()).rejects.toBeInstanceOf(JobStoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
