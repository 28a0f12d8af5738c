import type { Storage } from '@thumbnail/storage';
import { png50, pngWithIccProfile400, truncated } from '@thumbnail/testing';
import type { Queue } from 'bullmq';
import { submit, submitAndWait, waitFor } from './support/client';
import { queueClient, settledEntry } from './support/reliability-redis';
import { TestService } from './support/service';
import { describeEachStorage } from './support/storage-drivers';

describeEachStorage('originals of finished jobs (STORAGE_DRIVER=%s)', (driver) => {
  let service: TestService;
  let storage: Storage;
  let queue: Queue;
  let api: string;

  beforeAll(async () => {
    service = await TestService.start({ storage: driver, withoutWorker: true });
    storage = await service.openStorage();
    queue = queueClient(service.redis.url);
    api = service.api.url;
  });
  afterAll(async () => {
    await queue?.close();
    await storage?.close();
    await service?.stop();
  });

  it('keeps the original while the job waits, and deletes it once the thumbnail is made', async () => {
    const id = (await submit(api, await pngWithIccProfile400())).json.data.job_id;
    expect((await storage.head(`originals/${id}`))?.bytes).toBeGreaterThan(0);

    await service.startWorker();
    const job = await waitFor(api, id);
    expect(job.status).toBe('complete');
    await settledEntry(queue, id, 'completed');
    expect(await storage.head(`originals/${id}`)).toBeNull();
    expect((await storage.head(`thumbnails/${id}.png`))?.bytes).toBeGreaterThan(0);
    expect((await fetch(`${api}/thumbnail/${id}/image`)).status).toBe(200);
    const metrics = await (await fetch(`${service.workers[0].url}/metrics`)).text();
    expect(metrics).toMatch(/^thumbnail_original_delete_failures_total 0$/m);
  });

  it('deletes the original of a job that failed for good, and records why it failed', async () => {
    const job = await submitAndWait(api, truncated(await pngWithIccProfile400(), 0.5));
    expect(job).toMatchObject({ status: 'failed', error: { code: 'invalid_image' } });
    await settledEntry(queue, job._id, 'failed');
    expect(await storage.head(`originals/${job._id}`)).toBeNull();
    expect(await storage.head(`thumbnails/${job._id}.png`)).toBeNull();
  });
});

describe('KEEP_ORIGINALS=true', () => {
  let service: TestService;
  let queue: Queue;

  beforeAll(async () => {
    service = await TestService.start({ env: { KEEP_ORIGINALS: 'true' } });
    queue = queueClient(service.redis.url);
  });
  afterAll(async () => {
    await queue?.close();
    await service?.stop();
  });

  it('keeps the originals of complete and failed jobs, byte for byte', async () => {
    const good = await png50();
    const bad = truncated(await pngWithIccProfile400(), 0.5);
    const complete = await submitAndWait(service.api.url, good);
    const failed = await submitAndWait(service.api.url, bad);
    expect([complete.status, failed.status]).toEqual(['complete', 'failed']);
    await settledEntry(queue, complete._id, 'completed');
    await settledEntry(queue, failed._id, 'failed');

    const storage = await service.openStorage();
    expect(await storage.getBuffer(`originals/${complete._id}`)).toEqual(good);
    expect(await storage.getBuffer(`originals/${failed._id}`)).toEqual(bad);
    await storage.close();
  });
});
