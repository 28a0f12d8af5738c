import { Redis, type RedisOptions } from 'ioredis';

/**
 * The one place that opens Redis connections.
 * - `command`: request-path connections (API producer, job store). With the offline queue off,
 *   a command fails at once while Redis is down, so the API answers 503 instead of hanging.
 * - `blocking`: BullMQ workers and queue-event listeners. BullMQ requires
 *   `maxRetriesPerRequest: null` there so blocking reads survive reconnects.
 */
export type RedisRole = 'command' | 'blocking';

/**
 * How long a command connection waits for any reply before it takes Redis for gone. A
 * partitioned network drops packets without a word, and the kernel would keep retransmitting
 * for about 15 minutes before it gave up on the connection.
 */
export const REDIS_REPLY_TIMEOUT_MS = 3_000;

export function redisOptions(role: RedisRole): RedisOptions {
  const shared: RedisOptions = {
    connectTimeout: 5_000,
    // Reconnect forever with a capped delay: a pod must recover by itself when Redis returns.
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    lazyConnect: false,
  };
  return role === 'command'
    ? {
        ...shared,
        enableOfflineQueue: false,
        // A silent connection is dropped and its commands fail then (the caller answers 503 or
        // retries the job), never replayed on the next connection after the caller gave up.
        socketTimeout: REDIS_REPLY_TIMEOUT_MS,
        maxRetriesPerRequest: 0,
      }
    : { ...shared, enableOfflineQueue: true, maxRetriesPerRequest: null };
}

export function createRedisConnection(url: string, role: RedisRole, name: string): Redis {
  const connection = new Redis(url, { ...redisOptions(role), connectionName: name });
  // Without a listener ioredis prints every reconnect error; readiness reports the state instead.
  connection.on('error', () => undefined);
  return connection;
}

/** Resolves once the connection is usable, or rejects after `timeoutMs`. */
export async function waitForRedis(connection: Redis, timeoutMs: number): Promise<void> {
  if (connection.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not reachable within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      connection.off('ready', onReady);
    };
    connection.on('ready', onReady);
  });
}
