import { ascii, startsWith, u16be, u16le, u24le, u32be, u32le, u8 } from './byte-reading';
import type { ImageFormat } from './sniff-image-type';

export interface DeclaredDimensions {
  width: number;
  height: number;
  /** Number of frames, only when the whole animation was in the bytes read (GIF). */
  frames?: number;
}

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
  const declared = READERS[format](head);
  if (!declared || !isPositiveInteger(declared.width) || !isPositiveInteger(declared.height)) return null;
  return declared;
}

const READERS: Record<ImageFormat, (head: Uint8Array) => DeclaredDimensions | null> = {
  png: readPng,
  gif: readGif,
  jpeg: readJpeg,
  webp: readWebp,
  tiff: readTiff,
  avif: readIsoBmff,
  heic: readIsoBmff,
};

function isPositiveInteger(value: number): boolean {
  return Number.isInteger(value) && value > 0;
}

/** Signature, then the IHDR chunk, which the PNG spec requires to come first. */
function readPng(head: Uint8Array): DeclaredDimensions | null {
  if (ascii(head, 12, 4) !== 'IHDR') return null;
  return { width: u32be(head, 16), height: u32be(head, 20) };
}

/**
 * The logical screen, grown to hold the first frame when that frame sticks out of it (libvips'
 * GIF loader lets the first frame enlarge the canvas). Frames are counted when the trailer is
 * within `head`.
 */
function readGif(head: Uint8Array): DeclaredDimensions | null {
  const screenWidth = u16le(head, 6);
  const screenHeight = u16le(head, 8);
  let offset = 13 + colourTableBytes(u8(head, 10));
  let first: { right: number; bottom: number } | null = null;
  let frames = 0;
  let complete = false;

  while (offset < head.length) {
    const introducer = head[offset];
    if (introducer === 0x2c) {
      if (offset + 10 > head.length) break;
      frames++;
      first ??= {
        right: u16le(head, offset + 1) + u16le(head, offset + 5),
        bottom: u16le(head, offset + 3) + u16le(head, offset + 7),
      };
      // Descriptor, local colour table, LZW minimum code size byte, then the data sub-blocks.
      offset = skipSubBlocks(head, offset + 10 + colourTableBytes(head[offset + 9]) + 1);
    } else if (introducer === 0x21) {
      offset = skipSubBlocks(head, offset + 2);
    } else {
      complete = introducer === 0x3b;
      break;
    }
  }
  if (!first) return null;
  const dimensions: DeclaredDimensions = {
    width: Math.max(screenWidth, first.right),
    height: Math.max(screenHeight, first.bottom),
  };
  if (complete) dimensions.frames = frames;
  return dimensions;
}

function colourTableBytes(packed: number): number {
  return packed & 0x80 ? 3 * (1 << ((packed & 0x07) + 1)) : 0;
}

/** Offset just past a run of GIF data sub-blocks (each length-prefixed, ended by a zero). */
function skipSubBlocks(head: Uint8Array, offset: number): number {
  while (offset < head.length) {
    const size = head[offset];
    offset += 1 + size;
    if (size === 0) return offset;
  }
  return Infinity;
}

const JPEG_NOT_SOF = new Set([0xc4 /* DHT */, 0xc8 /* JPG */, 0xcc /* DAC */]);

/** Walks the marker segments to the first start-of-frame (SOF0..SOF15); the scan ends the search. */
function readJpeg(head: Uint8Array): DeclaredDimensions | null {
  let offset = 2;
  while (offset + 4 <= head.length) {
    if (head[offset] !== 0xff) return null;
    const marker = head[offset + 1];
    if (marker === 0xff) {
      offset += 1; // fill byte
    } else if (marker === 0x01 || marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2; // markers without a length
    } else if (marker === 0xd9 || marker === 0xda) {
      return null; // end of image or start of scan before any frame header
    } else {
      const length = u16be(head, offset + 2);
      if (length < 2) return null;
      if (marker >= 0xc0 && marker <= 0xcf && !JPEG_NOT_SOF.has(marker)) {
        // Lf(2) P(1) Y(2) X(2): a height of 0 (defined later by DNL) reads as no size.
        return { width: u16be(head, offset + 7), height: u16be(head, offset + 5) };
      }
      offset += 2 + length;
    }
  }
  return null;
}

