import sharp from 'sharp';

/**
 * A PNG the worker needs a few hundred milliseconds for (3000x3000, interlaced, so libvips
 * decodes every pixel instead of shrinking on load): long enough for jobs to visibly overlap.
 */
export function slowPng(): Promise<Buffer> {
  return sharp({ create: { width: 3000, height: 3000, channels: 3, background: { r: 200, g: 80, b: 20 } } })
    .png({ progressive: true, compressionLevel: 1 })
    .toBuffer();
}
