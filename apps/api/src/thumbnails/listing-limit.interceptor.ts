import { type CallHandler, type ExecutionContext, Inject, Injectable, type NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { finalize, type Observable } from 'rxjs';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import { ownerOf } from '../auth/request-owner';
import { errors } from '../errors/api-error';

/**
 * Bounds what one API key can make the API and its job store spend on listings: at most
 * LIST_CONCURRENCY_PER_KEY at once per key (per client address with keys off); one more is
 * refused at once with 429 and Retry-After. A page costs up to 500 records read and presigned,
 * so this also caps the pages per second a key can force (bench/README.md has the figures).
 */
@Injectable()
export class ListingLimit implements NestInterceptor {
  private readonly running = new Map<string, number>();
  private readonly limit: number;

  constructor(@Inject(APP_CONFIG) config: Env) {
    this.limit = config.LIST_CONCURRENCY_PER_KEY;
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const caller = ownerOf(request) ?? `address:${request.ip}`;
    const running = this.running.get(caller) ?? 0;
    if (running >= this.limit) {
      throw errors.tooManyRequests(
        `At most ${this.limit} listings per API key run at once; retry once one of yours has answered.`,
      );
    }
    this.running.set(caller, running + 1);
    return next.handle().pipe(finalize(() => this.release(caller)));
  }

  private release(caller: string): void {
    const running = (this.running.get(caller) ?? 1) - 1;
    if (running > 0) this.running.set(caller, running);
    else this.running.delete(caller);
  }
}
