import { statfsSync } from 'node:fs';
import { mountSmallDisk, png50 } from '@thumbnail/testing';
import { submit } from './support/client';
import { rawRequest, uploadBody, uploadHead } from './support/raw-requests';
import { eventually, listedCount, MIB, pendingWrites, streamUpload } from './support/reliability-http';
import { TestService } from './support/service';

const DISK = '48m';
const RESERVE = 24 * MIB;
const UPLOAD = 4 * MIB;

function freeBytes(dir: string): number {
  const info = statfsSync(dir);
  return info.bavail * info.bsize;
}

/**
 * With the workers down, originals pile up on disk. Uploads must stop at MIN_FREE_STORAGE_BYTES,
 * however many arrive at once, so the disk never fills and the jobs already taken can finish.
 * Storage here is a real 48 MiB disk (tmpfs), the API real, the reserve 24 MiB.
 */
describe(`the disk reserve: a ${DISK} disk, MIN_FREE_STORAGE_BYTES of 24 MiB`, () => {
  const disk = mountSmallDisk(DISK);
  if (disk.dir === null) {
    console.log(`Skipping the disk reserve tests: mounting a small disk (tmpfs) needs root (${disk.reason})`);
    return;
  }
  const storageDir = disk.dir;
  let service: TestService;
  let head: Buffer;

  beforeAll(async () => {
    head = (await png50()).subarray(0, 33); // a real PNG signature and IHDR: the API takes the rest as a PNG
    service = await TestService.start({ withoutWorker: true, storageDir, env: { MIN_FREE_STORAGE_BYTES: String(RESERVE) } });
  });
  afterAll(async () => {
    await service?.stop();
    disk.unmount();
  });

  it('takes only what fits above the reserve from a burst of 12 uploads, refusing the rest with 507', async () => {
    const freeBefore = freeBytes(storageDir);
    // All twelve are admitted before any is stored: only counting the ones in flight keeps the
    // last ones out. Each would fit on its own, and together they would fill the disk (503s).
    const answers = await Promise.all(Array.from({ length: 12 }, () => streamUpload(service.api.url, { fileBytes: UPLOAD, head }).answer));
    const statuses = answers.map((answer) => answer.status).sort();
    const accepted = statuses.filter((status) => status === 202).length;

    expect(statuses.filter((status) => status !== 202 && status !== 507)).toEqual([]);
    expect(accepted).toBeGreaterThanOrEqual(1);
    expect(accepted).toBeLessThanOrEqual(Math.floor((freeBefore - RESERVE) / UPLOAD));
    const refused = answers.find((answer) => answer.status === 507);
    expect(refused?.json).toMatchObject({ error: { code: 'insufficient_storage' } });
    expect(Number(refused?.headers['retry-after'])).toBeGreaterThan(0);

    expect(freeBytes(storageDir)).toBeGreaterThanOrEqual(RESERVE);
    expect(service.storedFiles('originals')).toHaveLength(accepted);
    expect(pendingWrites(storageDir)).toEqual([]);
    expect(await listedCount(service.api.url)).toBe(accepted);
  });

  it('refuses one upload after another until space comes back, and still answers everything else', async () => {
    // Fill up to the reserve one at a time (the burst may have left room for a few more).
    let status = 202;
    for (let i = 0; i < 12 && status === 202; i++) status = (await streamUpload(service.api.url, { fileBytes: UPLOAD, head }).answer).status;
    expect(status).toBe(507);
    // A small one that fits in what is left above the reserve is still taken, if there is room.
    const room = freeBytes(storageDir) - RESERVE;
    const small = await submit(service.api.url, await png50());
    expect(small.status).toBe(room > 64 * 1024 ? 202 : 507);
    // No worker runs: every job taken has its original on disk, and no refused one left anything.
    expect(await listedCount(service.api.url)).toBe(service.storedFiles('originals').length);
    expect(pendingWrites(storageDir)).toEqual([]);
    expect((await fetch(`${service.api.url}/health/ready`)).status).toBe(200);
  });

  it('takes uploads again once a worker has finished the waiting jobs and removed their originals', async () => {
    expect((await streamUpload(service.api.url, { fileBytes: UPLOAD, head }).answer).status).toBe(507);
    // The big uploads are a PNG header and filler: the worker fails them, deleting each original.
    await service.startWorker();
    await eventually(() => expect(service.storedFiles('originals')).toEqual([]), 30_000);

    expect((await streamUpload(service.api.url, { fileBytes: UPLOAD, head }).answer).status).toBe(202);
    expect(freeBytes(storageDir)).toBeGreaterThanOrEqual(RESERVE);
  });

  it('gives back the room of uploads refused for another reason', async () => {
    // Eight refused uploads of 4 MiB would hold 32 MiB, more than the 20 left above the reserve.
    for (let i = 0; i < 8; i++) {
      const refused = await streamUpload(service.api.url, { fileBytes: UPLOAD, head, query: 'fit=sideways' }).answer;
      expect(refused.status).toBe(400);
    }
    expect((await streamUpload(service.api.url, { fileBytes: UPLOAD, head }).answer).status).toBe(202);
  });
});

