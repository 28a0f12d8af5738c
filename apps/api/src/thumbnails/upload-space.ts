import { Transform } from 'node:stream';
import { Logger } from '@nestjs/common';
import { errors } from '../errors/api-error';

export interface UploadSpaceOptions {
  /** Bytes free for new objects now, or null where storage has no limit we can read (S3). */
  freeBytes: () => Promise<number | null>;
  /** MIN_FREE_STORAGE_BYTES: what uploads must leave free; 0 turns the check off. */
  reserveBytes: number;
  /** How old a reading of the free space may get while uploads arrive (default 1 s). */
  refreshMs?: number;
}

/** One upload's share of the disk: what it has received, less what storage has written. */
export interface UploadReservation {
  /**
   * Claims room for `bytes` that just arrived. Returns nothing when they fit (the usual case,
   * with no I/O), or a promise that resolves once they do, or rejects with `insufficient_storage`.
   */
  take(bytes: number): Promise<void> | undefined;
  /** Bytes storage has written: the disk's free space shows them from now on. */
  written(bytes: number): void;
  /** Stored or dropped: the upload holds nothing any more. */
  close(): void;
}

const DEFAULT_REFRESH_MS = 1_000;

/**
 * Keeps uploads from filling the disk. Originals wait on disk until a worker has made their
 * thumbnail, so with the workers down or behind, uploads alone could use the whole disk; then
 * the thumbnails of jobs already accepted (and Redis, and the logs) could not be written. So an
 * upload is refused (507) once its next bytes would leave less than MIN_FREE_STORAGE_BYTES free.
 *
 * Room is claimed as bytes arrive, never for a declared Content-Length: a client that promises
 * 20 MiB and sends nothing holds nothing. The free space is read (statfs) at most every
 * `refreshMs`; in between, every byte received counts against that reading, so a burst of
 * uploads cannot overshoot it. The worker's own writes are small and free an original each, so
 * they are not held to the reserve.
 *
 * Not counted: uploads other API replicas on the same volume are writing. The reserve is the
 * margin for those.
 */
export class UploadSpace {
  private readonly logger = new Logger(UploadSpace.name);
  private readonly refreshMs: number;
  /** The last reading of the free space, or null when there is none (or nothing to read). */
  private reading: { free: number; at: number } | null = null;
  /** Bytes received by every upload since the reading began: it may not show them. */
  private receivedSinceReading = 0;
  /** Bytes received but not yet written when the reading began: it does not show them. */
  private unwrittenAtReading = 0;
  /** Bytes received but not yet written, over all open reservations. */
  private unwritten = 0;
  private refreshing: Promise<void> | null = null;
  /** Uploads refused for space and not yet closed: their partial files are being removed. */
  private readonly refused = new Set<Promise<void>>();
  /** Uploads waiting for room, by the order they were opened in. */
  private readonly short = new Set<number>();
  private opened = 0;
  private openCount = 0;
  private changed = deferred();

  constructor(private readonly options: UploadSpaceOptions) {
    this.refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
  }

  /** Bytes uploads have received and storage has not yet written (what they hold now). */
  get heldBytes(): number {
    return this.unwritten;
  }

  /** Uploads holding a reservation now. */
  get openReservations(): number {
    return this.openCount;
  }

  /**
   * Starts the accounting for one upload. Rejects with `insufficient_storage` when the disk is
   * already at the reserve, before anything is read.
   */
  async open(): Promise<UploadReservation> {
    if (this.options.reserveBytes === 0) return UNCOUNTED;
    if (!this.reading || this.isStale()) await this.refresh();
    if (this.reading && this.room() <= 0) {
      // The reading may still count uploads dropped since: read again once they are gone.
      await this.settleRefused();
      await this.refresh();
      if (this.reading && this.room() <= 0) throw this.refusal(0);
    }
    if (!this.reading) return UNCOUNTED;
    return this.reservation();
  }

