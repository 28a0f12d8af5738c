import type { ThumbnailPlan } from './thumbnail-plan';

export interface Thumbnail {
  /** PNG bytes, sRGB, without any metadata (no EXIF, ICC, XMP or text chunks). */
  data: Buffer;
  width: number;
  height: number;
}

/**
 * What the worker needs from an image library, in our words. `SharpImageProcessor` does every
 * format; `SmallPngProcessor` takes small plain PNGs in front of it; tests of callers can
 * substitute their own.
 */
export abstract class ImageProcessor {
  /**
   * Exactly `plan.width` x `plan.height`, as PNG. Rejects with an `ImageRejectedError` (final,
   * not worth retrying) when the image is the problem.
   */
  abstract makeThumbnail(input: Buffer, plan: ThumbnailPlan): Promise<Thumbnail>;
}
