import { inflateSync } from 'node:zlib';
import type { ImageFormat } from '@thumbnail/upload-inspection';
import { ascii, startsWith, u16be, u32le, u8 } from './byte-reading';
import { pngChunks } from './png-chunks';

export interface EmbeddedColourProfile {
  /** The embedded ICC profile, or null when the image carries none. */
  icc: Uint8Array | null;
  /** The decoder will hand over 16-bit RGB (libvips' RGB16 interpretation). */
  rgb16: boolean;
}

/**
 * A profile larger than this is not a plain matrix/curve RGB profile (sRGB ones are 0.5-4 KiB),
 * so there is no point inflating it just to learn that.
 */
const MAX_PROFILE_BYTES = 64 * 1024;

/**
 * Reads the ICC profile straight from the container of a PNG, JPEG or WebP, without a decoder.
 * Returns null when it cannot tell: another format, or a profile it cannot read (too big,
 * corrupt, split across missing segments); the caller then asks the decoder.
 */
export function readEmbeddedColourProfile(input: Uint8Array, format: ImageFormat): EmbeddedColourProfile | null {
  switch (format) {
    case 'png':
      return readPng(input);
    case 'jpeg':
      return readJpeg(input);
    case 'webp':
      return readWebp(input);
    case 'gif':
      // libvips' GIF loader attaches no profile.
      return { icc: null, rgb16: false };
    default:
      return null;
  }
}

const PNG_RGB = 2;
const PNG_RGBA = 6;

/** Chunks up to the image data. */
function readPng(input: Uint8Array): EmbeddedColourProfile | null {
  if (ascii(input, 12, 4) !== 'IHDR') return null;
  const colourType = u8(input, 25);
  const rgb16 = u8(input, 24) === 16 && (colourType === PNG_RGB || colourType === PNG_RGBA);
  for (const chunk of pngChunks(Buffer.from(input.buffer, input.byteOffset, input.byteLength))) {
    if (chunk.type === 'IDAT' || chunk.type === 'IEND') return { icc: null, rgb16 };
    if (chunk.type === 'iCCP') {
      const icc = profileOfIccpChunk(chunk.data);
      return icc ? { icc, rgb16 } : null;
    }
  }
  return null; // cut short before the image data: the decoder says what is wrong
}

/** An `iCCP` chunk's profile (`name\0`, a compression byte, then zlib data), or null if unreadable. */
export function profileOfIccpChunk(data: Uint8Array): Uint8Array | null {
  const nameEnd = data.subarray(0, 80).indexOf(0);
  return nameEnd < 0 ? null : inflateProfile(data.subarray(nameEnd + 2));
}

function inflateProfile(compressed: Uint8Array): Uint8Array | null {
  try {
    return inflateSync(compressed, { maxOutputLength: MAX_PROFILE_BYTES });
  } catch {
    // Corrupt or oversized: not knowable here. The decoder reads it (or fails on it) itself.
    return null;
  }
}

const ICC_MARKER = [...'ICC_PROFILE'].map((char) => char.charCodeAt(0)).concat(0);

/** APP2 segments `ICC_PROFILE\0`, sequence number, count, then a slice of the profile. */
function readJpeg(input: Uint8Array): EmbeddedColourProfile | null {
  const slices = new Map<number, Uint8Array>();
  let count = 0;
  let offset = 2;
  while (offset + 4 <= input.length && input[offset] === 0xff) {
    const marker = input[offset + 1];
    if (marker === 0xff) {
      offset += 1;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      offset += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break; // profile segments precede the scan
    const length = u16be(input, offset + 2);
    if (!(length >= 2)) return null;
    const data = offset + 4;
    const end = offset + 2 + length;
    if (marker === 0xe2 && startsWith(input, data, ICC_MARKER) && end <= input.length && length >= 16) {
      const sequence = input[data + 12];
      count = input[data + 13];
      slices.set(sequence, input.subarray(data + 14, end));
    }
    offset = end;
  }
  if (slices.size === 0) return { icc: null, rgb16: false };
  const ordered: Uint8Array[] = [];
  for (let sequence = 1; sequence <= count; sequence++) {
    const slice = slices.get(sequence);
    if (!slice) return null;
    ordered.push(slice);
  }
  const size = ordered.reduce((total, slice) => total + slice.length, 0);
  if (ordered.length === 0 || size > MAX_PROFILE_BYTES) return null;
  return { icc: Buffer.concat(ordered), rgb16: false };
}

const VP8X_ICC_FLAG = 0x20;

/** Extended WebP: the `VP8X` flags say whether an `ICCP` chunk follows. */
function readWebp(input: Uint8Array): EmbeddedColourProfile | null {
  if (ascii(input, 12, 4) !== 'VP8X') return { icc: null, rgb16: false };
  if ((u8(input, 20) & VP8X_ICC_FLAG) === 0) return { icc: null, rgb16: false };
  let offset = 12;
  while (offset + 8 <= input.length) {
    const type = ascii(input, offset, 4);
    const size = u32le(input, offset + 4);
    const data = offset + 8;
    if (!(data + size <= input.length)) return null;
    if (type === 'ICCP') return size <= MAX_PROFILE_BYTES ? { icc: input.subarray(data, data + size), rgb16: false } : null;
    offset = data + size + (size % 2); // chunks are padded to even sizes
  }
  return null;
}
