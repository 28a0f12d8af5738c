/*
 * Valid images of extreme geometry and pixel format (1 x 65535, 16-bit interlaced, five
 * channels, huge GIF canvases), written byte by byte: one flat colour deflates about 1000:1, so
 * tens of megapixels take a few hundred KB and are written without ever holding their pixels.
 */
import { createDeflate } from 'node:zlib';
import { pngChunk } from './png-chunks';

const PNG_SIGNATURE = Buffer.from('89504e470d0a1a0a', 'hex');

/** PNG colour types (IHDR byte 9) and the samples per pixel each stores. */
export const PNG_COLOUR_TYPES = { grey: 0, rgb: 2, palette: 3, greyAlpha: 4, rgba: 6 } as const;
export type PngColourType = keyof typeof PNG_COLOUR_TYPES;
const SAMPLES: Record<PngColourType, number> = { grey: 1, rgb: 3, palette: 1, greyAlpha: 2, rgba: 4 };

/** Adam7: where each pass starts and how far apart its pixels are, as [x0, y0, dx, dy]. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

export interface UniformPngOptions {
  width: number;
  height: number;
  /** 1, 2, 4, 8 or 16, as the colour type allows; 8 by default. */
  bitDepth?: number;
  colourType?: PngColourType;
  /** Adam7 interlacing, which decoders cannot shrink while reading. */
  interlaced?: boolean;
  /** Every sample byte (0x80 by default); the palette's first entry is orange. */
  sample?: number;
}

/** Deflates `count` repeats of each piece, in order, and returns the zlib stream. */
async function deflateRepeats(pieces: Array<{ bytes: Buffer; count: number }>): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  for (const { bytes, count } of pieces) {
    for (let i = 0; i < count; i++) {
      if (!deflate.write(bytes)) await new Promise((resolve) => deflate.once('drain', resolve));
    }
  }
  deflate.end();
  await ended;
  return Buffer.concat(out);
}

/** `rows` rows of `rowBytes` sample bytes each behind filter byte 0, as repeatable pieces of at most ~1 MiB. */
function rowPieces(rowBytes: number, rows: number, sample: number): Array<{ bytes: Buffer; count: number }> {
  const piece = 1 << 20;
  if (rowBytes + 1 <= piece) {
    const row = Buffer.alloc(rowBytes + 1, sample);
    row[0] = 0;
    const perBlock = Math.min(rows, Math.floor(piece / row.length));
    const block = Buffer.concat(Array<Buffer>(perBlock).fill(row));
    const pieces = [{ bytes: block, count: Math.floor(rows / perBlock) }];
    const rest = rows % perBlock;
    if (rest) pieces.push({ bytes: Buffer.concat(Array<Buffer>(rest).fill(row)), count: 1 });
    return pieces;
  }
  const row = [{ bytes: Buffer.from([0]), count: 1 }, ...filledPieces(rowBytes, sample)];
  return Array.from({ length: rows }, () => row).flat();
}

/** `total` bytes of `value`, as repeatable pieces of at most 1 MiB. */
function filledPieces(total: number, value: number): Array<{ bytes: Buffer; count: number }> {
  const filler = Buffer.alloc(Math.min(total, 1 << 20), value);
  const pieces = [{ bytes: filler, count: Math.floor(total / filler.length) }];
  if (total % filler.length) pieces.push({ bytes: filler.subarray(0, total % filler.length), count: 1 });
  return pieces;
}