describe(`uploads that stall: a ${DISK} disk, MIN_FREE_STORAGE_BYTES of 24 MiB`, () => {
  const disk = mountSmallDisk(DISK);
  if (disk.dir === null) {
    console.log(`Skipping the stalled-upload reserve test: mounting a small disk (tmpfs) needs root (${disk.reason})`);
    return;
  }
  const storageDir = disk.dir;
  let service: TestService;

  beforeAll(async () => {
    // A long idle limit: the stalled uploads stay stalled for the whole test.
    service = await TestService.start({
      withoutWorker: true,
      storageDir,
      env: { MIN_FREE_STORAGE_BYTES: String(RESERVE), BODY_IDLE_TIMEOUT_MS: '120000' },
    });
  });
  afterAll(async () => {
    await service?.stop();
    disk.unmount();
  });

  it('hold room only for the bytes they sent, not for the size they declared', async () => {
    const head = (await png50()).subarray(0, 33);
    const file = Buffer.concat([head, Buffer.alloc(UPLOAD - head.length, 0x5a)]);
    const body = uploadBody(file);
    // Twelve uploads declare 4 MiB each (48 MiB, twice the room above the reserve), send 256 KiB and stop.
    const stalled = Array.from({ length: 12 }, () =>
      rawRequest(service.api.url, [uploadHead(body.whole.length), body.opening, file.subarray(0, 256 * 1024)], 120_000),
    );
    try {
      await eventually(() => expect(pendingWrites(storageDir)).toHaveLength(12), 10_000);
      // 3 MiB arrived in all: a whole 4 MiB upload still fits, and another after it.
      expect((await streamUpload(service.api.url, { fileBytes: UPLOAD, head }).answer).status).toBe(202);
      expect((await streamUpload(service.api.url, { fileBytes: UPLOAD, head }).answer).status).toBe(202);
      expect(freeBytes(storageDir)).toBeGreaterThanOrEqual(RESERVE);
    } finally {
      for (const client of stalled) client.socket.destroy();
    }
    // Gone with their clients: their partial files and the room they held.
    await eventually(() => expect(pendingWrites(storageDir)).toEqual([]), 10_000);
    expect(service.storedFiles('originals')).toHaveLength(2);
  });
});

describe('a full disk with no reserve (MIN_FREE_STORAGE_BYTES=0)', () => {
  const disk = mountSmallDisk('14m');
  if (disk.dir === null) {
    console.log(`Skipping the full-disk upload test: mounting a small disk (tmpfs) needs root (${disk.reason})`);
    return;
  }
  const storageDir = disk.dir;
  let service: TestService;

  beforeAll(async () => {
    service = await TestService.start({ withoutWorker: true, storageDir, env: { MIN_FREE_STORAGE_BYTES: '0' } });
  });
  afterAll(async () => {
    await service?.stop();
    disk.unmount();
  });

  it('answers 503 for the upload the disk cannot hold, keeping no part of it and no job', async () => {
    const head = (await png50()).subarray(0, 33);
    const statuses: number[] = [];
    // 4 MiB each on 14 MiB: the fourth runs out of space part-way.
    for (let i = 0; i < 4; i++) statuses.push((await streamUpload(service.api.url, { fileBytes: UPLOAD, head }).answer).status);
    expect(statuses).toEqual([202, 202, 202, 503]);
    expect(service.storedFiles('originals')).toHaveLength(3);
    expect(pendingWrites(storageDir)).toEqual([]);
    expect(await listedCount(service.api.url)).toBe(3);
    // What is left still takes a small upload.
    expect((await submit(service.api.url, await png50())).status).toBe(202);
  });
});
