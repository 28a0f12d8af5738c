import {
  animatedGif,
  avif,
  CMYK_SOURCE_SRGB,
  cmykJpeg,
  DISPLAY_P3_SOURCE_SRGB,
  displayP3Png,
  GIF_FRAME_COLOURS,
  heic,
  inspectImage,
  jpegWithOrientation,
  largeJpeg,
  minimalPdf,
  ORIENTATION_UPRIGHT,
  png50,
  pngWithIccProfile400,
  SEMI_TRANSPARENT_ALPHA,
  sixteenBitPng,
  svg,
  tiff,
  truncated,
  webp,
  type Rgb,
} from '@thumbnail/testing';
import {
  ImageRejectedError,
  ImageTimeoutError,
  ImageTooLargeError,
  InvalidImageError,
  type ThumbnailPlan,
} from './index';
import { classifyDecodeError, SharpImageProcessor } from './image-processor';

const processor = new SharpImageProcessor({ limitInputPixels: 40_000_000, timeoutSeconds: 10 });
const square100: ThumbnailPlan = { width: 100, height: 100, fit: 'cover' };

function expectColour(actual: number[], expected: Rgb, tolerance: number): void {
  expected.forEach((value, channel) => {
    expect(Math.abs(actual[channel] - value), `channel ${channel} of [${actual}] vs [${expected}]`).toBeLessThanOrEqual(
      tolerance,
    );
  });
}

async function rejection(promise: Promise<unknown>): Promise<ImageRejectedError> {
  const error = await promise.then(
    () => null,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ImageRejectedError);
  return error as ImageRejectedError;
}

/** The JPEG with its SOF patched to claim a size far beyond any limit. */
async function jpegClaiming(width: number, height: number): Promise<Buffer> {
  const jpeg = Buffer.from(await jpegWithOrientation(1));
  let offset = 2;
  while (jpeg[offset + 1] < 0xc0 || jpeg[offset + 1] > 0xc2) offset += 2 + jpeg.readUInt16BE(offset + 2);
  jpeg.writeUInt16BE(height, offset + 5);
  jpeg.writeUInt16BE(width, offset + 7);
  return jpeg;
}

