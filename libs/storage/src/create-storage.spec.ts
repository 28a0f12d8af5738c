import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envSchema } from '@thumbnail/config';
import { type RunningMinio, S3BucketInspector, skipWithoutTool, startMinio } from '@thumbnail/testing';
import { createStorage } from './create-storage';
import { FsStorage } from './fs-storage';
import { S3Storage } from './s3-storage';
import type { Storage } from './storage';
import { chunked } from './storage.contract';

describe('createStorage', () => {
  let storage: Storage | undefined;
  afterEach(async () => {
    await storage?.close();
    storage = undefined;
  });

  it('gives the disk adapter rooted at STORAGE_DIR by default', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'create-storage-'));
    try {
      storage = await createStorage(envSchema.parse({ STORAGE_DIR: join(dir, 'files') }));
      expect(storage).toBeInstanceOf(FsStorage);
      await storage.init();
      const key = `originals/${randomUUID()}`;
      await storage.put(key, chunked(Buffer.from('on disk')));
      expect(await readFile(join(dir, 'files', key), 'utf8')).toBe('on disk');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe.skipIf(skipWithoutTool('minio'))('with STORAGE_DRIVER=s3', () => {
    let s3: RunningMinio;
    beforeAll(async () => {
      s3 = await startMinio({ kms: true });
    });
    afterAll(async () => {
      await s3?.destroy();
    });

    it('gives the S3 adapter wired to every S3_* variable', async () => {
      storage = await createStorage(
        envSchema.parse({
          STORAGE_DRIVER: 's3',
          S3_ENDPOINT: s3.endpoint,
          S3_PUBLIC_ENDPOINT: `http://localhost:${s3.port}`,
          S3_BUCKET: 'from-env',
          S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
          S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
          S3_FORCE_PATH_STYLE: 'true',
          S3_CREATE_BUCKET: 'true',
          S3_SSE: 'AES256',
          PRESIGN_TTL_SECONDS: '120',
        }),
      );
      expect(storage).toBeInstanceOf(S3Storage);
      await storage.init();
      const key = `thumbnails/${randomUUID()}.png`;
      await storage.put(key, chunked(Buffer.from('in the bucket')), { contentType: 'image/png' });

      const url = new URL((await storage.publicUrl(key)) ?? 'missing:');
      expect(url.host).toBe(`localhost:${s3.port}`);
      expect(url.pathname).toBe(`/from-env/${key}`);
      expect(url.searchParams.get('X-Amz-Expires')).toBe('120');
      const response = await fetch(url);
      expect(await response.text()).toBe('in the bucket');
      expect(response.headers.get('content-type')).toBe('image/png');

      const bucket = await S3BucketInspector.open(s3, 'from-env');
      expect(await bucket.head(key)).toEqual({ bytes: 13, serverSideEncryption: 'AES256' });
      bucket.close();
    });
  });
});