  private reservation(): UploadReservation {
    const order = ++this.opened;
    let held = 0;
    let closed = false;
    let refusedDone: (() => void) | null = null;
    this.openCount++;
    const account = (bytes: number) => {
      held += bytes;
      this.unwritten += bytes;
      this.receivedSinceReading += bytes;
    };
    const markRefused = () => {
      if (closed || refusedDone) return;
      const removed = deferred();
      refusedDone = removed.resolve;
      this.refused.add(removed.promise);
    };
    return {
      take: (bytes) => {
        if (closed) return undefined;
        if (this.room() >= bytes) {
          account(bytes);
          if (this.isStale()) void this.refresh().catch(() => undefined);
          return undefined;
        }
        return this.whenRoomFor(order, bytes, () => closed, markRefused).then(() => {
          if (!closed) account(bytes);
        });
      },
      written: (bytes) => {
        const done = Math.min(bytes, held);
        held -= done;
        this.unwritten -= done;
      },
      close: () => {
        if (closed) return;
        closed = true;
        this.unwritten -= held;
        held = 0;
        this.openCount--;
        refusedDone?.();
      },
    };
  }

  /**
   * Short of room by the last reading: reads the disk again. Still short, the newest upload
   * waiting for room gives way (507) and the others wait until its partial file is removed, then
   * look again: refusing every upload short of room at once would let none of a burst finish.
   */
  private async whenRoomFor(order: number, bytes: number, isClosed: () => boolean, markRefused: () => void): Promise<void> {
    this.short.add(order);
    try {
      for (;;) {
        await this.settleRefused();
        await this.refresh();
        if (isClosed() || !this.reading || this.room() >= bytes) return;
        // Another upload was refused meanwhile: see what removing it frees first.
        if (this.refused.size > 0) continue;
        if (order !== Math.max(...this.short)) {
          await this.changed.promise;
          continue;
        }
        markRefused();
        throw this.refusal(bytes);
      }
    } finally {
      this.short.delete(order);
      this.changed.resolve();
      this.changed = deferred();
    }
  }

  /** Waits until every upload refused for space so far has been closed (its file removed). */
  private async settleRefused(): Promise<void> {
    while (this.refused.size > 0) {
      const pending = [...this.refused];
      await Promise.all(pending);
      for (const done of pending) this.refused.delete(done);
    }
  }

  /** Bytes uploads may still take by the last reading before the reserve is touched. */
  private room(): number {
    if (!this.reading) return Number.POSITIVE_INFINITY;
    return this.reading.free - this.unwrittenAtReading - this.receivedSinceReading - this.options.reserveBytes;
  }

  private isStale(): boolean {
    return !this.reading || Date.now() - this.reading.at >= this.refreshMs;
  }

  /** One statfs at a time, shared by every upload that asks meanwhile. */
  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      const receivedBefore = this.receivedSinceReading;
      const unwritten = this.unwritten;
      try {
        const free = await this.options.freeBytes();
        this.reading = free === null ? null : { free, at: Date.now() };
        // Bytes that arrived while statfs ran may not be in it: they stay counted.
        this.receivedSinceReading -= receivedBefore;
        this.unwrittenAtReading = unwritten;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private refusal(bytes: number) {
    this.logger.warn(
      {
        freeBytes: this.reading?.free,
        heldBytes: this.unwritten,
        uploadBytes: bytes,
        reserveBytes: this.options.reserveBytes,
      },
      'Upload refused: it would leave less than MIN_FREE_STORAGE_BYTES free on the storage disk',
    );
    return errors.insufficientStorage();
  }
}

/** A promise and the function that resolves it (Promise.withResolvers, which Node 20 lacks). */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/** Where there is no reserve to keep (MIN_FREE_STORAGE_BYTES=0, or S3). */
const UNCOUNTED: UploadReservation = {
  take: () => undefined,
  written: () => undefined,
  close: () => undefined,
};

/** Passes an upload's bytes on once `reservation` has room for them. */
export function claimingStream(reservation: UploadReservation): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const taken = reservation.take(chunk.length);
      if (!taken) return callback(null, chunk);
      taken.then(() => callback(null, chunk), callback);
    },
  });
}
