/**
 * What the thumbnail must be: always exactly `width` x `height` pixels.
 * - `cover`: scaled to fill the box, centre-cropped, never distorted.
 * - `contain`: scaled to fit inside the box, padded with transparent pixels.
 * - `fill`: stretched to the box, ignoring the aspect ratio.
 */
export interface ThumbnailPlan {
  width: number;
  height: number;
  fit: ThumbnailFit;
}

export type ThumbnailFit = 'cover' | 'contain' | 'fill';
