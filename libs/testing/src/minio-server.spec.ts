import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { skipWithoutTool } from './built-tools';
import { startMinio, type RunningMinio } from './minio-server';
import { S3BucketInspector } from './s3-bucket-inspector';

describe.skipIf(skipWithoutTool('minio'))('startMinio', () => {
  let minio: RunningMinio;
  let client: S3Client;

  beforeAll(async () => {
    minio = await startMinio({ kms: true, recordCalls: true });
    client = new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: minio.credentials });
  });
  afterAll(async () => {
    client?.destroy();
    await minio?.destroy();
  });

  it('serves S3 with its own credentials and keeps objects across a restart', async () => {
    await client.send(new CreateBucketCommand({ Bucket: 'kept' }));
    await client.send(new PutObjectCommand({ Bucket: 'kept', Key: 'a/b', Body: Buffer.from('hello') }));
    const pid = minio.pid();
    expect(pid).toBeGreaterThan(0);
    await minio.stop();
    expect(minio.pid()).toBeUndefined();
    await expect(client.send(new GetObjectCommand({ Bucket: 'kept', Key: 'a/b' }))).rejects.toThrow();
    await minio.restart();
    expect(minio.pid()).not.toBe(pid);
    const object = await client.send(new GetObjectCommand({ Bucket: 'kept', Key: 'a/b' }));
    expect(await object.Body?.transformToString()).toBe('hello');
  });

  it('refuses a wrong secret key', async () => {
    const wrong = new S3Client({
      endpoint: minio.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: minio.credentials.accessKeyId, secretAccessKey: 'not-the-secret' },
    });
    await expect(wrong.send(new GetObjectCommand({ Bucket: 'kept', Key: 'a/b' }))).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
    wrong.destroy();
  });

  it('records the calls it answered (recordCalls)', async () => {
    await client.send(new PutObjectCommand({ Bucket: 'kept', Key: 'recorded', Body: Buffer.from('x') }));
    await vi.waitFor(() =>
      expect(minio.calls()).toContainEqual({ api: 'PutObject', bucket: 'kept', object: 'recorded', statusCode: 200 }),
    );
  });

  it('encrypts with its static KMS key what is stored with SSE-S3, and keeps the rest in clear', async () => {
    const [clear, encrypted] = [randomBytes(4096), randomBytes(4096)];
    await client.send(new PutObjectCommand({ Bucket: 'kept', Key: 'clear', Body: clear }));
    await client.send(new PutObjectCommand({ Bucket: 'kept', Key: 'encrypted', Body: encrypted, ServerSideEncryption: 'AES256' }));
    expect(minio.storesInClear(clear)).toBe(true);
    expect(minio.storesInClear(encrypted)).toBe(false);
    const read = await client.send(new GetObjectCommand({ Bucket: 'kept', Key: 'encrypted' }));
    expect(Buffer.from(await (read.Body?.transformToByteArray() ?? new Uint8Array())).equals(encrypted)).toBe(true);
  });
});

describe.skipIf(skipWithoutTool('minio'))('S3BucketInspector', () => {
  let minio: RunningMinio;
  let client: S3Client;
  let bucket: S3BucketInspector;

  beforeAll(async () => {
    minio = await startMinio({ kms: true });
    client = new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: minio.credentials });
    bucket = await S3BucketInspector.open(minio, 'inspected');
  });
  afterAll(async () => {
    bucket?.close();
    client?.destroy();
    await minio?.destroy();
  });

  it('tells whether the bucket exists, creates it private, and lists its keys by prefix', async () => {
    expect(await bucket.exists()).toBe(false);
    await bucket.create();
    expect(await bucket.exists()).toBe(true);
    expect(await bucket.policy()).toBeNull();
    await bucket.put('originals/a', Buffer.from('a'));
    await client.send(new PutObjectCommand({ Bucket: 'inspected', Key: 'thumbnails/a.png', Body: Buffer.from('png'), ServerSideEncryption: 'AES256' }));
    expect(await bucket.keys()).toEqual(['originals/a', 'thumbnails/a.png']);
    expect(await bucket.keys('originals/')).toEqual(['originals/a']);
    expect(await bucket.head('originals/a')).toEqual({ bytes: 1, serverSideEncryption: undefined });
    expect(await bucket.head('thumbnails/a.png')).toEqual({ bytes: 3, serverSideEncryption: 'AES256' });
    expect(await bucket.head('originals/missing')).toBeNull();
  });

  it('sees a multipart upload in progress, with its parts, until it is aborted', async () => {
    const key = 'originals/in-progress';
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'inspected', Key: key }));
    expect(await bucket.incompleteUploads(key)).toEqual([UploadId]);
    expect(await bucket.uploadedParts(key)).toBe(0);
    await client.send(new UploadPartCommand({ Bucket: 'inspected', Key: key, UploadId, PartNumber: 1, Body: randomBytes(1024) }));
    expect(await bucket.uploadedParts(key)).toBe(1);
    await client.send(new AbortMultipartUploadCommand({ Bucket: 'inspected', Key: key, UploadId }));
    expect(await bucket.incompleteUploads(key)).toEqual([]);
    expect(await bucket.keys('originals/')).toEqual(['originals/a']);
  });
});
