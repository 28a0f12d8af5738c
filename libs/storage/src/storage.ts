import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  bytes: number;
}

export interface StoredObjectInfo {
  bytes: number;
  /** Changes whenever the content does; quoted as HTTP wants it. */
  etag: string;
  lastModified: Date;
}

export interface PutOptions {
  contentType?: string;
  /**
   * Told how many more bytes reached the backend, as they do: the API counts an upload's bytes
   * against the disk until the disk's own free space shows them. Adapters whose `freeBytes` is
   * null need not call it.
   */
  onWritten?: (bytes: number) => void;
  /**
   * When a crash of the machine (power loss, kernel panic) can no longer lose the object; a crash
   * of the process alone never can. `on-return` (the default): `put` resolves once it is on disk.
   * `background`: `put` resolves once readers see it, and the adapter makes it durable right
   * after, without the caller waiting: the promise Redis keeps for the job record with
   * `appendfsync everysec` (docs/deployment.md, Durability). Object stores are durable when they
   * answer, so only disk storage tells the two apart.
   */
  durability?: 'on-return' | 'background';
}

/** The object does not exist (a programming or consistency error, never transient). */
export class StorageNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`No stored object at ${key}`);
    this.name = 'StorageNotFoundError';
  }
}

/** The backend could not be reached or refused the request; worth retrying later. */
export class StorageUnavailableError extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`Storage unavailable: ${reason}`, options);
    this.name = 'StorageUnavailableError';
  }
}

/**
 * True for the error a body emits when a put stops reading it early: leaving a `for await` over
 * a stream that has not ended destroys it with an AbortError. That happens after the write has
 * already failed, so the write's error is the one to report, not this.
 */
export function isAbandonedRead(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ABORT_ERR';
}

/**
 * Where originals and thumbnails live: the local disk on embedded defaults, S3/MinIO in a
 * cluster. Keys are built by the jobs lib from job ids; adapters refuse anything else.
 */
export abstract class Storage {
  /** Prepares the backend at start (e.g. creates the bucket); most adapters need nothing. */
  async init(): Promise<void> {
    return;
  }
  /**
   * Streams `body` to `key`, replacing what was there. If `body` errors or the write fails,
   * rejects with that error and leaves no object (and no partial object) behind.
   */
  abstract put(key: string, body: Readable, options?: PutOptions): Promise<StoredObject>;
  /** Streams the object; rejects with StorageNotFoundError when there is none. */
  abstract get(key: string): Promise<Readable>;
  /** Reads a whole object (originals are bounded by MAX_UPLOAD_BYTES). */
  abstract getBuffer(key: string): Promise<Buffer>;
  abstract head(key: string): Promise<StoredObjectInfo | null>;
  /** Idempotent: deleting a missing object succeeds. */
  abstract delete(key: string): Promise<void>;
  /**
   * A URL a client outside the cluster can fetch the object from directly (a short-lived
   * presigned URL), or null when the API must serve the bytes itself.
   */
  abstract publicUrl(key: string): Promise<string | null>;
  /**
   * Bytes left for new objects where the backend has a hard, known limit (a local disk), or null
   * where it has none we can see (an object store's quota is its own business).
   */
  abstract freeBytes(): Promise<number | null>;
  /** Resolves when the backend answers; rejects with the reason otherwise. */
  abstract ping(): Promise<void>;
  abstract close(): Promise<void>;
}
