import { chownSync, chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { png50, skipWithoutTool, startRedisServer, type RunningRedisServer } from '@thumbnail/testing';
import { startAppContainer, type AppContainer } from './support/app-containers';
import { builtImage, skipWithoutImages } from './support/built-images';
import { renderChartPods } from './support/chart-pod';
import { download, finishedJob, pngSize, submit } from './support/thumbnail-client';

const CLAIM = 'thumbnail-files';

describe.skipIf(skipWithoutImages() || skipWithoutTool('helm'))(
  'the images with the chart’s disk storage: a shared volume as the data folder, job records in Redis',
  () => {
    let redis: RunningRedisServer;
    let volume: string;
    const apps: AppContainer[] = [];

    beforeAll(async () => {
      redis = await startRedisServer({ appendonly: true });
      // A folder standing in for the ReadWriteMany claim, owned the way the pods' fsGroup 10001
      // leaves a volume: group 10001, group-writable, new files inheriting the group.
      volume = mkdtempSync(join(tmpdir(), 'tg-image-volume-'));
      chownSync(volume, 0, 10001);
      chmodSync(volume, 0o2770);
      const pods = renderChartPods({
        'storage.driver': 'fs',
        'storage.fs.existingClaim': CLAIM,
        jobStore: 'redis',
        'minio.enabled': 'false',
        'mongodb.enabled': 'false',
      });
      expect(pods.api.env).toMatchObject({ STORAGE_DRIVER: 'fs', STORAGE_DIR: '/data/files', JOB_STORE: 'redis' });
      const connections = { REDIS_URL: redis.url, REDIS_PASSWORD: '' };
      apps.push(await startAppContainer('worker', builtImage('worker'), pods.worker, connections, { claims: { [CLAIM]: volume } }));
      apps.push(await startAppContainer('api', builtImage('api'), pods.api, connections, { claims: { [CLAIM]: volume } }));
    });

    afterAll(async () => {
      await Promise.all(apps.map((app) => app.container.remove()));
      await redis?.destroy();
      if (volume) rmSync(volume, { recursive: true, force: true });
    });

    it('stores the thumbnail on the volume, written by uid 10001, and serves it', async () => {
      const api = apps[1];
      const id = await submit(api, await png50());
      expect(await finishedJob(api, id)).toMatchObject({ status: 'complete' });

      const stored = statSync(join(volume, 'files', 'thumbnails', `${id}.png`));
      expect({ uid: stored.uid, gid: stored.gid }).toEqual({ uid: 10001, gid: 10001 });
      const served = await download(`${api.url}/thumbnail/${id}/image`, api.apiKey);
      expect(served.status).toBe(200);
      expect(pngSize(served.bytes)).toEqual({ width: 100, height: 100 });
    });
  },
);
