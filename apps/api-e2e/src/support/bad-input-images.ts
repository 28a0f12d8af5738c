/*
 * Hostile and odd uploads for the bad-input suite, written byte by byte where sharp cannot make
 * them (lying headers, broken checksums, huge-but-tiny images). Deterministic, no files on disk.
 */
import { openSync, readSync, closeSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import { pngChunk, pngChunks, type PngChunkAt, solidFramesGif } from '@thumbnail/testing';

const PNG_SIGNATURE = Buffer.from('89504e470d0a1a0a', 'hex');

function ihdr(width: number, height: number, bitDepth: number, colourType: number): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data.writeUInt8(bitDepth, 8);
  data.writeUInt8(colourType, 9);
  return pngChunk('IHDR', data);
}

/** A PNG that is nothing but a signature and an IHDR claiming `width` x `height`, padded to 128 bytes. */
export function pngClaiming(width: number, height: number): Buffer {
  const head = Buffer.concat([PNG_SIGNATURE, ihdr(width, height, 8, 6)]);
  return Buffer.concat([head, Buffer.alloc(128 - head.length)]);
}

/**
 * A real, decodable PNG of one flat colour at any size: 1-bit palette rows of zeros deflate
 * about 1000:1, so 20000x20000 pixels take ~50 KB on the wire (and 50 MB briefly here).
 */
export function solidPng(width: number, height: number, colour: readonly [number, number, number]): Buffer {
  const rowBytes = 1 + Math.ceil(width / 8); // filter byte + packed pixels, all index 0
  const idat = deflateSync(Buffer.alloc(rowBytes * height), { level: 9 });
  return Buffer.concat([
    PNG_SIGNATURE,
    ihdr(width, height, 1, 3),
    pngChunk('PLTE', Buffer.from(colour)),
    pngChunk('IDAT', idat),
    pngChunk('IEND'),
  ]);
}

function firstChunk(png: Buffer, type: string): PngChunkAt {
  const chunk = pngChunks(png).find((c) => c.type === type);
  if (!chunk) throw new Error(`no ${type} chunk`);
  return chunk;
}

/** The PNG with its first IDAT's CRC off by one bit (the data itself is intact). */
export function withBadIdatCrc(png: Buffer): Buffer {
  const patched = Buffer.from(png);
  const idat = firstChunk(patched, 'IDAT');
  patched[idat.offset + 8 + idat.length + 3] ^= 0x01;
  return patched;
}

/** The PNG with bytes in the middle of its zlib stream scrambled and the chunk's CRC made valid again. */
export function withBadZlibData(png: Buffer): Buffer {
  const patched = Buffer.from(png);
  const idat = firstChunk(patched, 'IDAT');
  const data = idat.offset + 8;
  const middle = data + Math.floor(idat.length / 2);
  for (let i = 0; i < 16; i++) patched[middle + i] ^= 0xa5;
  patched.writeUInt32BE(crc32(patched.subarray(idat.offset + 4, data + idat.length)), data + idat.length);
  return patched;
}

/** The PNG with a tEXt chunk (ancillary) whose CRC is wrong, just before IEND. */
export function withBadAncillaryCrc(png: Buffer): Buffer {
  const iend = firstChunk(png, 'IEND');
  const text = pngChunk('tEXt', Buffer.from('Comment\0bad checksum here', 'latin1'));
  text[text.length - 1] ^= 0xff;
  return Buffer.concat([png.subarray(0, iend.offset), text, png.subarray(iend.offset)]);
}

/** Offset of the first SOF0..SOF2 marker segment of a JPEG. */
function sofOffset(jpeg: Buffer): number {
  let offset = 2;
  while (jpeg[offset + 1] < 0xc0 || jpeg[offset + 1] > 0xc2) offset += 2 + jpeg.readUInt16BE(offset + 2);
  return offset;
}

