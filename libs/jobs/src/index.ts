export * from './job-status';
export * from './thumbnail-job';
export * from './job-store';
export * from './queue-contract';
export * from './storage-keys';
export { createRedisConnection, redisOptions, waitForRedis, type RedisRole } from './redis-connection';
export { RedisJobStore } from './redis-job-store';
export { createJobStore, type JobStoreSettings } from './create-job-store';
export { announceJobFinished, followFinishedJobs, JOB_FINISHED_CHANNEL } from './job-finished-channel';
