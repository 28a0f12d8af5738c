import { randomUUID } from 'node:crypto';
import type { JobStore } from './job-store';
import { DuplicateJobError, InvalidCursorError } from './job-store';
import { originalKey } from './storage-keys';
import type { NewThumbnailJob, ThumbnailVariant } from './thumbnail-job';

export interface JobStoreFixture {
  store: JobStore;
  /** Removes every record, between cases. */
  reset(): Promise<void>;
  teardown(): Promise<void>;
  /** Takes from a stored record the fields versions before variants did not write (variants, placeholder). */
  dropVariantFields(id: string): Promise<void>;
}

/** The `default` variant of a job not yet made. */
export const DEFAULT_VARIANT: ThumbnailVariant = {
  name: 'default',
  width: 100,
  height: 100,
  fit: 'cover',
  format: 'png',
  quality: null,
  output: null,
};

export function newJob(overrides: Partial<NewThumbnailJob> = {}): NewThumbnailJob {
  const id = overrides.id ?? randomUUID();
  return {
    id,
    originalFilename: 'cat.png',
    originalKey: originalKey(id),
    contentType: 'image/png',
    bytes: 1234,
    fit: 'cover',
    width: 100,
    height: 100,
    variants: [DEFAULT_VARIANT],
    owner: null,
    requestId: 'req-1',
    createdAt: new Date(),
    callbackUrl: null,
    ...overrides,
  };
}

export interface JobStoreContractOptions {
  /**
   * Why the server behind the adapter cannot change one record atomically, if it cannot. The two
   * cases that race updates of one record are then skipped with this reason printed; they hold
   * on every server the service supports.
   */
  withoutAtomicUpdates?: string;
}

/**
 * The one suite every JobStore adapter must pass (Redis and FerretDB always, MongoDB when
 * MONGO_URL is set).
 */
