import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toErrorResponse } from './error-response';

/** Every error leaves the API as `{"error":{"code","message"}}`, never with a stack trace. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiError');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    if (connectionGone(request)) {
      // The client closed the connection (or was cut off for a timeout) and its upload failed
      // with it: nobody reads an answer, and it is no fault of ours. The access log line
      // ("request aborted") already records it.
      this.logger.debug({ requestId: request.id, reason: (error as Error)?.message }, 'Request ended without its client');
      return;
    }
    const { status, body, headers, unexpected, outage } = toErrorResponse(error, String(request.id));
    if (unexpected) this.logger.error({ err: error, requestId: request.id }, 'Unhandled error');
    if (outage) this.logger.warn({ requestId: request.id, code: body.error.code, reason: outage }, 'Dependency unavailable');
    if (reply.sent) return;
    void reply.status(status).headers(headers).send(body);
  }
}

function connectionGone(request: FastifyRequest): boolean {
  const socket = request.raw.socket;
  return !socket || socket.destroyed;
}
