import type { FastifyInstance } from 'fastify';
import type { Counter, Histogram } from 'prom-client';

/**
 * Request duration and count per route template (`/thumbnail/:id`, never an id), measured from
 * Fastify's own timing so failed and rejected requests count too.
 */
export function recordHttpMetrics(
  fastify: FastifyInstance,
  meters: { duration: Histogram<string>; requests: Counter<string> },
): void {
  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (route === '/metrics') return;
    const labels = { method: request.method, route, status_code: String(reply.statusCode) };
    meters.duration.observe(labels, reply.elapsedTime / 1000);
    meters.requests.inc(labels);
  });
}
