import { crc32 } from 'node:zlib';

export interface PngChunk {
  type: string;
  data: Buffer;
  /** Whether the stored CRC matches the chunk's type and data (computed when asked). */
  crcMatches(): boolean;
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The whole chunks of a PNG in file order (length, type, data, CRC each), after the signature.
 * Ends at the first chunk that runs past the end of `png`, so a file cut short yields only what
 * it really holds; callers that need IEND check they saw it.
 */
export function* pngChunks(png: Buffer): Generator<PngChunk> {
  for (let offset = PNG_SIGNATURE.length; offset + 12 <= png.length; ) {
    const end = offset + 12 + png.readUInt32BE(offset);
    if (end > png.length) return;
    const typeAndData = png.subarray(offset + 4, end - 4);
    yield {
      type: png.toString('latin1', offset + 4, offset + 8),
      data: png.subarray(offset + 8, end - 4),
      crcMatches: () => crc32(typeAndData) === png.readUInt32BE(end - 4),
    };
    offset = end;
  }
}
