import type { IncomingHttpHeaders } from 'node:http';

/**
 * The body length a request declares (its Content-Length), or undefined when it declares none
 * usable: missing (a chunked body), not a number, or negative.
 */
export function declaredBodyBytes(headers: IncomingHttpHeaders): number | undefined {
  const header = headers['content-length'];
  const bytes = header === undefined ? NaN : Number(header);
  return Number.isFinite(bytes) && bytes >= 0 ? bytes : undefined;
}
