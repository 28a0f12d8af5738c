import { HEIF } from 'image-size/types/heif';
import { JPG } from 'image-size/types/jpg';
import { PNG } from 'image-size/types/png';
import { TIFF } from 'image-size/types/tiff';
import { WEBP } from 'image-size/types/webp';
import type { ImageFormat } from './sniff-image-type';

export interface DeclaredDimensions {
  width: number;
  height: number;
}

type Reader = (head: Uint8Array) => DeclaredDimensions | null;

/**
 * The size an image's header claims, read from its first bytes without decoding anything, so
 * an upload declaring more pixels than allowed can be refused before a decoder sees it.
 *
 * Returns null when the declaration is not within `head` (read more and ask again) or is not a
 * usable size. Never throws, whatever the bytes: it runs on untrusted uploads.
 *
 * The answer is a claim, not a promise: the worker's decoder enforces the pixel limit again on
 * what it actually finds.
 */
export function readDeclaredDimensions(head: Uint8Array, format: ImageFormat): DeclaredDimensions | null {
  let declared: DeclaredDimensions | null;
  try {
    // A copy with a buffer of its own: image-size reads through DataViews on the whole
    // underlying ArrayBuffer, so on a slice of a pooled Buffer it reads past the end of the head
    // into unrelated bytes instead of failing.
    declared = READERS[format](new Uint8Array(head));
  } catch {
    // image-size throws on headers cut short or malformed: either way, nothing usable yet.
    return null;
  }
  if (!declared || !isPositiveInteger(declared.width) || !isPositiveInteger(declared.height)) return null;
  return { width: declared.width, height: declared.height };
}

interface ImageSizeReader {
  validate(input: Uint8Array): boolean;
  calculate(input: Uint8Array): { width?: number; height?: number; images?: { width?: number; height?: number }[] };
}

/** image-size's reader for one format, chosen by our own sniffing rather than its detection. */
function library(reader: ImageSizeReader): Reader {
  return (head) => (reader.validate(head) ? toDimensions(reader.calculate(head)) : null);
}

function toDimensions(size: { width?: number; height?: number }): DeclaredDimensions {
  return { width: size.width ?? 0, height: size.height ?? 0 };
}

/**
 * HEIF/AVIF list a size (`ispe`) for every image they hold: a grid and its tiles, thumbnails,
 * auxiliary images. The decoder may be asked for any of them, so the largest one counts.
 */
function largestHeifImage(head: Uint8Array): DeclaredDimensions | null {
  const size = HEIF.calculate(head);
  return [size, ...(size.images ?? [])]
    .map(toDimensions)
    .reduce((largest, image) => (image.width * image.height > largest.width * largest.height ? image : largest));
}

/**
 * GIF: the logical screen, grown to hold the first frame when that frame sticks out of it, as
 * libvips' GIF loader grows its canvas. image-size reads the screen alone, which would let a
 * 4x3 screen carry a frame of any size past the check; hence this one reader of our own.
 */
function readGif(head: Uint8Array): DeclaredDimensions | null {
  const bytes = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (bytes.length < 13) return null;
  const screen = { width: bytes.readUInt16LE(6), height: bytes.readUInt16LE(8) };
  let offset = 13 + colourTableBytes(bytes[10]);
  while (offset < bytes.length) {
    const introducer = bytes[offset];
    if (introducer === 0x2c) {
      // Image descriptor: left, top, width, height (16-bit little-endian each).
      if (offset + 10 > bytes.length) return null;
      const right = bytes.readUInt16LE(offset + 1) + bytes.readUInt16LE(offset + 5);
      const bottom = bytes.readUInt16LE(offset + 3) + bytes.readUInt16LE(offset + 7);
      return { width: Math.max(screen.width, right), height: Math.max(screen.height, bottom) };
    }
    if (introducer !== 0x21) return null; // the trailer, or not a GIF block: no frame
    // Extension: introducer, label, then data sub-blocks.
    offset = skipSubBlocks(bytes, offset + 2);
  }
  return null;
}

function colourTableBytes(packed: number): number {
  return packed & 0x80 ? 3 * (1 << ((packed & 0x07) + 1)) : 0;
}

/** Offset just past a run of GIF data sub-blocks (each length-prefixed, ended by a zero). */
function skipSubBlocks(bytes: Buffer, offset: number): number {
  while (offset < bytes.length) {
    const size = bytes[offset];
    offset += 1 + size;
    if (size === 0) return offset;
  }
  return Infinity;
}

function isPositiveInteger(value: number): boolean {
  return Number.isInteger(value) && value > 0;
}

const READERS: Record<ImageFormat, Reader> = {
  png: library(PNG),
  jpeg: library(JPG),
  webp: library(WEBP),
  tiff: library(TIFF),
  avif: largestHeifImage,
  heic: largestHeifImage,
  gif: readGif,
};
