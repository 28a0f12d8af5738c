import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type RunningS3rver, S3RVER_CREDENTIALS, startS3rver } from './s3rver-harness';

describe('startS3rver', () => {
  let s3rver: RunningS3rver;
  let client: S3Client;

  beforeAll(async () => {
    s3rver = await startS3rver({ buckets: ['race'] });
    client = new S3Client({ endpoint: s3rver.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  });
  afterAll(async () => {
    client?.destroy();
    await s3rver?.stop();
  });

  // What the service does all the time: the worker deletes a finished job's original while the
  // API stores the next one under the same prefix. Plain s3rver removes the emptied prefix folder
  // under the new PUT and dies of an uncaught ENOENT (vitest reports it as an unhandled error).
  it('takes PUTs into a prefix while DELETEs empty it', async () => {
    const put = (key: string) => client.send(new PutObjectCommand({ Bucket: 'race', Key: key, Body: Buffer.from(key) }));
    for (let round = 0; round < 150; round++) {
      await put(`originals/${round}`);
      await Promise.all([
        client.send(new DeleteObjectCommand({ Bucket: 'race', Key: `originals/${round}` })),
        put(`originals/${round}-next`),
      ]);
      await client.send(new DeleteObjectCommand({ Bucket: 'race', Key: `originals/${round}-next` }));
    }
    await put('originals/last');
    const last = await client.send(new GetObjectCommand({ Bucket: 'race', Key: 'originals/last' }));
    expect(await last.Body?.transformToString()).toBe('originals/last');
  }, 30_000);
});
