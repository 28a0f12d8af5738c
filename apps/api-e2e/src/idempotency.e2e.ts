import { createHash, randomUUID } from 'node:crypto';
import { png50, pngWithIccProfile400 } from '@thumbnail/testing';
import { call, form, type Answer, type Json } from './support/client';
import { metric } from './support/reliability-http';
import { TestService } from './support/service';

const ALICE = 'alice-idempotency-key';
const BOB = 'bob-idempotency-key';
const digest = (key: string) => createHash('sha256').update(key).digest('hex');

describe('Idempotency-Key on POST /thumbnail', () => {
  let service: TestService;
  let api: string;

  beforeAll(async () => {
    service = await TestService.start({ env: { API_KEYS: `${digest(ALICE)},${digest(BOB)}` } });
    api = service.api.url;
  });
  afterAll(async () => service?.stop());

  function post(image: Buffer, headers: Record<string, string>, options: { fit?: string; query?: string } = {}): Promise<Answer<Json>> {
    return call(`${api}/thumbnail${options.query ?? ''}`, {
      method: 'POST',
      body: form(image, { fit: options.fit }),
      headers: { authorization: `Bearer ${ALICE}`, ...headers },
    });
  }

  async function jobIds(key = ALICE): Promise<string[]> {
    const answer = await call(`${api}/thumbnail?limit=500`, { headers: { authorization: `Bearer ${key}` } });
    return answer.json.data.map((job: Json) => job._id);
  }

  it('answers a replay with the first job, saying it is a replay, and makes no second job', async () => {
    const key = randomUUID();
    const image = await pngWithIccProfile400();
    const before = await jobIds();
    const first = await post(image, { 'idempotency-key': key });
    expect(first.status).toBe(202);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const id = first.json.data.job_id;

    // The draft's quoted form of the same key, and the finished job with ?wait=.
    const replay = await post(image, { 'idempotency-key': `"${key}"` }, { query: '?wait=10' });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('location')).toBe(`/thumbnail/${id}`);
    expect(replay.json.data).toMatchObject({ job_id: id, status: 'complete' });
    expect((await jobIds()).filter((job) => !before.includes(job))).toEqual([id]);
  });

  it('makes exactly one job for requests replayed concurrently', async () => {
    const key = randomUUID();
    const image = await pngWithIccProfile400();
    const before = await jobIds();
    const replays = Number(await metric(api, 'thumbnail_idempotent_replays_total{result="replayed"}'));
    const answers = await Promise.all(Array.from({ length: 6 }, () => post(image, { 'idempotency-key': key })));
    expect(answers.map((answer) => answer.status)).toEqual(Array(6).fill(202));
    const ids = new Set(answers.map((answer) => answer.json.data.job_id));
    expect(ids.size).toBe(1);
    expect(answers.filter((answer) => answer.headers.get('idempotent-replayed') === 'true')).toHaveLength(5);
    expect((await jobIds()).filter((job) => !before.includes(job))).toEqual([...ids]);
    expect(await metric(api, 'thumbnail_idempotent_replays_total{result="replayed"}')).toBe(replays + 5);
    // The copies of the upload were discarded: one original at most (the worker deletes it once done).
    const stored = (await service.storedObjects('originals')).filter((name) => !before.includes(name));
    expect(stored.filter((name) => !ids.has(name))).toEqual([]);
  });

  it('refuses the same key with a different file or fields (422), and stores nothing for it', async () => {
    const key = randomUUID();
    const first = await post(await png50(), { 'idempotency-key': key });
    expect(first.status).toBe(202);
    const before = await service.storedObjects('originals');
    const jobsBefore = await jobIds();
    for (const [image, fit] of [
      [await pngWithIccProfile400(), undefined],
      [await png50(), 'contain'],
    ] as const) {
      const answer = await post(image, { 'idempotency-key': key }, { fit });
      expect(answer.status).toBe(422);
      expect(answer.json.error).toMatchObject({ code: 'idempotency_key_reused', message: expect.stringMatching(/different request/) });
    }
    expect(await service.originalsAddedSince(before)).toEqual([]);
    expect(await jobIds()).toEqual(jobsBefore);
    // `fit` in the query is the same request as `fit` in the form.
    const same = await post(await png50(), { 'idempotency-key': key }, { query: '?fit=cover' });
    expect(same.json.data.job_id).toBe(first.json.data.job_id);
  });

  it('keeps keys apart per API key', async () => {
    const key = randomUUID();
    const image = await png50();
    const alice = await post(image, { 'idempotency-key': key });
    const bob = await post(image, { 'idempotency-key': key, authorization: `Bearer ${BOB}` });
    expect(bob.status).toBe(202);
    expect(bob.headers.get('idempotent-replayed')).toBeNull();
    expect(bob.json.data.job_id).not.toBe(alice.json.data.job_id);
    expect(await jobIds(BOB)).toContain(bob.json.data.job_id);
  });

  it('refuses a malformed key before reading the upload', async () => {
    for (const key of ['', ' ', 'é', 'a'.repeat(256), 'line\tbreak']) {
      const answer = await post(await png50(), { 'idempotency-key': key });
      expect(answer.status, JSON.stringify(key)).toBe(400);
      expect(answer.json.error).toMatchObject({ code: 'invalid_parameter', message: expect.stringMatching(/Idempotency-Key/) });
    }
  });

  it('says so when the job the key made has been deleted', async () => {
    const key = randomUUID();
    const image = await png50();
    const first = await post(image, { 'idempotency-key': key }, { query: '?wait=10' });
    expect(first.status).toBe(201);
    const removed = await call(`${api}/thumbnail/${first.json.data.job_id}`, { method: 'DELETE', headers: { authorization: `Bearer ${ALICE}` } });
    expect(removed.status).toBe(204);
    const replay = await post(image, { 'idempotency-key': key });
    expect(replay.status).toBe(404);
    expect(replay.json.error.message).toMatch(/Idempotency-Key created has been deleted/);
  });
});
