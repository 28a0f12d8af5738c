import type { Redis } from 'ioredis';

/**
 * Redis pub/sub channel on which workers announce each job that reached a final status (the
 * message is the job id). API replicas use it to answer `?wait=` requests at once. One short
 * message per job, instead of following BullMQ's full event stream. Delivery is best effort:
 * a waiter that misses its message still answers when its wait ends.
 */
export const JOB_FINISHED_CHANNEL = 'tg:job-finished';

export async function announceJobFinished(redis: Redis, jobId: string): Promise<void> {
  await redis.publish(JOB_FINISHED_CHANNEL, jobId);
}

/**
 * Calls `onFinished` for every announced job. `subscriber` becomes a subscriber-only connection;
 * after a reconnect `onReconnect` runs, since messages sent meanwhile were lost.
 */
export async function followFinishedJobs(
  subscriber: Redis,
  onFinished: (jobId: string) => void,
  onReconnect: () => void,
): Promise<void> {
  subscriber.on('message', (channel: string, jobId: string) => {
    if (channel === JOB_FINISHED_CHANNEL) onFinished(jobId);
  });
  let connectedOnce = false;
  subscriber.on('ready', () => {
    if (connectedOnce) onReconnect();
    connectedOnce = true;
  });
  if (subscriber.status === 'ready') connectedOnce = true;
  await subscriber.subscribe(JOB_FINISHED_CHANNEL);
}
