import { Gauge, register } from 'prom-client';
import { METRICS, QUEUE_STATES, type QueueState } from './metric-names';

/**
 * `thumbnail_queue_jobs{state}`, read from the queue when Prometheus scrapes rather than kept
 * in memory, so every replica reports the queue as it is (aggregate with max, not sum).
 */
export function registerQueueDepthGauge(
  readCounts: () => Promise<Partial<Record<QueueState, number>>>,
): Gauge<'state'> {
  const existing = register.getSingleMetric(METRICS.queueJobs);
  if (existing) register.removeSingleMetric(METRICS.queueJobs);
  return new Gauge({
    name: METRICS.queueJobs,
    help: 'Jobs in the BullMQ queue by state, read at scrape time.',
    labelNames: ['state'],
    async collect() {
      // A scrape while Redis is down must still answer: report no queue series then.
      this.reset();
      const counts = await readCounts().catch(() => null);
      if (!counts) return;
      for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });
}
