import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { png50, pngWithIccProfile400, processCpuSeconds, startApp, truncated, type RunningApp } from '@thumbnail/testing';
import { call, form, submit } from './support/client';
import { acceptedId, listedCount } from './support/reliability-http';
import { TestService } from './support/service';

/** Held requests in the many-waiters test, split over two API replicas. */
const HELD = 2000;
const JOBS = 20;

/** GET with its own connection (a held request occupies one), answered or rejected, never retried. */
function heldGet(url: string): Promise<{ status: number; json: { data?: { _id: string; status: string } } }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s{2,}/)[1]);
}

/** `thumbnail_held_requests` of one API replica. */
async function heldRequests(api: string): Promise<number> {
  const metrics = await (await fetch(`${api}/metrics`)).text();
  return Number(/^thumbnail_held_requests (\S+)$/m.exec(metrics)?.[1] ?? NaN);
}

const post = (api: string, query: string, file: Buffer) => call(`${api}/thumbnail${query}`, { method: 'POST', body: form(file) });

describe('?wait=: completion without polling', () => {
  let service: TestService;
  let api: string;
  let small: Buffer;
  let secondApi: RunningApp | undefined;

  beforeAll(async () => {
    small = await png50();
    service = await TestService.start({ withoutWorker: true });
    api = service.api.url;
  });
  afterAll(async () => {
    await secondApi?.stop();
    await service?.stop();
  });

  it('holds GET /thumbnail/:id?wait=1 for a job nobody works on, then answers with its status', async () => {
    const id = acceptedId(await submit(api, small));
    const started = Date.now();
    const answer = await call(`${api}/thumbnail/${id}?wait=1`);
    const elapsed = Date.now() - started;
    expect(answer.status).toBe(200);
    expect(answer.json.data).toMatchObject({ _id: id, status: 'waiting' });
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(3_000);
  });

  it('holds POST /thumbnail?wait=1 the same way and answers 202 with the queued job when time is up', async () => {
    const started = Date.now();
    const answer = await post(api, '?wait=1', small);
    const elapsed = Date.now() - started;
    expect(answer.status).toBe(202);
    expect(Object.keys(answer.json.data)).toEqual(['job_id', 'status', 'links']);
    expect(answer.json.data.status).toBe('waiting');
    expect(answer.headers.get('location')).toBe(`/thumbnail/${answer.json.data.job_id}`);
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(3_000);
  });

  it('refuses a bad wait with 400 invalid_parameter, on POST before storing anything', async () => {
    const before = await listedCount(api);
    for (const wait of ['soon', '-1', 'NaN']) {
      const posted = await post(api, `?wait=${wait}`, small);
      expect(posted.status).toBe(400);
      expect(posted.json.error).toMatchObject({ code: 'invalid_parameter', message: expect.stringMatching(/wait/) });
    }
    expect(await listedCount(api)).toBe(before);
    expect(service.storedFiles('originals')).toHaveLength(before);
    const id = acceptedId(await submit(api, small));
    expect((await call(`${api}/thumbnail/${id}?wait=soon`)).status).toBe(400);
  });

  it(`holds ${HELD} requests on two API replicas at no CPU cost, and wakes each when its job finishes`, async () => {
    expect(openFileLimit(), 'open-file limit (ulimit -n) too low to hold the connections').toBeGreaterThan(HELD + 500);
    secondApi = await startApp('api', service.env);
    const replicas = [service.api, secondApi];
    const ids = await Promise.all(Array.from({ length: JOBS }, async () => acceptedId(await submit(api, small))));

    const started = Date.now();
    const answers = Array.from({ length: HELD }, (_, i) =>
      heldGet(`${replicas[i % 2].url}/thumbnail/${ids[i % JOBS]}?wait=30`).then((answer) => ({ ...answer, at: Date.now() })),
    );
    // Once both replicas hold every request, watch them for 3 s: they must not spend CPU (no
    // polling) while nothing happens. CPU seconds of the process, whatever else the machine does.
    await vi.waitFor(
      async () => {
        for (const replica of replicas) expect(await heldRequests(replica.url)).toBe(HELD / 2);
      },
      { timeout: 60_000, interval: 250 },
    );
    // NaN if a replica died, which fails the bound below.
    const cpuOf = (app: RunningApp) => processCpuSeconds(app.pid) ?? NaN;
    const before = replicas.map(cpuOf);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const cpu = replicas.map((app, i) => cpuOf(app) - before[i]);
    console.log(`CPU seconds of each API replica over 3 s holding ${HELD / 2} requests: ${cpu.map((s) => s.toFixed(2)).join(', ')}`);
    for (const seconds of cpu) expect(seconds).toBeLessThan(0.15);

    const worker = await service.startWorker();
    const finished = await Promise.all(answers);
    for (const [i, answer] of finished.entries()) {
      expect(answer.status).toBe(200);
      expect(answer.json.data).toMatchObject({ _id: ids[i % JOBS], status: 'complete' });
    }
    // Woken by their jobs, not by the 30 s deadline: none is left held once all are answered,
    // and each answer came before its request's deadline.
    for (const replica of replicas) expect(await heldRequests(replica.url)).toBe(0);
    const last = Math.max(...finished.map((answer) => answer.at));
    expect(last - started).toBeLessThan(30_000);
    expect(worker.output()).not.toMatch(/"level":"error"/);
  });

  it('answers POST /thumbnail?wait= with 201 and the finished job, complete or failed', async () => {
    const complete = await post(api, '?wait=10', await pngWithIccProfile400());
    expect(complete.status).toBe(201);
    const id = complete.json.data.job_id;
    expect(Object.keys(complete.json.data).slice(0, 3)).toEqual(['job_id', 'status', 'links']);
    expect(complete.headers.get('location')).toBe(`/thumbnail/${id}`);
    expect(complete.json.data).toMatchObject({
      _id: id,
      status: 'complete',
      links: { self: `/thumbnail/${id}`, image: `/thumbnail/${id}/image` },
      thumbnailLink: `${api}/thumbnail/${id}/image`,
      completedAt: expect.any(String),
    });
    const { json: got } = await call(`${api}/thumbnail/${id}`);
    expect(complete.json.data).toMatchObject(got.data);
    expect((await fetch(`${api}/thumbnail/${id}/image`)).status).toBe(200);

    const failed = await post(api, '?wait=10', truncated(await pngWithIccProfile400(), 0.5));
    expect(failed.status).toBe(201);
    expect(failed.json.data).toMatchObject({ status: 'failed', error: { code: 'invalid_image' } });
  });

  it('answers held requests at once on SIGTERM, with the status they have', async () => {
    await Promise.all(service.workers.map((worker) => worker.stop()));
    const id = acceptedId(await submit(api, small));
    const held = heldGet(`${api}/thumbnail/${id}?wait=30`);
    await vi.waitFor(async () => expect(await heldRequests(api)).toBe(1), { timeout: 10_000, interval: 50 });
    const stopping = Date.now();
    const [answer] = await Promise.all([held, service.api.stop()]);
    expect(Date.now() - stopping).toBeLessThan(5_000);
    expect(answer).toMatchObject({ status: 200, json: { data: { _id: id, status: 'waiting' } } });
    expect(await service.api.exited).toEqual({ code: 0, signal: null });
  });
});
