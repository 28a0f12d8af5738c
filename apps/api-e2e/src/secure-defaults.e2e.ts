import { createHash } from 'node:crypto';
import { png50, processCpuSeconds } from '@thumbnail/testing';
import { type Answer, call, form, submitAndWait } from './support/client';
import { MIB, pendingWrites, postAtOnce } from './support/reliability-http';
import { rawRequest, uploadBody, uploadHead } from './support/raw-requests';
import { TestService } from './support/service';

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');
const ALICE = 'alice-secret-key';
const BOB = 'bob-secret-key';
const as = (key: string) => ({ authorization: `Bearer ${key}` });

describe('forwarding headers', () => {
  let service: TestService;
  let job: { _id: string };
  const forwarded = { 'x-forwarded-host': 'attacker.example', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' };

  beforeAll(async () => {
    service = await TestService.start();
    job = await submitAndWait(service.api.url, await png50());
  });
  afterAll(async () => service?.stop());

  const linkOf = async (headers: Record<string, string>) =>
    (await call(`${service.api.url}/thumbnail/${job._id}`, { headers })).json.data.thumbnailLink as string;

  it('change the links the API returns only when TRUST_PROXY names the peer that sent them', async () => {
    const own = () => `${service.api.url}/thumbnail/${job._id}/image`;
    const forwardedLink = () => `https://attacker.example/thumbnail/${job._id}/image`;
    // Unset (the default): any client could send them.
    expect(await linkOf(forwarded)).toBe(own());
    for (const [trusted, link] of [
      ['127.0.0.1', forwardedLink],
      ['10.0.0.0/8,127.0.0.0/8', forwardedLink],
      ['1', forwardedLink],
      ['10.0.0.0/8', own], // the test's own address is not in it
      ['0', own],
    ] as const) {
      service.env['TRUST_PROXY'] = trusted;
      await service.restartApi();
      expect(await linkOf(forwarded), `TRUST_PROXY=${trusted}`).toBe(link());
    }
  });
});

describe('API keys in a URL', () => {
  let service: TestService;
  let api: string;

  beforeAll(async () => {
    service = await TestService.start({ withoutWorker: true, env: { API_KEYS: digest(ALICE) } });
    api = service.api.url;
  });
  afterAll(async () => service?.stop());

  it.each([
    ['GET', `/thumbnail?api_key=${ALICE}`],
    ['GET', `/thumbnail?limit=5&key=${ALICE}`],
    ['GET', `/thumbnail/6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77?token=${ALICE}`],
    ['GET', `/thumbnail/6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77/image?access_token=${ALICE}`],
    ['GET', `/health?apiKey=${ALICE}`],
    ['GET', `/metrics?X-Api-Key=${ALICE}`],
    ['POST', `/thumbnail?password=${ALICE}`],
  ])('refuses %s %s with 400 credentials_in_url, even with a valid header, and never logs the key', async (method, path) => {
    const headers = as(ALICE);
    const answer =
      method === 'POST' ? await postAtOnce(`${api}${path}`, form(await png50()), headers) : await call(`${api}${path}`, { headers });
    expect(answer.status).toBe(400);
    const error = (answer.json as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('credentials_in_url');
    expect(error.message).toMatch(/Authorization: Bearer/);
    expect(JSON.stringify(answer.json)).not.toContain(ALICE);
    expect(service.storedFiles('originals')).toEqual([]);
    await vi.waitFor(() => expect(service.api.output()).toContain('"statusCode":400'));
    expect(service.api.output()).not.toContain(ALICE);
  });

  it('logs no value of a query parameter that is not ours', async () => {
    const stray = 'stray-value-0b9e';
    expect((await call(`${api}/thumbnail?limit=3&mystery=${stray}&${stray}`, { headers: as(ALICE) })).status).toBe(200);
    await vi.waitFor(() => expect(service.api.output()).toContain('/thumbnail?limit=3&[redacted]&[redacted]'));
    expect(service.api.output()).not.toContain(stray);
  });
});

describe('clients that go away', () => {
  let service: TestService;
  let api: string;

  beforeAll(async () => {
    service = await TestService.start({ withoutWorker: true });
    api = service.api.url;
  });
  afterAll(async () => service?.stop());

  it('log no error: uploads reset mid-file, uploads closed before the answer, held ?wait= requests dropped', async () => {
    const file = Buffer.concat([(await png50()).subarray(0, 33), Buffer.alloc(2 * MIB, 0x5a)]);
    const body = uploadBody(file);
    const uploads = Array.from({ length: 10 }, () => rawRequest(api, [uploadHead(body.whole.length), body.opening, file.subarray(0, MIB)], 20_000));
    const accepted = await call(`${api}/thumbnail`, { method: 'POST', body: form(await png50()) });
    const waits = Array.from({ length: 10 }, () => new AbortController());
    const held = waits.map((controller) => fetch(`${api}/thumbnail/${accepted.json.data.job_id}?wait=30`, { signal: controller.signal }).catch(() => null));
    // Every upload is part-way into storage.
    await vi.waitFor(() => expect(pendingWrites(service.storageDir)).toHaveLength(10), { timeout: 10_000 });

    for (const upload of uploads) upload.socket.resetAndDestroy();
    for (const controller of waits) controller.abort();
    await Promise.all([...uploads.map((upload) => upload.outcome), ...held]);
    await vi.waitFor(() => expect(pendingWrites(service.storageDir)).toEqual([]));
    await vi.waitFor(() => expect(service.api.output().match(/"msg":"request aborted"/g)?.length ?? 0).toBeGreaterThanOrEqual(10));

    const levels = service.api
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { level: string }).level);
    expect(levels).not.toContain('error');
    expect(levels).not.toContain('fatal');
    expect((await call(`${api}/health`)).status).toBe(200);
  });
});