describe('SharpImageProcessor', () => {
  describe('thumbnails of the seed-like PNGs', () => {
    it.each([
      ['400x400', pngWithIccProfile400],
      ['50x50', png50],
    ])('makes a 100x100 sRGB PNG of the %s RGBA PNG with an ICC profile', async (_name, make) => {
      const thumbnail = await processor.makeThumbnail(await make(), square100);
      expect(thumbnail).toMatchObject({ width: 100, height: 100 });
      const output = await inspectImage(thumbnail.data);
      expect(output).toMatchObject({ format: 'png', width: 100, height: 100, space: 'srgb', depth: 'uchar' });
    });

    it('keeps the colours of an sRGB-tagged image while skipping its profile', async () => {
      const input = await pngWithIccProfile400();
      const stored = await inspectImage(input);
      const thumbnail = await processor.makeThumbnail(input, { width: 400, height: 400, fit: 'fill' });
      const output = await inspectImage(thumbnail.data);
      for (const [x, y] of [[10, 10], [200, 50], [399, 399], [300, 200]]) {
        expectColour(output.pixel(x, y), stored.pixel(x, y) as unknown as Rgb, 1);
      }
    });

    it('keeps alpha, semi-transparent where the input was', async () => {
      const thumbnail = await processor.makeThumbnail(await pngWithIccProfile400(), square100);
      const output = await inspectImage(thumbnail.data);
      expect(output.hasAlpha).toBe(true);
      expect(Math.abs(output.pixel(10, 50)[3] - SEMI_TRANSPARENT_ALPHA)).toBeLessThanOrEqual(1);
      expect(output.pixel(80, 50)[3]).toBe(255);
    });
  });

  describe('fit', () => {
    // The 400x400 fixture: red rises left to right (0..255), green top to bottom.
    it('cover fills the box and crops the centre without distortion', async () => {
      const thumbnail = await processor.makeThumbnail(await pngWithIccProfile400(), {
        width: 100,
        height: 50,
        fit: 'cover',
      });
      const output = await inspectImage(thumbnail.data);
      expect([output.width, output.height]).toEqual([100, 50]);
      // Scaled to 100x100, rows 25..74 kept: green runs from a quarter to three quarters.
      expect(output.pixel(50, 0)[1]).toBeGreaterThan(55);
      expect(output.pixel(50, 0)[1]).toBeLessThan(75);
      expect(output.pixel(50, 49)[1]).toBeGreaterThan(180);
      expect(output.pixel(50, 49)[1]).toBeLessThan(200);
      expect(output.pixel(99, 25)[0]).toBeGreaterThan(245);
    });

    it('contain fits the whole image and pads with transparent pixels', async () => {
      const thumbnail = await processor.makeThumbnail(await pngWithIccProfile400(), {
        width: 100,
        height: 50,
        fit: 'contain',
      });
      const output = await inspectImage(thumbnail.data);
      expect([output.width, output.height, output.channels]).toEqual([100, 50, 4]);
      expect(output.pixel(5, 25)[3]).toBe(0);
      expect(output.pixel(95, 25)[3]).toBe(0);
      expect(output.pixel(60, 25)[3]).toBe(255);
      expect(output.pixel(60, 0)[1]).toBeLessThan(10); // the image's top row is at the top
      expect(output.pixel(60, 49)[1]).toBeGreaterThan(245);
    });

    it('contain gives an opaque image an alpha channel for its padding', async () => {
      const thumbnail = await processor.makeThumbnail(await jpegWithOrientation(1), {
        width: 64,
        height: 64,
        fit: 'contain',
      });
      const output = await inspectImage(thumbnail.data);
      expect(output.channels).toBe(4);
      expect(output.pixel(32, 2)[3]).toBe(0);
      expect(output.pixel(32, 32)[3]).toBe(255);
      // Even when nothing needs padding, contain always answers with RGBA.
      const exact = await processor.makeThumbnail(await jpegWithOrientation(1), { width: 24, height: 16, fit: 'contain' });
      expect((await inspectImage(exact.data)).channels).toBe(4);
    });

    it('fill stretches the whole image to the box', async () => {
      const thumbnail = await processor.makeThumbnail(await pngWithIccProfile400(), {
        width: 100,
        height: 50,
        fit: 'fill',
      });
      const output = await inspectImage(thumbnail.data);
      expect([output.width, output.height]).toEqual([100, 50]);
      expect(output.pixel(50, 0)[1]).toBeLessThan(10);
      expect(output.pixel(50, 49)[1]).toBeGreaterThan(245);
      expect(output.pixel(99, 25)[3]).toBe(255);
    });
  });

  describe('orientation', () => {
    it.each([1, 2, 3, 4, 5, 6, 7, 8])('shows a JPEG with EXIF orientation %i upright', async (orientation) => {
      const input = await jpegWithOrientation(orientation);
      const thumbnail = await processor.makeThumbnail(input, { width: 24, height: 16, fit: 'fill' });
      const output = await inspectImage(thumbnail.data);
      expect([output.width, output.height]).toEqual([24, 16]);
      expectColour(output.pixel(3, 3), ORIENTATION_UPRIGHT.topLeft, 40);
      expectColour(output.pixel(20, 3), ORIENTATION_UPRIGHT.topRight, 40);
      expectColour(output.pixel(3, 12), ORIENTATION_UPRIGHT.bottomLeft, 40);
      expectColour(output.pixel(20, 12), ORIENTATION_UPRIGHT.bottomRight, 40);
    });
  });

  describe('colour', () => {
    it('converts CMYK JPEGs to sRGB keeping their colour', async () => {
      const input = await cmykJpeg();
      expect((await inspectImage(input)).space).toBe('cmyk');
      const output = await inspectImage((await processor.makeThumbnail(input, { width: 16, height: 16, fit: 'cover' })).data);
      expect([output.space, output.channels]).toEqual(['srgb', 3]);
      expectColour(output.pixel(8, 8), CMYK_SOURCE_SRGB, 8);
    });

    it.each([8, 16] as const)('converts %i-bit Display P3 to sRGB keeping its colour', async (bitDepth) => {
      const input = await displayP3Png({ bitDepth });
      const stored = (await inspectImage(input)).pixel(8, 8);
      // The stored numbers are far from the colour they mean, so a skipped conversion shows.
      expect(Math.abs(stored[0] - DISPLAY_P3_SOURCE_SRGB[0])).toBeGreaterThan(8);
      const output = await inspectImage((await processor.makeThumbnail(input, { width: 16, height: 16, fit: 'cover' })).data);
      expect(output.depth).toBe('uchar');
      expectColour(output.pixel(8, 8), DISPLAY_P3_SOURCE_SRGB, 2);
    });

    it('narrows 16-bit PNGs without a profile to 8 bits, values scaled', async () => {
      const output = await inspectImage((await processor.makeThumbnail(await sixteenBitPng(), square100)).data);
      expect(output.depth).toBe('uchar');
      expectColour(output.pixel(50, 50), [200, 100, 50], 1);
    });
  });

  describe('metadata', () => {
    it('strips EXIF, ICC and comments', async () => {
      const input = await jpegWithOrientation(6);
      expect(await inspectImage(input)).toMatchObject({ hasExif: true, hasIcc: true, orientation: 6 });
      for (const image of [input, await pngWithIccProfile400(), await displayP3Png()]) {
        const output = await inspectImage((await processor.makeThumbnail(image, square100)).data);
        expect(output).toMatchObject({ hasExif: false, hasIcc: false, comments: 0 });
        expect(output.orientation).toBeUndefined();
      }
    });
  });

  describe('formats', () => {
    it('thumbnails the first frame of an animated GIF only', async () => {
      const thumbnail = await processor.makeThumbnail(await animatedGif(3, 16, 16), {
        width: 8,
        height: 8,
        fit: 'cover',
      });
      const output = await inspectImage(thumbnail.data);
      expect([output.width, output.height, output.pages]).toEqual([8, 8, 1]);
      expectColour(output.pixel(4, 4), GIF_FRAME_COLOURS[0], 2);
    });

    it.each([
      ['WebP', () => webp()],
      ['lossless WebP', () => webp({ lossless: true })],
      ['AVIF', () => avif()],
      ['TIFF', () => tiff()],
      ['a large JPEG (shrink-on-load)', () => largeJpeg(2000, 1500)],
    ])('thumbnails %s', async (_name, make) => {
      const thumbnail = await processor.makeThumbnail(await make(), { width: 32, height: 24, fit: 'cover' });
      expect(await inspectImage(thumbnail.data)).toMatchObject({ format: 'png', width: 32, height: 24 });
    });
  });

  describe('refusals', () => {
    it.each([
      ['JPEG', () => largeJpeg(256, 256)],
      ['PNG', pngWithIccProfile400],
    ])('refuses a truncated %s instead of thumbnailing what is there', async (_name, make) => {
      const error = await rejection(processor.makeThumbnail(truncated(await make(), 0.6), square100));
      expect(error).toBeInstanceOf(InvalidImageError);
      expect(error.code).toBe('invalid_image');
      expect(error.cause).toBeInstanceOf(Error);
      expect(error.message).not.toMatch(/vips|spng|jpeg:|png:|read error/i);
    });

    it('refuses images over the pixel limit as too large', async () => {
      const small = new SharpImageProcessor({ limitInputPixels: 50 * 50 - 1, timeoutSeconds: 10 });
      const error = await rejection(small.makeThumbnail(await png50(), square100));
      expect(error).toBeInstanceOf(ImageTooLargeError);
      expect(error.code).toBe('image_too_large');
    });

    it('refuses a header claiming 65000x65000 from its header, without decoding', async () => {
      const started = Date.now();
      const error = await rejection(processor.makeThumbnail(await jpegClaiming(65000, 65000), square100));
      expect(error).toBeInstanceOf(ImageTooLargeError);
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it.each([
      ['a PDF', minimalPdf()],
      ['an SVG', svg()],
    ])('refuses %s: its libvips loader is blocked', async (_name, bytes) => {
      const error = await rejection(processor.makeThumbnail(bytes, square100));
      expect(error).toBeInstanceOf(InvalidImageError);
      // Refused when libvips looked for a loader, not because rendering failed.
      expect(String((error.cause as Error).message)).toMatch(/unsupported image format/);
    });

    it.each([
      ['random bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251))],
      ['HTML', Buffer.from('<!DOCTYPE html><html><body>hello</body></html>')],
      ['an empty file', Buffer.alloc(0)],
    ])('refuses %s as invalid', async (_name, bytes) => {
      expect(await rejection(processor.makeThumbnail(bytes, square100))).toBeInstanceOf(InvalidImageError);
    });

    it('refuses HEIC with a message that says so', async () => {
      const error = await rejection(processor.makeThumbnail(heic(), square100));
      expect(error).toBeInstanceOf(InvalidImageError);
      expect(error.message).toMatch(/HEIC/);
    });

    it('cannot decode HEVC even when the file is branded as AVIF', async () => {
      // Same HEIC, ftyp rewritten to AVIF brands: libvips gets to try, and has no HEVC decoder.
      const disguised = Buffer.from(heic());
      expect(disguised.subarray(8, 12).toString()).toBe('heic');
      disguised.write('avif', 8, 'latin1');
      disguised.write('avif', 20, 'latin1');
      const error = await rejection(processor.makeThumbnail(disguised, square100));
      expect(error).toBeInstanceOf(InvalidImageError);
      expect(error.message).toMatch(/cannot decode/);
      expect(String((error.cause as Error).message)).toMatch(/HEVC/);
    });

    it('marks every refusal final, with a stable code', () => {
      for (const error of [new InvalidImageError(), new ImageTooLargeError(), new ImageTimeoutError()]) {
        expect(error.final).toBe(true);
        expect(error.name).toBe(error.constructor.name);
      }
      expect(new ImageTimeoutError().code).toBe('processing_timeout');
    });
  });

  describe('classifyDecodeError', () => {
    it('maps what libvips says to our errors, keeping its words only in cause', () => {
      const timeout = new Error('timeout: 42% complete');
      const mapped = classifyDecodeError(timeout) as ImageRejectedError;
      expect(mapped).toBeInstanceOf(ImageTimeoutError);
      expect(mapped.cause).toBe(timeout);
      expect(mapped.message).not.toMatch(/42%/);
      expect(classifyDecodeError(new Error('Input image exceeds pixel limit'))).toBeInstanceOf(ImageTooLargeError);
      expect(classifyDecodeError(new Error('Input image exceeds channel limit'))).toBeInstanceOf(ImageTooLargeError);
      expect(classifyDecodeError(new Error('VipsJpeg: Premature end of input file'))).toBeInstanceOf(InvalidImageError);
    });

    it('leaves failures that are not the image\'s fault alone, so they can be retried', () => {
      const oom = new Error('vips_malloc: out of memory --- size == 1234MB');
      expect(classifyDecodeError(oom)).toBe(oom);
    });
  });

  describe('configuration', () => {
    it('refuses impossible options and plans as programming errors, not image errors', async () => {
      expect(() => new SharpImageProcessor({ limitInputPixels: 1000, timeoutSeconds: 0 })).toThrow(RangeError);
      expect(() => new SharpImageProcessor({ limitInputPixels: 0, timeoutSeconds: 5 })).toThrow(RangeError);
      await expect(processor.makeThumbnail(await png50(), { width: 0, height: 10, fit: 'cover' })).rejects.toThrow(
        RangeError,
      );
    });

    it('makes thumbnails concurrently', async () => {
      const input = await pngWithIccProfile400();
      const thumbnails = await Promise.all(Array.from({ length: 8 }, () => processor.makeThumbnail(input, square100)));
      expect(new Set(thumbnails.map((thumbnail) => thumbnail.data.toString('base64'))).size).toBe(1);
    });
  });
});
