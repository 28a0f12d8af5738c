import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Logger } from '@nestjs/common';
import { clientErrorResponse } from '../errors/error-response';

/** A request line longer than this overflowed the header limit by its URL: 414, not 431. */
const LONGEST_REQUEST_LINE = 8 * 1024;

/** How long the answer may take to leave before the connection is dropped anyway. */
const CLOSE_GRACE_MS = 1_000;

/** What Node's HTTP parser reports: the parser's code and the bytes it was reading. */
type ParserError = Error & { code?: string; rawPacket?: unknown };

/**
 * Answers requests Node's HTTP parser refused before any route saw them (not HTTP, headers or
 * URL too large, headers too slow to arrive) in the API's error shape, without quoting the
 * request, then closes the connection: the parser cannot find where the next request starts.
 * Used as Fastify's `clientErrorHandler`.
 */
export function clientErrorHandler(): (error: ParserError, socket: Socket) => void {
  const logger = new Logger('HttpParser');
  return (error, socket) => {
    // Reset or already closed: there is nobody to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const status = statusFor(error);
    const { body } = clientErrorResponse(status);
    logger.log({ code: body.error.code, reason: error.code }, 'Refused a request the HTTP parser could not read');
    if (socket.writable && !answerStarted(socket)) {
      const json = JSON.stringify(body);
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
      );
    }
    // end() lets the answer leave first; a client that never reads it is dropped after the grace.
    const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };
}

function statusFor(error: ParserError): number {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  if (error.code === 'HPE_HEADER_OVERFLOW') return requestLineTooLong(error.rawPacket) ? 414 : 431;
  return 400;
}

/**
 * Node has one limit for the request line and the headers together. When the line the parser
 * was reading (the start of the bytes it had) is a request line over 8 KiB, the URL is the cause.
 */
function requestLineTooLong(packet: unknown): boolean {
  if (!Buffer.isBuffer(packet)) return false;
  const end = packet.indexOf('\r\n');
  const line = end === -1 ? packet : packet.subarray(0, end);
  return line.length > LONGEST_REQUEST_LINE && /^[A-Z]+ /.test(line.subarray(0, 16).toString('latin1'));
}

/** A response already under way on this connection cannot be followed by another one. */
function answerStarted(socket: Socket): boolean {
  // `_httpMessage` is the response Node's server is writing on the socket (what Node's own
  // default handler checks too).
  const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  return Boolean(response?.headersSent);
}
