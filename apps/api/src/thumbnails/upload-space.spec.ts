import { StorageUnavailableError } from '@thumbnail/storage';
import { ApiError } from '../errors/api-error';
import { type UploadReservation, UploadSpace } from './upload-space';

const MIB = 1024 * 1024;

/**
 * The accounting, against a disk whose free space the test sets (the real statfs is covered by
 * the storage lib, and the API on a small real disk by the e2e suite). The reading never goes
 * stale on its own here (refreshMs of a minute): each re-read the tests see is one the
 * accounting asked for.
 */
function spaceOn(disk: { free: number | null }, reserveBytes = 100 * MIB) {
  const reads = { count: 0 };
  const space = new UploadSpace({
    freeBytes: async () => {
      reads.count++;
      return disk.free;
    },
    reserveBytes,
    refreshMs: 60_000,
  });
  return { space, reads };
}

/** Bytes arriving for `reservation` and being written: taken, then on the disk. */
async function arrive(disk: { free: number | null }, reservation: UploadReservation, bytes: number): Promise<void> {
  await reservation.take(bytes);
  reservation.written(bytes);
  if (disk.free !== null) disk.free -= bytes;
}

async function refusal(pending: Promise<unknown> | undefined): Promise<ApiError> {
  const error = await Promise.resolve(pending).then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(error)}`);
  return error;
}

describe('UploadSpace', () => {
  it('refuses an upload before reading any of it when the disk is already at the reserve (507, Retry-After)', async () => {
    const { space } = spaceOn({ free: 100 * MIB });
    const refused = await refusal(space.open());
    expect(refused.status).toBe(507);
    expect(refused.code).toBe('insufficient_storage');
    expect(refused.message).toMatch(/disk space/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(space.openReservations).toBe(0);
  });

  it('claims room only as bytes arrive: uploads that have sent nothing hold nothing, whatever they declared', async () => {
    const disk = { free: 110 * MIB };
    const { space } = spaceOn(disk);
    // Fifty clients that opened uploads and sent nothing (a declared 20 MiB each would be 1 GB).
    const idle = await Promise.all(Array.from({ length: 50 }, () => space.open()));
    expect(space.heldBytes).toBe(0);

    const upload = await space.open();
    await arrive(disk, upload, 10 * MIB);
    upload.close();
    expect(disk.free).toBe(100 * MIB);
    for (const reservation of idle) reservation.close();
    expect(space.openReservations).toBe(0);
  });

  it('refuses the bytes that would go under the reserve, reading the disk again first', async () => {
    const disk = { free: 110 * MIB };
    const { space, reads } = spaceOn(disk);
    const upload = await space.open();
    await arrive(disk, upload, 6 * MIB);
    await arrive(disk, upload, 4 * MIB);
    const readsBefore = reads.count;
    const refused = await refusal(upload.take(1));
    expect(refused.code).toBe('insufficient_storage');
    expect(reads.count).toBe(readsBefore + 1);
  });

  it('counts every byte received since the last reading, across uploads, so a burst cannot overshoot it', async () => {
    const disk = { free: 130 * MIB };
    const { space, reads } = spaceOn(disk);
    const uploads = await Promise.all([space.open(), space.open(), space.open()]);
    const readsAfterOpening = reads.count;
    // Received but not yet written, or written but not yet in the reading: 30 MiB either way.
    for (const upload of uploads) expect(upload.take(10 * MIB)).toBeUndefined();
    expect(reads.count).toBe(readsAfterOpening);
    // Nothing is on the disk yet (the writes are slow): 130 - 30 leaves the reserve exactly.
    expect((await refusal(uploads[0].take(1))).code).toBe('insufficient_storage');
    expect(space.heldBytes).toBe(30 * MIB);
  });

  it('gives back what a dropped upload held, and lets others wait for its partial file to go before refusing them', async () => {
    const disk = { free: 120 * MIB };
    const { space } = spaceOn(disk);
    const first = await space.open();
    const second = await space.open();
    await arrive(disk, first, 12 * MIB);
    await arrive(disk, second, 6 * MIB);
    // The second is refused: 2 MiB are left above the reserve.
    expect((await refusal(second.take(3 * MIB))).code).toBe('insufficient_storage');

    // The first is short too, but the second's 6 MiB are about to be removed: it waits for them.
    let firstGotRoom = false;
    const waiting = Promise.resolve(first.take(3 * MIB)).then(() => (firstGotRoom = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(firstGotRoom).toBe(false);
    disk.free += 6 * MIB; // storage removed the second's partial file...
    second.close(); // ...and the upload gave its reservation back
    await waiting;
    expect(firstGotRoom).toBe(true);
    first.close();
    expect(space.heldBytes).toBe(0);
  });

  it('in a burst short of room, refuses the newest upload and lets the older ones go on once its bytes are gone', async () => {
    const disk = { free: 110 * MIB };
    const { space } = spaceOn(disk);
    const [oldest, middle, newest] = [await space.open(), await space.open(), await space.open()];
    for (const upload of [oldest, middle, newest]) await arrive(disk, upload, 3 * MIB);
    // 1 MiB is left above the reserve, and each wants 2 more.
    const outcomes = [oldest, middle, newest].map((upload) =>
      Promise.resolve(upload.take(2 * MIB)).then(
        () => 'room',
        (error: ApiError) => error.code,
      ),
    );
    expect(await outcomes[2]).toBe('insufficient_storage');
    let settled = false;
    void Promise.all(outcomes.slice(0, 2)).then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false); // they wait for the newest's partial file to go
    disk.free += 3 * MIB;
    newest.close();
    expect(await Promise.all(outcomes.slice(0, 2))).toEqual(['room', 'room']);
  });

  it('holds only what storage has not yet written, and nothing once closed', async () => {
    const disk = { free: 200 * MIB };
    const { space } = spaceOn(disk);
    const upload = await space.open();
    await upload.take(8 * MIB);
    upload.written(5 * MIB);
    expect(space.heldBytes).toBe(3 * MIB);
    upload.written(50 * MIB); // never more than it took
    expect(space.heldBytes).toBe(0);
    await upload.take(MIB);
    upload.close();
    upload.close(); // a second close gives back nothing more
    expect(space.heldBytes).toBe(0);
    expect(upload.take(MIB)).toBeUndefined(); // a closed upload claims nothing
    expect(space.heldBytes).toBe(0);
  });

  it('checks nothing with MIN_FREE_STORAGE_BYTES=0, or where storage has no free space to read (S3)', async () => {
    const off = spaceOn({ free: 0 }, 0);
    const unchecked = await off.space.open();
    expect(unchecked.take(20 * MIB)).toBeUndefined();
    expect(off.reads.count).toBe(0);
    const bucket = spaceOn({ free: null });
    for (let i = 0; i < 10; i++) expect((await bucket.space.open()).take(20 * MIB)).toBeUndefined();
    expect(bucket.space.heldBytes).toBe(0);
  });

  it('passes on why storage cannot say how much is free (the exception filter answers 503), claiming nothing', async () => {
    const outage = new StorageUnavailableError('cannot read the free space of /data (EIO)');
    const unreadable = new UploadSpace({ freeBytes: () => Promise.reject(outage), reserveBytes: MIB });
    await expect(unreadable.open()).rejects.toBe(outage);

    const bug = new TypeError('not a storage failure');
    const broken = new UploadSpace({ freeBytes: () => Promise.reject(bug), reserveBytes: MIB });
    await expect(broken.open()).rejects.toBe(bug);
    expect(broken.openReservations).toBe(0);
  });
});
