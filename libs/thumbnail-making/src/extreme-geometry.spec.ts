import sharp from 'sharp';
import { MAX_IMAGE_SIDE } from '@thumbnail/upload-inspection';
import {
  inspectImage,
  pngChunks,
  solidFramesGif,
  uniformPng,
  uniformTiff,
  withFixedPngCrcs,
  type UniformPngOptions,
} from '@thumbnail/testing';
import {
  createImageProcessor,
  ImageProcessor,
  ImageRejectedError,
  ImageTooLargeError,
  type MadeVariants,
  type Thumbnail,
  type ThumbnailFit,
  type ThumbnailPlan,
  type VariantPlan,
} from './index';
import { SharpImageProcessor } from './image-processor';
import { SmallPngProcessor } from './small-png-processor';

/*
 * Images whose decoding or resizing costs far more than their pixel count suggests: extreme
 * proportions in every fit, 16-bit and interlaced rows, five channels, wide GIF canvases, AVIF.
 * Each is either made, correctly, or refused as `image_too_large` from its header before any
 * pixel is decoded; never `invalid_image`, never a crash.
 */

const LIMIT = 40_000_000;
const FITS: ThumbnailFit[] = ['cover', 'contain', 'fill'];

/** Sharp, counting the images the fast path handed over. */
class CountingSharp extends ImageProcessor {
  calls = 0;
  private readonly sharp = new SharpImageProcessor({ limitInputPixels: LIMIT, timeoutSeconds: 30 });

  override makeVariants(input: Buffer, plans: readonly VariantPlan[]): Promise<MadeVariants> {
    this.calls++;
    return this.sharp.makeVariants(input, plans);
  }
}

const processor = createImageProcessor({ limitInputPixels: LIMIT, timeoutSeconds: 30, smallPngFastPath: true });

function plan(fit: ThumbnailFit): ThumbnailPlan {
  return { width: 100, height: 100, fit };
}

async function rejection(promise: Promise<unknown>): Promise<ImageRejectedError> {
  const error = await promise.then(
    () => null,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ImageRejectedError);
  return error as ImageRejectedError;
}

const made = new Map<string, Promise<Buffer>>();
function once(key: string, make: () => Promise<Buffer> | Buffer): Promise<Buffer> {
  if (!made.has(key)) made.set(key, Promise.resolve(make()));
  return made.get(key) as Promise<Buffer>;
}

function png(options: UniformPngOptions): Promise<Buffer> {
  return once(JSON.stringify(options), () => uniformPng(options));
}

/**
 * `image` with its pixel data scrambled and the container left whole: any decoder that reads
 * the pixels fails on it (`invalid_image`), so only a check made before decoding can name its
 * size. PNG: the IDAT payloads (CRCs made valid again); TIFF: the strip.
 */
function pixelsScrambled(image: Buffer): Buffer {
  const scrambled = Buffer.from(image);
  const flip = (from: number, to: number) => {
    for (let i = from; i < to; i++) scrambled[i] ^= 0x55;
  };
  if (image.subarray(1, 4).toString('latin1') === 'PNG') {
    for (const chunk of pngChunks(scrambled)) if (chunk.type === 'IDAT') flip(chunk.offset + 8, chunk.offset + 8 + chunk.length);
    return withFixedPngCrcs(scrambled);
  }
  const ifd = image.readUInt32LE(4);
  for (let i = 0; i < image.readUInt16LE(ifd); i++) {
    const entry = ifd + 2 + i * 12;
    if (image.readUInt16LE(entry) === 273) flip(image.readUInt32LE(entry + 8), image.length);
  }
  return scrambled;
}

/**
 * RGBA of the picture in a thumbnail and at its corner. The picture is the most opaque pixel of
 * the centre row and column: `contain` of a thin strip leaves a line a pixel wide, not
 * necessarily through the very centre.
 */
async function pictureAndCorner(thumbnail: Thumbnail): Promise<{ picture: number[]; corner: number[] }> {
  const { data, info } = await sharp(thumbnail.data).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * 4, (y * info.width + x) * 4 + 4));
  const centreLines = Array.from({ length: info.width }, (_, i) => [at(i, info.height >> 1), at(info.width >> 1, i)]).flat();
  const picture = centreLines.reduce((most, pixel) => (pixel[3] > most[3] ? pixel : most));
  return { picture, corner: at(0, 0) };
}

