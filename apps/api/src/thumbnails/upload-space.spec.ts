import { StorageUnavailableError } from '@thumbnail/storage';
import { ApiError } from '../errors/api-error';
import { UploadSpace } from './upload-space';

const MIB = 1024 * 1024;

/**
 * The accounting, against a disk whose free space the test sets (the real statfs is covered by
 * the storage lib, and the API on a small real disk by the e2e suite).
 */
function spaceOn(disk: { free: number | null }, reserveBytes = 100 * MIB, maxUploadBytes = 20 * MIB) {
  const reads = { count: 0 };
  const space = new UploadSpace({
    freeBytes: async () => {
      reads.count++;
      return disk.free;
    },
    reserveBytes,
    maxUploadBytes,
  });
  return { space, reads };
}

async function refusal(claim: Promise<unknown>): Promise<ApiError> {
  const error = await claim.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(error)}`);
  return error;
}

describe('UploadSpace', () => {
  it('takes an upload that leaves the reserve free, and refuses one that would not (507, Retry-After)', async () => {
    const { space } = spaceOn({ free: 110 * MIB });
    await expect(space.claim(10 * MIB)).resolves.toBeTypeOf('function');
    const refused = await refusal(space.claim(10 * MIB + 1));
    expect(refused.status).toBe(507);
    expect(refused.code).toBe('insufficient_storage');
    expect(refused.message).toMatch(/disk space/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('counts uploads still being written, until they give their room back', async () => {
    const disk = { free: 130 * MIB };
    const { space } = spaceOn(disk);
    const first = await space.claim(12 * MIB);
    const second = await space.claim(12 * MIB);
    // 130 - 24 claimed leaves 106: a third 12 MiB would go under the 100 MiB reserve.
    expect((await refusal(space.claim(12 * MIB))).code).toBe('insufficient_storage');
    await expect(space.claim(6 * MIB)).resolves.toBeTypeOf('function');

    // The first is stored: the disk now shows it, and its claim is given back.
    disk.free -= 12 * MIB;
    first();
    first(); // a second call gives back nothing more
    expect((await refusal(space.claim(7 * MIB))).code).toBe('insufficient_storage');
    second();
    disk.free += 12 * MIB; // the second was dropped: nothing of it stays on disk
    await expect(space.claim(18 * MIB)).resolves.toBeTypeOf('function');
  });

  it('assumes MAX_UPLOAD_BYTES for a body without a length, and never more for a longer one', async () => {
    const { space } = spaceOn({ free: 120 * MIB });
    const chunked = await space.claim(undefined);
    // 120 - 20 leaves exactly the reserve: nothing more fits while that upload is written.
    expect((await refusal(space.claim(1))).code).toBe('insufficient_storage');
    chunked();
    const huge = await space.claim(5_000 * MIB); // the API refuses it as too large on its own
    expect((await refusal(space.claim(1))).code).toBe('insufficient_storage');
    huge();
    await expect(space.claim(20 * MIB)).resolves.toBeTypeOf('function');
  });

  it('checks nothing with MIN_FREE_STORAGE_BYTES=0, or where storage has no free space to read (S3)', async () => {
    const off = spaceOn({ free: 0 }, 0);
    await expect(off.space.claim(20 * MIB)).resolves.toBeTypeOf('function');
    expect(off.reads.count).toBe(0);
    const bucket = spaceOn({ free: null });
    for (let i = 0; i < 100; i++) await bucket.space.claim(20 * MIB);
    expect(bucket.reads.count).toBe(100);
  });

  it('passes on why storage cannot say how much is free (the exception filter answers 503), claiming nothing', async () => {
    const outage = new StorageUnavailableError('cannot read the free space of /data (EIO)');
    const unreadable = new UploadSpace({ freeBytes: () => Promise.reject(outage), reserveBytes: MIB, maxUploadBytes: MIB });
    await expect(unreadable.claim(10)).rejects.toBe(outage);

    const bug = new TypeError('not a storage failure');
    const broken = new UploadSpace({ freeBytes: () => Promise.reject(bug), reserveBytes: MIB, maxUploadBytes: MIB });
    await expect(broken.claim(10)).rejects.toBe(bug);
  });
});
