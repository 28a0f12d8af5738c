import { Logger } from '@nestjs/common';
import { StorageUnavailableError } from '@thumbnail/storage';
import { errors } from '../errors/api-error';

export interface UploadSpaceOptions {
  /** Bytes free for new objects now, or null where storage has no limit we can read (S3). */
  freeBytes: () => Promise<number | null>;
  /** MIN_FREE_STORAGE_BYTES: what uploads must leave free; 0 turns the check off. */
  reserveBytes: number;
  /** MAX_UPLOAD_BYTES: what an upload without a usable Content-Length may still grow to. */
  maxUploadBytes: number;
}

/**
 * Keeps uploads from filling the disk. Originals wait on disk until a worker has made their
 * thumbnail, so with the workers down or behind, uploads alone could use the whole disk; then
 * the thumbnails of jobs already accepted (and Redis, and the logs) could not be written. So an
 * upload is refused (507) unless it would leave MIN_FREE_STORAGE_BYTES free, counting the
 * uploads this process is still writing at their full declared size. The worker's own writes
 * are small and free an original each, so they are not held to the reserve.
 *
 * Not counted: uploads other API replicas on the same volume are writing. The reserve is the
 * margin for those.
 */
export class UploadSpace {
  private readonly logger = new Logger(UploadSpace.name);
  /** Bytes claimed by uploads being written now, not yet visible in `freeBytes`. */
  private claimedBytes = 0;

  constructor(private readonly options: UploadSpaceOptions) {}

  /**
   * Claims room for an upload whose body is `declaredBytes` long (its Content-Length; undefined
   * when it is sent chunked). Resolves with the function that gives the room back once the
   * upload is stored or dropped; rejects with `insufficient_storage` when there is no room.
   */
  async claim(declaredBytes: number | undefined): Promise<() => void> {
    const { reserveBytes, maxUploadBytes } = this.options;
    if (reserveBytes === 0) return noop;
    let free: number | null;
    try {
      free = await this.options.freeBytes();
    } catch (error) {
      if (error instanceof StorageUnavailableError) throw errors.unavailable('Storage', error);
      throw error;
    }
    if (free === null) return noop;
    // The body is the file plus a few hundred bytes of form, so this overestimates a little.
    const bytes = declaredBytes !== undefined && declaredBytes >= 0 ? Math.min(declaredBytes, maxUploadBytes) : maxUploadBytes;
    const left = free - this.claimedBytes - bytes;
    if (left < reserveBytes) {
      this.logger.warn(
        { freeBytes: free, uploadingBytes: this.claimedBytes, uploadBytes: bytes, reserveBytes },
        'Upload refused: it would leave less than MIN_FREE_STORAGE_BYTES free on the storage disk',
      );
      throw errors.insufficientStorage();
    }
    this.claimedBytes += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.claimedBytes -= bytes;
    };
  }
}

function noop(): void {
  return;
}