function expectNear(actual: number[], expected: number[], tolerance = 2): void {
  expected.forEach((value, i) => expect(Math.abs(actual[i] - value), `[${actual}] vs [${expected}]`).toBeLessThanOrEqual(tolerance));
}

describe('images of extreme proportions', () => {
  // Every sample byte 0x80: grey 128 at half opacity; the palette's one colour is orange.
  const kinds: Array<[string, Partial<UniformPngOptions>, number[]]> = [
    ['8-bit RGBA', {}, [128, 128, 128, 128]],
    ['16-bit RGBA, interlaced', { bitDepth: 16, interlaced: true }, [128, 128, 128, 128]],
    ['1-bit palette', { bitDepth: 1, colourType: 'palette' }, [230, 120, 20, 255]],
  ];
  const shapes: Array<[string, Array<[number, number]>]> = [
    ['wide', [[MAX_IMAGE_SIDE, 1], [MAX_IMAGE_SIDE, 16]]],
    ['tall', [[1, MAX_IMAGE_SIDE], [16, MAX_IMAGE_SIDE]]],
  ];
  // THUMBNAIL_SIZE goes up to 4096: cover of 65535x1 into 2048x2048 once meant a 134,215,680
  // pixel wide intermediate, past what libvips addresses.
  const boxes = [100, 2048];

  it.each(kinds.flatMap(([kind, options, colour]) => shapes.map(([shape, sizes]) => [shape, kind, sizes, options, colour] as const)))(
    'makes %s %s PNGs (1 and 16 pixels across) in every fit and box, the picture where it belongs',
    async (_shape, _kind, sizes, options, colour) => {
      for (const [width, height] of sizes) {
        const image = await png({ width, height, ...options });
        for (const fit of FITS) {
          for (const size of boxes) {
            const where = `${width}x${height} ${fit} ${size}`;
            const thumbnail = await processor.makeThumbnail(image, { width: size, height: size, fit });
            expect(await inspectImage(thumbnail.data), where).toMatchObject({ format: 'png', width: size, height: size, space: 'srgb' });
            const { picture, corner } = await pictureAndCorner(thumbnail);
            expectNear(picture, colour);
            // contain pads the thin strip with transparency; cover and fill leave no padding.
            expect(corner[3], where).toBe(fit === 'contain' ? 0 : colour[3]);
          }
        }
      }
    },
    30_000,
  );

  // Longer than any JPEG or GIF can be: refused whatever the pixel count, the fit or the path
  // (40,000,000x1 is within the pixel limit; one row of it is 120 MB decoded).
  const tooLong: Array<[number, number, Partial<UniformPngOptions>]> = [
    [MAX_IMAGE_SIDE + 1, 1, {}],
    [1, MAX_IMAGE_SIDE + 1, {}],
    // 8-bit RGBA of a megapixel: what the small-PNG fast path takes.
    [1_000_000, 1, {}],
    [1, 1_000_000, {}],
    [40_000_000, 1, { bitDepth: 1, colourType: 'palette' }],
    [1, 40_000_000, { bitDepth: 1, colourType: 'palette' }],
  ];
  it.each(tooLong.flatMap(([width, height, options]) => FITS.map((fit) => [width, height, fit, options] as const)))(
    'refuses %ix%i with %s as too large',
    async (width, height, fit, options) => {
      const error = await rejection(processor.makeThumbnail(await png({ width, height, ...options }), plan(fit)));
      expect(error).toBeInstanceOf(ImageTooLargeError);
      expect(error.message).toBe(`The image is ${width}x${height} pixels; no side may be longer than ${MAX_IMAGE_SIDE} pixels.`);
    },
  );

  it('refuses a side too long from the header, before decoding a pixel', async () => {
    const error = await rejection(processor.makeThumbnail(pixelsScrambled(await png({ width: 40_000_000, height: 1, bitDepth: 1, colourType: 'palette' })), plan('cover')));
    expect(error.code).toBe('image_too_large');
  });
});

