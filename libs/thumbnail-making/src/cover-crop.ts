import type { ThumbnailPlan } from './thumbnail-plan';

export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * For `cover` of an image narrower or shorter than the box: the centre region the thumbnail
 * shows, to cut before resizing. sharp would otherwise scale the whole image up first (a
 * 65535x1 image by 100, to 6,553,500x100, past what libvips can address for larger boxes) and
 * cut afterwards; cutting first gives the same picture from a region no larger than the box.
 * Null when the image only shrinks, which keeps JPEG and WebP shrinking while they decode.
 *
 * `width` and `height` are the image's as displayed (after EXIF orientation).
 */
export function coverCropBeforeResize(width: number, height: number, plan: ThumbnailPlan): Region | null {
  if (plan.fit !== 'cover') return null;
  const scale = Math.max(plan.width / width, plan.height / height);
  if (scale <= 1) return null;
  const regionWidth = Math.min(width, Math.max(1, Math.round(plan.width / scale)));
  const regionHeight = Math.min(height, Math.max(1, Math.round(plan.height / scale)));
  return {
    left: Math.floor((width - regionWidth) / 2),
    top: Math.floor((height - regionHeight) / 2),
    width: regionWidth,
    height: regionHeight,
  };
}
