import type { OutputFormat, ThumbnailPlan, VariantPlan } from './thumbnail-plan';

/** One encoded image: sRGB, without any metadata (no EXIF, ICC, XMP or text chunks). */
export interface EncodedImage {
  data: Buffer;
  format: OutputFormat;
  width: number;
  height: number;
}

/** A PNG thumbnail. */
export type Thumbnail = EncodedImage;

/** Everything one job makes of an image. */
export interface MadeVariants {
  /** One per plan, in the plans' order. */
  images: EncodedImage[];
  /** ThumbHash of the whole image (not of any crop), for a placeholder. */
  thumbhash: Buffer;
}

/** Most plans one call takes; configuration keeps jobs far below it. */
export const MAX_PLANS = 32;

/**
 * What the worker needs from an image library, in our words. `SharpImageProcessor` does every
 * format; `SmallPngProcessor` takes small plain PNGs in front of it; tests of callers can
 * substitute their own.
 */
export abstract class ImageProcessor {
  /**
   * Every plan's image and the placeholder, from one decode of `input`. Rejects with an
   * `ImageRejectedError` (final, not worth retrying) when the image is the problem.
   */
  abstract makeVariants(input: Buffer, plans: readonly VariantPlan[]): Promise<MadeVariants>;

  /** Exactly `plan.width` x `plan.height` (at most, with `inside`), as PNG. */
  async makeThumbnail(input: Buffer, plan: ThumbnailPlan): Promise<Thumbnail> {
    const made = await this.makeVariants(input, [{ ...plan, format: 'png', quality: null }]);
    return made.images[0];
  }
}

/** Plans outside what any caller may ask are programming errors, thrown as such. */
export function requireValidPlans(plans: readonly VariantPlan[]): void {
  if (plans.length < 1 || plans.length > MAX_PLANS) throw new RangeError(`plans must number 1 to ${MAX_PLANS} (got ${plans.length})`);
  for (const plan of plans) {
    requireInteger('plan.width', plan.width, 1, 0x3fff);
    requireInteger('plan.height', plan.height, 1, 0x3fff);
    if (plan.quality !== null) requireInteger('plan.quality', plan.quality, 1, 100);
  }
}

export function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max} (got ${value})`);
  }
}
