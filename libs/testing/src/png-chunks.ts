/*
 * PNG chunks written and read by hand, for tests that build or damage PNGs byte by byte.
 */
import { crc32 } from 'node:zlib';

/** One chunk: length, type, data, CRC over type and data. */
export function pngChunk(type: string, data: Buffer = Buffer.alloc(0)): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

export interface PngChunkAt {
  type: string;
  /** Offset of the chunk's length field. */
  offset: number;
  length: number;
}

/** The chunks of `png` in order, as far as whole chunk headers go. */
export function pngChunks(png: Buffer): PngChunkAt[] {
  const chunks: PngChunkAt[] = [];
  for (let offset = 8; offset + 12 <= png.length; ) {
    const length = png.readUInt32BE(offset);
    chunks.push({ type: png.toString('latin1', offset + 4, offset + 8), offset, length });
    offset += 12 + length;
  }
  return chunks;
}

/** `png` with one more chunk right after IHDR. */
export function withPngChunkAfterIhdr(png: Buffer, type: string, data: Buffer): Buffer {
  const afterIhdr = 8 + 12 + png.readUInt32BE(8);
  return Buffer.concat([png.subarray(0, afterIhdr), pngChunk(type, data), png.subarray(afterIhdr)]);
}

/** `png` with every whole chunk's CRC recomputed in place, so damage inside reaches the decoder. */
export function withFixedPngCrcs(png: Buffer): Buffer {
  for (const { offset, length } of pngChunks(png)) {
    if (offset + 12 + length > png.length) break;
    png.writeUInt32BE(crc32(png.subarray(offset + 4, offset + 8 + length)), offset + 8 + length);
  }
  return png;
}
