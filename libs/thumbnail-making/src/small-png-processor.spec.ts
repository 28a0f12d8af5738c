import sharp, { type Sharp } from 'sharp';
import { thumbHashToApproximateAspectRatio, thumbHashToAverageRGBA } from 'thumbhash';
import {
  mulberry32,
  pngChunks,
  pngWithIccProfile400,
  sixteenBitPng,
  truncated,
  withFixedPngCrcs,
  withPngChunkAfterIhdr,
} from '@thumbnail/testing';
import { ImageProcessor, InvalidImageError, type MadeVariants, type Thumbnail, type ThumbnailPlan, type VariantPlan } from './index';
import { SharpImageProcessor } from './image-processor';
import { hasIntactChunks, readSmallPlainPng, SMALL_PNG_MAX_PIXELS, SmallPngProcessor } from './small-png-processor';

/** Sharp, counting how often the fast path handed an image over. */
class CountingProcessor extends ImageProcessor {
  calls = 0;
  private readonly sharp = new SharpImageProcessor({ limitInputPixels: 40_000_000, timeoutSeconds: 10 });

  override makeVariants(input: Buffer, plans: readonly VariantPlan[]): Promise<MadeVariants> {
    this.calls++;
    return this.sharp.makeVariants(input, plans);
  }
}

const cover: ThumbnailPlan = { width: 100, height: 100, fit: 'cover' };

/** Left half red, right half blue, a smooth alpha ramp from top to bottom. */
function halves(width: number, height: number, channels: 3 | 4 = 4): Sharp {
  const pixels = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      pixels.set(x < width / 2 ? [230, 30, 20] : [20, 40, 220], i);
      if (channels === 4) pixels[i + 3] = 255 - Math.round((y * 155) / (height - 1));
    }
  }
  return sharp(pixels, { raw: { width, height, channels } });
}

function rgbaPng(width: number, height: number): Promise<Buffer> {
  return halves(width, height).png().toBuffer();
}

/** Mean difference of premultiplied RGBA values: invisible colour under alpha 0 does not count. */
async function meanDifference(a: Buffer, b: Buffer): Promise<number> {
  const [x, y] = await Promise.all([a, b].map((png) => sharp(png).ensureAlpha().raw().toBuffer()));
  let total = 0;
  for (let i = 0; i < x.length; i += 4) {
    for (let channel = 0; channel < 3; channel++) {
      total += Math.abs((x[i + channel] * x[i + 3]) / 255 - (y[i + channel] * y[i + 3]) / 255);
    }
    total += Math.abs(x[i + 3] - y[i + 3]);
  }
  return total / x.length;
}

function chunkTypes(png: Buffer): string[] {
  return pngChunks(png).map((chunk) => chunk.type);
}

