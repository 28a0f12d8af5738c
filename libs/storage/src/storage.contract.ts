import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Storage, StorageNotFoundError } from './storage';
import { InvalidStorageKeyError } from './storage-key';

export interface StorageFixture {
  storage: Storage;
  teardown: () => Promise<void>;
}

const KIB = 1024;
const MIB = 1024 * KIB;

/**
 * The one suite every Storage adapter must pass. `setup` runs before each case and must give
 * an empty store.
 */
export function describeStorageContract(name: string, setup: () => Promise<StorageFixture>): void {
  describe(`Storage contract: ${name}`, () => {
    let fixture: StorageFixture | undefined;
    let storage: Storage;

    beforeEach(async () => {
      fixture = await setup();
      storage = fixture.storage;
    });
    afterEach(async () => {
      await fixture?.teardown();
      fixture = undefined;
    });

    it('round-trips bytes through put and get', async () => {
      const key = originalKey();
      const bytes = randomBytes(300 * KIB);
      const stored = await storage.put(key, chunked(bytes), { contentType: 'image/png' });
      expect(stored).toEqual({ key, bytes: bytes.length });
      expect((await readAll(await storage.get(key))).equals(bytes)).toBe(true);
    });

    it('stores an empty body', async () => {
      const key = thumbnailKey();
      expect(await storage.put(key, Readable.from([]))).toEqual({ key, bytes: 0 });
      expect(await storage.getBuffer(key)).toHaveLength(0);
      expect((await storage.head(key))?.bytes).toBe(0);
    });

    it('replaces the object on a second put', async () => {
      const key = thumbnailKey();
      await storage.put(key, chunked(Buffer.from('first version, longer')));
      await storage.put(key, chunked(Buffer.from('second')));
      expect((await storage.getBuffer(key)).toString()).toBe('second');
      expect((await storage.head(key))?.bytes).toBe(6);
    });

    it('reads a whole object with getBuffer, and rejects with StorageNotFoundError when missing', async () => {
      const key = originalKey();
      const bytes = randomBytes(70 * KIB);
      await storage.put(key, chunked(bytes));
      expect((await storage.getBuffer(key)).equals(bytes)).toBe(true);
      const missing = originalKey();
      await expect(storage.getBuffer(missing)).rejects.toEqual(new StorageNotFoundError(missing));
    });

    it('heads an object: size, a quoted ETag that changes with the content, last modification', async () => {
      const key = thumbnailKey();
      const before = Date.now();
      await storage.put(key, chunked(Buffer.from('aaaa')));
      const first = await storage.head(key);
      expect(first).not.toBeNull();
      expect(first?.bytes).toBe(4);
      expect(first?.etag).toMatch(/^"[^"]+"$/);
      expect(first?.lastModified).toBeInstanceOf(Date);
      // Servers (and filesystems) may truncate to whole seconds.
      expect(first?.lastModified.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 1000);
      expect(first?.lastModified.getTime()).toBeLessThanOrEqual(Date.now() + 1000);

      // Same size, different bytes, immediately after: the ETag must still change.
      await storage.put(key, chunked(Buffer.from('bbbb')));
      const second = await storage.head(key);
      expect(second?.bytes).toBe(4);
      expect(second?.etag).not.toBe(first?.etag);
    });

    it('heads a missing object as null', async () => {
      expect(await storage.head(originalKey())).toBeNull();
    });

    it('rejects get of a missing object with StorageNotFoundError naming the key', async () => {
      const key = originalKey();
      const error = await storage.get(key).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StorageNotFoundError);
      expect((error as StorageNotFoundError).key).toBe(key);
    });

    it('deletes, and deleting a missing object succeeds', async () => {
      const key = originalKey();
      await storage.put(key, chunked(Buffer.from('x')));
      await storage.delete(key);
      expect(await storage.head(key)).toBeNull();
      await expect(storage.get(key)).rejects.toBeInstanceOf(StorageNotFoundError);
      await expect(storage.delete(key)).resolves.toBeUndefined();
      await expect(storage.delete(originalKey())).resolves.toBeUndefined();
    });

    it('rejects put with the body error when the body fails halfway, leaving nothing behind', async () => {
      const key = originalKey();
      const failure = new Error('client went away');
      // Past one 5 MiB part, so a multipart upload is under way when the body fails.
      await expect(storage.put(key, failingBody(6 * MIB, failure))).rejects.toBe(failure);
      expect(await storage.head(key)).toBeNull();
      await expect(storage.getBuffer(key)).rejects.toBeInstanceOf(StorageNotFoundError);
    }, 30_000);

    it('keeps the previous object when a replacing put fails', async () => {
      const key = originalKey();
      const previous = randomBytes(10 * KIB);
      await storage.put(key, chunked(previous));
      const failure = new Error('disconnected');
      await expect(storage.put(key, failingBody(64 * KIB, failure))).rejects.toBe(failure);
      expect((await storage.getBuffer(key)).equals(previous)).toBe(true);
    });

    it('shows readers the previous object while a replacing put is in flight', async () => {
      const key = originalKey();
      const previous = Buffer.from('previous content');
      await storage.put(key, chunked(previous));

      const body = new PassThrough();
      const half = randomBytes(256 * KIB);
      body.write(half);
      const putting = storage.put(key, body);
      await waitFor(() => body.readableLength === 0);

      expect((await storage.getBuffer(key)).equals(previous)).toBe(true);
      expect((await storage.head(key))?.bytes).toBe(previous.length);

      body.end(half);
      await putting;
      expect((await storage.getBuffer(key)).equals(Buffer.concat([half, half]))).toBe(true);
    });

    it('streams a 20 MiB body without holding it in memory, and reads it back intact', async () => {
      const key = originalKey();
      const total = 20 * MIB;
      const memory = new LiveMemory();
      const body = generatedBody(total, () => memory.sample());
      await memory.start();

      const stored = await storage.put(key, body.stream);
      memory.sample();
      expect(stored).toEqual({ key, bytes: total });
      // Bounded by a couple of upload parts (S3) or stream buffers (disk), far below the body.
      expect(memory.peakGrowth()).toBeLessThan(15 * MIB);

      expect((await storage.head(key))?.bytes).toBe(total);
      const readBack = createHash('sha256');
      for await (const chunk of await storage.get(key)) readBack.update(chunk as Buffer);
      expect(readBack.digest('hex')).toBe(body.sha256());
    }, 60_000);

    it.each(['../x', '/etc/passwd', 'originals/../../x', '', 'originals/..', 'originals/', 'originals/a/b', 'originals', '.tmp/x'])(
      'refuses the key %j in every operation',
      async (key) => {
        const body = chunked(Buffer.from('must not be written'));
        await expect(storage.put(key, body)).rejects.toBeInstanceOf(InvalidStorageKeyError);
        await expect(storage.get(key)).rejects.toBeInstanceOf(InvalidStorageKeyError);
        await expect(storage.getBuffer(key)).rejects.toBeInstanceOf(InvalidStorageKeyError);
        await expect(storage.head(key)).rejects.toBeInstanceOf(InvalidStorageKeyError);
        await expect(storage.delete(key)).rejects.toBeInstanceOf(InvalidStorageKeyError);
        await expect(storage.publicUrl(key)).rejects.toBeInstanceOf(InvalidStorageKeyError);
      },
    );

    it('answers ping', async () => {
      await expect(storage.ping()).resolves.toBeUndefined();
    });
  });
}