/** The first chunk after `RIFF....WEBP` says which bitstream follows and carries its size. */
function readWebp(head: Uint8Array): DeclaredDimensions | null {
  const chunk = ascii(head, 12, 4);
  const data = 20;
  if (chunk === 'VP8X') {
    return { width: u24le(head, data + 4) + 1, height: u24le(head, data + 7) + 1 };
  }
  if (chunk === 'VP8L') {
    if (head[data] !== 0x2f) return null;
    const bits = u32le(head, data + 1);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8 ') {
    if (!startsWith(head, data + 3, [0x9d, 0x01, 0x2a])) return null;
    return { width: u16le(head, data + 6) & 0x3fff, height: u16le(head, data + 8) & 0x3fff };
  }
  return null;
}

const TIFF_SHORT = 3;
const TIFF_LONG = 4;

/** ImageWidth (256) and ImageLength (257) of the first IFD. */
function readTiff(head: Uint8Array): DeclaredDimensions | null {
  const little = head[0] === 0x49;
  const u16 = little ? u16le : u16be;
  const u32 = little ? u32le : u32be;
  const ifd = u32(head, 4);
  const count = u16(head, ifd);
  if (!(ifd + 2 + count * 12 <= head.length)) return null;
  let width = NaN;
  let height = NaN;
  for (let index = 0; index < count; index++) {
    const entry = ifd + 2 + index * 12;
    const tag = u16(head, entry);
    if (tag !== 256 && tag !== 257) continue;
    const type = u16(head, entry + 2);
    const value = type === TIFF_SHORT ? u16(head, entry + 8) : type === TIFF_LONG ? u32(head, entry + 8) : NaN;
    if (tag === 256) width = value;
    else height = value;
  }
  return { width, height };
}

interface Box {
  type: string;
  /** Where the box's payload starts (after size, type and any 64-bit size). */
  start: number;
  end: number;
}

/** Child boxes of [start, end), stopping at the first one that is malformed or runs past `end`. */
function boxes(bytes: Uint8Array, start: number, end: number): Box[] {
  const found: Box[] = [];
  let offset = start;
  while (offset + 8 <= end) {
    let size = u32be(bytes, offset);
    let header = 8;
    if (size === 1) {
      const high = u32be(bytes, offset + 8);
      size = high * 0x100000000 + u32be(bytes, offset + 12);
      header = 16;
    } else if (size === 0) {
      size = end - offset;
    }
    if (!(size >= header) || offset + size > end) break;
    found.push({ type: ascii(bytes, offset + 4, 4), start: offset + header, end: offset + size });
    offset += size;
  }
  return found;
}

/**
 * HEIF/AVIF: the `ispe` property of the primary item (`pitm`), found through the item property
 * associations (`ipma`). Only a `meta` box wholly within `head` is trusted; otherwise null.
 */
function readIsoBmff(head: Uint8Array): DeclaredDimensions | null {
  const meta = boxes(head, 0, head.length).find((box) => box.type === 'meta');
  if (!meta) return null;
  const children = boxes(head, meta.start + 4, meta.end); // meta is a full box: skip version+flags
  const pitm = children.find((box) => box.type === 'pitm');
  const iprp = children.find((box) => box.type === 'iprp');
  if (!pitm || !iprp) return null;
  const primary = head[pitm.start] === 0 ? u16be(head, pitm.start + 4) : u32be(head, pitm.start + 4);

  const iprpChildren = boxes(head, iprp.start, iprp.end);
  const ipco = iprpChildren.find((box) => box.type === 'ipco');
  if (!ipco) return null;
  const properties = boxes(head, ipco.start, ipco.end);
  for (const ipma of iprpChildren.filter((box) => box.type === 'ipma')) {
    for (const index of associatedProperties(head, ipma, primary)) {
      const property = properties[index - 1]; // 1-based; 0 means "no property"
      if (property?.type === 'ispe') {
        return { width: u32be(head, property.start + 4), height: u32be(head, property.start + 8) };
      }
    }
  }
  return null;
}

/** Property indexes the `ipma` box associates with `itemId`. */
function associatedProperties(head: Uint8Array, ipma: Box, itemId: number): number[] {
  const version = head[ipma.start];
  const wideIndexes = (head[ipma.start + 3] & 1) === 1;
  const entryCount = u32be(head, ipma.start + 4);
  let offset = ipma.start + 8;
  for (let entry = 0; entry < entryCount && offset < ipma.end; entry++) {
    const id = version < 1 ? u16be(head, offset) : u32be(head, offset);
    offset += version < 1 ? 2 : 4;
    const associations = u8(head, offset);
    offset += 1;
    const indexes: number[] = [];
    for (let association = 0; association < associations && offset < ipma.end; association++) {
      indexes.push(wideIndexes ? u16be(head, offset) & 0x7fff : u8(head, offset) & 0x7f);
      offset += wideIndexes ? 2 : 1;
    }
    if (id === itemId) return indexes;
  }
  return [];
}
