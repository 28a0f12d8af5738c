import {
  animatedGif,
  avif,
  heic,
  inspectImage,
  jpegWithOrientation,
  largeJpeg,
  png50,
  pngWithIccProfile400,
  tiff,
  webp,
} from '@thumbnail/testing';
import { GIF } from 'image-size/types/gif';
import { JPG } from 'image-size/types/jpg';
import { readDeclaredDimensions } from './declared-dimensions';
import type { ImageFormat } from './sniff-image-type';

const HEAD = 64 * 1024;

/** A PNG that is nothing but a header claiming `width` x `height`, padded to 128 bytes. */
function pngClaiming(width: number, height: number): Buffer {
  const png = Buffer.alloc(128);
  Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex').copy(png, 0);
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt8(8, 24); // bit depth
  png.writeUInt8(6, 25); // RGBA
  return png;
}

/** Offset of the first SOFn marker segment of a JPEG. */
function sofOffset(jpeg: Buffer): number {
  let offset = 2;
  while (jpeg[offset + 1] < 0xc0 || jpeg[offset + 1] > 0xc2) offset += 2 + jpeg.readUInt16BE(offset + 2);
  return offset;
}

function jpegClaiming(jpeg: Buffer, width: number, height: number): Buffer {
  const patched = Buffer.from(jpeg);
  const sof = sofOffset(patched);
  patched.writeUInt16BE(height, sof + 5);
  patched.writeUInt16BE(width, sof + 7);
  return patched;
}

/** A big-endian TIFF header with a first IFD holding ImageWidth (SHORT) and ImageLength (LONG). */
function bigEndianTiff(width: number, height: number): Buffer {
  const tiff = Buffer.alloc(8 + 2 + 2 * 12 + 4);
  tiff.write('MM', 0, 'latin1');
  tiff.writeUInt16BE(42, 2);
  tiff.writeUInt32BE(8, 4);
  tiff.writeUInt16BE(2, 8);
  tiff.writeUInt16BE(256, 10);
  tiff.writeUInt16BE(3, 12);
  tiff.writeUInt32BE(1, 14);
  tiff.writeUInt16BE(width, 18);
  tiff.writeUInt16BE(257, 22);
  tiff.writeUInt16BE(4, 24);
  tiff.writeUInt32BE(1, 26);
  tiff.writeUInt32BE(height, 30);
  return tiff;
}