describe('the small-PNG fast path on shapes far from the box', () => {
  // 8-bit RGBA PNGs of at most a megapixel: all are the fast path's by format and size.
  const far: Array<[number, number, ThumbnailFit]> = [
    [65_535, 10, 'cover'],
    [10, 65_535, 'cover'],
    [20_000, 50, 'cover'],
    [65_535, 16, 'fill'],
    [16, 65_535, 'fill'],
  ];
  const near: Array<[number, number, ThumbnailFit]> = [
    [1000, 1000, 'cover'],
    [1000, 10, 'cover'],
    [4000, 250, 'cover'],
    [400, 300, 'fill'],
  ];

  it('hands shapes whose resize would build a large image to sharp, which makes them, and keeps the others', async () => {
    const general = new CountingSharp();
    const fastPath = new SmallPngProcessor(general);
    for (const [width, height, fit] of far) {
      const before = general.calls;
      const thumbnail = await fastPath.makeThumbnail(await png({ width, height }), plan(fit));
      expect(general.calls, `${width}x${height} ${fit}`).toBe(before + 1);
      expectNear((await pictureAndCorner(thumbnail)).picture, [128, 128, 128, 128]);
    }
    for (const [width, height, fit] of near) {
      const thumbnail = await fastPath.makeThumbnail(await png({ width, height }), plan(fit));
      expectNear((await pictureAndCorner(thumbnail)).picture, [128, 128, 128, 128]);
    }
    expect(general.calls).toBe(far.length);
  });
});

describe('images whose decoding needs more memory than one image may use', () => {
  const refused: Array<[string, () => Promise<Buffer>]> = [
    // Rows of 320 KB (16-bit RGBA): libvips holds about 1,500 of them while shrinking.
    ['a 40000x1000 16-bit RGBA PNG', () => png({ width: 40_000, height: 1000, bitDepth: 16 })],
    // Decoded whole (Adam7), then shrunk through rows of 256 KB.
    ['a 65535x600 8-bit RGBA PNG, interlaced', () => png({ width: 65_535, height: 600, interlaced: true })],
    ['a 65535x600 five-channel 16-bit TIFF', () => once('tiff', () => uniformTiff({ width: 65_535, height: 600, samples: 5, bitsPerSample: 16, photometric: 5, extraSamples: 1 }))],
  ];

  it.each(refused.flatMap(([name, make]) => FITS.map((fit) => [name, fit, make] as const)))(
    'refuses %s (%s) as too large, from its header',
    async (_name, fit, make) => {
      const error = await rejection(processor.makeThumbnail(pixelsScrambled(await make()), plan(fit)));
      expect(error).toBeInstanceOf(ImageTooLargeError);
      expect(error.message).toMatch(/^Making a thumbnail of this \d+x\d+ (PNG|TIFF) image \(.*\) would take about \d+ MiB of memory, more than the \d+ MiB one image may use\.$/);
    },
  );

  it('refuses a valid TIFF of six channels per pixel as too large, not as invalid', async () => {
    const sixChannels = await uniformTiff({ width: 300, height: 200, samples: 6, bitsPerSample: 8, extraSamples: 3 });
    const error = await rejection(processor.makeThumbnail(sixChannels, plan('cover')));
    expect(error).toBeInstanceOf(ImageTooLargeError);
    expect(error.message).toMatch(/more than 5 channels per pixel/);
  });

  it.each(FITS)('refuses a 65535x610 GIF (its whole RGBA canvas, and its rows) with %s', async (fit) => {
    const gif = await once('gif', () => solidFramesGif(65_535, 610, 1, [[0, 0, 255]]));
    const error = await rejection(processor.makeThumbnail(gif, plan(fit)));
    expect(error.message).toMatch(/^Making a thumbnail of this 65535x610 GIF image \(.*\) would take about/);
  });

  it('refuses a 20-megapixel AVIF, whose decoder needs about 20 bytes a pixel', async () => {
    const image = await once('avif', () =>
      sharp({ create: { width: 5000, height: 4000, channels: 3, background: { r: 200, g: 80, b: 20 } } }).avif({ effort: 0 }).toBuffer(),
    );
    const error = await rejection(processor.makeThumbnail(image, plan('cover')));
    expect(error.message).toMatch(/this 5000x4000 AVIF image \(8-bit, 3 channels\) would take about/);
  }, 30_000);

  it('makes the largest image allowed, 40 megapixels of 16-bit RGBA interlaced, and refuses them wider', async () => {
    const largest = await processor.makeThumbnail(await png({ width: 6324, height: 6324, bitDepth: 16, interlaced: true }), plan('fill'));
    expectNear((await pictureAndCorner(largest)).picture, [128, 128, 128, 128]);
    // The same pixels in longer rows: libvips' window of rows no longer fits beside the image.
    const wider = await rejection(processor.makeThumbnail(await png({ width: 8000, height: 5000, bitDepth: 16, interlaced: true }), plan('fill')));
    expect(wider.code).toBe('image_too_large');
  }, 60_000);
});