export function describeJobStoreContract(
  name: string,
  setup: () => Promise<JobStoreFixture>,
  options: JobStoreContractOptions = {},
): void {
  const notAtomic = options.withoutAtomicUpdates;
  if (notAtomic) console.warn(`SKIPPED on ${name}: the cases that race updates of one record (${notAtomic})`);
  describe(`JobStore contract: ${name}`, () => {
    let fixture: JobStoreFixture;
    let store: JobStore;

    beforeAll(async () => {
      fixture = await setup();
      store = fixture.store;
    });
    afterAll(async () => fixture?.teardown());
    beforeEach(async () => fixture.reset());

    it('creates a waiting job and reads it back with every field', async () => {
      const input = newJob({
        originalFilename: '日本語 ../../x.png',
        owner: 'k1',
        fit: 'contain',
        callbackUrl: 'https://hooks.example.com/in?token=a%20b',
      });
      const created = await store.create(input);
      expect(created.status).toBe('waiting');
      const read = await store.get(input.id);
      expect(read).toEqual({
        ...input,
        status: 'waiting',
        thumbnailKey: null,
        startedAt: null,
        completedAt: null,
        attempts: 0,
        error: null,
        placeholder: null,
        originalExpiresAt: null,
      });
    });

    it('keeps the variants a job was asked for, in order, and records what was made and the placeholder', async () => {
      const variants: ThumbnailVariant[] = [
        { name: 'w640', width: 640, height: 640, fit: 'inside', format: 'webp', quality: 80, output: null },
        { ...DEFAULT_VARIANT, fit: 'contain' },
        { name: 'hero', width: 1200, height: 630, fit: 'cover', format: 'jpeg', quality: 70, output: null },
        { name: 'a', width: 1, height: 4096, fit: 'fill', format: 'avif', quality: 1, output: null },
      ];
      const input = newJob({ variants, fit: 'contain' });
      await store.create(input);
      expect((await store.get(input.id))?.variants).toEqual(variants);
      expect((await store.list({ limit: 1 })).items[0].variants).toEqual(variants);

      await store.transition(input.id, { from: ['waiting'], to: 'processing', incrementAttempts: true });
      const made = variants.map((variant, i) => ({ ...variant, output: { width: 640 - i, height: 427 + i, bytes: 1000 * (i + 1) } }));
      const placeholder = { thumbhash: 'HBkSHYSIeHiPiHh8eJd4eTN0EEQG' };
      const done = await store.transition(input.id, {
        from: ['processing'],
        to: 'complete',
        completedAt: new Date(),
        thumbnailKey: `thumbnails/${input.id}.png`,
        variants: made,
        placeholder,
        error: null,
      });
      expect(done.job).toMatchObject({ variants: made, placeholder });
      expect(await store.get(input.id)).toMatchObject({ status: 'complete', variants: made, placeholder });
      expect((await store.expiredJobs(new Date(Date.now() + 60_000), 10))[0]).toMatchObject({ variants: made, placeholder });
    });

    it('reads a record written before variants as one default PNG, made if the job completed', async () => {
      const waiting = newJob({ fit: 'fill', width: 128, height: 128 });
      const complete = newJob({ width: 64, height: 64 });
      for (const job of [waiting, complete]) await store.create(job);
      await store.transition(complete.id, { from: ['waiting'], to: 'complete', thumbnailKey: `thumbnails/${complete.id}.png` });
      for (const job of [waiting, complete]) await fixture.dropVariantFields(job.id);

      expect(await store.get(waiting.id)).toMatchObject({
        placeholder: null,
        variants: [{ name: 'default', width: 128, height: 128, fit: 'fill', format: 'png', quality: null, output: null }],
      });
      expect((await store.get(complete.id))?.variants).toEqual([
        { name: 'default', width: 64, height: 64, fit: 'cover', format: 'png', quality: null, output: { width: 64, height: 64, bytes: null } },
      ]);
    });

    it('refuses a second job with the same id and keeps the first', async () => {
      const input = newJob();
      await store.create(input);
      await expect(store.create({ ...input, originalFilename: 'other.png' })).rejects.toBeInstanceOf(DuplicateJobError);
      expect((await store.get(input.id))?.originalFilename).toBe(input.originalFilename);
    });

    it('answers null for an unknown id', async () => {
      expect(await store.get(randomUUID())).toBeNull();
      const result = await store.transition(randomUUID(), { from: ['waiting'], to: 'processing' });
      expect(result).toEqual({ applied: false, job: null });
    });

    it('walks waiting -> processing -> complete with timestamps and attempts', async () => {
      const input = newJob();
      await store.create(input);
      const startedAt = new Date(input.createdAt.getTime() + 10);
      const started = await store.transition(input.id, {
        from: ['waiting'],
        to: 'processing',
        startedAt,
        incrementAttempts: true,
      });
      expect(started.applied).toBe(true);
      expect(started.job).toMatchObject({ status: 'processing', attempts: 1, startedAt });
      const completedAt = new Date(startedAt.getTime() + 5);
      const done = await store.transition(input.id, {
        from: ['processing'],
        to: 'complete',
        completedAt,
        thumbnailKey: `thumbnails/${input.id}.png`,
        error: null,
      });
      expect(done.applied).toBe(true);
      expect(await store.get(input.id)).toMatchObject({
        status: 'complete',
        completedAt,
        thumbnailKey: `thumbnails/${input.id}.png`,
        attempts: 1,
        error: null,
      });
    });

    it('records a failure with its code and message', async () => {
      const input = newJob();
      await store.create(input);
      const failed = await store.transition(input.id, {
        from: ['waiting', 'processing'],
        to: 'failed',
        completedAt: new Date(),
        error: { code: 'invalid_image', message: 'The file is not an image this service can read.' },
      });
      expect(failed.applied).toBe(true);
      expect((await store.get(input.id))?.error).toEqual({
        code: 'invalid_image',
        message: 'The file is not an image this service can read.',
      });
    });

    it('never moves a finished job back (replayed delivery)', async () => {
      const input = newJob();
      await store.create(input);
      await store.transition(input.id, { from: ['waiting'], to: 'processing', incrementAttempts: true });
      await store.transition(input.id, { from: ['processing'], to: 'complete', completedAt: new Date() });
      const replay = await store.transition(input.id, {
        from: ['waiting', 'processing'],
        to: 'processing',
        incrementAttempts: true,
      });
      expect(replay.applied).toBe(false);
      expect(replay.job).toMatchObject({ status: 'complete', attempts: 1 });
    });

    it("changes nothing for an attempt that a later delivery's start has superseded", async () => {
      const input = newJob();
      await store.create(input);
      const start = { from: ['waiting', 'processing'] as const, to: 'processing' as const, incrementAttempts: true };
      expect((await store.transition(input.id, start)).job).toMatchObject({ attempts: 1 });
      const takenOver = await store.transition(input.id, start);
      expect(takenOver.job).toMatchObject({ status: 'processing', attempts: 2 });

      // Attempt 1's late writes: completion, a retry, a failure. None applies; the record is as attempt 2 left it.
      const error = { code: 'storage_unavailable', message: 'Storage could not be reached.' };
      for (const late of [
        { from: ['processing'] as const, to: 'complete' as const, completedAt: new Date(), thumbnailKey: 'thumbnails/late.png' },
        { from: ['processing'] as const, to: 'waiting' as const, error },
        { from: ['processing'] as const, to: 'failed' as const, completedAt: new Date(), error },
      ]) {
        const result = await store.transition(input.id, { ...late, attempt: 1 });
        expect(result).toEqual({ applied: false, job: takenOver.job });
      }
      expect(await store.get(input.id)).toEqual(takenOver.job);
      expect((await store.list({ limit: 10, status: 'processing' })).items.map((job) => job.id)).toEqual([input.id]);

      // Attempt 2's own write applies.
      const done = await store.transition(input.id, { from: ['processing'], to: 'complete', completedAt: new Date(), attempt: 2 });
      expect(done).toMatchObject({ applied: true, job: { status: 'complete', attempts: 2 } });
    });

    it.skipIf(Boolean(notAtomic))('applies exactly one of many concurrent identical transitions', async () => {
      const input = newJob();
      await store.create(input);
      await store.transition(input.id, { from: ['waiting'], to: 'processing' });
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          store.transition(input.id, { from: ['processing'], to: 'complete', completedAt: new Date() }),
        ),
      );
      expect(results.filter((r) => r.applied)).toHaveLength(1);
    });

    it.skipIf(Boolean(notAtomic))('counts concurrent attempts without losing increments', async () => {
      const input = newJob();
      await store.create(input);
      await Promise.all(
        Array.from({ length: 10 }, () =>
          store.transition(input.id, { from: ['waiting', 'processing'], to: 'processing', incrementAttempts: true }),
        ),
      );
      expect((await store.get(input.id))?.attempts).toBe(10);
    });

    describe('kept originals and retries', () => {
      const HOUR_MS = 60 * 60 * 1000;
      const failure = { code: 'storage_unavailable', message: 'Storage could not be reached.' };

      /** A job that failed for a transient reason at `failedAt`, its original kept until `keptUntil`. */
      async function failedJob(failedAt: Date, keptUntil: Date | null) {
        const job = newJob({ createdAt: new Date(failedAt.getTime() - 1000) });
        await store.create(job);
        await store.transition(job.id, { from: ['waiting'], to: 'processing', startedAt: job.createdAt, incrementAttempts: true });
        await store.transition(job.id, { from: ['processing'], to: 'failed', completedAt: failedAt, error: failure, originalExpiresAt: keptUntil });
        return job.id;
      }

      it('finds the failed jobs whose kept original expired, and forgets them once cleared', async () => {
        const now = Date.now();
        const expired = await failedJob(new Date(now - 30 * HOUR_MS), new Date(now - 6 * HOUR_MS));
        const kept = await failedJob(new Date(now - 2 * HOUR_MS), new Date(now + 22 * HOUR_MS));
        await failedJob(new Date(now - 40 * HOUR_MS), null);
        expect((await store.get(expired))?.originalExpiresAt).toEqual(new Date(now - 6 * HOUR_MS));

        expect((await store.expiredOriginals(new Date(now), 10)).map((job) => job.id)).toEqual([expired]);
        expect((await store.expiredOriginals(new Date(now + 23 * HOUR_MS), 10)).map((job) => job.id).sort()).toEqual([expired, kept].sort());
        expect(await store.expiredOriginals(new Date(now + 23 * HOUR_MS), 1)).toHaveLength(1);

        const cleared = await store.transition(expired, { from: ['failed'], to: 'failed', originalExpiresAt: null });
        expect(cleared.job).toMatchObject({ status: 'failed', originalExpiresAt: null, error: failure });
        expect(await store.expiredOriginals(new Date(now), 10)).toEqual([]);
        await store.delete(kept);
        expect(await store.expiredOriginals(new Date(now + 23 * HOUR_MS), 10)).toEqual([]);
      });

      it('retries a failed job only while its original is kept, and clears what made it finished', async () => {
        const now = Date.now();
        const id = await failedJob(new Date(now - HOUR_MS), new Date(now + HOUR_MS));
        const late = await store.transition(id, { from: ['failed'], to: 'waiting', originalKeptAfter: new Date(now + 2 * HOUR_MS) });
        expect(late).toMatchObject({ applied: false, job: { status: 'failed' } });

        const retried = await store.transition(id, {
          from: ['failed'],
          to: 'waiting',
          originalKeptAfter: new Date(now),
          completedAt: null,
          originalExpiresAt: null,
        });
        expect(retried.applied).toBe(true);
        expect(retried.job).toMatchObject({ status: 'waiting', completedAt: null, originalExpiresAt: null, attempts: 1, error: failure });
        expect((await store.list({ limit: 10, status: 'waiting' })).items.map((job) => job.id)).toEqual([id]);
        expect(await store.expiredOriginals(new Date(now + 2 * HOUR_MS), 10)).toEqual([]);

        const withoutKeptOriginal = await failedJob(new Date(now - HOUR_MS), null);
        const refused = await store.transition(withoutKeptOriginal, { from: ['failed'], to: 'waiting', originalKeptAfter: new Date(now) });
        expect(refused.applied).toBe(false);
      });
    });

    it('lists newest first, ties broken by id, and paginates without gaps or repeats', async () => {
      const base = Date.now();
      const jobs = [];
      for (let i = 0; i < 23; i++) {
        // Groups of three share a createdAt to exercise the tie-break.
        jobs.push(newJob({ createdAt: new Date(base + Math.floor(i / 3) * 1000) }));
      }
      for (const job of jobs) await store.create(job);
      const expected = [...jobs]
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
        .map((j) => j.id);

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list({ limit: 5, cursor });
        seen.push(...page.items.map((j) => j.id));
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor);
      expect(seen).toEqual(expected);
      expect(pages).toBe(5);
    });

    it('filters by status and keeps the filter current after transitions', async () => {
      const a = newJob({ createdAt: new Date(1_000) });
      const b = newJob({ createdAt: new Date(2_000) });
      const c = newJob({ createdAt: new Date(3_000) });
      for (const j of [a, b, c]) await store.create(j);
      await store.transition(b.id, { from: ['waiting'], to: 'processing' });
      await store.transition(b.id, { from: ['processing'], to: 'complete' });
      await store.transition(c.id, { from: ['waiting'], to: 'failed' });
      const ids = async (status: 'waiting' | 'complete' | 'failed' | 'processing') =>
        (await store.list({ limit: 10, status })).items.map((j) => j.id);
      expect(await ids('waiting')).toEqual([a.id]);
      expect(await ids('complete')).toEqual([b.id]);
      expect(await ids('failed')).toEqual([c.id]);
      expect(await ids('processing')).toEqual([]);
      expect((await store.list({ limit: 10 })).items.map((j) => j.id)).toEqual([c.id, b.id, a.id]);
    });

    it("lists only an owner's jobs when asked", async () => {
      const mine = newJob({ owner: 'alice', createdAt: new Date(1_000) });
      const theirs = newJob({ owner: 'bob', createdAt: new Date(2_000) });
      await store.create(mine);
      await store.create(theirs);
      expect((await store.list({ limit: 10, owner: 'alice' })).items.map((j) => j.id)).toEqual([mine.id]);
      await store.transition(mine.id, { from: ['waiting'], to: 'failed' });
      expect((await store.list({ limit: 10, owner: 'alice', status: 'failed' })).items.map((j) => j.id)).toEqual([
        mine.id,
      ]);
      expect((await store.list({ limit: 10, owner: 'bob', status: 'failed' })).items).toEqual([]);
    });

    it('rejects a cursor it did not hand out', async () => {
      await expect(store.list({ limit: 5, cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(InvalidCursorError);
    });

    it('deletes a record and its index entries', async () => {
      const input = newJob();
      await store.create(input);
      await store.delete(input.id);
      expect(await store.get(input.id)).toBeNull();
      expect((await store.list({ limit: 10 })).items).toEqual([]);
      await store.delete(input.id); // idempotent
    });

    describe('expiredJobs', () => {
      const DAY_MS = 24 * 60 * 60 * 1000;
      const now = Date.now();
      const cutoff = new Date(now - 7 * DAY_MS);

      /** A job created `createdDaysAgo`, then taken to `to` `finishedDaysAgo` (if given). */
      async function jobAged(createdDaysAgo: number, to: 'waiting' | 'processing' | 'complete' | 'failed', finishedDaysAgo?: number) {
        const job = newJob({ createdAt: new Date(now - createdDaysAgo * DAY_MS) });
        await store.create(job);
        if (to === 'waiting') return job.id;
        await store.transition(job.id, { from: ['waiting'], to: 'processing', startedAt: job.createdAt });
        if (to === 'processing') return job.id;
        const completedAt = new Date(now - (finishedDaysAgo ?? createdDaysAgo) * DAY_MS);
        await store.transition(job.id, {
          from: ['processing'],
          to,
          completedAt,
          ...(to === 'complete' ? { thumbnailKey: `thumbnails/${job.id}.png` } : { error: { code: 'invalid_image', message: 'x' } }),
        });
        return job.id;
      }

      it('finds the jobs that finished before the time, complete or failed, and nothing else', async () => {
        const complete = await jobAged(10, 'complete');
        const failed = await jobAged(8, 'failed', 7.5);
        // Created before the time but finished after it; finished lately; never finished.
        const finishedLate = await jobAged(9, 'complete', 6);
        await jobAged(1, 'complete');
        await jobAged(30, 'waiting');
        await jobAged(30, 'processing');

        const found = await store.expiredJobs(cutoff, 10);
        expect(found.map((job) => job.id).sort()).toEqual([complete, failed].sort());
        expect(found.find((job) => job.id === complete)).toMatchObject({ status: 'complete', thumbnailKey: `thumbnails/${complete}.png` });
        expect(found.find((job) => job.id === failed)).toMatchObject({ status: 'failed', error: { code: 'invalid_image' } });
        expect(found.map((job) => job.id)).not.toContain(finishedLate);

        expect(await store.expiredJobs(cutoff, 1)).toHaveLength(1);
        await store.delete(complete);
        expect((await store.expiredJobs(cutoff, 10)).map((job) => job.id)).toEqual([failed]);
        expect(await store.expiredJobs(new Date(now - 60 * DAY_MS), 10)).toEqual([]);
      });

      // 636 writes, and FerretDB scans the whole collection for each transition: seconds, not ms.
      it('finds them behind hundreds of older jobs that finished after the time', { timeout: 120_000 }, async () => {
        for (let i = 0; i < 210; i++) await jobAged(20, 'complete', 1);
        const expired = [await jobAged(15, 'complete', 10), await jobAged(14, 'failed', 10)];
        const found = await store.expiredJobs(cutoff, 5);
        expect(found.map((job) => job.id).sort()).toEqual(expired.sort());
      });
    });

    it('answers a ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
