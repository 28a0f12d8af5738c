import { randomBytes } from 'node:crypto';
import {
  png50,
  pngWithIccProfile400,
  type RunningApp,
  type RunningMinio,
  type S3BucketInspector,
  skipWithoutTool,
  startMinio,
  withPngChunkAfterIhdr,
} from '@thumbnail/testing';
import { call, submit, submitAndWait, waitFor } from './support/client';
import { acceptedId, eventually, listedCount, MIB, streamUpload, untilReady } from './support/reliability-http';
import { TestService } from './support/service';

// What only a real object store shows: signatures, server-side encryption, multipart aborts and
// buckets that are missing or refuse us. One MinIO (with a static KMS key, recording the calls it
// answers) serves every service of this file, each in its own bucket.
describe.skipIf(skipWithoutTool('minio'))('STORAGE_DRIVER=s3 on MinIO', () => {
  let minio: RunningMinio;

  beforeAll(async () => {
    minio = await startMinio({ kms: true, recordCalls: true });
  });
  afterAll(async () => minio?.destroy());

  function jsonLines(output: string): Array<Record<string, unknown>> {
    return output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /**
   * Readiness of one app, expected to be 503 naming storage without what storage said (it can
   * name hosts and buckets); returns what the app logged as the cause.
   */
  async function storageDownCause(app: RunningApp): Promise<string> {
    const ready = await call(`${app.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.json.checks.redis.ok).toBe(true);
    expect(ready.json.checks.storage).toEqual({ ok: false, reason: 'unavailable; the log says why' });
    expect(ready.json.error.message).toBe('Not ready: storage down (unavailable; the log says why)');
    // Logged when the causes change (the log is written asynchronously).
    const cause = () => {
      const logged = jsonLines(app.output()).filter((line) => line['msg'] === 'Not ready: a dependency is down');
      return (logged.at(-1)?.['causes'] as Record<string, string> | undefined)?.['storage'];
    };
    await vi.waitFor(() => expect(cause()).toBeDefined());
    return cause() as string;
  }

  describe('a wrong secret key (S3_SECRET_ACCESS_KEY)', () => {
    let service: TestService;
    let bucket: S3BucketInspector;

    beforeAll(async () => {
      service = await TestService.start({
        storage: 's3',
        minio,
        unready: true,
        env: { S3_BUCKET: 'wrong-secret', S3_CREATE_BUCKET: 'false', S3_SECRET_ACCESS_KEY: `${minio.credentials.secretAccessKey}-wrong` },
      });
      // The bucket exists, so an empty listing says nothing was stored, not that there is nowhere to store.
      bucket = await service.bucket();
      await bucket.create();
    });
    afterAll(async () => service?.stop());

    it('makes both apps report not ready, naming storage and the refused signature', async () => {
      for (const app of [service.api, service.workers[0]]) {
        expect(await storageDownCause(app)).toBe('Storage unavailable: credentials rejected (SignatureDoesNotMatch)');
      }
    });

    it('answers uploads with 503 service_unavailable, small or multipart, stores nothing, and logs why', async () => {
      const api = service.api.url;
      const small = await submit(api, await png50());
      expect(small.status).toBe(503);
      expect(small.headers.get('retry-after')).toBeTruthy();
      expect(small.json.error).toMatchObject({ code: 'service_unavailable', message: expect.stringMatching(/^Storage/) });

      const large = await streamUpload(api, { fileBytes: 6 * MIB, head: (await png50()).subarray(0, 33) }).answer;
      expect(large.status).toBe(503);
      expect(large.json).toMatchObject({ error: { code: 'service_unavailable' } });

      expect(await listedCount(api)).toBe(0);
      expect(await bucket.keys()).toEqual([]);

      // The client's message is generic; the API's log says what storage answered, never the key pair.
      const refusals = jsonLines(service.api.output()).filter((line) => line['msg'] === 'Dependency unavailable');
      expect(refusals).toHaveLength(2);
      for (const line of refusals) {
        expect(line).toMatchObject({
          requestId: expect.any(String),
          code: 'service_unavailable',
          reason: 'Storage unavailable: credentials rejected (SignatureDoesNotMatch)',
        });
      }
      for (const secret of [minio.credentials.secretAccessKey, service.env['S3_SECRET_ACCESS_KEY']]) {
        expect(service.logs()).not.toContain(secret);
      }
    });
  });

  describe('a missing bucket', () => {
    let service: TestService;
    let bucket: S3BucketInspector;

    beforeAll(async () => {
      service = await TestService.start({ storage: 's3', minio, unready: true, env: { S3_BUCKET: 'not-yet', S3_CREATE_BUCKET: 'false' } });
      bucket = await service.bucket();
    });
    afterAll(async () => service?.stop());

    it('with S3_CREATE_BUCKET=false: both apps not ready naming the bucket, uploads 503, nothing created', async () => {
      for (const app of [service.api, service.workers[0]]) {
        expect(await storageDownCause(app)).toBe('Storage unavailable: bucket not-yet does not exist');
      }
      const answer = await submit(service.api.url, await png50());
      expect(answer.status).toBe(503);
      expect(answer.json.error).toMatchObject({ code: 'service_unavailable', message: expect.stringMatching(/^Storage/) });
      expect(await listedCount(service.api.url)).toBe(0);
      expect(await bucket.exists()).toBe(false);
    });

    it('with S3_CREATE_BUCKET=true: the apps create it at start, private, and the flow works', async () => {
      // The operator's fix: the same apps restarted with the setting turned on.
      service.env['S3_CREATE_BUCKET'] = 'true';
      await Promise.all(service.workers.splice(0).map((worker) => worker.stop()));
      await service.startWorker();
      await service.restartApi();
      expect(await bucket.exists()).toBe(true);
      await untilReady(service.api.url);
      await untilReady(service.workers[0].url);

      const job = await submitAndWait(service.api.url, await png50());
      expect(job.status).toBe('complete');
      expect(await bucket.keys('thumbnails/')).toEqual([`thumbnails/${job._id}.png`]);
      expect((await fetch(`${service.api.url}/thumbnail/${job._id}/image`)).status).toBe(200);
      expect((await fetch(job.thumbnailLink)).status).toBe(200);
      // Private: no bucket policy, and the object refuses a request that is not signed.
      expect(await bucket.policy()).toBeNull();
      const anonymous = await fetch(`${minio.endpoint}/not-yet/thumbnails/${job._id}.png`);
      expect(anonymous.status).toBe(403);
      expect(await anonymous.text()).toContain('AccessDenied');
    });
  });

  describe("S3_SSE=AES256 with MinIO's static KMS key", () => {
    let service: TestService;
    let bucket: S3BucketInspector;

    beforeAll(async () => {
      service = await TestService.start({ storage: 's3', minio, withoutWorker: true, env: { S3_BUCKET: 'encrypted', S3_SSE: 'AES256' } });
      bucket = await service.bucket();
    });
    afterAll(async () => service?.stop());

    it('stores the original while it exists, then the thumbnail, encrypted at rest', async () => {
      const api = service.api.url;
      // A comment chunk of random text makes this original's bytes unlike anything else stored.
      const marker = Buffer.from(randomBytes(32).toString('hex'));
      const original = withPngChunkAfterIhdr(await pngWithIccProfile400(), 'tEXt', Buffer.concat([Buffer.from('Comment\0'), marker]));
      const id = acceptedId(await submit(api, original));

      expect(await bucket.head(`originals/${id}`)).toEqual({ bytes: original.length, serverSideEncryption: 'AES256' });
      expect(minio.storesInClear(marker)).toBe(false);

      await service.startWorker();
      const job = await waitFor(api, id);
      expect(job.status).toBe('complete');
      const thumbnail = Buffer.from(await (await fetch(`${api}/thumbnail/${id}/image`)).arrayBuffer());
      expect(await bucket.head(`thumbnails/${id}.png`)).toEqual({ bytes: thumbnail.length, serverSideEncryption: 'AES256' });
      expect(minio.storesInClear(thumbnail)).toBe(false);
      expect(Buffer.from(await (await fetch(job.thumbnailLink)).arrayBuffer()).equals(thumbnail)).toBe(true);
      await eventually(async () => expect(await bucket.head(`originals/${id}`)).toBeNull());

      // The check can see clear bytes: the same thumbnail stored without SSE is found.
      await bucket.put('control/thumbnail.png', thumbnail);
      expect(minio.storesInClear(thumbnail)).toBe(true);
    });
  });

  describe('a client that goes away mid-upload', () => {
    let service: TestService;
    let bucket: S3BucketInspector;

    beforeAll(async () => {
      service = await TestService.start({ storage: 's3', minio, withoutWorker: true, env: { S3_BUCKET: 'cut-short' } });
      bucket = await service.bucket();
    });
    afterAll(async () => service?.stop());

    it('leaves no object, no incomplete multipart upload and no job once the first 5 MiB part has gone', async () => {
      const api = service.api.url;
      const upload = streamUpload(api, { fileBytes: 8 * MIB, head: (await png50()).subarray(0, 33), stallAfter: 6 * MIB });
      await upload.stalled;
      // MinIO's audit log names the key the API began storing, and says when its first part was in.
      const firstPart = await eventually(() => {
        const call = minio.calls().find((c) => c.bucket === 'cut-short' && c.api === 'PutObjectPart' && c.statusCode === 200);
        if (!call) throw new Error('no part stored yet');
        return call;
      });
      const key = firstPart.object;
      expect(key).toMatch(/^originals\/[0-9a-f-]{36}$/);
      expect(await bucket.uploadedParts(key)).toBe(1);

      upload.abort();
      await expect(upload.answer).rejects.toThrow();
      await eventually(async () => expect(await bucket.incompleteUploads(key)).toEqual([]));
      // MinIO delivers its audit log asynchronously: the abort's entry can come after its effect.
      await eventually(() => expect(minio.calls()).toContainEqual({ api: 'AbortMultipartUpload', bucket: 'cut-short', object: key, statusCode: 204 }));
      expect(await bucket.head(key)).toBeNull();
      expect(await bucket.keys()).toEqual([]);
      expect(await listedCount(api)).toBe(0);
      // The API carries on as before.
      expect((await submit(api, await png50())).status).toBe(202);
    });
  });
});