/** A valid PNG of one colour at any size, bit depth, colour type and interlacing. */
export async function uniformPng(options: UniformPngOptions): Promise<Buffer> {
  const { width, height, bitDepth = 8, colourType = 'rgba', interlaced = false, sample = 0x80 } = options;
  const bitsPerPixel = SAMPLES[colourType] * bitDepth;
  const passes = interlaced ? ADAM7 : [[0, 0, 1, 1] as const];
  const pieces = passes.flatMap(([x0, y0, dx, dy]) => {
    const passWidth = Math.ceil((width - x0) / dx);
    const passHeight = Math.ceil((height - y0) / dy);
    if (passWidth <= 0 || passHeight <= 0) return [];
    return rowPieces(Math.ceil((passWidth * bitsPerPixel) / 8), passHeight, colourType === 'palette' ? 0 : sample);
  });
  const idat = await deflateRepeats(pieces);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = bitDepth;
  header[9] = PNG_COLOUR_TYPES[colourType];
  header[12] = interlaced ? 1 : 0;
  const chunks = [PNG_SIGNATURE, pngChunk('IHDR', header)];
  if (colourType === 'palette') chunks.push(pngChunk('PLTE', Buffer.from([230, 120, 20])));
  for (let offset = 0; offset < idat.length; offset += 1 << 20) chunks.push(pngChunk('IDAT', idat.subarray(offset, offset + (1 << 20))));
  chunks.push(pngChunk('IEND'));
  return Buffer.concat(chunks);
}

export interface UniformTiffOptions {
  width: number;
  height: number;
  /** Samples per pixel: 3 RGB, 4 RGBA or CMYK, 5 CMYK plus alpha. */
  samples: number;
  /** 8 or 16 (integers), 32 (floats). */
  bitsPerSample: number;
  /** Photometric interpretation: 2 RGB (default), 5 separated (CMYK). */
  photometric?: 2 | 5;
  /** Samples past the colour ones are unassociated alpha (ExtraSamples 2). */
  extraSamples?: number;
  /** EXIF-style orientation tag (1..8). */
  orientation?: number;
}

/**
 * A valid little-endian TIFF of one flat colour in a single deflated strip: the layout that makes
 * a decoder hold the most at once, at any size, channel count and sample width.
 */
export async function uniformTiff(options: UniformTiffOptions): Promise<Buffer> {
  const { width, height, samples, bitsPerSample, photometric = 2, extraSamples = 0, orientation = 1 } = options;
  const rowBytes = (width * samples * bitsPerSample) / 8;
  // Floats of all zero bytes are 0.0 (black); integers get a mid grey.
  const strip = await deflateRepeats(filledPieces(rowBytes * height, bitsPerSample === 32 ? 0 : 0x40));
  const sampleFormat = bitsPerSample === 32 ? 3 : 1;
  // [tag, type (3 SHORT, 4 LONG), values], in ascending tag order as TIFF requires.
  const entries: Array<[number, 3 | 4, number[]]> = [
    [256, 4, [width]],
    [257, 4, [height]],
    [258, 3, Array<number>(samples).fill(bitsPerSample)],
    [259, 3, [8]], // Adobe deflate
    [262, 3, [photometric]],
    [273, 4, [0]], // StripOffsets, set below
    [274, 3, [orientation]],
    [277, 3, [samples]],
    [278, 4, [height]], // RowsPerStrip: one strip
    [279, 4, [strip.length]],
    [284, 3, [1]],
    ...(extraSamples ? [[338, 3, Array<number>(extraSamples).fill(2)] as [number, 3, number[]]] : []),
    [339, 3, Array<number>(samples).fill(sampleFormat)],
  ];
  const ifdBytes = 2 + entries.length * 12 + 4;
  const ifd = Buffer.alloc(ifdBytes);
  const outOfLine: Buffer[] = [];
  let next = 8 + ifdBytes;
  let stripOffsetAt = -1;
  ifd.writeUInt16LE(entries.length, 0);
  entries.forEach(([tag, type, values], index) => {
    const at = 2 + index * 12;
    const size = type === 3 ? 2 : 4;
    ifd.writeUInt16LE(tag, at);
    ifd.writeUInt16LE(type, at + 2);
    ifd.writeUInt32LE(values.length, at + 4);
    const target = values.length * size <= 4 ? ifd : Buffer.alloc(values.length * size);
    const base = target === ifd ? at + 8 : 0;
    values.forEach((value, i) => (size === 2 ? target.writeUInt16LE(value, base + i * 2) : target.writeUInt32LE(value, base + i * 4)));
    if (target !== ifd) {
      ifd.writeUInt32LE(next, at + 8);
      outOfLine.push(target);
      next += target.length;
    }
    if (tag === 273) stripOffsetAt = at + 8;
  });
  ifd.writeUInt32LE(next, stripOffsetAt);
  return Buffer.concat([Buffer.from([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0]), ifd, ...outOfLine, strip]);
}