describe('readDeclaredDimensions', () => {
  const made: [string, ImageFormat, () => Promise<Buffer> | Buffer][] = [
    ['PNG', 'png', pngWithIccProfile400],
    ['JPEG', 'jpeg', () => largeJpeg(640, 480)],
    ['JPEG stored sideways (EXIF 6)', 'jpeg', () => jpegWithOrientation(6)],
    ['lossy WebP with alpha (VP8X)', 'webp', () => webp({ width: 300, height: 200 })],
    ['lossy WebP (VP8)', 'webp', () => webp({ width: 301, height: 199, alpha: false })],
    ['lossless WebP (VP8L)', 'webp', () => webp({ width: 123, height: 45, lossless: true })],
    ['GIF', 'gif', () => animatedGif(1, 70, 30)],
    ['little-endian TIFF', 'tiff', () => tiff({ width: 90, height: 60 })],
    ['AVIF', 'avif', () => avif({ width: 40, height: 24 })],
  ];

  it.each(made)('reads the stored size of a %s made by an encoder', async (_name, format, make) => {
    const image = await make();
    const { width, height } = await inspectImage(image);
    expect(readDeclaredDimensions(image.subarray(0, HEAD), format)).toMatchObject({ width, height });
  });

  it('reads a 128-byte PNG that claims 50000x50000', () => {
    expect(readDeclaredDimensions(pngClaiming(50000, 50000), 'png')).toEqual({ width: 50000, height: 50000 });
  });

  it('reads a JPEG header patched to claim 65000x65000', async () => {
    const jpeg = jpegClaiming(await jpegWithOrientation(1), 65000, 65000);
    expect(readDeclaredDimensions(jpeg.subarray(0, HEAD), 'jpeg')).toEqual({ width: 65000, height: 65000 });
  });

  it('reads big-endian TIFF', () => {
    expect(readDeclaredDimensions(bigEndianTiff(1234, 70000), 'tiff')).toEqual({ width: 1234, height: 70000 });
  });

  it('takes the largest image a HEIF container declares, as the decoder may open any of them', () => {
    // The fixture is a 16x16 grid over one 64x64 HEVC tile; both sizes are in the header.
    expect(readDeclaredDimensions(heic(), 'heic')).toEqual({ width: 64, height: 64 });
  });

  it('reads a GIF once its first frame descriptor has arrived', async () => {
    const gif = await animatedGif(3, 20, 10);
    expect(readDeclaredDimensions(gif, 'gif')).toEqual({ width: 20, height: 10 });
    const descriptor = gif.indexOf(0x2c, 13);
    expect(readDeclaredDimensions(gif.subarray(0, descriptor + 9), 'gif')).toBeNull();
    expect(readDeclaredDimensions(gif.subarray(0, descriptor + 10), 'gif')).toEqual({ width: 20, height: 10 });
  });

  it('grows a GIF to its first frame when that frame is bigger than the logical screen', async () => {
    const gif = Buffer.from(await animatedGif(1, 40, 30));
    gif.writeUInt16LE(4, 6);
    gif.writeUInt16LE(3, 8);
    expect(readDeclaredDimensions(gif, 'gif')).toEqual({ width: 40, height: 30 });
    // Why GIF has a reader of its own: image-size reads the logical screen only.
    expect(GIF.calculate(gif)).toEqual({ width: 4, height: 3 });
  });

  it('never reads past the end of the head, even where the bytes after it are in memory', async () => {
    const jpeg = await jpegWithOrientation(1);
    const sof = sofOffset(jpeg);
    // A slice shares the whole file's memory; image-size alone reads the size from beyond it.
    expect(JPG.calculate(jpeg.subarray(0, sof + 4))).toMatchObject({ width: 48, height: 32 });
    expect(readDeclaredDimensions(jpeg.subarray(0, sof + 4), 'jpeg')).toBeNull();
  });

  it('returns null until the declaration is within the head', async () => {
    const jpeg = await jpegWithOrientation(1); // EXIF and ICC segments come before SOF
    const sof = sofOffset(jpeg);
    expect(readDeclaredDimensions(jpeg.subarray(0, sof + 4), 'jpeg')).toBeNull();
    expect(readDeclaredDimensions(jpeg.subarray(0, sof + 9), 'jpeg')).toEqual({ width: 48, height: 32 });
    expect(readDeclaredDimensions(pngClaiming(10, 10).subarray(0, 20), 'png')).toBeNull();
    const image = await avif();
    expect(readDeclaredDimensions(image.subarray(0, 100), 'avif')).toBeNull();
  });

  it('returns null for zero sizes and for bytes of another format', async () => {
    expect(readDeclaredDimensions(pngClaiming(0, 100), 'png')).toBeNull();
    expect(readDeclaredDimensions(await png50(), 'jpeg')).toBeNull();
    expect(readDeclaredDimensions(await png50(), 'gif')).toBeNull();
    expect(readDeclaredDimensions(await png50(), 'avif')).toBeNull();
  });

  describe('on hostile input', () => {
    const formats: ImageFormat[] = ['png', 'gif', 'jpeg', 'webp', 'tiff', 'avif', 'heic'];
    let random = 0x2545f491;
    const nextByte = (): number => {
      random ^= random << 13;
      random ^= random >>> 17;
      random ^= random << 5;
      return random & 0xff;
    };
    const randomBytes = (length: number): Buffer => Buffer.from(Array.from({ length }, nextByte));

    function expectSane(head: Buffer, format: ImageFormat): void {
      const declared = readDeclaredDimensions(head, format);
      if (declared === null) return;
      expect(Number.isInteger(declared.width) && declared.width > 0).toBe(true);
      expect(Number.isInteger(declared.height) && declared.height > 0).toBe(true);
    }

    it('never throws on random bytes', () => {
      for (let round = 0; round < 3000; round++) {
        const bytes = randomBytes(round % 300);
        for (const format of formats) expectSane(bytes, format);
      }
    });

    it('never throws on any truncation or byte corruption of real headers', async () => {
      const samples: [ImageFormat, Buffer][] = [
        ['png', await png50()],
        ['jpeg', await jpegWithOrientation(6)],
        ['webp', await webp()],
        ['webp', await webp({ lossless: true })],
        ['gif', await animatedGif(3, 8, 8)],
        ['tiff', await tiff()],
        ['tiff', bigEndianTiff(10, 10)],
        ['avif', await avif()],
        ['heic', heic()],
      ];
      for (const [format, image] of samples) {
        const head = image.subarray(0, 2048);
        for (let length = 0; length <= head.length; length++) expectSane(head.subarray(0, length), format);
        for (let round = 0; round < 500; round++) {
          const corrupted = Buffer.from(head);
          for (let flips = 1 + (nextByte() % 4); flips > 0; flips--) {
            corrupted[((nextByte() << 8) | nextByte()) % corrupted.length] = nextByte();
          }
          expectSane(corrupted, format);
        }
      }
    });
  });
});
