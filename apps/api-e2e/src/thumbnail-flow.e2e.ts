import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { minimalPdf, png50, pngWithIccProfile400, truncated } from '@thumbnail/testing';
import { call, form, submit, submitAndWait, UUID_V4, waitFor } from './support/client';
import { TestService } from './support/service';
import { describeEachStorage } from './support/storage-drivers';

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describeEachStorage('thumbnail flow over HTTP (STORAGE_DRIVER=%s)', (storage) => {
  let service: TestService;
  let api: string;
  let png400: Buffer;
  let small: Buffer;
  let pdf: Buffer;

  beforeAll(async () => {
    [png400, small, pdf] = await Promise.all([pngWithIccProfile400(), png50(), minimalPdf()]);
    service = await TestService.start({ storage, env: { MAX_UPLOAD_BYTES: String(1024 * 1024) } });
    api = service.api.url;
  });
  afterAll(async () => service?.stop());

  it('greets with the version from package.json', async () => {
    const version = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')).version;
    const answer = await call(`${api}/`);
    expect(answer.json).toEqual({ data: `Hello from Thumbnail Generator v${version}` });
  });

  it('turns a 400x400 PNG into a 100x100 PNG thumbnail (the original flow)', async () => {
    const answer = await submit(api, png400, { filename: 'good_image_400x400.png' });
    expect(answer.status).toBe(202);
    // Existing clients cut the id out of the raw text: job_id must be the first key of data.
    expect(answer.text.startsWith('{"data":{"job_id":"')).toBe(true);
    const id = answer.json.data.job_id;
    expect(id).toMatch(UUID_V4);
    expect(answer.headers.get('location')).toBe(`/thumbnail/${id}`);

    const job = await waitFor(api, id);
    expect(job).toMatchObject({
      _id: id,
      status: 'complete',
      originalFilename: 'good_image_400x400.png',
      thumbnailFilename: `thumbnails/${id}.png`,
      attempts: 1,
    });
    for (const key of ['filename', 'createdAt', 'startedAt', 'completedAt', 'thumbnailLink']) {
      expect(job[key]).toBeTruthy();
    }
    expect(job.error).toBeUndefined();

    const image = await fetch(`${api}/thumbnail/${id}/image`);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(image.headers.get('cache-control')).toMatch(/private/);
    expect(image.headers.get('x-content-type-options')).toBe('nosniff');
    const etag = image.headers.get('etag');
    expect(etag).toBeTruthy();
    expect(pngSize(Buffer.from(await image.arrayBuffer()))).toEqual({ width: 100, height: 100 });

    const again = await fetch(`${api}/thumbnail/${id}/image`, { headers: { 'if-none-match': etag as string } });
    expect(again.status).toBe(304);

    // thumbnailLink serves the same picture to a plain HTTP client (presigned on S3).
    const linked = await fetch(job.thumbnailLink);
    expect(linked.status).toBe(200);
    expect(pngSize(Buffer.from(await linked.arrayBuffer()))).toEqual({ width: 100, height: 100 });
    if (storage === 's3') expect(job.thumbnailLink).toMatch(/^http:\/\/localhost:\d+\/thumbnails\/thumbnails\/.+X-Amz-Expires=900/);
    else expect(job.thumbnailLink).toBe(`${api}/thumbnail/${id}/image`);
  });

  it('makes a 100x100 thumbnail of a 50x50 PNG, in each fit mode', async () => {
    for (const fit of ['cover', 'contain', 'fill']) {
      const job = await submitAndWait(api, small, { fit });
      expect(job).toMatchObject({ status: 'complete', fit });
      const image = Buffer.from(await (await fetch(`${api}/thumbnail/${job._id}/image`)).arrayBuffer());
      expect(pngSize(image)).toEqual({ width: 100, height: 100 });
    }
  });

  it('fails a truncated image once, with invalid_image and no retries', async () => {
    const job = await submitAndWait(api, truncated(png400, 0.5));
    expect(job).toMatchObject({ status: 'failed', attempts: 1, thumbnailLink: null });
    expect(job.error.code).toBe('invalid_image');
    expect(job.error.message).not.toMatch(/vips|libpng|sharp/i);
    expect((await call(`${api}/thumbnail/${job._id}/image`)).status).toBe(409);
  });

  it('refuses a PDF, renamed or not, with 415 and stores nothing', async () => {
    const before = await service.storedObjects('originals');
    for (const [filename, type] of [
      ['bad_image_actually_pdf.png', 'image/png'],
      ['not_an_image.pdf', 'application/pdf'],
    ]) {
      const answer = await submit(api, pdf, { filename, type });
      expect(answer.status).toBe(415);
      expect(answer.json.error.code).toBe('unsupported_media_type');
      expect(answer.json.error.message).toMatch(/JPEG, PNG/);
    }
    expect(await service.originalsAddedSince(before)).toEqual([]);
  });

  it('answers 400 file_required for an empty body, a wrong field, a JSON body and an empty file', async () => {
    const cases = [
      await call(`${api}/thumbnail`, { method: 'POST' }),
      await call(`${api}/thumbnail`, { method: 'POST', body: form(null) }),
      await call(`${api}/thumbnail`, { method: 'POST', body: form(png400, { field: 'image' }) }),
      await call(`${api}/thumbnail`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ file: 'x' }),
      }),
      await submit(api, Buffer.alloc(0)),
    ];
    for (const answer of cases) {
      expect(answer.status).toBe(400);
      expect(answer.json.error.code).toBe('file_required');
      expect(typeof answer.json.error.message).toBe('string');
    }
  });

  it('refuses a file over MAX_UPLOAD_BYTES with 413 and leaves nothing in storage', async () => {
    const before = await service.storedObjects('originals');
    // A real PNG header followed by more bytes than the 1 MiB limit of this suite.
    const big = Buffer.concat([png400.subarray(0, 64), Buffer.alloc(1024 * 1024 + 10, 7)]);
    const answer = await submit(api, big);
    expect(answer.status).toBe(413);
    expect(answer.json.error.code).toBe('file_too_large');
    expect(await service.originalsAddedSince(before)).toEqual([]);
  });

  it('rejects a bad fit with 400', async () => {
    const answer = await submit(api, small, { fit: 'stretchy' });
    expect(answer.status).toBe(400);
    expect(answer.json.error.code).toBe('invalid_parameter');
  });

  it('lists jobs newest first, paginates with a cursor and filters by status', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await submitAndWait(api, small))._id);
    const seen: string[] = [];
    let cursor = '';
    do {
      const page = await call(`${api}/thumbnail?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.json.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.json.data.map((j: { _id: string }) => j._id));
      cursor = page.json.page.next_cursor ?? '';
    } while (cursor);
    // The five newest, newest first, and no job twice.
    expect(seen.slice(0, 5)).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);

    const complete = await call(`${api}/thumbnail?status=complete&limit=500`);
    expect(complete.json.data.every((j: { status: string }) => j.status === 'complete')).toBe(true);
    const failed = (await call(`${api}/thumbnail?status=failed`)).json.data;
    expect(failed.map((j: { status: string; error: { code: string } }) => [j.status, j.error.code])).toEqual([
      ['failed', 'invalid_image'], // the truncated PNG above
    ]);
    expect((await call(`${api}/thumbnail?limit=0`)).status).toBe(400);
    expect((await call(`${api}/thumbnail?limit=501`)).status).toBe(400);
    expect((await call(`${api}/thumbnail?cursor=bogus`)).json.error.code).toBe('invalid_parameter');
  });

  it('answers 404 for unknown and malformed ids', async () => {
    for (const id of ['6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77', 'not-an-id', '..%2F..%2Fetc%2Fpasswd']) {
      for (const path of [`/thumbnail/${id}`, `/thumbnail/${id}/image`]) {
        const answer = await call(`${api}${path}`);
        expect(answer.status).toBe(404);
        expect(answer.json.error.code).toBe('not_found');
      }
    }
  });

  it('answers every error as JSON without a stack trace', async () => {
    const answer = await call(`${api}/no/such/route`);
    expect(answer.status).toBe(404);
    expect(answer.json.error.code).toBe('not_found');
    expect(answer.text).not.toMatch(/at .*\.js:\d+/);
  });

  it('logs request and job ids but never credentials, presigned URLs or image bytes', async () => {
    const logs = service.logs();
    const lines = logs.split('\n').filter((line) => line.startsWith('{'));
    expect(lines.length).toBeGreaterThan(10);
    const workerLine = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'Thumbnail complete');
    expect(workerLine).toMatchObject({ jobId: expect.any(String), requestId: expect.any(String) });
    expect(logs).not.toMatch(/X-Amz-Signature|X-Amz-Credential/);
    for (const credential of Object.values(service.minio?.credentials ?? {})) expect(logs).not.toContain(credential);
    expect(logs).not.toContain('\u0089PNG');
    expect(logs).not.toContain(png400.subarray(100, 140).toString('base64'));
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    expect((await call(`${api}/health`)).json).toEqual({ data: { status: 'ok' } });
    const ready = await call(`${api}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.json.data.checks).toEqual({ redis: { ok: true }, storage: { ok: true }, job_store: { ok: true } });
    const metrics = await call(`${api}/metrics`);
    expect(metrics.text).toMatch(/^thumbnail_jobs_submitted_total \d+/m);
    expect(metrics.text).toMatch(/http_request_duration_seconds_bucket\{.*route="\/thumbnail\/:id".*\}/);
    expect(metrics.text).toMatch(/thumbnail_queue_jobs\{state="waiting"\} \d+/);
    expect(metrics.text).toMatch(/process_resident_memory_bytes/);
    const workerMetrics = await call(`${service.workers[0].url}/metrics`);
    expect(workerMetrics.text).toMatch(/thumbnail_jobs_finished_total\{outcome="complete",code=""\} \d+/);
    const docs = await call(`${api}/docs/json`);
    expect(Object.keys(docs.json.paths)).toEqual(
      expect.arrayContaining(['/thumbnail', '/thumbnail/{id}', '/thumbnail/{id}/image']),
    );
    expect((await fetch(`${api}/docs`)).status).toBe(200);
  });
});
