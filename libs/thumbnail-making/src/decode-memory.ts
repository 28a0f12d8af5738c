import { MAX_IMAGE_SIDE } from '@thumbnail/upload-inspection';
import { ImageTooLargeError } from './image-errors';

/**
 * What the decoder reports about an image before decoding any pixel (sharp's metadata, a header
 * read), in the terms the memory estimate needs.
 */
export interface DecodeFacts {
  /** The loader libvips picked: jpeg, png, webp, gif, tiff or heif (AVIF). */
  format: string;
  /** As stored: rows are `width` pixels long, before any EXIF rotation. */
  width: number;
  height: number;
  /** Samples per decoded pixel (a palette counts as the colours it expands to). */
  channels: number;
  /** Bytes of one decoded sample: 1 (8-bit), 2 (16-bit), 4 (float), 8 (double). */
  bytesPerSample: number;
  /** Bits per stored sample (AVIF 10 and 12 bits decode through wider buffers). */
  bitsPerSample: number;
  /** Interlaced PNG or progressive JPEG: decoded whole before the first row comes out. */
  progressive: boolean;
  /** EXIF orientation turns the image (by 90, 180 or 270 degrees). */
  rotated: boolean;
}

/** What is made from the image: the decode every variant starts from, and the largest variant. */
export interface DecodeWork {
  /** The largest variant's box. */
  width: number;
  height: number;
  /** Pixels of the decoded image the variants are made from (scaled once, for the largest). */
  decodedPixels: number;
  /** No resize while decoding (or a crop before it): sharp must turn a rotated image whole first. */
  cropsFirst: boolean;
}

/**
 * Rows of the input's full width that libvips holds while shrinking it to a thumbnail, whatever
 * the image's height (bench/README.md has the measurements). This is why a 40,000,000 x 1 PNG
 * cannot be made within any sane budget: one row is the whole image.
 */
const RESIZE_WINDOW_ROWS = 1536;

/**
 * An image only a few rows tall is resized through float copies of all of it instead: up to
 * about ten, so 64 bytes per decoded sample bounds it.
 */
const RESIZE_BYTES_PER_SAMPLE = 64;

/** Bytes per thumbnail pixel for the resized image, the padding of `contain` and the encoder. */
const OUTPUT_BYTES_PER_PIXEL = 16;

/** Bytes per pixel of the decoded image kept for the variants: 8-bit sRGB, alpha at most. */
const DECODED_BYTES_PER_PIXEL = 4;

/**
 * Bytes per pixel a decoder holds for the whole image at once, beyond the rows it streams
 * (measured with sharp 0.35 and libvips 8.18: bench/README.md).
 */
function heldWholeBytesPerPixel(facts: DecodeFacts): number {
  const bytesPerPixel = facts.channels * facts.bytesPerSample;
  switch (facts.format) {
    case 'png':
      // Adam7 spreads every row over seven passes: libpng needs the whole image to emit one.
      return facts.progressive ? bytesPerPixel : 0;
    case 'jpeg':
      // Progressive scans refine every block: libjpeg keeps all DCT coefficients, 16 bits each.
      return facts.progressive ? facts.channels * 2 : 0;
    case 'gif':
      // The RGBA canvas of the first frame, and a byte a pixel more that the shared decode of
      // variants was measured to hold on top (bench/README.md, Variants).
      return 5;
    case 'webp':
      // The RGBA canvas of the first frame.
      return 4;
    case 'tiff':
      return 0; // read strip by strip (libvips refuses oversized tiles)
    case 'heif':
      // libheif and libaom: the coded planes, their RGB conversion and libvips' copy of it.
      return facts.bitsPerSample > 8 ? 28 : 20;
    default:
      return bytesPerPixel;
  }
}

/**
 * An upper bound on the memory making one thumbnail of this image takes, in bytes, decided from
 * the header alone. The image's own bytes (at most MAX_UPLOAD_BYTES) come on top.
 */
export function decodeMemoryBytes(facts: DecodeFacts, work: DecodeWork): number {
  const pixels = facts.width * facts.height;
  const bytesPerPixel = facts.channels * facts.bytesPerSample;
  const rotatedWhole = work.cropsFirst && facts.rotated ? pixels * bytesPerPixel : 0;
  const resizing = Math.min(RESIZE_WINDOW_ROWS * facts.width * bytesPerPixel, RESIZE_BYTES_PER_SAMPLE * pixels * facts.channels);
  const decoded = work.decodedPixels * DECODED_BYTES_PER_PIXEL;
  return pixels * heldWholeBytesPerPixel(facts) + rotatedWhole + resizing + decoded + work.width * work.height * OUTPUT_BYTES_PER_PIXEL;
}

/**
 * The most memory one image slot may take: what the largest allowed image needs, a square of
 * `limitInputPixels` pixels of 16-bit RGBA, interlaced so it is decoded whole. Every image
 * that needs no more is made; any other is refused before decoding (`image_too_large`).
 * About 380 MiB for the default 40 MP and 100x100 thumbnails.
 */
export function imageSlotBytes(limitInputPixels: number, thumbnail: { width: number; height: number }): number {
  const side = Math.ceil(Math.sqrt(limitInputPixels));
  const largest: DecodeFacts = {
    format: 'png',
    width: side,
    height: side,
    channels: 4,
    bytesPerSample: 2,
    bitsPerSample: 16,
    progressive: true,
    rotated: false,
  };
  // A square shrunk for the box: to a square of its longer side (cover of a wide box).
  const decodedSide = Math.max(thumbnail.width, thumbnail.height);
  return decodeMemoryBytes(largest, { ...thumbnail, decodedPixels: decodedSide * decodedSide, cropsFirst: false });
}

const MIB = 1024 * 1024;

/** libvips names AVIF's loader after its container. */
function formatName(format: string): string {
  return format === 'heif' ? 'AVIF' : format.toUpperCase();
}

/** What one image slot is sized for: the pixel limit, and the largest image a job asks for. */
export interface ImageSlot {
  limitInputPixels: number;
  largestImage: { width: number; height: number };
}

/**
 * Why this image is not made, or null when it fits: more pixels than `limitInputPixels`, a side
 * over MAX_IMAGE_SIDE, or more memory than one image slot has. Decided from the header, before
 * any pixel is decoded; the same image is refused the same way every time.
 */
export function oversizedImageRefusal(facts: DecodeFacts, work: DecodeWork, slot: ImageSlot): ImageTooLargeError | null {
  const { limitInputPixels } = slot;
  const size = `${facts.width}x${facts.height}`;
  if (facts.width * facts.height > limitInputPixels) {
    return new ImageTooLargeError(`The image has ${size} pixels, more than the limit of ${limitInputPixels} pixels.`);
  }
  if (Math.max(facts.width, facts.height) > MAX_IMAGE_SIDE) {
    return new ImageTooLargeError(`The image is ${size} pixels; no side may be longer than ${MAX_IMAGE_SIDE} pixels.`);
  }
  const needed = decodeMemoryBytes(facts, work);
  const budget = imageSlotBytes(limitInputPixels, slot.largestImage);
  if (needed <= budget) return null;
  const kind = `${facts.bitsPerSample}-bit, ${facts.channels} channel${facts.channels === 1 ? '' : 's'}${facts.progressive ? ', interlaced' : ''}`;
  return new ImageTooLargeError(
    `Making a thumbnail of this ${size} ${formatName(facts.format)} image (${kind}) would take about ` +
      `${Math.ceil(needed / MIB)} MiB of memory, more than the ${Math.floor(budget / MIB)} MiB one image may use.`,
  );
}
