import type { EventEmitter } from 'node:events';

interface WarnLogger {
  warn(obj: object, msg: string): void;
}

/**
 * BullMQ queues and workers emit 'error' on every failed reconnect while Redis is away; with no
 * listener BullMQ prints each one to stderr as a raw stack. Log them as JSON instead, at most
 * once per `intervalMs`: readiness and metrics carry the state, the log only needs the reason.
 */
export function logErrorsQuietly(emitter: EventEmitter, what: string, logger: WarnLogger, intervalMs = 10_000): void {
  let last = 0;
  let suppressed = 0;
  emitter.on('error', (error: Error) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    logger.warn({ reason: error?.message, suppressed }, `${what} error`);
    last = now;
    suppressed = 0;
  });
}
