export interface ShutdownLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Runs `drain` once on SIGTERM or SIGINT, then exits 0; exits 1 if draining takes longer than
 * `timeoutMs` (Kubernetes would SIGKILL soon after anyway). A second signal exits at once.
 */
export function onTerminate(drain: () => Promise<void>, options: { timeoutMs: number; logger: ShutdownLogger }): void {
  let draining = false;
  const handler = (signal: NodeJS.Signals) => {
    if (draining) {
      options.logger.info({ signal }, 'Second signal: exiting without draining');
      process.exit(1);
    }
    draining = true;
    options.logger.info({ signal, timeoutMs: options.timeoutMs }, 'Shutting down: draining');
    const timer = setTimeout(() => {
      options.logger.error({ timeoutMs: options.timeoutMs }, 'Drain timed out; exiting');
      process.exit(1);
    }, options.timeoutMs);
    timer.unref();
    drain().then(
      () => {
        options.logger.info({}, 'Drained; exiting');
        process.exit(0);
      },
      (error: unknown) => {
        options.logger.error({ err: error }, 'Drain failed; exiting');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
