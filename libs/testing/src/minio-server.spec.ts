import { GetObjectCommand, PutObjectCommand, CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { skipWithoutTool } from './built-tools';
import { startMinio, type RunningMinio } from './minio-server';

describe.skipIf(skipWithoutTool('minio'))('startMinio', () => {
  let minio: RunningMinio;
  let client: S3Client;

  beforeAll(async () => {
    minio = await startMinio();
    client = new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: minio.credentials });
  });
  afterAll(async () => {
    client?.destroy();
    await minio?.destroy();
  });

  it('serves S3 with its own credentials and keeps objects across a restart', async () => {
    await client.send(new CreateBucketCommand({ Bucket: 'kept' }));
    await client.send(new PutObjectCommand({ Bucket: 'kept', Key: 'a/b', Body: Buffer.from('hello') }));
    await minio.stop();
    await expect(client.send(new GetObjectCommand({ Bucket: 'kept', Key: 'a/b' }))).rejects.toThrow();
    await minio.restart();
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
});
