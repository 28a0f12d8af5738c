import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors/api-error';
import { toErrorResponse } from '../errors/error-response';

/**
 * A known path asked with a method it does not take gets 405 with `Allow` (RFC 9110 15.5.6)
 * instead of Fastify's 404, which would tell the client the resource does not exist.
 *
 * `watch` must run before the app's routes are registered (Nest registers them in `init()`),
 * and the returned `answer` after they are, before the server listens.
 */
export function methodNotAllowed(fastify: FastifyInstance): { answer(): void } {
  const methodsByPath = new Map<string, Set<string>>();
  fastify.addHook('onRoute', (route) => {
    const methods = methodsByPath.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    if (methods.has('GET')) methods.add('HEAD');
    methodsByPath.set(route.url, methods);
  });
  return {
    answer() {
      // Routes added here would reach the hook above and count as allowed: take the list first.
      const paths = [...methodsByPath.entries()];
      for (const [url, allowed] of paths) {
        const others = fastify.supportedMethods.filter((method) => !allowed.has(method));
        if (others.length === 0) continue;
        const allow = [...allowed].sort().join(', ');
        fastify.route({
          method: others,
          url,
          // Answered before any body handling: Fastify refuses a QUERY without a Content-Type
          // (400) before it would reach a handler.
          onRequest: async (request, reply) => {
            const error = new ApiError(405, 'method_not_allowed', `${request.method} is not allowed here; this resource takes ${allow}.`, { allow });
            const { status, body, headers } = toErrorResponse(error, String(request.id));
            return reply.status(status).headers(headers).send(body);
          },
          handler: async () => undefined,
        });
      }
    },
  };
}
