/**
 * What the thumbnail must be: exactly `width` x `height` pixels, except with `inside`.
 * - `cover`: scaled to fill the box, centre-cropped, never distorted.
 * - `contain`: scaled to fit inside the box, padded with transparent pixels.
 * - `fill`: stretched to the box, ignoring the aspect ratio.
 * - `inside`: scaled down to fit inside the box, aspect ratio kept, never enlarged, no padding:
 *   at most `width` x `height`.
 */
export interface ThumbnailPlan {
  width: number;
  height: number;
  fit: ThumbnailFit;
}

export type ThumbnailFit = 'cover' | 'contain' | 'fill' | 'inside';

export type OutputFormat = 'png' | 'webp' | 'avif' | 'jpeg';

/**
 * One image of a set made from one decode: the plan, and how to encode it. `quality` (1..100)
 * is for the lossy formats; PNG is lossless and ignores it. JPEG has no alpha: transparent
 * pixels (and `contain`'s padding) become white.
 */
export interface VariantPlan extends ThumbnailPlan {
  format: OutputFormat;
  quality: number | null;
}

/**
 * How far the whole image can be scaled down once, before any variant is cut from it, so that
 * every variant is still made by scaling down (1 = not at all). Each variant needs the scale
 * its own box asks of this image; the decode keeps the largest of them.
 */
export function sharedDecodeScale(plans: readonly ThumbnailPlan[], width: number, height: number): number {
  let scale = 0;
  for (const plan of plans) {
    const x = plan.width / width;
    const y = plan.height / height;
    // `contain` and `inside` fit the image in the box (the smaller ratio); `cover` fills the box
    // and `fill` stretches each axis on its own, so both need the larger.
    scale = Math.max(scale, plan.fit === 'contain' || plan.fit === 'inside' ? Math.min(x, y) : Math.max(x, y));
  }
  return Math.min(1, scale);
}