function originalKey(): string {
  return `originals/${randomUUID()}`;
}

function thumbnailKey(): string {
  return `thumbnails/${randomUUID()}.png`;
}

/** A stream of `bytes` in 16 KiB chunks, like a request body arrives. */
export function chunked(bytes: Buffer, chunkSize = 16 * KIB): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize) chunks.push(bytes.subarray(offset, offset + chunkSize));
  return Readable.from(chunks);
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Sends `bytesBeforeError` random bytes, then fails with `error`. */
function failingBody(bytesBeforeError: number, error: Error): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytesBeforeError) {
        this.destroy(error);
        return;
      }
      const chunk = randomBytes(Math.min(64 * KIB, bytesBeforeError - sent));
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

/** `total` random bytes made on demand (never all in memory), hashed as they are produced. */
function generatedBody(total: number, everyMiB: () => void): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  let produced = 0;
  const stream = new Readable({
    read() {
      if (produced >= total) {
        this.push(null);
        return;
      }
      if (produced % MIB === 0) everyMiB();
      const chunk = randomBytes(Math.min(64 * KIB, total - produced));
      produced += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest('hex') };
}

/**
 * Growth of live memory (heap plus Buffers) over a settled baseline. Each sample forces a full
 * GC first, so garbage waiting for collection (which varies run to run) does not count: what
 * remains is what the code under test actually holds.
 */
class LiveMemory {
  private readonly gc = exposeGc();
  private low = 0;
  private high = 0;

  /** Lets sockets and streams closed by earlier cases release their memory first. */
  async start(): Promise<void> {
    let previous = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 10; round++) {
      const now = this.measure();
      if (Math.abs(previous - now) < 256 * KIB) break;
      previous = now;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    this.low = this.high = this.measure();
  }

  sample(): void {
    const now = this.measure();
    this.low = Math.min(this.low, now);
    this.high = Math.max(this.high, now);
  }

  /** From the lowest to the highest sample, so a baseline that was still settling cannot hide growth. */
  peakGrowth(): number {
    return this.high - this.low;
  }

  private measure(): number {
    this.gc();
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.arrayBuffers;
  }
}

function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  // Allowed at run time; the flag takes effect for contexts created afterwards.
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function waitFor(condition: () => boolean): Promise<void> {
  return vi.waitFor(() => {
    if (!condition()) throw new Error('not yet');
  }, { timeout: 5_000, interval: 10 });
}
