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
    const { status, body, headers, unexpected, outage } = toErrorResponse(error, String(request.id));
    if (unexpected) this.logger.error({ err: error, requestId: request.id }, 'Unhandled error');
    if (outage) this.logger.warn({ requestId: request.id, code: body.error.code, reason: outage }, 'Dependency unavailable');
    if (reply.sent) return;
    void reply.status(status).headers(headers).send(body);
  }
}
