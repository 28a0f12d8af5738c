/*
 * The bench's only direct use of sharp: images the testing fixtures do not have, the bare
 * decode-resize-encode ceiling, checking what nginx sent back, and versions. The service's own
 * pipeline is only ever run through the thumbnail-making processors.
 */
import sharp from 'sharp';
import { mulberry32 } from '@thumbnail/testing';

export function sharpVersions(): { sharp: string; vips: string } {
  return { sharp: sharp.versions.sharp ?? 'unknown', vips: sharp.versions.vips };
}

/**
 * An RGBA PNG without a colour profile, like a cut-out product shot: smooth colours with a
 * little noise, opaque in a soft-edged disc and transparent around it.
 */
export function pngWithAlpha(width: number, height: number): Promise<Buffer> {
  const random = mulberry32(width * 7 + height);
  const pixels = new Uint8Array(width * height * 4);
  const cx = width / 2;
  const cy = height / 2;
  const radius = Math.min(width, height) * 0.45;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const noise = (random() - 0.5) * 12;
      const distance = Math.hypot(x - cx, y - cy);
      pixels[i] = clampByte(40 + (180 * x) / width + noise);
      pixels[i + 1] = clampByte(200 - (150 * y) / height + noise);
      pixels[i + 2] = clampByte(90 + 60 * Math.cos(distance / 40) + noise);
      pixels[i + 3] = clampByte((radius - distance) * 8);
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 4 } }).png().toBuffer();
}

/**
 * An RGB PNG of pure noise (which deflate cannot shrink), as close under `maxBytes` as a whole
 * number of rows allows: the largest upload the API accepts by default.
 */
export async function noisePngUnder(maxBytes: number, width = 2048): Promise<Buffer> {
  let height = Math.floor(maxBytes / (width * 3 + 1));
  for (let attempt = 0; attempt < 8; attempt++) {
    const random = mulberry32(height);
    const pixels = new Uint8Array(width * height * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(random() * 256);
    const png = await sharp(pixels, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
    if (png.length <= maxBytes) return png;
    height -= Math.ceil((png.length - maxBytes) / (width * 3)) + 1;
  }
  throw new Error(`could not make a noise PNG under ${maxBytes} bytes`);
}

function clampByte(value: number): number {
  return Math.max(0, Math.min(255, Math.round(value)));
}

/**
 * The least work any sharp-based service could do for the same thumbnail: decode (colour
 * profile ignored), shrink-on-load and resize, PNG encode. No sniffing, no profile decisions,
 * no orientation, no limits beyond sharp's defaults.
 */
export async function bareThumbnail(input: Buffer, size: number): Promise<number> {
  const data = await sharp(input, { ignoreIcc: true }).resize(size, size, { fit: 'cover' }).png().toBuffer();
  return data.length;
}

export interface ImageFacts {
  format: string;
  width: number;
  height: number;
  channels: number;
  hasIcc: boolean;
}

export async function imageFacts(data: Buffer): Promise<ImageFacts> {
  const metadata = await sharp(data).metadata();
  return {
    format: metadata.format,
    width: metadata.width,
    height: metadata.height,
    channels: metadata.channels,
    hasIcc: metadata.icc !== undefined,
  };
}
