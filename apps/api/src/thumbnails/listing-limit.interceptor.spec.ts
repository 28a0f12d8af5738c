import type { CallHandler, ExecutionContext } from '@nestjs/common';
import { firstValueFrom, of, Subject } from 'rxjs';
import { loadConfig } from '@thumbnail/config';
import { ApiError } from '../errors/api-error';
import { ListingLimit } from './listing-limit.interceptor';

/** A listing request of one caller, as the interceptor sees it after the API key guard. */
function listing(apiKeyId: string, limit?: string): ExecutionContext {
  const request = { apiKeyId, ip: '192.0.2.1', query: limit === undefined ? {} : { limit } };
  return { switchToHttp: () => ({ getRequest: () => request }) } as unknown as ExecutionContext;
}

const answered: CallHandler = { handle: () => of('page') };

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('ListingLimit', () => {
  afterEach(() => vi.useRealTimers());

  it('runs LIST_CONCURRENCY_PER_KEY listings of a key at once, refuses one more with 429, and lets the next in once one ends', async () => {
    const limit = new ListingLimit(loadConfig({ LIST_CONCURRENCY_PER_KEY: '2' }));
    const first = new Subject<string>();
    const second = new Subject<string>();
    const running = [limit.intercept(listing('alice'), { handle: () => first }), limit.intercept(listing('alice'), { handle: () => second })];
    const subscriptions = running.map((page) => page.subscribe());
    const refused = refusal(() => limit.intercept(listing('alice'), answered));
    expect(refused).toMatchObject({ status: 429, code: 'too_many_requests', headers: { 'retry-after': '1' } });
    // Another key is not held up.
    expect(await firstValueFrom(limit.intercept(listing('bob'), answered))).toBe('page');
    first.complete();
    expect(await firstValueFrom(limit.intercept(listing('alice'), answered))).toBe('page');
    second.complete();
    for (const subscription of subscriptions) subscription.unsubscribe();
  });

  it('lets a key list LIST_JOBS_PER_SECOND_PER_KEY jobs a second, charged at the page size asked for, saying when to retry', async () => {
    vi.useFakeTimers({ now: 0 });
    const limit = new ListingLimit(loadConfig({ LIST_JOBS_PER_SECOND_PER_KEY: '1000' }));
    // One second's worth at once: two full pages.
    for (let i = 0; i < 2; i++) expect(await firstValueFrom(limit.intercept(listing('alice', '500'), answered))).toBe('page');
    const refused = refusal(() => limit.intercept(listing('alice', '500'), answered));
    expect(refused).toMatchObject({ status: 429, code: 'too_many_requests', headers: { 'retry-after': '1' } });
    // Small pages cost little; the default page (no limit) costs 50.
    expect(refusal(() => limit.intercept(listing('alice'), answered)).code).toBe('too_many_requests');
    vi.advanceTimersByTime(50);
    expect(await firstValueFrom(limit.intercept(listing('alice'), answered))).toBe('page');
    vi.advanceTimersByTime(500);
    expect(await firstValueFrom(limit.intercept(listing('alice', '500'), answered))).toBe('page');
    // A full refill takes a second, however long the key waits.
    vi.advanceTimersByTime(60_000);
    for (let i = 0; i < 2; i++) expect(await firstValueFrom(limit.intercept(listing('alice', '500'), answered))).toBe('page');
    expect(refusal(() => limit.intercept(listing('alice', '500'), answered)).code).toBe('too_many_requests');
  });

  it('never refuses the largest page outright, however low the rate', async () => {
    vi.useFakeTimers({ now: 0 });
    const limit = new ListingLimit(loadConfig({ LIST_JOBS_PER_SECOND_PER_KEY: '100' }));
    expect(await firstValueFrom(limit.intercept(listing('alice', '500'), answered))).toBe('page');
    expect(refusal(() => limit.intercept(listing('alice', '500'), answered)).headers['retry-after']).toBe('5');
  });
});