describe('SmallPngProcessor', () => {
  let general: CountingProcessor;
  let processor: SmallPngProcessor;
  const reference = new SharpImageProcessor({ limitInputPixels: 40_000_000, timeoutSeconds: 10 });

  beforeEach(() => {
    general = new CountingProcessor();
    processor = new SmallPngProcessor(general);
  });

  it.each([
    ['a wide image, cover', 300, 100, cover],
    ['a tall image, cover', 90, 270, cover],
    ['an image smaller than the box, cover', 40, 30, cover],
    ['a wide image, fill', 300, 100, { width: 120, height: 80, fit: 'fill' } as ThumbnailPlan],
  ])('makes %s itself, as sharp would', async (_name, width, height, plan) => {
    const input = await rgbaPng(width, height);
    const made = await processor.makeThumbnail(input, plan);
    expect(general.calls).toBe(0);
    expect({ width: made.width, height: made.height }).toEqual({ width: plan.width, height: plan.height });
    const info = await sharp(made.data).metadata();
    expect([info.format, info.width, info.height, info.channels]).toEqual(['png', plan.width, plan.height, 4]);
    expect(chunkTypes(made.data).filter((type) => type !== 'IDAT')).toEqual(['IHDR', 'IEND']);
    const bySharp = await reference.makeThumbnail(input, plan);
    expect(await meanDifference(made.data, bySharp.data)).toBeLessThan(2);
  });

  it('cuts the centre out for cover, like sharp', async () => {
    const made = await processor.makeThumbnail(await rgbaPng(300, 100), cover);
    const { data } = await sharp(made.data).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => Array.from(data.subarray((y * 100 + x) * 4, (y * 100 + x) * 4 + 3));
    // Rounding in the premultiplied resample moves a channel by a step or two, no more.
    at(10, 50).forEach((value, channel) => expect(Math.abs(value - [230, 30, 20][channel])).toBeLessThanOrEqual(2));
    at(90, 50).forEach((value, channel) => expect(Math.abs(value - [20, 40, 220][channel])).toBeLessThanOrEqual(2));
  });

  it('makes several PNG variants from one decode, each as sharp would, and a placeholder like sharp’s', async () => {
    const input = await rgbaPng(300, 120);
    const plans: VariantPlan[] = [
      { width: 100, height: 100, fit: 'cover', format: 'png', quality: null },
      { width: 64, height: 32, fit: 'fill', format: 'png', quality: null },
      { width: 200, height: 80, fit: 'cover', format: 'png', quality: null },
    ];
    const made = await processor.makeVariants(input, plans);
    expect(general.calls).toBe(0);
    const bySharp = await reference.makeVariants(input, plans);
    expect(made.images.map(({ format, width, height }) => [format, width, height])).toEqual(plans.map((plan) => ['png', plan.width, plan.height]));
    for (const [i, image] of made.images.entries()) expect(await meanDifference(image.data, bySharp.images[i].data)).toBeLessThan(2);
    const [ours, sharps] = [made.thumbhash, bySharp.thumbhash].map(thumbHashToAverageRGBA);
    for (const channel of ['r', 'g', 'b', 'a'] as const) expect(Math.abs(ours[channel] - sharps[channel])).toBeLessThan(0.03);
    expect(thumbHashToApproximateAspectRatio(made.thumbhash)).toBeGreaterThan(1.5);
  });

  it.each([
    ['another format', { width: 100, height: 100, fit: 'cover', format: 'webp', quality: 80 }],
    ['fit inside', { width: 100, height: 100, fit: 'inside', format: 'png', quality: null }],
  ] as [string, VariantPlan][])('hands a set with %s to sharp, whole', async (_name, other) => {
    const made = await processor.makeVariants(await rgbaPng(300, 120), [{ width: 100, height: 100, fit: 'cover', format: 'png', quality: null }, other]);
    expect(general.calls).toBe(1);
    expect(made.images.map((image) => image.format)).toEqual(['png', other.format]);
  });

  it('takes a PNG whose embedded profile is sRGB', async () => {
    const made = await processor.makeThumbnail(await pngWithIccProfile400(), cover);
    expect(general.calls).toBe(0);
    const metadata = await sharp(made.data).metadata();
    expect([metadata.width, metadata.height, metadata.icc]).toEqual([100, 100, undefined]);
  });

  it.each([
    ['contain (padding is sharp’s)', () => rgbaPng(300, 100), { width: 100, height: 100, fit: 'contain' } as ThumbnailPlan],
    ['RGB without alpha', () => halves(64, 48, 3).png().toBuffer(), cover],
    ['16-bit', () => sixteenBitPng(), cover],
    ['interlaced', () => halves(64, 48).png({ progressive: true }).toBuffer(), cover],
    ['a Display P3 profile', () => halves(64, 48).withIccProfile('p3').png().toBuffer(), cover],
    ['EXIF (it may rotate)', async () => withPngChunkAfterIhdr(await rgbaPng(64, 48), 'eXIf', Buffer.from('MM\0*\0\0\0\x08\0\0', 'latin1')), cover],
    ['an animation', async () => withPngChunkAfterIhdr(await rgbaPng(64, 48), 'acTL', Buffer.from([0, 0, 0, 2, 0, 0, 0, 0])), cover],
    ['more pixels than the fast path pays for', () => rgbaPng(1100, 1000), cover],
    ['a JPEG', () => halves(64, 48, 3).jpeg().toBuffer(), cover],
  ])('hands %s to sharp', async (_name, make, plan) => {
    const made = await processor.makeThumbnail(await make(), plan);
    expect(general.calls).toBe(1);
    expect([made.width, made.height]).toEqual([plan.width, plan.height]);
  });

  it.each([
    ['a corrupt pixel stream', async () => {
      const png = await rgbaPng(64, 48);
      const idat = png.indexOf('IDAT', 0, 'latin1');
      const broken = Buffer.from(png);
      broken.fill(0x55, idat + 8, idat + 40);
      return broken;
    }],
    ['a truncated file', async () => truncated(await rgbaPng(64, 48), 0.6)],
  ])('lets sharp refuse %s, with its code and wording', async (_name, make) => {
    const error = await processor.makeThumbnail(await make(), cover).catch((caught: unknown) => caught);
    expect(general.calls).toBe(1);
    expect(error).toBeInstanceOf(InvalidImageError);
  });
});

describe('SmallPngProcessor when it fails on an image it took', () => {
  it('says so to onFallback, then hands the image to sharp', async () => {
    const png = await rgbaPng(64, 48);
    const idat = png.indexOf('IDAT', 0, 'latin1');
    // Chunks whole and CRCs valid, so the fast path takes it; its zlib stream is garbage.
    const broken = withFixedPngCrcs(Buffer.from(png).fill(0x55, idat + 4, idat + 40));
    const general = new CountingProcessor();
    const reasons: unknown[] = [];
    const processor = new SmallPngProcessor(general, (reason) => reasons.push(reason));
    await processor.makeThumbnail(broken, cover).catch(() => undefined);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(Error);
    expect(general.calls).toBe(1);
  });
});

