import { imageSlotBytes } from './decode-memory';

const MIB = 1024 * 1024;

/**
 * Resident memory of a worker that is making nothing: Node.js, Nest, the Redis clients, sharp and
 * libvips loaded, after it has made images (its allocator keeps some of what they used).
 * Measured at 130-150 MiB (bench/README.md); this leaves room above that.
 */
export const WORKER_BASE_BYTES = 176 * MIB;

export interface WorkerMemorySettings {
  /** WORKER_CONCURRENCY: image slots. */
  concurrency: number;
  limitInputPixels: number;
  /** The preset with the most pixels (THUMBNAIL_SIZE square unless THUMBNAIL_PRESETS says more). */
  largestImage: { width: number; height: number };
  /** MAX_UPLOAD_BYTES: each slot holds its image's bytes while making it. */
  maxUploadBytes: number;
}

/**
 * The most memory one worker needs: its base, and per image slot the largest allowed image
 * (imageSlotBytes) and its upload. Containers need a limit comfortably above this.
 */
export function workerMemoryBytes(settings: WorkerMemorySettings): number {
  return WORKER_BASE_BYTES + settings.concurrency * (imageSlotBytes(settings.limitInputPixels, settings.largestImage) + settings.maxUploadBytes);
}
