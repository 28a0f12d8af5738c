/**
 * A background pass each worker runs every `intervalMs`: calls that overlap share one pass, a
 * failed pass is reported and tried again at the next tick, and `stop` waits for the one running.
 */
export class PeriodicPass {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    private readonly pass: () => Promise<number>,
    private readonly onError: (error: Error) => void,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.runOnce(), intervalMs);
    // Never what keeps the process alive.
    this.timer.unref();
  }

  /** Resolves with what the pass returned, or 0 when it failed. */
  runOnce(): Promise<number> {
    this.running ??= this.pass()
      .catch((error: Error) => {
        this.onError(error);
        return 0;
      })
      .finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
