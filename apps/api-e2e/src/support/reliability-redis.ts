import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedisConnection, THUMBNAIL_QUEUE, waitForRedis } from '@thumbnail/jobs';
import { eventually } from './reliability-http';

/**
 * A Redis client for a test to look at (and tamper with) what the service keeps in Redis.
 * The caller quits it.
 */
export async function inspectRedis(url: string): Promise<Redis> {
  const redis = createRedisConnection(url, 'command', 'e2e-inspector');
  await waitForRedis(redis, 5_000);
  return redis;
}

/** A BullMQ producer on the service's queue, as a second API replica (or a bug) would use it. */
export function queueClient(url: string): Queue {
  const { hostname, port } = new URL(url);
  const queue = new Queue(THUMBNAIL_QUEUE, { connection: { host: hostname, port: Number(port), maxRetriesPerRequest: 1 } });
  queue.on('error', () => undefined);
  return queue;
}

export async function keysMatching(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Every BullMQ key of the thumbnail queue (`bull:thumbnails:*`). */
export function queueKeys(redis: Redis): Promise<string[]> {
  return keysMatching(redis, `bull:${THUMBNAIL_QUEUE}:*`);
}

/**
 * Deletes the queue and leaves the job records (`tg:*`): what a Redis restored from an older
 * snapshot, or an operator's FLUSH of the queue, leaves behind. Returns how many keys went.
 */
export async function deleteQueueKeys(redis: Redis): Promise<number> {
  const keys = await queueKeys(redis);
  if (keys.length > 0) await redis.del(...keys);
  return keys.length;
}

/**
 * Moves a job back in time by `ms`, consistently: its `createdAt` (and `startedAt` and
 * `completedAt`, when set) and its `createdAt` member in every index. Index members embed createdAt (`<13-digit ms>:<id>`) and the store's scripts
 * rebuild the member from the hash field on every transition, so changing only the field would
 * leave stale members behind and make the next transition miss them.
 */
export async function backdateJob(redis: Redis, id: string, ms: number): Promise<void> {
  const record = await redis.hgetall(`tg:job:${id}`);
  if (!record['createdAt']) throw new Error(`no job record tg:job:${id}`);
  const member = (createdAt: number) => `${String(createdAt).padStart(13, '0')}:${id}`;
  const before = Number(record['createdAt']);
  const after = before - ms;
  const indexes = ['tg:idx:all', `tg:idx:status:${record['status']}`];
  if (record['owner']) indexes.push(`tg:idx:owner:${record['owner']}`, `tg:idx:owner:${record['owner']}:status:${record['status']}`);
  const change = redis.multi().hset(`tg:job:${id}`, 'createdAt', String(after));
  for (const field of ['startedAt', 'completedAt']) {
    if (record[field]) change.hset(`tg:job:${id}`, field, String(Number(record[field]) - ms));
  }
  for (const index of indexes) change.zrem(index, member(before)).zadd(index, 0, member(after));
  const results = await change.exec();
  const failed = results?.find(([error]) => error);
  if (!results || failed) throw new Error(`could not backdate ${id}: ${failed?.[0]?.message ?? 'transaction aborted'}`);
}

/** `INFO memory` used_memory, in bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
}

/** Sum of `MEMORY USAGE` over the given keys, in bytes. */
export async function memoryOf(redis: Redis, keys: string[]): Promise<number> {
  let total = 0;
  for (const key of keys) total += Number((await redis.memory('USAGE', key, 'SAMPLES', '0')) ?? 0);
  return total;
}

/**
 * Waits until a queue entry reaches `state` and gives what the worker returned for it. The worker
 * returns only after its last step (deleting the original included), so this is later than the
 * job record's status, which changes before that step.
 */
export async function settledEntry(queue: Queue, entryId: string, state: 'completed' | 'failed'): Promise<unknown> {
  await eventually(async () => expect(await queue.getJobState(entryId)).toBe(state));
  return (await queue.getJob(entryId))?.returnvalue;
}
