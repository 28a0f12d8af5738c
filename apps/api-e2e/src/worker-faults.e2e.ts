import sharp from 'sharp';
import { png50 } from '@thumbnail/testing';
import { call, submit, waitFor } from './support/client';
import { TestService } from './support/service';

/**
 * A PNG that takes the worker a noticeable while (about a second here): 6000x6000 pixels,
 * interlaced, so libvips must decode every pixel instead of shrinking on load.
 */
async function slowPng(): Promise<Buffer> {
  const size = 6000;
  return sharp({ create: { width: size, height: size, channels: 3, background: { r: 40, g: 90, b: 160 } } })
    .composite([{ input: Buffer.from(`<svg width="${size}" height="${size}"><circle cx="3000" cy="3000" r="2500" fill="orange"/></svg>`) }])
    .png({ progressive: true, compressionLevel: 1 })
    .toBuffer();
}

function untilStatus(api: string, id: string, status: string): Promise<void> {
  return vi.waitFor(async () => expect((await call(`${api}/thumbnail/${id}`)).json?.data?.status).toBe(status), {
    timeout: 20_000,
    interval: 20,
  });
}

describe('jobs survive worker and API faults', () => {
  let service: TestService;
  let api: string;
  let slow: Buffer;

  beforeAll(async () => {
    slow = await slowPng();
    service = await TestService.start({
      withoutWorker: true,
      env: {
        MAX_UPLOAD_BYTES: String(64 * 1024 * 1024),
        WORKER_CONCURRENCY: '1',
        // Short locks so a killed worker's job is found stalled within seconds, not 30 s.
        WORKER_LOCK_DURATION_MS: '2000',
        WORKER_STALLED_INTERVAL_MS: '1000',
      },
    });
    api = service.api.url;
  });
  afterAll(async () => service?.stop());

  it('answers 409 with the status for a thumbnail that is not ready, then serves it once a worker runs', async () => {
    const answer = await submit(api, await png50());
    const id = answer.json.data.job_id;
    const early = await call(`${api}/thumbnail/${id}/image`);
    expect(early.status).toBe(409);
    expect(early.json.error).toMatchObject({ code: 'job_not_complete', status: 'waiting' });

    await service.startWorker();
    expect((await waitFor(api, id)).status).toBe('complete');
    expect((await fetch(`${api}/thumbnail/${id}/image`)).status).toBe(200);
  });

  it('completes a job whose worker was killed with SIGKILL mid-job, with one thumbnail', async () => {
    const victim = service.workers[0];
    const id = (await submit(api, slow)).json.data.job_id;
    await untilStatus(api, id, 'processing');
    victim.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');

    await service.startWorker();
    const job = await waitFor(api, id, 45);
    expect(job.status).toBe('complete');
    expect(job.attempts).toBeGreaterThanOrEqual(2);
    expect(service.storedFiles('thumbnails').filter((f) => f.startsWith(id))).toEqual([`${id}.png`]);
  });

  it('lets a worker finish its job on SIGTERM and exit 0', async () => {
    const worker = service.workers[service.workers.length - 1];
    const id = (await submit(api, slow)).json.data.job_id;
    await untilStatus(api, id, 'processing');
    worker.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    const job = (await call(`${api}/thumbnail/${id}`)).json.data;
    expect(job.status).toBe('complete');
    expect(job.attempts).toBe(1);
    await service.startWorker();
  });

  it('still lists every job after the API restarts', async () => {
    const before = (await call(`${api}/thumbnail?limit=500`)).json.data.map((j: { _id: string }) => j._id);
    expect(before.length).toBeGreaterThanOrEqual(3);
    await service.restartApi();
    api = service.api.url;
    const after = (await call(`${api}/thumbnail?limit=500`)).json.data.map((j: { _id: string }) => j._id);
    expect(after).toEqual(before);
  });

  it('answers uploads with 503 and Retry-After at once while Redis is down', async () => {
    const before = await service.storedObjects('originals');
    await service.redis.stop();
    const started = Date.now();
    const answer = await submit(api, await png50());
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBeTruthy();
    expect(Date.now() - started).toBeLessThan(3_000);
    const ready = await call(`${api}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.json.error.message).toMatch(/redis down/);
    expect(await service.originalsAddedSince(before)).toEqual([]);
  });
});
