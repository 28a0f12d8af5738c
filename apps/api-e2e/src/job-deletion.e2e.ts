import { createHash } from 'node:crypto';
import type { Storage } from '@thumbnail/storage';
import { png50, pngWithIccProfile400, truncated } from '@thumbnail/testing';
import { call, form, submit, submitAndWait } from './support/client';
import { TestService } from './support/service';
import { describeEachStorage } from './support/storage-drivers';

const remove = (url: string, headers: Record<string, string> = {}) => call(url, { method: 'DELETE', headers });

// KEEP_ORIGINALS=true, so a finished job still has an original for DELETE to remove.
describeEachStorage('DELETE /thumbnail/:id (STORAGE_DRIVER=%s, KEEP_ORIGINALS=true)', (driver) => {
  let service: TestService;
  let storage: Storage;
  let api: string;

  beforeAll(async () => {
    service = await TestService.start({ storage: driver, env: { KEEP_ORIGINALS: 'true' } });
    storage = await service.openStorage();
    api = service.api.url;
  });
  afterAll(async () => {
    await storage?.close();
    await service?.stop();
  });

  it('removes a complete job: its record, thumbnail and original, and nothing of other jobs', async () => {
    const [job, other] = [await submitAndWait(api, await png50()), await submitAndWait(api, await png50())];
    expect([job.status, other.status]).toEqual(['complete', 'complete']);
    expect(await storage.head(`thumbnails/${job._id}.png`)).not.toBeNull();
    expect(await storage.head(`originals/${job._id}`)).not.toBeNull();

    const deleted = await remove(`${api}/thumbnail/${job._id}`);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');

    expect((await call(`${api}/thumbnail/${job._id}`)).status).toBe(404);
    expect((await call(`${api}/thumbnail/${job._id}/image`)).status).toBe(404);
    expect((await call(`${api}/thumbnail?limit=500`)).json.data.map((j: { _id: string }) => j._id)).not.toContain(job._id);
    expect(await storage.head(`thumbnails/${job._id}.png`)).toBeNull();
    expect(await storage.head(`originals/${job._id}`)).toBeNull();
    // A second DELETE finds nothing.
    expect((await remove(`${api}/thumbnail/${job._id}`)).json).toMatchObject({ error: { code: 'not_found' } });

    expect((await call(`${api}/thumbnail/${other._id}/image`)).status).toBe(200);
    expect(await storage.head(`originals/${other._id}`)).not.toBeNull();
  });

  it('removes a failed job and its original', async () => {
    const job = await submitAndWait(api, truncated(await pngWithIccProfile400(), 0.5));
    expect(job.status).toBe('failed');
    expect((await remove(`${api}/thumbnail/${job._id}`)).status).toBe(204);
    expect((await call(`${api}/thumbnail/${job._id}`)).status).toBe(404);
    expect(await storage.head(`originals/${job._id}`)).toBeNull();
  });

  it('answers 404 not_found for an unknown or malformed id', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-job', '..%2F..%2Fetc']) {
      const answer = await remove(`${api}/thumbnail/${id}`);
      expect(answer.status).toBe(404);
      expect(answer.json).toMatchObject({ error: { code: 'not_found' } });
    }
  });
});

describe('DELETE of a job that has not finished', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await TestService.start({ withoutWorker: true });
  });
  afterAll(async () => service?.stop());

  it('answers 409 job_not_finished with the status, and keeps the job, which still completes', async () => {
    const api = service.api.url;
    const id = (await submit(api, await png50())).json.data.job_id;
    const refused = await remove(`${api}/thumbnail/${id}`);
    expect(refused.status).toBe(409);
    expect(refused.json).toMatchObject({ error: { code: 'job_not_finished', status: 'waiting' } });
    expect(refused.json.error.message).toMatch(/waiting/);
    expect(service.storedFiles('originals')).toEqual([id]);

    await service.startWorker();
    const done = (await call(`${api}/thumbnail/${id}?wait=20`)).json.data;
    expect(done.status).toBe('complete');
    expect((await remove(`${api}/thumbnail/${id}`)).status).toBe(204);
    expect(service.storedFiles('thumbnails')).toEqual([]);
  });
});

describe('DELETE with API keys', () => {
  const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  let service: TestService;

  beforeAll(async () => {
    service = await TestService.start({ env: { API_KEYS: `${digest('alice-key')},${digest('bob-key')}` } });
  });
  afterAll(async () => service?.stop());

  it("needs a key, and lets a key delete only its own jobs (another's is not found)", async () => {
    const api = service.api.url;
    const upload = await call(`${api}/thumbnail?wait=20`, { method: 'POST', body: form(await png50()), headers: as('alice-key') });
    const id = upload.json.data.job_id;
    expect(upload.json.data.status).toBe('complete');

    const anonymous = await remove(`${api}/thumbnail/${id}`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect((await remove(`${api}/thumbnail/${id}`, as('bob-key'))).status).toBe(404);
    expect((await call(`${api}/thumbnail/${id}`, { headers: as('alice-key') })).status).toBe(200);

    expect((await remove(`${api}/thumbnail/${id}`, as('alice-key'))).status).toBe(204);
    expect((await call(`${api}/thumbnail/${id}`, { headers: as('alice-key') })).status).toBe(404);
  });
});
