import { type CallHandler, type ExecutionContext, Inject, Injectable, type NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { finalize, type Observable } from 'rxjs';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import { ownerOf } from '../auth/request-owner';
import { errors } from '../errors/api-error';
import { MAX_PAGE_SIZE, requestedPageSize } from './thumbnail-query.service';

/** What one caller has running and may still list. */
interface Budget {
  running: number;
  /** Job records it may list now: refills at the configured rate, up to one second's worth. */
  records: number;
  at: number;
}

/** Callers remembered at most; idle ones with a full budget are forgotten first. */
const MAX_CALLERS = 10_000;

/**
 * Bounds what one API key (one client address with keys off) can make the API and its job
 * store spend on listings, whose cost grows with the page: at most LIST_CONCURRENCY_PER_KEY
 * listings at once, and LIST_JOBS_PER_SECOND_PER_KEY job records a second, charged at the page
 * size asked for before the listing runs. Past either: 429 too_many_requests with Retry-After,
 * at once and for nothing. bench/README.md has what a page costs.
 */
@Injectable()
export class ListingLimit implements NestInterceptor {
  private readonly budgets = new Map<string, Budget>();
  private readonly concurrency: number;
  private readonly perSecond: number;

  constructor(@Inject(APP_CONFIG) config: Env) {
    this.concurrency = config.LIST_CONCURRENCY_PER_KEY;
    this.perSecond = config.LIST_JOBS_PER_SECOND_PER_KEY;
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const caller = ownerOf(request) ?? `address:${request.ip}`;
    const budget = this.budgetOf(caller);
    if (budget.running >= this.concurrency) {
      throw errors.tooManyRequests(`At most ${this.concurrency} listings per API key run at once; retry once one of yours has answered.`);
    }
    const records = requestedPageSize((request.query as { limit?: unknown } | undefined)?.limit);
    if (budget.records < records) {
      const seconds = Math.ceil((records - budget.records) / this.perSecond);
      throw errors.tooManyRequests(`At most ${this.perSecond} jobs a second may be listed per API key; retry in ${seconds} s.`, seconds);
    }
    budget.records -= records;
    budget.running++;
    return next.handle().pipe(finalize(() => budget.running--));
  }

  private budgetOf(caller: string): Budget {
    const now = Date.now();
    // A page never costs more than a second's worth, so every allowed size can be listed.
    const capacity = Math.max(this.perSecond, MAX_PAGE_SIZE);
    let budget = this.budgets.get(caller);
    if (!budget) {
      if (this.budgets.size >= MAX_CALLERS) this.forgetIdle(now, capacity);
      budget = { running: 0, records: capacity, at: now };
      this.budgets.set(caller, budget);
    }
    budget.records = Math.min(capacity, budget.records + ((now - budget.at) / 1000) * this.perSecond);
    budget.at = now;
    return budget;
  }

  /** Drops callers with nothing running whose budget has refilled: they are as if new. */
  private forgetIdle(now: number, capacity: number): void {
    for (const [caller, budget] of this.budgets) {
      const refilled = budget.records + ((now - budget.at) / 1000) * this.perSecond >= capacity;
      if (budget.running === 0 && refilled) this.budgets.delete(caller);
    }
  }
}