describe('SmallPngProcessor on mutated PNGs (seeded fuzz)', () => {
  const reference = new SharpImageProcessor({ limitInputPixels: 40_000_000, timeoutSeconds: 10 });

  async function fuzz(seed: number, runs: number, fixCrcs: boolean) {
    const random = mulberry32(seed);
    const pixels = new Uint8Array(64 * 48 * 4).map((_, i) => (i % 4 === 3 ? 200 : Math.floor(random() * 256)));
    const base = await sharp(pixels, { raw: { width: 64, height: 48, channels: 4 } }).png({ adaptiveFiltering: true }).toBuffer();
    const general = new CountingProcessor();
    const processor = new SmallPngProcessor(general);
    const outcomes: { ours: Thumbnail | unknown; sharps: boolean }[] = [];
    for (let run = 0; run < runs; run++) {
      const mutated = Buffer.from(base);
      for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips--) {
        mutated[33 + Math.floor(random() * (mutated.length - 33))] = Math.floor(random() * 256);
      }
      if (fixCrcs) withFixedPngCrcs(mutated);
      const [ours, sharps] = await Promise.all([
        processor.makeThumbnail(mutated, cover).catch((error: unknown) => error),
        reference.makeThumbnail(mutated, cover).then(() => true, () => false),
      ]);
      outcomes.push({ ours, sharps });
    }
    return { outcomes, handedToSharp: general.calls };
  }

  const isThumbnail = (value: unknown): value is Thumbnail =>
    typeof value === 'object' && value !== null && 'data' in value && (value as Thumbnail).width === 100;

  it('damaged in transit (CRCs broken): accepts and refuses exactly what sharp does', async () => {
    const { outcomes } = await fuzz(2024, 200, false);
    const disagreements = outcomes.filter(({ ours, sharps }) => isThumbnail(ours) !== sharps);
    expect(disagreements).toEqual([]);
  });

  it('altered with valid CRCs: never crashes, always a 100x100 PNG or a classified refusal', async () => {
    // The documented difference (hasIntactChunks): some of these get a thumbnail here and a
    // refusal from sharp. Whatever happens must still be one of the two clean outcomes.
    const { outcomes, handedToSharp } = await fuzz(7, 200, true);
    for (const { ours } of outcomes) {
      if (isThumbnail(ours)) {
        expect(chunkTypes(ours.data)[0]).toBe('IHDR');
        expect([ours.width, ours.height]).toEqual([100, 100]);
      } else {
        expect(ours).toBeInstanceOf(InvalidImageError);
      }
    }
    // Both outcomes were reached, and the fast path itself made some of the thumbnails.
    expect(outcomes.some(({ ours }) => isThumbnail(ours))).toBe(true);
    expect(outcomes.some(({ ours }) => !isThumbnail(ours))).toBe(true);
    expect(handedToSharp).toBeLessThan(outcomes.length);
  });
});

describe('hasIntactChunks', () => {
  it('accepts a whole PNG and refuses a broken critical CRC or a missing IEND', async () => {
    const png = await rgbaPng(64, 48);
    expect(hasIntactChunks(png)).toBe(true);
    const idat = png.indexOf('IDAT', 0, 'latin1');
    const damaged = Buffer.from(png);
    damaged[idat + 10] ^= 0x01;
    expect(hasIntactChunks(damaged)).toBe(false);
    expect(hasIntactChunks(png.subarray(0, png.length - 12))).toBe(false);
  });

  it('lets a broken CRC on an ancillary chunk through, as libpng does', async () => {
    const png = withPngChunkAfterIhdr(await rgbaPng(64, 48), 'tEXt', Buffer.from('Comment\0hello', 'latin1'));
    const text = png.indexOf('tEXt', 0, 'latin1');
    png[text + 6] ^= 0x01;
    expect(hasIntactChunks(png)).toBe(true);
  });
});

describe('readSmallPlainPng', () => {
  it('reads the size of an 8-bit RGBA PNG up to the limit', async () => {
    expect(readSmallPlainPng(await rgbaPng(1024, 1024))).toEqual({ width: 1024, height: 1024 });
    expect(SMALL_PNG_MAX_PIXELS).toBe(1024 * 1024);
    expect(readSmallPlainPng(await rgbaPng(1025, 1024))).toBeNull();
  });

  it('says no to anything that is not a whole PNG header', async () => {
    const png = await rgbaPng(8, 8);
    expect(readSmallPlainPng(Buffer.alloc(0))).toBeNull();
    expect(readSmallPlainPng(png.subarray(0, 20))).toBeNull();
    expect(readSmallPlainPng(png.subarray(0, 33))).toBeNull(); // IHDR, then nothing
    const zeroWidth = Buffer.from(png);
    zeroWidth.writeUInt32BE(0, 16);
    expect(readSmallPlainPng(zeroWidth)).toBeNull();
  });
});
