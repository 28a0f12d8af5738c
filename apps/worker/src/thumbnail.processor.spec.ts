import { randomUUID } from 'node:crypto';
import { type Job, UnrecoverableError } from 'bullmq';
import { Counter, Registry } from 'prom-client';
import type { Env } from '@thumbnail/config';
import type { ThumbnailJobPayload } from '@thumbnail/jobs';
import type { Attempt, Outcome, ThumbnailMakerService } from './thumbnail-maker.service';
import { ThumbnailProcessor } from './thumbnail.processor';

/** How BullMQ is told each outcome: return = done, UnrecoverableError = failed for good, Error = retry. */
describe('ThumbnailProcessor', () => {
  const jobId = randomUUID();
  let outcome: Outcome;
  let calls: { payload: ThumbnailJobPayload; attempt: Attempt }[];
  let abandoned: ThumbnailJobPayload[];
  const maker = {
    make: async (payload: ThumbnailJobPayload, attempt: Attempt) => {
      calls.push({ payload, attempt });
      return outcome;
    },
    failAbandoned: async (payload: ThumbnailJobPayload) => {
      abandoned.push(payload);
      return { kind: 'failed', error: { code: 'worker_crashed', message: 'm' } };
    },
  } as unknown as ThumbnailMakerService;
  const stalls = new Counter({ name: 'stalls', help: 'h', registers: [new Registry()] });
  const processor = new ThumbnailProcessor({ JOB_ATTEMPTS: 3 } as Env, maker, stalls);
  const delivery = (data: unknown, attemptsMade = 0, attempts = 3) =>
    ({ data, attemptsMade, opts: { attempts } }) as unknown as Job<ThumbnailJobPayload>;

  beforeEach(() => {
    calls = [];
    abandoned = [];
  });

  it('returns for a completed job and tells the maker which attempt this is', async () => {
    outcome = { kind: 'complete', job: {} as never };
    await expect(processor.process(delivery({ jobId, requestId: 'r1' }, 1, 3))).resolves.toBe('complete');
    expect(calls).toEqual([{ payload: { jobId, requestId: 'r1' }, attempt: { number: 2, allowed: 3 } }]);
  });

  it('returns for a skipped delivery (nothing to retry)', async () => {
    outcome = { kind: 'skipped', reason: 'already_finished' };
    await expect(processor.process(delivery({ jobId, requestId: null }))).resolves.toBe('skipped');
  });

  it('fails for good (no retry) when the job failed', async () => {
    outcome = { kind: 'failed', error: { code: 'invalid_image', message: 'm' } };
    const error = await processor.process(delivery({ jobId })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect((error as Error).message).toBe('invalid_image');
  });

  it('throws a plain error, so BullMQ retries, when the maker asks for a retry', async () => {
    outcome = { kind: 'retry', error: { code: 'storage_unavailable', message: 'm' } };
    const error = await processor.process(delivery({ jobId })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(UnrecoverableError);
  });

  it.each([[undefined], [{}], [{ jobId: 'not-a-uuid' }], [{ jobId: 42 }]])('refuses a malformed payload %j without calling the maker', async (data) => {
    await expect(processor.process(delivery(data))).rejects.toBeInstanceOf(UnrecoverableError);
    expect(calls).toEqual([]);
  });

  it('passes a request id only when it is a string', async () => {
    outcome = { kind: 'complete', job: {} as never };
    await processor.process(delivery({ jobId, requestId: { evil: true } }));
    expect(calls[0].payload.requestId).toBeNull();
  });

  describe('jobs whose workers stopped while holding them (JOB_ATTEMPTS=3)', () => {
    const failedEntry = (stalledCounter: number, data: unknown = { jobId, requestId: 'r1' }) =>
      ({ data, stalledCounter }) as unknown as Job<ThumbnailJobPayload>;

    it('counts each job found abandoned', async () => {
      const before = (await stalls.get()).values[0]?.value ?? 0;
      processor.onStalled(jobId);
      processor.onStalled(randomUUID());
      expect((await stalls.get()).values[0].value).toBe(before + 2);
    });

    it('records worker_crashed for an entry failed after being abandoned a third time', async () => {
      await processor.onFailed(failedEntry(3));
      expect(abandoned).toEqual([{ jobId, requestId: 'r1' }]);
    });

    it('leaves entries that failed for any other reason to the maker, which recorded them', async () => {
      for (const stalledCounter of [0, 1, 2]) await processor.onFailed(failedEntry(stalledCounter));
      await processor.onFailed(undefined);
      await processor.onFailed(failedEntry(3, { jobId: 'not-a-uuid' }));
      expect(abandoned).toEqual([]);
    });
  });
});
