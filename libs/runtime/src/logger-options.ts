import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { destination, type DestinationStream, type LoggerOptions } from 'pino';
import { APP_VERSION } from './app-version';

/**
 * One JSON line per event. Paths that could carry credentials are removed, never masked
 * half-way; image bytes and presigned URLs are never passed to the logger in the first place.
 */
export function pinoOptions(app: 'api' | 'worker', level: string): LoggerOptions {
  return {
    level,
    base: { app, version: APP_VERSION, pid: process.pid },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-api-key"]',
        'res.headers["set-cookie"]',
        'res.headers.location',
      ],
      remove: true,
    },
  };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * A caller's `X-Request-Id` is kept when it is short and plain (so a proxy's id carries
 * through); anything else gets a fresh id. Stored on the raw request so pino-http and
 * Fastify share one id.
 */
export function requestIdFor(req: IncomingMessage): string {
  const existing = (req as IncomingMessage & { id?: unknown }).id;
  if (typeof existing === 'string') return existing;
  const header = req.headers['x-request-id'];
  const id = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
  (req as IncomingMessage & { id?: string }).id = id;
  return id;
}

/**
 * Standard output, written asynchronously: a log line costs the event loop a buffer append
 * instead of a write system call. pino flushes what is buffered when the process exits.
 */
export function logDestination(): DestinationStream {
  return destination({ dest: 1, sync: false });
}
