import { call, submit } from './support/client';
import { acceptedId, metric } from './support/reliability-http';
import { TestService } from './support/service';
import { slowPng } from './support/slow-png';

const IMAGES_IN_PROGRESS = 'thumbnail_jobs_in_progress';

/**
 * A worker takes twice as many jobs as WORKER_CONCURRENCY, so that one job's waits (Redis, fsync)
 * overlap another's decoding, but makes no more than WORKER_CONCURRENCY images at once: that is
 * what its CPU and memory are sized by.
 */
describe('WORKER_CONCURRENCY', () => {
  let service: TestService;
  let api: string;

  beforeAll(async () => {
    service = await TestService.start({ withoutWorker: true, env: { WORKER_CONCURRENCY: '1' } });
    api = service.api.url;
  });
  afterAll(async () => service?.stop());

  it('holds two jobs per image slot and makes one image per slot at a time', async () => {
    const slow = await slowPng();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(acceptedId(await submit(api, slow)));
    const worker = await service.startWorker();

    let mostProcessing = 0;
    let mostImages = 0;
    // Sampled on every attempt until all four are finished: the most seen at once is the finding.
    let statuses: string[] = [];
    await vi.waitFor(
      async () => {
        const [now, images] = await Promise.all([
          Promise.all(ids.map(async (id) => (await call(`${api}/thumbnail/${id}`)).json.data.status as string)),
          metric(worker.url, IMAGES_IN_PROGRESS),
        ]);
        statuses = now;
        mostProcessing = Math.max(mostProcessing, statuses.filter((status) => status === 'processing').length);
        mostImages = Math.max(mostImages, images);
        expect(statuses.every((status) => status === 'complete' || status === 'failed')).toBe(true);
      },
      { timeout: 60_000, interval: 10 },
    );
    expect(statuses).toEqual(['complete', 'complete', 'complete', 'complete']);
    expect(mostProcessing).toBe(2);
    expect(mostImages).toBe(1);
  });
});
