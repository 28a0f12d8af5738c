import { createHash, randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { png50 } from '@thumbnail/testing';
import { call, form, submit } from './support/client';
import {
  eventually,
  listedCount,
  MIB,
  pendingWrites,
  postAtOnce,
  processMemory,
  streamUpload,
  type StreamedUpload,
  uploadThenRead,
} from './support/reliability-http';
import { inspectRedis } from './support/reliability-redis';
import { TestService } from './support/service';

/** A real PNG signature and IHDR (50x50): enough for the API to accept what follows as a PNG. */
async function pngHead(): Promise<Buffer> {
  return (await png50()).subarray(0, 33);
}

describe('uploads cut short', () => {
  let service: TestService;
  let head: Buffer;

  beforeAll(async () => {
    head = await pngHead();
    // A short drain limit, so a drain that hangs costs the suite 3 s, not 25.
    service = await TestService.start({ withoutWorker: true, env: { SHUTDOWN_TIMEOUT_MS: '3000' } });
  });
  afterAll(async () => service?.stop());

  /** Starts a 5 MiB upload and returns once half of it is on its way into storage. */
  async function halfUploaded() {
    const upload = streamUpload(service.api.url, { fileBytes: 5 * MIB, head, stallAfter: 2.5 * MIB });
    await upload.stalled;
    await eventually(() => expect(pendingWrites(service.storageDir)).toHaveLength(1));
    return upload;
  }

  it('leaves no job, no original and no temp file when the client goes away mid-upload', async () => {
    const api = service.api.url;
    const before = await listedCount(api);
    const upload = await halfUploaded();

    upload.abort();
    await expect(upload.answer).rejects.toThrow();
    await eventually(() => expect(pendingWrites(service.storageDir)).toEqual([]), 5_000);
    expect(service.storedFiles('originals')).toEqual([]);
    expect(await listedCount(api)).toBe(before);
    // The API carries on as before.
    expect((await submit(api, await png50())).status).toBe(202);
  });

  // Shutdown cuts off uploads still arriving (503) instead of waiting for them until the timeout.
  it('exits 0 on SIGTERM mid-upload, leaving no job and no partial object', async () => {
    const before = service.storedFiles('originals');
    const listed = await listedCount(service.api.url);
    const upload = await halfUploaded();

    service.api.kill('SIGTERM');
    const exit = await service.api.exited;
    await upload.answer.catch(() => undefined);
    const partial = pendingWrites(service.storageDir);
    await service.restartApi();

    expect(exit).toEqual({ code: 0, signal: null });
    expect(partial).toEqual([]);
    expect(service.storedFiles('originals')).toEqual(before);
    expect(await listedCount(service.api.url)).toBe(listed);
  });
});

describe('backpressure with MAX_QUEUE_DEPTH=5', () => {
  let service: TestService;
  let api: string;
  let head: Buffer;

  beforeAll(async () => {
    head = await pngHead();
    service = await TestService.start({ withoutWorker: true, env: { MAX_QUEUE_DEPTH: '5' } });
    api = service.api.url;
  });
  afterAll(async () => service?.stop());

  /** The answer's status, or the error that ended the request before one was read. */
  function outcomeOf(upload: StreamedUpload): Promise<number | string> {
    return upload.answer.then((answer) => answer.status, errorCode);
  }

  /** `count` uploads of 4 MiB, 20 at a time (80 MiB on the wire at once). */
  async function refusedUploads(count: number): Promise<Array<number | string>> {
    const outcomes: Array<number | string> = [];
    for (let i = 0; i < count; i += 20) {
      const batch = Array.from({ length: Math.min(20, count - i) }, () => outcomeOf(streamUpload(api, { fileBytes: 4 * MIB, head })));
      outcomes.push(...(await Promise.all(batch)));
    }
    return outcomes;
  }

  it('answers 429 queue_full with Retry-After once 5 jobs wait', async () => {
    const small = await png50();
    // One of the five from a client that writes its whole body before reading the answer.
    expect(await uploadThenRead(api, { fileBytes: 16 * MIB, head })).toBe(202);
    for (let i = 0; i < 4; i++) expect((await submit(api, small)).status).toBe(202);
    // No pause: between its reads of the waiting count (one a second) the API counts the uploads
    // it admits itself, so the sixth is refused whenever it comes.

    const refused = await submit(api, small);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.json).toMatchObject({ error: { code: 'queue_full' } });
    expect(await listedCount(api)).toBe(5);
  });

  it('refuses 200 more uploads with no growth in memory and nothing stored', async () => {
    await refusedUploads(40); // warm-up: JIT, pools and buffers reach their working size
    const before = processMemory(service.api.pid);
    const outcomes = await refusedUploads(200);
    const after = processMemory(service.api.pid);
    console.log('API memory while refusing 200 uploads of 4 MiB', {
      rssBeforeMiB: +(before.rss / MIB).toFixed(1),
      rssAfterMiB: +(after.rss / MIB).toFixed(1),
      peakBeforeMiB: +(before.peak / MIB).toFixed(1),
      peakAfterMiB: +(after.peak / MIB).toFixed(1),
      outcomes: countBy(outcomes),
    });

    // Every client gets its answer, even while it is still sending (the remainder is drained).
    for (const outcome of outcomes) expect(outcome).toBe(429);
    // Bodies read into memory would add tens of MiB per batch; garbage collection alone moves
    // RSS by up to about 25 MiB here (it stayed within 145..170 MiB over 1,000 refusals).
    expect(after.rss - before.rss).toBeLessThan(48 * MIB);
    expect(after.peak - before.peak).toBeLessThan(48 * MIB);
    expect(await listedCount(api)).toBe(5);
    expect(service.storedFiles('originals')).toHaveLength(5);
    expect(pendingWrites(service.storageDir)).toEqual([]);
  });

  // Clients that write their whole body before reading (Python's requests does) must still get
  // the answer: the API reads and drops a bounded remainder before answering (main.ts onSend).
  it('lets a client that sends its whole 16 MiB body before reading get the 429', async () => {
    const outcomes: Array<number | string> = [];
    for (let i = 0; i < 5; i++) outcomes.push(await uploadThenRead(api, { fileBytes: 16 * MIB, head }).catch(errorCode));
    expect(outcomes).toEqual(Array(5).fill(429));
  });
});

