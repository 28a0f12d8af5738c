import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ApiError, errors } from '../errors/api-error';
import { toErrorResponse } from '../errors/error-response';

export interface BodyDeadlineOptions {
  /** REQUEST_TIMEOUT_MS: the longest a request may take to arrive, its body included. */
  requestMs: number;
  /** BODY_IDLE_TIMEOUT_MS: the longest a body may pause while the API is ready to read more. */
  idleMs: number;
}

interface Watch {
  request: FastifyRequest;
  reply: FastifyReply;
  socket: Socket;
  startedAt: number;
  /** Last time bytes arrived, or the API itself was not reading (the pause is then ours). */
  progressAt: number;
  bytesRead: number;
  /** Set once cut off: the connection is dropped if the answer has not left by then. */
  dropAt?: number;
  timeout?: ApiError;
}

/** How long a 408 may take to leave before the connection is dropped without it. */
const ANSWER_GRACE_MS = 1_000;

/**
 * Makes every request body end: one that stops arriving for `idleMs` while the API is reading, or
 * that is still arriving `requestMs` after the request began, gets `408 request_timeout` (when no
 * answer went out yet) and its connection closed. Closing it fails whatever reads the body, so
 * the upload's partial file and disk claim are dropped at once. Node's own `requestTimeout`
 * checks only every 30 s and Fastify switches it off; this checks every tenth of the idle limit.
 *
 * Progress is the socket's byte count: Node's parser reads the socket itself, so no 'data' event
 * is seen. While the socket is paused the API is not reading (storage is slow, or the handler has
 * not started on the body): that time is not the client's and does not count as idle.
 */
export class BodyDeadlines {
  private readonly logger = new Logger(BodyDeadlines.name);
  private readonly watches = new Set<Watch>();
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: BodyDeadlineOptions) {
    this.tickMs = Math.min(1_000, Math.max(25, Math.floor(Math.min(options.idleMs, options.requestMs) / 10)));
  }

  /** Watches the body of every request that has one, from its first hook on. */
  register(fastify: FastifyInstance): void {
    fastify.addHook('onRequest', async (request, reply) => this.watch(request, reply));
  }

  /** Bodies being watched now (for tests and shutdown). */
  get size(): number {
    return this.watches.size;
  }

  private watch(request: FastifyRequest, reply: FastifyReply): void {
    const raw = request.raw;
    if (raw.complete || !hasBody(raw.headers)) return;
    const now = Date.now();
    const watch: Watch = { request, reply, socket: raw.socket, startedAt: now, progressAt: now, bytesRead: raw.socket.bytesRead };
    this.watches.add(watch);
    raw.once('close', () => this.watches.delete(watch));
    this.timer ??= setInterval(() => this.check(), this.tickMs).unref();
  }

  private check(): void {
    const now = Date.now();
    for (const watch of this.watches) {
      const raw = watch.request.raw;
      if (raw.complete || raw.destroyed) {
        this.watches.delete(watch);
        continue;
      }
      if (watch.dropAt !== undefined) {
        if (now >= watch.dropAt) this.drop(watch);
        continue;
      }
      const bytesRead = watch.socket.bytesRead;
      if (bytesRead !== watch.bytesRead || watch.socket.isPaused()) {
        watch.bytesRead = bytesRead;
        watch.progressAt = now;
      }
      if (now - watch.startedAt >= this.options.requestMs) this.cutOff(watch, errors.requestTimeout('request', this.options.requestMs));
      else if (now - watch.progressAt >= this.options.idleMs) this.cutOff(watch, errors.requestTimeout('idle', this.options.idleMs));
    }
    if (this.watches.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private cutOff(watch: Watch, timeout: ApiError): void {
    const { request, reply } = watch;
    this.logger.log(
      { requestId: request.id, code: timeout.code, receivedBytes: watch.bytesRead, afterMs: Date.now() - watch.startedAt },
      'Request body timed out; closing its connection',
    );
    // Answered already (an early refusal): only the rest of the body is left to stop.
    watch.timeout = timeout;
    if (reply.sent || reply.raw.headersSent) return this.drop(watch);
    watch.dropAt = Date.now() + ANSWER_GRACE_MS;
    reply.raw.once('finish', () => this.drop(watch));
    const answer = toErrorResponse(timeout, String(request.id));
    void reply.code(answer.status).headers(answer.headers).send(answer.body);
  }

  /**
   * Destroying the request closes its socket and fails every reader of the body with the timeout:
   * the multipart parser, then storage, which removes its partial file.
   */
  private drop(watch: Watch): void {
    this.watches.delete(watch);
    watch.request.raw.destroy(watch.timeout);
  }
}

/** A request with a body to read: a Content-Length above 0, or a chunked one. */
function hasBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = Number(headers['content-length']);
  return Number.isFinite(length) && length > 0;
}
