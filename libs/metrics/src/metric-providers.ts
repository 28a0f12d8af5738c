import {
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
} from '@willsoto/nestjs-prometheus';
import type { Provider } from '@nestjs/common';
import { METRICS } from './metric-names';

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** Meters registered by the API; inject them with `@InjectMetric(METRICS.x)`. */
export function apiMetricProviders(): Provider[] {
  return [
    makeHistogramProvider({
      name: METRICS.httpRequestDuration,
      help: 'HTTP request duration by route template.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
    makeCounterProvider({
      name: METRICS.httpRequests,
      help: 'HTTP requests answered, by route template and status.',
      labelNames: ['method', 'route', 'status_code'],
    }),
    makeCounterProvider({
      name: METRICS.jobsSubmitted,
      help: 'Thumbnail jobs accepted and queued.',
    }),
    makeGaugeProvider({
      name: METRICS.heldRequests,
      help: 'Requests this replica holds with ?wait= until their job finishes.',
    }),
    makeCounterProvider({
      name: METRICS.jobsRetried,
      help: 'Failed jobs queued again by POST /thumbnail/:id/retry.',
    }),
    makeCounterProvider({
      name: METRICS.idempotentReplays,
      help: 'Uploads answered with the job an earlier request with the same Idempotency-Key made, by result (replayed, mismatch: refused with 422).',
      labelNames: ['result'],
    }),
    makeHistogramProvider({
      name: METRICS.uploadBytes,
      help: 'Size of accepted uploads.',
      // 1 KiB .. 32 MiB
      buckets: Array.from({ length: 16 }, (_, i) => 1024 * 2 ** i),
    }),
  ];
}

/** Meters registered by the worker. */
export function workerMetricProviders(): Provider[] {
  return [
    makeCounterProvider({
      name: METRICS.jobsFinished,
      help: 'Thumbnail jobs that reached a final status, counted once when they do.',
      labelNames: ['outcome', 'code'],
    }),
    makeCounterProvider({
      name: METRICS.originalDeleteFailures,
      help: 'Originals of finished jobs that could not be deleted and stay in storage (see the worker log for their keys).',
    }),
    makeCounterProvider({
      name: METRICS.jobsExpired,
      help: 'Finished jobs removed with their files once JOB_RETENTION_DAYS had passed.',
    }),
    makeHistogramProvider({
      name: METRICS.jobWait,
      help: 'Time from submission to the start of processing.',
      buckets: SECONDS_BUCKETS,
    }),
    makeHistogramProvider({
      name: METRICS.jobProcessing,
      help: 'Time spent processing one job attempt (read, thumbnail, write).',
      buckets: SECONDS_BUCKETS,
    }),
    makeGaugeProvider({
      name: METRICS.jobsInProgress,
      help: 'Images this worker is making right now (at most WORKER_CONCURRENCY).',
    }),
    makeCounterProvider({
      name: METRICS.fastPathFallbacks,
      help: 'Small PNGs the fast path took and failed on, handed to sharp instead (SMALL_PNG_FAST_PATH).',
    }),
    makeCounterProvider({
      name: METRICS.jobsStalled,
      help: 'Jobs found abandoned by a worker that stopped holding them without finishing (killed, out of memory, crashed, or blocked past its lock), counted by the worker that found them.',
    }),
    makeCounterProvider({
      name: METRICS.webhookAttempts,
      help: 'Webhook delivery attempts, by receiver (job: callback_url, operator: WEBHOOK_URL) and result (delivered, rejected, timeout, unreachable, refused).',
      labelNames: ['receiver', 'result'],
    }),
    makeCounterProvider({
      name: METRICS.webhookDeliveries,
      help: 'Webhooks that reached a final outcome, by receiver and outcome (delivered; failed after WEBHOOK_ATTEMPTS; refused by the address policy).',
      labelNames: ['receiver', 'outcome'],
    }),
    makeCounterProvider({
      name: METRICS.keptOriginalsDeleted,
      help: 'Originals of transiently failed jobs deleted once RETRY_WINDOW_HOURS had passed.',
    }),
    makeGaugeProvider({
      name: METRICS.workerConcurrency,
      help: 'Images this worker may make at once (WORKER_CONCURRENCY).',
    }),
  ];
}
