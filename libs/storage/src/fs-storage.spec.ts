import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { mountSmallDisk, skipWithoutStrace, type TracedCall, traceSyscalls } from '@thumbnail/testing';
import { FsStorage } from './fs-storage';
import { StorageUnavailableError } from './storage';
import { chunked, describeStorageContract, readAll } from './storage.contract';
import { InvalidStorageKeyError } from './storage-key';

describeStorageContract('FsStorage', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fs-storage-'));
  const storage = new FsStorage({ root: join(dir, 'files') });
  await storage.init();
  return {
    storage,
    teardown: async () => {
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('FsStorage', () => {
  let dir: string;
  let root: string;
  let storage: FsStorage;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fs-storage-'));
    root = join(dir, 'nested', 'files');
    storage = new FsStorage({ root });
  });
  afterEach(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  const mode = async (path: string) => (await stat(path)).mode & 0o777;

  it('creates the root on first put, with directories 0700 and files 0600', async () => {
    const key = `originals/${randomUUID()}`;
    await storage.put(key, chunked(Buffer.from('secret')));
    expect(await mode(root)).toBe(0o700);
    expect(await mode(join(root, 'originals'))).toBe(0o700);
    expect(await mode(join(root, key))).toBe(0o600);
  });

  it('keeps files 0600 when a put replaces one', async () => {
    const key = `thumbnails/${randomUUID()}.png`;
    await storage.put(key, chunked(Buffer.from('one')));
    await storage.put(key, chunked(Buffer.from('two')));
    expect(await mode(join(root, key))).toBe(0o600);
  });

  it('leaves no temporary file behind after a put, failed or not', async () => {
    await storage.put(`originals/${randomUUID()}`, chunked(randomBytes(100_000)));
    const failing = new Readable({
      read() {
        this.push(randomBytes(32_000));
        this.destroy(new Error('boom'));
      },
    });
    await expect(storage.put(`originals/${randomUUID()}`, failing)).rejects.toThrow('boom');
    expect(await readdir(join(root, '.tmp'))).toEqual([]);
  });

  it('writes nothing outside the root for a hostile key', async () => {
    await storage.init();
    await expect(storage.put('originals/../../escaped', chunked(Buffer.from('x')))).rejects.toBeInstanceOf(InvalidStorageKeyError);
    await expect(storage.put('../escaped', chunked(Buffer.from('x')))).rejects.toBeInstanceOf(InvalidStorageKeyError);
    expect(await readdir(join(dir, 'nested'))).toEqual(['files']);
    expect(await readdir(root)).toEqual(['.tmp']);
  });

  it('keeps streaming the file it opened when a put replaces it meanwhile', async () => {
    const key = `originals/${randomUUID()}`;
    const before = randomBytes(200_000);
    await storage.put(key, chunked(before));
    const reading = await storage.get(key);
    await storage.put(key, chunked(Buffer.from('after')));
    expect((await readAll(reading)).equals(before)).toBe(true);
  });

  it('returns no public URL: the API serves the bytes', async () => {
    expect(await storage.publicUrl(`thumbnails/${randomUUID()}.png`)).toBeNull();
  });

  it('fails freeBytes with StorageUnavailableError when the root is gone', async () => {
    await expect(storage.freeBytes()).rejects.toThrow(/cannot read the free space of .*ENOENT/);
    await expect(storage.freeBytes()).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it('fails ping with StorageUnavailableError naming the directory when it cannot be created', async () => {
    const file = join(dir, 'not-a-directory');
    await writeFile(file, 'x');
    const blocked = new FsStorage({ root: join(file, 'files') });
    const error = await blocked.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect((error as Error).message).toContain(`directory ${join(file, 'files')} is not writable (ENOTDIR)`);
    await expect(blocked.put(`originals/${randomUUID()}`, chunked(Buffer.from('x')))).rejects.toBeInstanceOf(
      StorageUnavailableError,
    );
  });
});

describe('FsStorage temp files', () => {
  it('removes temp files a killed process left over an hour ago at start, and keeps recent ones', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tg-fs-init-'));
    const storage = new FsStorage({ root });
    try {
      mkdirSync(join(root, '.tmp'), { recursive: true });
      writeFileSync(join(root, '.tmp', 'stale'), 'x');
      writeFileSync(join(root, '.tmp', 'recent'), 'x');
      const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
      utimesSync(join(root, '.tmp', 'stale'), twoHoursAgo, twoHoursAgo);
      await storage.init();
      expect(existsSync(join(root, '.tmp', 'stale'))).toBe(false);
      expect(existsSync(join(root, '.tmp', 'recent'))).toBe(true);
    } finally {
      await storage.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('keeps sweeping while it runs: a dead writer’s file goes once older than tmpMaxAgeMs, a live put’s stays', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tg-fs-sweep-'));
    const storage = new FsStorage({ root, tmpMaxAgeMs: 4_000 });
    try {
      await storage.init();
      // A put in progress: its body has not ended, so its temp file stays in .tmp.
      const body = new PassThrough();
      const put = storage.put(`originals/${randomUUID()}`, body);
      body.write(Buffer.alloc(1024));
      await vi.waitFor(() => expect(readdirSync(join(root, '.tmp'))).toHaveLength(1));
      const [live] = readdirSync(join(root, '.tmp'));
      // Left by a process killed mid-put after init ran: last written a minute ago.
      writeFileSync(join(root, '.tmp', 'dead'), 'x');
      const aMinuteAgo = new Date(Date.now() - 60_000);
      utimesSync(join(root, '.tmp', 'dead'), aMinuteAgo, aMinuteAgo);

      await vi.waitFor(() => expect(existsSync(join(root, '.tmp', 'dead'))).toBe(false), { timeout: 5_000, interval: 100 });
      expect(readdirSync(join(root, '.tmp'))).toEqual([live]);
      body.end(Buffer.alloc(1024));
      await expect(put).resolves.toMatchObject({ bytes: 2048 });
    } finally {
      await storage.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reports the bytes it has written as it writes them', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tg-fs-written-'));
    const storage = new FsStorage({ root });
    try {
      const written: number[] = [];
      const body = Buffer.alloc(600 * 1024, 1);
      await storage.put(`originals/${randomUUID()}`, chunked(body), { onWritten: (bytes) => written.push(bytes) });
      // Written in batches (more than one for 600 KiB), adding up to the whole body.
      expect(written.length).toBeGreaterThan(1);
      expect(written.reduce((a, b) => a + b, 0)).toBe(body.length);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('FsStorage on a full disk (an 800 KiB tmpfs)', () => {
  const disk = mountSmallDisk('800k');
  if (disk.dir === null) {
    console.log(`Skipping the full-disk tests: mounting a tmpfs needs root (${disk.reason})`);
    return;
  }
  afterAll(() => disk.unmount());
  const storage = new FsStorage({ root: disk.dir });

  it('refuses a put the disk cannot hold with StorageUnavailableError (ENOSPC), keeping nothing', async () => {
    // 900 KiB: three whole 256 KiB batches fit, the last one only in part (a short write that
    // must not pass for success).
    const key = `originals/${randomUUID()}`;
    const put = storage.put(key, chunked(randomBytes(900 * 1024), 64 * 1024));
    await expect(put).rejects.toThrow(StorageUnavailableError);
    await expect(put).rejects.toThrow(/ENOSPC/);
    expect(await storage.head(key)).toBeNull();
    expect(await readdir(join(disk.dir, '.tmp'))).toEqual([]);
  });

  it('reports ENOSPC, not the abandoned read of the body, when the disk fills while the body is still arriving', async () => {
    // 4 MiB in 64 KiB chunks: the disk is full long before the body ends.
    const body = Readable.from(Array.from({ length: 64 }, () => randomBytes(64 * 1024)));
    const key = `originals/${randomUUID()}`;
    const put = storage.put(key, body);
    await expect(put).rejects.toThrow(StorageUnavailableError);
    await expect(put).rejects.toThrow(/ENOSPC/);
    expect(body.destroyed).toBe(true);
    expect(await storage.head(key)).toBeNull();
    expect(await readdir(join(disk.dir, '.tmp'))).toEqual([]);
  });

  it('takes the next put that fits once the failed one is cleaned up', async () => {
    const key = `originals/${randomUUID()}`;
    const body = randomBytes(600 * 1024);
    await storage.put(key, chunked(body, 64 * 1024));
    expect((await storage.getBuffer(key)).equals(body)).toBe(true);
  });

  it('reports the free space left on the disk, down by what a put stored', async () => {
    const before = await storage.freeBytes();
    // Whatever the earlier cases left, the disk is 800 KiB and at least one page is still free.
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThanOrEqual(800 * 1024);
    const key = `originals/${randomUUID()}`;
    await storage.put(key, chunked(randomBytes(100 * 1024), 64 * 1024));
    expect(await storage.freeBytes()).toBe(before - 100 * 1024);
    await storage.delete(key);
    expect(await storage.freeBytes()).toBe(before);
  });
});

/*
 * What reaches the disk, as the kernel sees it: strace on this test's own process (the writes run
 * on libuv's threads). A machine crash keeps a file whose data was fsynced and whose folder was
 * fsynced after the rename that named it.
 */
describe.skipIf(skipWithoutStrace())('FsStorage durability (strace)', () => {
  let dir: string;
  let root: string;
  let storage: FsStorage;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fs-storage-sync-'));
    root = join(dir, 'files');
    storage = new FsStorage({ root });
    await storage.init();
  });
  afterEach(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The calls of one put: fsyncs and renames under the root, and the marker opened once it returned. */
  async function tracePut(key: string, durability: 'on-return' | 'background') {
    const marker = join(dir, `returned-${randomUUID()}`);
    const trace = await traceSyscalls(process.pid, ['fsync', 'fdatasync', 'rename', 'renameat', 'renameat2', 'openat']);
    await storage.put(key, chunked(randomBytes(300_000)), { durability });
    writeFileSync(marker, '');
    await storage.close();
    const calls = (await trace.stop()).filter((call) => call.args.includes(root) || call.args.includes(marker));
    const at = (what: string, test: (call: TracedCall) => boolean) => {
      const index = calls.findIndex(test);
      expect(index, `${what} in\n${calls.map((c) => `${c.name}(${c.args})`).join('\n')}`).toBeGreaterThanOrEqual(0);
      return index;
    };
    const target = join(root, key);
    return {
      rename: at('the rename into place', (call) => call.name.startsWith('rename') && call.args.includes(`"${target}"`)),
      returned: at('the marker', (call) => call.name === 'openat' && call.args.includes(marker)),
      /** The data: fsync of the file, under its temporary name or (after the rename) its own. */
      dataSyncs: calls.flatMap((call, index) => (/^f(data)?sync$/.test(call.name) && /\/\.tmp\/|<[^>]*originals\/[0-9a-f-]{36}>/.test(call.args) ? [index] : [])),
      folderSyncs: calls.flatMap((call, index) => (/^f(data)?sync$/.test(call.name) && call.args.includes(`<${join(root, 'originals')}>`) ? [index] : [])),
    };
  }

  it('on-return: the data is fsynced before the rename, the folder after it, both before put returns', async () => {
    const { rename, returned, dataSyncs, folderSyncs } = await tracePut(`originals/${randomUUID()}`, 'on-return');
    expect(dataSyncs.some((index) => index < rename)).toBe(true);
    expect(folderSyncs.some((index) => index > rename && index < returned)).toBe(true);
  });

  it('background: named at once, then the data and the folder fsynced after the rename (close() waits for them)', async () => {
    const { rename, dataSyncs, folderSyncs } = await tracePut(`originals/${randomUUID()}`, 'background');
    expect(dataSyncs.length).toBeGreaterThan(0);
    expect(dataSyncs.every((index) => index > rename)).toBe(true);
    expect(folderSyncs.some((index) => index > Math.min(...dataSyncs))).toBe(true);
  });

  it('background: a put is whole for readers as soon as it returns', async () => {
    const key = `originals/${randomUUID()}`;
    const data = randomBytes(700_000);
    await storage.put(key, chunked(data), { durability: 'background' });
    expect((await storage.getBuffer(key)).equals(data)).toBe(true);
  });
});
