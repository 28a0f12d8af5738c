import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { type RunningS3rver, S3RVER_CREDENTIALS, startS3rver } from '@thumbnail/testing';
import { S3Storage, type S3StorageOptions } from './s3-storage';
import { StorageUnavailableError } from './storage';
import { chunked, describeStorageContract } from './storage.contract';

let s3: RunningS3rver;
const storages: S3Storage[] = [];

beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  await s3?.stop();
});
afterEach(async () => {
  await Promise.all(storages.splice(0).map((storage) => storage.close()));
});

function newBucket(): string {
  return `bucket-${randomUUID().slice(0, 8)}`;
}

/** Path-style against s3rver on 127.0.0.1, a fresh bucket that init() creates. */
function s3Storage(overrides: Partial<S3StorageOptions> = {}): S3Storage {
  const storage = new S3Storage({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    bucket: newBucket(),
    ...S3RVER_CREDENTIALS,
    forcePathStyle: true,
    createBucket: true,
    presignTtlSeconds: 900,
    ...overrides,
  });
  storages.push(storage);
  return storage;
}

describeStorageContract('S3Storage on s3rver', async () => {
  const storage = s3Storage();
  await storage.init();
  return { storage, teardown: () => storage.close() };
});

describe('S3Storage', () => {
  describe('publicUrl', () => {
    it('presigns a GET for the public endpoint that plain fetch can use', async () => {
      const publicHost = `localhost:${s3.port}`;
      const bucket = newBucket();
      const storage = s3Storage({ bucket, publicEndpoint: `http://${publicHost}`, presignTtlSeconds: 600 });
      await storage.init();
      const key = `thumbnails/${randomUUID()}.png`;
      const bytes = randomBytes(40_000);
      await storage.put(key, chunked(bytes), { contentType: 'image/png' });

      const url = new URL((await storage.publicUrl(key)) ?? 'missing:');
      expect(url.host).toBe(publicHost);
      expect(url.pathname).toBe(`/${bucket}/${key}`);
      expect(url.searchParams.get('X-Amz-Expires')).toBe('600');
      expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host');
      // s3rver does not verify SigV4 signatures, so check them here: valid for the public host
      // the client will send, invalid for the internal one.
      expect(sigV4QuerySignatureMatches(url, publicHost, S3RVER_CREDENTIALS.secretAccessKey)).toBe(true);
      expect(sigV4QuerySignatureMatches(url, `127.0.0.1:${s3.port}`, S3RVER_CREDENTIALS.secretAccessKey)).toBe(false);

      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
    });

    it('gives URLs that stop working after presignTtlSeconds', async () => {
      const storage = s3Storage({ publicEndpoint: `http://localhost:${s3.port}`, presignTtlSeconds: 2 });
      await storage.init();
      const key = `thumbnails/${randomUUID()}.png`;
      await storage.put(key, chunked(Buffer.from('png bytes')));
      const url = new URL((await storage.publicUrl(key)) ?? 'missing:');
      expect(url.searchParams.get('X-Amz-Expires')).toBe('2');

      expect((await fetch(url)).status).toBe(200);
      const signedAt = parseAmzDate(url.searchParams.get('X-Amz-Date') ?? '');
      await sleep(signedAt + 2_000 + 300 - Date.now());
      const expired = await fetch(url);
      expect(expired.status).toBe(403);
      expect(await expired.text()).toContain('Request has expired');
    }, 10_000);

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
    });

    it('creates a missing bucket once when createBucket is on, even with two instances racing', async () => {
      const bucket = newBucket();
      const api = s3Storage({ bucket });
      const worker = s3Storage({ bucket });
      await expect(api.ping()).rejects.toBeInstanceOf(StorageUnavailableError);
      await Promise.all([api.init(), worker.init()]);
      await expect(api.ping()).resolves.toBeUndefined();
      await expect(worker.init()).resolves.toBeUndefined();
    });

    // s3rver rejects unknown access key ids but does not verify SigV4 signatures, so a wrong
    // secret with the right key id is accepted there; only the key id case is testable.
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
    });

    it('reports the endpoint going away, not the abandoned read of the body, when it stops mid-upload', async () => {
      const going = await startS3rver();
      const storage = s3Storage({ endpoint: going.endpoint });
      await storage.init();
      // 12 MiB: the first 5 MiB part goes through, the server stops at 8 MiB, and the second
      // part fails with a third of the body still to come.
      const body = Readable.from(
        (async function* () {
          for (let sent = 0; sent < 12 * 1024 * 1024; sent += 64 * 1024) {
            if (sent === 8 * 1024 * 1024) await going.stop();
            yield randomBytes(64 * 1024);
          }
        })(),
      );
      const error = await storage.put(`originals/${randomUUID()}`, body).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageUnavailableError);
      expect((error as Error).message).toContain('ECONNREFUSED');
      expect(body.destroyed).toBe(true);
    }, 15_000);

    it('fails fast with StorageUnavailableError when the endpoint is stopped', async () => {
      const stopped = await startS3rver();
      await stopped.stop();
      const storage = s3Storage({ endpoint: stopped.endpoint, createBucket: false });

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

/** Recomputes an AWS SigV4 query signature as S3 would for a GET sent with `host`. */
function sigV4QuerySignatureMatches(url: URL, host: string, secretAccessKey: string): boolean {
  const encode = (value: string) =>
    encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const params = [...url.searchParams.entries()].filter(([name]) => name !== 'X-Amz-Signature');
  const query = params
    .map(([name, value]) => [encode(name), encode(value)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalRequest = ['GET', url.pathname, query, `host:${host}`, '', 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const amzDate = url.searchParams.get('X-Amz-Date') ?? '';
  const [, date, region, service] = (url.searchParams.get('X-Amz-Credential') ?? '').split('/');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  let signingKey = hmac(`AWS4${secretAccessKey}`, date);
  for (const part of [region, service, 'aws4_request']) signingKey = hmac(signingKey, part);
  return createHmac('sha256', signingKey).update(stringToSign).digest('hex') === url.searchParams.get('X-Amz-Signature');
}

function parseAmzDate(value: string): number {
  const [, y, mo, d, h, mi, s] = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value) ?? [];
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