/**
 * GIF LZW data (minimum code size 2) for `count` pixels of palette index `index`, computed run by
 * run rather than pixel by pixel: for one repeated value, an encoder that clears its table when
 * full (as omggif and giflib do) emits codes for runs of 1, 2, 3… pixels, so a 16-megapixel
 * frame is ~12 KB and takes microseconds to write.
 */
function solidLzw(index: number, count: number): Buffer {
  const minCodeSize = 2;
  const clear = 1 << minCodeSize;
  const endOfInformation = clear + 1;
  const bytes: number[] = [];
  let pending = 0;
  let pendingBits = 0;
  let width = minCodeSize + 1;
  const emit = (code: number): void => {
    pending |= code << pendingBits;
    pendingBits += width;
    while (pendingBits >= 8) {
      bytes.push(pending & 0xff);
      pending >>>= 8;
      pendingBits -= 8;
    }
  };
  let next = endOfInformation + 1;
  let longest = 1; // the longest run the table holds a code for
  emit(clear);
  for (let remaining = count; remaining > 0; ) {
    const run = Math.min(longest, remaining);
    // Code eoi+1 holds a run of 2, eoi+2 a run of 3, and so on.
    emit(run === 1 ? index : endOfInformation + run - 1);
    remaining -= run;
    if (remaining === 0) break;
    if (next === 4096) {
      emit(clear);
      next = endOfInformation + 1;
      width = minCodeSize + 1;
      longest = 1;
    } else {
      if (next >= 1 << width) width++;
      next++;
      longest++;
    }
  }
  emit(endOfInformation);
  if (pendingBits > 0) bytes.push(pending & 0xff);
  return Buffer.from(bytes);
}

function subBlocks(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += 255) {
    const block = data.subarray(offset, offset + 255);
    parts.push(Buffer.from([block.length]), block);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/**
 * An animated GIF of `frames` full-canvas frames of `width` x `height`, frame i in
 * `palette[i % palette.length]` (at most 4 colours), 100 ms each, looping.
 */
export function solidFramesGif(
  width: number,
  height: number,
  frames: number,
  palette: readonly (readonly [number, number, number])[],
): Buffer {
  if (palette.length > 4) throw new RangeError('at most 4 colours');
  const screen = Buffer.alloc(7);
  screen.writeUInt16LE(width, 0);
  screen.writeUInt16LE(height, 2);
  screen[4] = 0xf1; // global colour table of 4 entries, 8 bits per primary
  const colourTable = Buffer.alloc(12);
  palette.forEach((colour, i) => colourTable.set(colour, i * 3));
  const loop = Buffer.concat([Buffer.from([0x21, 0xff, 0x0b]), Buffer.from('NETSCAPE2.0'), Buffer.from([3, 1, 0, 0, 0])]);
  const parts: Buffer[] = [Buffer.from('GIF89a'), screen, colourTable, loop];
  const lzw = palette.map((_, i) => subBlocks(solidLzw(i, width * height)));
  for (let frame = 0; frame < frames; frame++) {
    const control = Buffer.from([0x21, 0xf9, 4, 0x04, 10, 0, 0, 0]); // keep previous frame, 10 cs
    const descriptor = Buffer.alloc(10);
    descriptor[0] = 0x2c;
    descriptor.writeUInt16LE(width, 5);
    descriptor.writeUInt16LE(height, 7);
    parts.push(control, descriptor, Buffer.from([2]), lzw[frame % palette.length]);
  }
  parts.push(Buffer.from([0x3b]));
  return Buffer.concat(parts);
}

/**
 * A GIF of one `width` x `height` frame on a logical screen of `screenWidth` x `screenHeight`
 * (decoders grow the canvas to the first frame).
 */
export function gifWithScreen(width: number, height: number, screenWidth: number, screenHeight: number): Buffer {
  const gif = solidFramesGif(width, height, 1, [[0, 0, 255]]);
  gif.writeUInt16LE(screenWidth, 6);
  gif.writeUInt16LE(screenHeight, 8);
  return gif;
}
