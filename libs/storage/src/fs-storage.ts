import { randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, statfs, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import {
  type PutOptions,
  Storage,
  type StoredObject,
  type StoredObjectInfo,
  StorageNotFoundError,
  StorageUnavailableError,
  isAbandonedRead,
} from './storage';
import { assertValidKey, InvalidStorageKeyError } from './storage-key';

export interface FsStorageOptions {
  /** Directory holding the objects; created (mode 0700) on first use. */
  root: string;
  /**
   * Age after which a temp file can only be a dead writer's (a process killed mid-put): no put
   * may last longer. The API's REQUEST_TIMEOUT_MS bounds every upload, so the apps pass a little
   * more than that. Default: an hour.
   */
  tmpMaxAgeMs?: number;
  /** A `background` put whose data could not be made durable (the disk failed after the put). */
  onBackgroundSyncError?: (key: string, error: unknown) => void;
}

// Images are confidential: only the service's own user may read them.
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
/** Writes in progress. No key can name it (key prefixes are `[a-z]+`). */
const TMP_DIR = '.tmp';
const DEFAULT_TMP_MAX_AGE_MS = 60 * 60 * 1000;
/**
 * Incoming chunks are gathered up to this size and written with one writev: an upload arrives in
 * 64 KiB socket reads, and a write per read (as a WriteStream does) costs the API noticeably more
 * CPU per large upload; larger batches gain nothing more and hold more memory per upload in
 * flight (bench/README.md has the figures).
 */
const WRITE_BATCH_BYTES = 256 * 1024;

/**
 * Objects as files under one root directory: the embedded default, for a single host (or a
 * volume shared by the api and the worker).
 *
 * A put streams into `<root>/.tmp/` and renames into place, so readers see the old file or the
 * whole new one, never a partial one. A failed put removes its temp file itself; one left by a
 * process killed mid-put is removed once it is older than any put can last (`tmpMaxAgeMs`), at
 * start and then every so often, by whichever process sharing the folder sees it first. Durable
 * means the file and the folder entry naming it are fsynced: before the rename and after it for
 * `on-return`, after it for `background`.
 */
export class FsStorage extends Storage {
  private readonly root: string;
  private readonly tmpMaxAgeMs: number;
  private sweeper: NodeJS.Timeout | null = null;
  private readonly onBackgroundSyncError: (key: string, error: unknown) => void;
  /** Background syncs under way; `close()` waits for them. */
  private readonly syncing = new Set<Promise<void>>();

  constructor(options: FsStorageOptions) {
    super();
    this.root = resolve(options.root);
    this.tmpMaxAgeMs = options.tmpMaxAgeMs ?? DEFAULT_TMP_MAX_AGE_MS;
    this.onBackgroundSyncError = options.onBackgroundSyncError ?? (() => undefined);
  }

  /** Creates the root, checks it is writable, and starts sweeping dead writers' temp files. */
  override async init(): Promise<void> {
    await this.ping();
    await this.sweepTempFiles();
    // A quarter of the age: a dead writer's file goes at most 1.25 x tmpMaxAgeMs after its last write.
    this.sweeper ??= setInterval(() => void this.sweepTempFiles().catch(() => undefined), Math.max(1_000, this.tmpMaxAgeMs / 4));
    this.sweeper.unref();
  }

  /**
   * Removes temp files last written more than `tmpMaxAgeMs` ago. A live put's file is younger:
   * its own writes keep its mtime recent, and no put lasts that long (another replica on the same
   * volume may be writing its own).
   */
  async sweepTempFiles(): Promise<number> {
    const tmp = join(this.root, TMP_DIR);
    const cutoff = Date.now() - this.tmpMaxAgeMs;
    let removed = 0;
    for (const name of await readdir(tmp).catch(() => [] as string[])) {
      const path = join(tmp, name);
      const info = await stat(path).catch(() => null);
      if (info && info.mtimeMs < cutoff) {
        await rm(path, { force: true });
        removed++;
      }
    }
    return removed;
  }

  /** `contentType` is not kept on disk: the job record has it. */
  async put(key: string, body: Readable, options: PutOptions = {}): Promise<StoredObject> {
    let bodyError: unknown;
    const onBodyError = (error: unknown) => {
      bodyError ??= error;
    };
    body.on('error', onBodyError);
    let tmp: string | undefined;
    let file: FileHandle | undefined;
    try {
      const target = this.pathOf(key);
      await this.makeDir(join(this.root, TMP_DIR));
      await this.makeDir(dirname(target));
      tmp = join(this.root, TMP_DIR, randomUUID());
      file = await open(tmp, 'wx', FILE_MODE);
      const bytes = await writeAll(file, body, options.onWritten);
      if (options.durability === 'background') {
        await rename(tmp, target);
        this.syncInBackground(key, file, dirname(target));
        return { key, bytes };
      }
      await file.sync();
      await file.close();
      file = undefined;
      await rename(tmp, target);
      tmp = target;
      await syncDirectory(dirname(target));
      return { key, bytes };
    } catch (error) {
      body.destroy();
      await file?.close().catch(() => undefined);
      // A folder removed behind our back is made again by the next put.
      this.madeDirs.clear();
      // The temp file, or the object already renamed into place whose folder could not be synced.
      if (tmp) await rm(tmp, { force: true });
      // The body's own failure (client gone, upload refused) is the cause, unless it only failed
      // because the write did and we stopped reading it.
      if (bodyError !== undefined && !isAbandonedRead(bodyError)) throw bodyError;
      throw this.unavailable(error, `cannot write ${key}`);
    } finally {
      body.off('error', onBodyError);
    }
  }

  async get(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    // Open before returning so a missing file rejects here rather than as a stream error, and
    // so the stream keeps reading the file it opened even if a put replaces it meanwhile.
    const handle = await open(path, 'r').catch((error: unknown) => {
      throw this.readError(error, key);
    });
    return handle.createReadStream();
  }

  async getBuffer(key: string): Promise<Buffer> {
    const path = this.pathOf(key);
    return readFile(path).catch((error: unknown) => {
      throw this.readError(error, key);
    });
  }

  /**
   * The ETag is derived from size, mtime (ns) and inode rather than a content hash, so `head`
   * never reads the file (originals go up to MAX_UPLOAD_BYTES and the API heads on every
   * conditional GET). Every put renames a new file into place, so the inode changes even when
   * two puts of the same size land within one timestamp tick; an identical re-upload gets a new
   * ETag, which only costs a cache miss.
   */
  async head(key: string): Promise<StoredObjectInfo | null> {
    const path = this.pathOf(key);
    try {
      const info = await stat(path, { bigint: true });
      if (!info.isFile()) return null;
      return {
        bytes: Number(info.size),
        etag: `"${info.size.toString(16)}-${info.mtimeNs.toString(16)}-${info.ino.toString(16)}"`,
        lastModified: info.mtime,
      };
    } catch (error) {
      if (isMissing(error)) return null;
      throw this.unavailable(error, `cannot stat ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (error) {
      if (isMissing(error)) return;
      throw this.unavailable(error, `cannot delete ${key}`);
    }
  }

  async publicUrl(key: string): Promise<string | null> {
    this.pathOf(key);
    return null;
  }

  /** What an unprivileged writer may still use on the filesystem holding the root (`df`'s Avail). */
  async freeBytes(): Promise<number> {
    try {
      const info = await statfs(this.root);
      return info.bavail * info.bsize;
    } catch (error) {
      throw this.unavailable(error, `cannot read the free space of ${this.root}`);
    }
  }

  async ping(): Promise<void> {
    const probe = join(this.root, TMP_DIR, `ping-${randomUUID()}`);
    try {
      await this.makeDir(join(this.root, TMP_DIR));
      const handle = await open(probe, 'wx', FILE_MODE);
      await handle.close();
      await unlink(probe);
    } catch (error) {
      throw this.unavailable(error, `directory ${this.root} is not writable`);
    }
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    await Promise.all(this.syncing);
  }

  /** Fsyncs a renamed object's data, then its folder entry, without the put waiting for it. */
  private syncInBackground(key: string, file: FileHandle, dir: string): void {
    const sync = (async () => {
      try {
        await file.sync();
      } finally {
        await file.close();
      }
      await syncDirectory(dir);
    })().catch((error: unknown) => this.onBackgroundSyncError(key, error));
    this.syncing.add(sync);
    void sync.finally(() => this.syncing.delete(sync));
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    const path = join(this.root, key);
    // The key pattern already rules this out; a second check costs nothing.
    const inside = relative(this.root, path);
    if (inside.startsWith('..') || isAbsolute(inside)) throw new InvalidStorageKeyError(key);
    return path;
  }

  /** Folders already made by this process: a put then costs no mkdir calls. */
  private readonly madeDirs = new Set<string>();

  private async makeDir(path: string): Promise<void> {
    if (this.madeDirs.has(path)) return;
    await mkdir(path, { recursive: true, mode: DIR_MODE });
    this.madeDirs.add(path);
  }

  private readError(error: unknown, key: string): unknown {
    if (isMissing(error)) return new StorageNotFoundError(key);
    return this.unavailable(error, `cannot read ${key}`);
  }

  /** System errors (no space, read-only disk, permissions) mean the disk cannot serve us now. */
  private unavailable(error: unknown, what: string): unknown {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (typeof (error as NodeJS.ErrnoException | undefined)?.syscall !== 'string' || !code) return error;
    return new StorageUnavailableError(`${what} (${code})`, { cause: error });
  }
}

/**
 * Writes `body` to `file` in batches (see WRITE_BATCH_BYTES) and returns how many bytes it wrote.
 * Reading waits for each write, so a slow disk slows the sender instead of filling memory.
 */
async function writeAll(file: FileHandle, body: Readable, onWritten: (bytes: number) => void = () => undefined): Promise<number> {
  let bytes = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    batch.push(chunk);
    batchBytes += chunk.length;
    if (batchBytes < WRITE_BATCH_BYTES) continue;
    await writeFully(file, batch, batchBytes);
    onWritten(batchBytes);
    bytes += batchBytes;
    batch = [];
    batchBytes = 0;
  }
  if (batchBytes > 0) {
    await writeFully(file, batch, batchBytes);
    onWritten(batchBytes);
  }
  return bytes + batchBytes;
}

/** Fsyncs a folder, so that the names a rename put in it survive a crash of the machine. */
async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** writev, then the rest if it wrote less (the disk filled up part-way): that write fails with the reason. */
async function writeFully(file: FileHandle, chunks: Buffer[], length: number): Promise<void> {
  const { bytesWritten } = await file.writev(chunks);
  let rest = bytesWritten < length ? Buffer.concat(chunks, length).subarray(bytesWritten) : null;
  while (rest && rest.length > 0) {
    const written = (await file.write(rest)).bytesWritten;
    if (written === 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO', syscall: 'write' });
    rest = rest.subarray(written);
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