function errorCode(error: NodeJS.ErrnoException): string {
  return error.code ?? error.message;
}

function countBy<T>(values: T[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[String(value)] = (counts[String(value)] ?? 0) + 1;
  return counts;
}

describe('large uploads are streamed', () => {
  let service: TestService;
  let head: Buffer;

  beforeAll(async () => {
    head = await pngHead();
    service = await TestService.start({ withoutWorker: true });
  });
  afterAll(async () => service?.stop());

  it('takes 50 concurrent uploads of 20 MiB with the API peaking far below their 1 GB total', async () => {
    const api = service.api.url;
    const fileBytes = 20 * MIB - 1024; // just under the default MAX_UPLOAD_BYTES
    const idle = processMemory(service.api.pid);
    const answers = await Promise.all(Array.from({ length: 50 }, () => streamUpload(api, { fileBytes, head }).answer));
    const { peak } = processMemory(service.api.pid);
    console.log('API memory over 50 concurrent 20 MiB uploads', {
      idleRssMiB: +(idle.rss / MIB).toFixed(1),
      peakRssMiB: +(peak / MIB).toFixed(1),
    });

    expect(answers.map((answer) => answer.status)).toEqual(Array(50).fill(202));
    expect(peak).toBeLessThan(250 * MIB);
    const originals = service.storedFiles('originals');
    expect(originals).toHaveLength(50);
    for (const name of originals) expect(statSync(join(service.storageDir, 'originals', name)).size).toBe(fileBytes);
    expect(pendingWrites(service.storageDir)).toEqual([]);
  }, 120_000);

  it('refuses a declared 200 MiB body with 413 from its headers, before the body is sent', async () => {
    const upload = streamUpload(service.api.url, { fileBytes: 200 * MIB, head, stallAfter: 64 * 1024 });
    const answer = await upload.answer;
    expect(answer.status).toBe(413);
    expect(answer.json).toMatchObject({ error: { code: 'file_too_large' } });
    expect(answer.headers['connection']).toBe('close');
    expect(answer.writtenWhenAnswered).toBeLessThanOrEqual(64 * 1024);
  });

  it('cuts a chunked 25 MiB body off with 413 and stores nothing', async () => {
    const api = service.api.url;
    const before = service.storedFiles('originals').length;
    const listed = await listedCount(api);
    const answer = await streamUpload(api, { fileBytes: 25 * MIB, head, chunked: true }).answer;
    expect(answer.status).toBe(413);
    expect(answer.json).toMatchObject({ error: { code: 'file_too_large' } });
    await eventually(() => expect(pendingWrites(service.storageDir)).toEqual([]), 5_000);
    expect(service.storedFiles('originals')).toHaveLength(before);
    expect(await listedCount(api)).toBe(listed);
  });
});

describe('API keys', () => {
  const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');
  const ALICE = 'alice-secret-key';
  const BOB = 'bob-secret-key';
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  let service: TestService;
  let api: string;
  let redis: Redis | undefined;
  let small: Buffer;

  beforeAll(async () => {
    small = await png50();
    service = await TestService.start({ env: { API_KEYS: `${digest(ALICE)},${digest(BOB)}` } });
    api = service.api.url;
  });
  afterAll(async () => {
    redis?.disconnect();
    await service?.stop();
  });

  async function finished(id: string, key: string): Promise<{ status: string }> {
    for (;;) {
      const job = (await call(`${api}/thumbnail/${id}?wait=10`, { headers: as(key) })).json.data;
      if (job.status === 'complete' || job.status === 'failed') return job;
    }
  }

  it('answers 401 unauthorized with WWW-Authenticate: Bearer on every /thumbnail route without a valid key', async () => {
    const id = randomUUID();
    const credentials: Array<Record<string, string>> = [
      {},
      as('not-a-key'),
      { authorization: `Basic ${Buffer.from(`alice:${ALICE}`).toString('base64')}` },
      // The configured digest is not itself a key.
      as(digest(ALICE)),
    ];
    for (const headers of credentials) {
      const upload = await postAtOnce(`${api}/thumbnail`, form(small), headers);
      expect(upload.status).toBe(401);
      expect(upload.json).toMatchObject({ error: { code: 'unauthorized' } });
      expect(upload.headers['www-authenticate']).toBe('Bearer');
      for (const path of [`/thumbnail`, `/thumbnail/${id}`, `/thumbnail/${id}?wait=5`, `/thumbnail/${id}/image`]) {
        const answer = await call(`${api}${path}`, { headers });
        expect(answer.status).toBe(401);
        expect(answer.json).toMatchObject({ error: { code: 'unauthorized' } });
        expect(answer.headers.get('www-authenticate')).toBe('Bearer');
      }
    }
    expect(service.storedFiles('originals')).toEqual([]);
    expect(await listedCount(api, as(ALICE))).toBe(0);
  });

  it("shows a job only to the key that made it: 404 for another key's job, absent from its list", async () => {
    const answer = await call(`${api}/thumbnail`, { method: 'POST', body: form(small), headers: as(ALICE) });
    expect(answer.status).toBe(202);
    const id = answer.json.data.job_id;
    expect((await finished(id, ALICE)).status).toBe('complete');

    for (const path of [`/thumbnail/${id}`, `/thumbnail/${id}?wait=1`, `/thumbnail/${id}/image`]) {
      const denied = await call(`${api}${path}`, { headers: as(BOB) });
      expect(denied.status).toBe(404);
      expect(denied.json).toMatchObject({ error: { code: 'not_found' } });
    }
    const idsFor = async (key: string, query = '') =>
      (await call(`${api}/thumbnail?limit=500${query}`, { headers: as(key) })).json.data.map((job: { _id: string }) => job._id);
    expect(await idsFor(BOB)).toEqual([]);
    expect(await idsFor(BOB, '&status=complete')).toEqual([]);
    expect(await idsFor(ALICE)).toEqual([id]);

    const image = await fetch(`${api}/thumbnail/${id}/image`, { headers: as(ALICE) });
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(image.headers.get('x-content-type-options')).toBe('nosniff');
    expect(image.headers.get('cache-control')).toMatch(/\bprivate\b/);
    expect(Buffer.from(await image.arrayBuffer()).subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  it('leaves /health, /health/ready and /metrics open', async () => {
    for (const path of ['/health', '/health/ready', '/metrics']) expect((await call(`${api}${path}`)).status).toBe(200);
    expect((await call(`${service.workers[0].url}/metrics`)).status).toBe(200);
  });

  it('puts only the job id and request id in the queue payload: no bytes, URLs or credentials', async () => {
    const answer = await call(`${api}/thumbnail`, { method: 'POST', body: form(small), headers: as(BOB) });
    const id = answer.json.data.job_id;
    await finished(id, BOB);
    redis = await inspectRedis(service.redis.url);
    const entry = await redis.hgetall(`bull:thumbnails:${id}`);
    const payload = JSON.parse(entry['data']);
    expect(Object.keys(payload).sort()).toEqual(['jobId', 'requestId']);
    expect(payload).toEqual({ jobId: id, requestId: expect.any(String) });
    const everything = JSON.stringify(entry);
    for (const secret of [BOB, digest(BOB), 'Bearer', 'http://', 'originals/', small.subarray(16, 40).toString('base64')]) {
      expect(everything).not.toContain(secret);
    }
  });
});