describe('listing, bounded per API key (LIST_CONCURRENCY_PER_KEY=2, LIST_JOBS_PER_SECOND_PER_KEY=5000)', () => {
  let service: TestService;
  let api: string;

  beforeAll(async () => {
    service = await TestService.start({ withoutWorker: true, env: { API_KEYS: `${digest(ALICE)},${digest(BOB)}`, LIST_CONCURRENCY_PER_KEY: '2' } });
    api = service.api.url;
  });
  afterAll(async () => service?.stop());

  it('runs two listings of a key at once and refuses the rest at once with 429 and Retry-After; another key is not held up', async () => {
    // Redis answers no one while stopped: every listing that gets in waits there, holding its slot.
    process.kill(service.redis.pid, 'SIGSTOP');
    let listings: Array<Promise<Answer>> = [];
    let bobs: Promise<Answer> | null = null;
    try {
      const answered: Answer[] = [];
      listings = Array.from({ length: 6 }, () => call(`${api}/thumbnail?limit=500`, { headers: as(ALICE) }));
      for (const listing of listings) void listing.then((answer) => answered.push(answer));
      bobs = call(`${api}/thumbnail?limit=500`, { headers: as(BOB) });
      // Four are answered while Redis is stopped; the two that got in wait for it.
      await vi.waitFor(() => expect(answered).toHaveLength(4), { timeout: 20_000 });
      for (const answer of answered) {
        expect(answer.status).toBe(429);
        expect((answer.json as { error: { code: string } }).error.code).toBe('too_many_requests');
        expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    } finally {
      process.kill(service.redis.pid, 'SIGCONT');
    }
    const statuses = (await Promise.all(listings)).map((answer) => answer.status).sort();
    expect(statuses).toEqual([200, 200, 429, 429, 429, 429]);
    expect((await bobs)?.status).toBe(200);
    // Once answered, the key lists again.
    expect((await call(`${api}/thumbnail?limit=500`, { headers: as(ALICE) })).status).toBe(200);
  });

  it('keeps one key hammering its largest pages to ten pages a second (measured)', async () => {
    const png = await png50();
    for (let i = 0; i < 500; i += 25) {
      await Promise.all(Array.from({ length: 25 }, () => postAtOnce(`${api}/thumbnail`, form(png), as(ALICE))));
    }
    const page = () => call(`${api}/thumbnail?limit=500`, { headers: as(ALICE) });
    expect((await page()).json.data).toHaveLength(500);
    // The cost of the largest page, one at a time (5 pages: within the key's budget).
    const single: number[] = [];
    for (let i = 0; i < 5; i++) {
      const sent = performance.now();
      expect((await page()).status).toBe(200);
      single.push(performance.now() - sent);
    }
    // The budget the pages above used comes back within a second.
    await vi.waitFor(async () => expect((await page()).status).toBe(200), { timeout: 5_000, interval: 200 });
    // Eight clients of one key, as fast as they can, for 3 s.
    const counts = { served: 0, refused: 0 };
    const cpuBefore = processCpuSeconds(service.api.pid) ?? 0;
    const started = Date.now();
    const until = started + 3_000;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (Date.now() < until) {
          const answer = await page();
          if (answer.status === 200) counts.served++;
          else if (answer.status === 429) counts.refused++;
          else throw new Error(`listing answered ${answer.status}`);
        }
      }),
    );
    const cpu = (processCpuSeconds(service.api.pid) ?? 0) - cpuBefore;
    const seconds = (Date.now() - started) / 1000;
    single.sort((a, b) => a - b);
    console.log('One key listing 500-job pages (JOB_STORE=redis)', {
      pageMsMedian: Math.round(single[2]),
      pagesPerSecondServed: +(counts.served / seconds).toFixed(1),
      refusedPerSecond: +(counts.refused / seconds).toFixed(1),
      apiCpuShare: +(cpu / seconds).toFixed(2),
    });
    expect(counts.served).toBeGreaterThan(0);
    expect(counts.refused).toBeGreaterThan(0);
    // At most one second's worth at the start, then 5000 jobs a second: 10 pages of 500.
    expect(counts.served).toBeLessThanOrEqual(Math.floor((5000 + 5000 * seconds) / 500));
  });
});
