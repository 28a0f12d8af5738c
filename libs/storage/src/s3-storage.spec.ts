import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { type RunningMinio, S3BucketInspector, skipWithoutTool, startMinio } from '@thumbnail/testing';
import { S3Storage, type S3StorageOptions } from './s3-storage';
import { StorageUnavailableError } from './storage';
import { chunked, describeStorageContract } from './storage.contract';

const MIB = 1024 * 1024;

describe.skipIf(skipWithoutTool('minio'))('S3Storage on MinIO', () => {
  // One server for the file; each case gets a fresh bucket. The static KMS key lets SSE-S3 work.
  let minio: RunningMinio;
  const storages: S3Storage[] = [];
  const inspectors: S3BucketInspector[] = [];

  beforeAll(async () => {
    minio = await startMinio({ kms: true });
  });
  afterAll(async () => {
    await minio?.destroy();
  });
  afterEach(async () => {
    await Promise.all(storages.splice(0).map((storage) => storage.close()));
    for (const inspector of inspectors.splice(0)) inspector.close();
  });

  function newBucket(): string {
    return `bucket-${randomUUID().slice(0, 8)}`;
  }

  /** Path-style against MinIO on 127.0.0.1, a fresh bucket that init() creates. */
  function s3Storage(overrides: Partial<S3StorageOptions> = {}): S3Storage {
    const storage = new S3Storage({
      endpoint: minio.endpoint,
      region: 'us-east-1',
      bucket: newBucket(),
      ...minio.credentials,
      forcePathStyle: true,
      createBucket: true,
      presignTtlSeconds: 900,
      ...overrides,
    });
    storages.push(storage);
    return storage;
  }

  /** The bucket as MinIO holds it, seen with our own client. */
  async function inspect(bucket: string, server: RunningMinio = minio): Promise<S3BucketInspector> {
    const inspector = await S3BucketInspector.open(server, bucket);
    inspectors.push(inspector);
    return inspector;
  }

  describeStorageContract('S3Storage on MinIO', async () => {
    const storage = s3Storage();
    await storage.init();
    return { storage, teardown: () => storage.close() };
  });

  describeStorageContract('S3Storage on MinIO with SSE-S3', async () => {
    const storage = s3Storage({ sse: 'AES256' });
    await storage.init();
    return { storage, teardown: () => storage.close() };
  });

  describe('server-side encryption', () => {
    it('stores objects encrypted with sse AES256, single-part and multipart, and in clear without it', async () => {
      const bucket = newBucket();
      const encrypted = s3Storage({ bucket, sse: 'AES256' });
      const plain = s3Storage({ bucket });
      await encrypted.init();
      const view = await inspect(bucket);
      const [small, large, control] = [randomBytes(64 * 1024), randomBytes(6 * MIB), randomBytes(64 * 1024)];

      await encrypted.put('thumbnails/small.png', chunked(small));
      await encrypted.put('originals/large', chunked(large));
      await plain.put('originals/control', chunked(control));

      expect(await view.head('thumbnails/small.png')).toEqual({ bytes: small.length, serverSideEncryption: 'AES256' });
      expect(await view.head('originals/large')).toEqual({ bytes: large.length, serverSideEncryption: 'AES256' });
      expect(await view.head('originals/control')).toEqual({ bytes: control.length, serverSideEncryption: undefined });
      // On MinIO's disk: the control's bytes as they are, the encrypted objects' nowhere.
      expect(minio.storesInClear(control)).toBe(true);
      expect(minio.storesInClear(small)).toBe(false);
      expect(minio.storesInClear(large.subarray(0, 64 * 1024))).toBe(false);
      expect(minio.storesInClear(large.subarray(5 * MIB, 5 * MIB + 64 * 1024))).toBe(false);
      // Read back decrypted through the adapter.
      expect((await encrypted.getBuffer('originals/large')).equals(large)).toBe(true);
    }, 30_000);

    it("names the server's reason when SSE is asked of a MinIO without a KMS, and stores nothing", async () => {
      const withoutKms = await startMinio();
      try {
        const bucket = newBucket();
        const storage = s3Storage({ endpoint: withoutKms.endpoint, ...withoutKms.credentials, bucket, sse: 'AES256' });
        await storage.init();
        for (const bytes of [randomBytes(1024), randomBytes(6 * MIB)]) {
          const error = await storage.put(`originals/${randomUUID()}`, chunked(bytes)).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(StorageUnavailableError);
          expect((error as Error).message).toMatch(
            /^Storage unavailable: endpoint error \(HTTP 501 NotImplemented: Server side encryption specified but KMS is not configured/,
          );
        }
        expect(await (await inspect(bucket, withoutKms)).keys()).toEqual([]);
      } finally {
        await withoutKms.destroy();
      }
    }, 30_000);
  });

  describe('multipart uploads', () => {
    it('aborts the multipart upload when the body fails after the first part: no object, no parts left', async () => {
      const bucket = newBucket();
      const storage = s3Storage({ bucket });
      await storage.init();
      const view = await inspect(bucket);
      const key = `originals/${randomUUID()}`;
      const failure = new Error('client went away');
      let partsWhenFailing = -1;
      const body = Readable.from(
        (async function* () {
          for (let sent = 0; sent < 5 * MIB + 256 * 1024; sent += 64 * 1024) yield randomBytes(64 * 1024);
          // Pulled again only once the first part has been acknowledged.
          partsWhenFailing = await view.uploadedParts(key);
          throw failure;
        })(),
      );

      await expect(storage.put(key, body)).rejects.toBe(failure);
      expect(partsWhenFailing).toBe(1);
      expect(await view.incompleteUploads(key)).toEqual([]);
      expect(await view.head(key)).toBeNull();
      expect(await view.keys()).toEqual([]);
    }, 30_000);
  });

  describe('publicUrl', () => {
    /** A bucket with one thumbnail, and an adapter that presigns for `localhost` (MinIO listens on 127.0.0.1). */
    async function presigning(presignTtlSeconds: number) {
      const publicHost = `localhost:${minio.port}`;
      const bucket = newBucket();
      const storage = s3Storage({ bucket, publicEndpoint: `http://${publicHost}`, presignTtlSeconds });
      await storage.init();
      const key = `thumbnails/${randomUUID()}.png`;
      const bytes = randomBytes(40_000);
      await storage.put(key, chunked(bytes), { contentType: 'image/png' });
      return { storage, bucket, key, bytes, publicHost };
    }

    it('presigns a GET for the public endpoint that plain fetch can use, and only from that host', async () => {
      const { storage, bucket, key, bytes, publicHost } = await presigning(600);
      const url = new URL((await storage.publicUrl(key)) ?? 'missing:');
      expect(url.host).toBe(publicHost);
      expect(url.pathname).toBe(`/${bucket}/${key}`);
      expect(url.searchParams.get('X-Amz-Expires')).toBe('600');
      expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host');

      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/png');
      expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);

      // The host is signed: the same link sent to the internal address is refused.
      const internal = new URL(url);
      internal.host = `127.0.0.1:${minio.port}`;
      const refused = await fetch(internal);
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain('SignatureDoesNotMatch');
    });

    it('gives links that work until presignTtlSeconds have passed, then answer 403', async () => {
      const ttl = 5;
      const { storage, key } = await presigning(ttl);
      const url = new URL((await storage.publicUrl(key)) ?? 'missing:');
      expect(url.searchParams.get('X-Amz-Expires')).toBe(String(ttl));
      expect((await fetch(url)).status).toBe(200);

      const expired = await vi.waitFor(
        async () => {
          const answer = await fetch(url);
          if (answer.status === 200) throw new Error('still valid');
          return { status: answer.status, text: await answer.text(), at: Date.now() };
        },
        { timeout: 20_000, interval: 200 },
      );
      expect(expired.status).toBe(403);
      expect(expired.text).toContain('Request has expired');
      // Not before its time: X-Amz-Date is the signing second, rounded down.
      expect(expired.at).toBeGreaterThanOrEqual(parseAmzDate(url.searchParams.get('X-Amz-Date') ?? '') + ttl * 1000);
    }, 30_000);

    it('refuses a link whose key, signature or expiry was changed', async () => {
      const { storage, bucket, key } = await presigning(600);
      // Another object that exists, so a refusal is the signature's doing and not a 404.
      const otherKey = `thumbnails/${randomUUID()}.png`;
      await storage.put(otherKey, chunked(Buffer.from('another thumbnail')));
      const url = new URL((await storage.publicUrl(key)) ?? 'missing:');
      expect((await fetch(url)).status).toBe(200);

      const otherObject = new URL(url);
      otherObject.pathname = `/${bucket}/${otherKey}`;
      const signature = url.searchParams.get('X-Amz-Signature') ?? '';
      const otherSignature = new URL(url);
      otherSignature.searchParams.set('X-Amz-Signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`);
      const longerLife = new URL(url);
      longerLife.searchParams.set('X-Amz-Expires', '604800');

      for (const tampered of [otherObject, otherSignature, longerLife]) {
        const answer = await fetch(tampered);
        expect(answer.status).toBe(403);
        expect(await answer.text()).toContain('SignatureDoesNotMatch');
      }
    });

    it('is null without a public endpoint', async () => {
      const storage = s3Storage();
      expect(await storage.publicUrl(`thumbnails/${randomUUID()}.png`)).toBeNull();
    });
  });

  it('reports no free space: a bucket has no limit the service can read', async () => {
    expect(await s3Storage().freeBytes()).toBeNull();
  });

  describe('init and ping', () => {
    it('rejects naming the bucket when it is missing and createBucket is off, and creates nothing', async () => {
      const bucket = newBucket();
      const storage = s3Storage({ bucket, createBucket: false });
      for (const attempt of [() => storage.ping(), () => storage.init(), () => storage.ping()]) {
        const error = await attempt().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StorageUnavailableError);
        expect((error as Error).message).toBe(`Storage unavailable: bucket ${bucket} does not exist`);
      }
      expect(await (await inspect(bucket)).exists()).toBe(false);
    });

    it('creates a missing bucket once, private, when createBucket is on, even with two instances racing', async () => {
      const bucket = newBucket();
      const api = s3Storage({ bucket });
      const worker = s3Storage({ bucket });
      await expect(api.ping()).rejects.toBeInstanceOf(StorageUnavailableError);
      await Promise.all([api.init(), worker.init()]);
      await expect(api.ping()).resolves.toBeUndefined();
      await expect(worker.init()).resolves.toBeUndefined();

      const view = await inspect(bucket);
      expect(await view.policy()).toBeNull();
      await api.put('thumbnails/private.png', chunked(Buffer.from('not for anyone')));
      expect((await fetch(`${minio.endpoint}/${bucket}/thumbnails/private.png`)).status).toBe(403);
    });

    it('rejects an unknown access key id, saying the credentials were rejected', async () => {
      const bucket = newBucket();
      await s3Storage({ bucket }).init();
      const storage = s3Storage({ bucket, accessKeyId: 'NOT-A-KEY', createBucket: false });
      const error = await storage.ping().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageUnavailableError);
      expect((error as Error).message).toBe('Storage unavailable: credentials rejected (InvalidAccessKeyId)');
      const putError = await storage.put(`originals/${randomUUID()}`, chunked(Buffer.from('x'))).catch((e: unknown) => e);
      expect(putError).toBeInstanceOf(StorageUnavailableError);
      expect((putError as Error).message).toContain('InvalidAccessKeyId');
      expect(await (await inspect(bucket)).keys()).toEqual([]);
    });

    it('rejects a wrong secret key, saying the signature did not match, and stores nothing', async () => {
      const bucket = newBucket();
      await s3Storage({ bucket }).init();
      const storage = s3Storage({ bucket, secretAccessKey: `${minio.credentials.secretAccessKey}x`, createBucket: true });
      const initError = await storage.init().catch((e: unknown) => e);
      expect(initError).toBeInstanceOf(StorageUnavailableError);
      expect((initError as Error).message).toBe('Storage unavailable: credentials rejected (SignatureDoesNotMatch)');
      await expect(storage.ping()).rejects.toThrow('credentials rejected (SignatureDoesNotMatch)');

      for (const bytes of [randomBytes(1024), randomBytes(6 * MIB)]) {
        const body = chunked(bytes);
        const error = await storage.put(`originals/${randomUUID()}`, body).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StorageUnavailableError);
        expect((error as Error).message).toContain('SignatureDoesNotMatch');
        expect(body.destroyed).toBe(true);
      }
      await expect(storage.get(`originals/${randomUUID()}`)).rejects.toBeInstanceOf(StorageUnavailableError);
      expect(await (await inspect(bucket)).keys()).toEqual([]);
    }, 30_000);

    it('reports the endpoint going away, not the abandoned read of the body, when it stops mid-upload', async () => {
      const going = await startMinio();
      try {
        const storage = s3Storage({ endpoint: going.endpoint, ...going.credentials });
        await storage.init();
        // 12 MiB: the first 5 MiB part goes through, the server stops at 8 MiB, and the second
        // part fails with a third of the body still to come.
        const body = Readable.from(
          (async function* () {
            for (let sent = 0; sent < 12 * MIB; sent += 64 * 1024) {
              if (sent === 8 * MIB) await going.stop();
              yield randomBytes(64 * 1024);
            }
          })(),
        );
        const error = await storage.put(`originals/${randomUUID()}`, body).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StorageUnavailableError);
        expect((error as Error).message).toContain('ECONNREFUSED');
        expect(body.destroyed).toBe(true);
      } finally {
        await going.destroy();
      }
    }, 30_000);

    it('fails fast with StorageUnavailableError when the endpoint is stopped', async () => {
      const stopped = await startMinio();
      await stopped.destroy();
      const storage = s3Storage({ endpoint: stopped.endpoint, ...stopped.credentials, createBucket: false });

      const started = Date.now();
      const error = await storage.ping().catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(error).toBeInstanceOf(StorageUnavailableError);
      expect((error as Error).message).toBe('Storage unavailable: endpoint unreachable (ECONNREFUSED)');

      const key = `originals/${randomUUID()}`;
      await expect(storage.get(key)).rejects.toBeInstanceOf(StorageUnavailableError);
      await expect(storage.head(key)).rejects.toBeInstanceOf(StorageUnavailableError);
      await expect(storage.delete(key)).rejects.toBeInstanceOf(StorageUnavailableError);
      const body = Readable.from([Buffer.from('x')]);
      await expect(storage.put(key, body)).rejects.toBeInstanceOf(StorageUnavailableError);
      expect(body.destroyed).toBe(true);
      expect(Date.now() - started).toBeLessThan(10_000);
    }, 15_000);
  });
});

function parseAmzDate(value: string): number {
  const [, y, mo, d, h, mi, s] = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value) ?? [];
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
}