/** The JPEG with its frame header patched to claim `width` x `height`. */
export function jpegClaiming(jpeg: Buffer, width: number, height: number): Buffer {
  const patched = Buffer.from(jpeg);
  const sof = sofOffset(patched);
  patched.writeUInt16BE(height, sof + 5);
  patched.writeUInt16BE(width, sof + 7);
  return patched;
}

/** A ZIP archive holding one stored (uncompressed) file, as a polyglot's tail. */
export function zipArchive(name: string, content: Buffer): Buffer {
  const fileName = Buffer.from(name, 'utf8');
  const crc = crc32(content);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(10, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(content.length, 18);
  local.writeUInt32LE(content.length, 22);
  local.writeUInt16LE(fileName.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(10, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(content.length, 20);
  central.writeUInt32LE(content.length, 24);
  central.writeUInt16LE(fileName.length, 28);
  const centralOffset = local.length + fileName.length + content.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + fileName.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, fileName, content, central, fileName, end]);
}

/** The first `bytes` of a file, e.g. the ELF header and code of the node binary. */
export function headOfFile(path: string, bytes: number): Buffer {
  const buffer = Buffer.alloc(bytes);
  const fd = openSync(path, 'r');
  try {
    return buffer.subarray(0, readSync(fd, buffer, 0, bytes, 0));
  } finally {
    closeSync(fd);
  }
}

/** The PNG with its first IDAT's length field claiming 2 GiB (the bytes stay as they are). */
export function withHugeIdatLength(png: Buffer): Buffer {
  const patched = Buffer.from(png);
  patched.writeUInt32BE(0x7ffffff0, firstChunk(patched, 'IDAT').offset);
  return patched;
}

/**
 * The JPEG with `bytes` of comment (COM) segments inserted after SOI, so its frame header sits
 * further into the file than any upload-time header check looks.
 */
export function withCommentsBeforeFrame(jpeg: Buffer, bytes: number): Buffer {
  const segments: Buffer[] = [];
  for (let left = bytes; left > 0; ) {
    const size = Math.min(left, 65533);
    const segment = Buffer.alloc(4 + size, 0x20);
    segment.writeUInt16BE(0xfffe, 0);
    segment.writeUInt16BE(size + 2, 2);
    segments.push(segment);
    left -= size;
  }
  return Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);
}

/** A lossy WebP with alpha (the `VP8X` layout) patched to claim a `width` x `height` canvas. */
export function webpClaiming(webp: Buffer, width: number, height: number): Buffer {
  if (webp.toString('latin1', 12, 16) !== 'VP8X') throw new Error('not an extended WebP');
  const patched = Buffer.from(webp);
  patched.writeUIntLE(width - 1, 24, 3);
  patched.writeUIntLE(height - 1, 27, 3);
  return patched;
}

/** A little-endian TIFF with ImageWidth and ImageLength of its first IFD set to `width` x `height`. */
export function tiffClaiming(tiff: Buffer, width: number, height: number): Buffer {
  const patched = Buffer.from(tiff);
  const ifd = patched.readUInt32LE(4);
  for (let i = 0; i < patched.readUInt16LE(ifd); i++) {
    const entry = ifd + 2 + i * 12;
    const tag = patched.readUInt16LE(entry);
    if (tag !== 256 && tag !== 257) continue;
    const value = tag === 256 ? width : height;
    if (patched.readUInt16LE(entry + 2) === 3) patched.writeUInt16LE(value, entry + 8);
    else patched.writeUInt32LE(value, entry + 8);
  }
  return patched;
}

/** `first` followed by one more frame of `width` x `height` in another colour (the screen stays first's). */
export function withExtraFrame(first: Buffer, width: number, height: number): Buffer {
  const extra = solidFramesGif(width, height, 1, [[0, 0, 255]]);
  const framesStart = 6 + 7 + 12 + 19; // signature, screen, 4-colour table, NETSCAPE2.0 loop
  return Buffer.concat([first.subarray(0, first.length - 1), extra.subarray(framesStart)]);
}
