import sharp from 'sharp';
import { thumbHashToApproximateAspectRatio } from 'thumbhash';
import { expectQuadrants, inspectImage, jpegWithOrientation, largeJpeg, quadrants } from '@thumbnail/testing';
import { SharpImageProcessor } from './image-processor';
import type { VariantPlan } from './thumbnail-plan';
import { sharedDecodeScale } from './thumbnail-plan';

const processor = new SharpImageProcessor({ limitInputPixels: 40_000_000, timeoutSeconds: 10 });

describe('SharpImageProcessor.makeVariants', () => {
  it('makes every plan in every format from one call, in order, each showing the image', async () => {
    const input = await quadrants(400, 200);
    const plans: VariantPlan[] = [
      { width: 100, height: 100, fit: 'cover', format: 'png', quality: null },
      { width: 320, height: 320, fit: 'inside', format: 'webp', quality: 80 },
      { width: 120, height: 80, fit: 'contain', format: 'avif', quality: 60 },
      { width: 90, height: 60, fit: 'fill', format: 'jpeg', quality: 85 },
    ];
    const made = await processor.makeVariants(input, plans);
    expect(made.images.map(({ format, width, height }) => [format, width, height])).toEqual([
      ['png', 100, 100],
      ['webp', 320, 160],
      ['avif', 120, 80],
      ['jpeg', 90, 60],
    ]);
    const [png, webp, avif, jpeg] = await Promise.all(made.images.map((image) => inspectImage(image.data)));
    expect([png.format, webp.format, avif.format, jpeg.format]).toEqual(['png', 'webp', 'heif', 'jpeg']);
    expect([avif.width, avif.height, jpeg.width, jpeg.height]).toEqual([120, 80, 90, 60]);
    for (const image of [png, webp, avif, jpeg]) expect([image.hasExif, image.hasIcc, image.space]).toEqual([false, false, 'srgb']);
    expectQuadrants(png, 2);
    expectQuadrants(webp, 40);
    expectQuadrants(jpeg, 40);
    // contain: the 2:1 image is 120x60 in the middle, transparent bands above and below.
    expectQuadrants(avif, 40, { x: 0, y: 10, width: 120, height: 60 });
    expect([avif.pixel(60, 3)[3], avif.pixel(60, 76)[3], avif.pixel(60, 40)[3]]).toEqual([0, 0, 255]);
  });

  it('`inside` keeps the aspect ratio and never enlarges', async () => {
    const made = await processor.makeVariants(await quadrants(400, 200), [
      { width: 300, height: 300, fit: 'inside', format: 'png', quality: null },
      { width: 1000, height: 1000, fit: 'inside', format: 'png', quality: null },
      { width: 100, height: 20, fit: 'inside', format: 'png', quality: null },
    ]);
    expect(made.images.map(({ width, height }) => [width, height])).toEqual([[300, 150], [400, 200], [40, 20]]);
  });

  it('makes JPEG opaque: transparency and `contain` padding become white', async () => {
    // Left half transparent, right half opaque blue.
    const pixels = new Uint8Array(200 * 100 * 4);
    for (let i = 0; i < 200 * 100; i++) if (i % 200 >= 100) pixels.set([0, 0, 255, 255], i * 4);
    const halfTransparent = await sharp(pixels, { raw: { width: 200, height: 100, channels: 4 } }).png().toBuffer();
    const made = await processor.makeVariants(halfTransparent, [
      { width: 200, height: 100, fit: 'fill', format: 'jpeg', quality: 90 },
      { width: 100, height: 100, fit: 'contain', format: 'jpeg', quality: 90 },
    ]);
    const [filled, contained] = await Promise.all(made.images.map((image) => inspectImage(image.data)));
    expect(filled.channels).toBe(3);
    expect(filled.pixel(50, 50)).toEqual([255, 255, 255]);
    expect(filled.pixel(150, 50)[2]).toBeGreaterThan(230);
    expect(contained.pixel(50, 5)).toEqual([255, 255, 255]); // padding
    expect(contained.pixel(75, 50)[2]).toBeGreaterThan(230);
  });

  it('encodes at the plan’s quality', async () => {
    const photo = await largeJpeg(800, 600);
    const plan = { width: 400, height: 300, fit: 'cover' } as const;
    const made = await processor.makeVariants(photo, [
      { ...plan, format: 'webp', quality: 20 },
      { ...plan, format: 'webp', quality: 95 },
      { ...plan, format: 'jpeg', quality: 20 },
      { ...plan, format: 'jpeg', quality: 95 },
    ]);
    const [webpLow, webpHigh, jpegLow, jpegHigh] = made.images.map((image) => image.data.length);
    expect(webpHigh).toBeGreaterThan(2 * webpLow);
    expect(jpegHigh).toBeGreaterThan(2 * jpegLow);
  });

  it('makes small and large variants of a large JPEG to their exact sizes', { timeout: 20_000 }, async () => {
    const made = await processor.makeVariants(await largeJpeg(2000, 1500), [
      { width: 100, height: 100, fit: 'cover', format: 'png', quality: null },
      { width: 1280, height: 1280, fit: 'inside', format: 'webp', quality: 80 },
      { width: 640, height: 360, fit: 'fill', format: 'jpeg', quality: 80 },
    ]);
    expect(made.images.map(({ width, height }) => [width, height])).toEqual([[100, 100], [1280, 960], [640, 360]]);
    const large = await inspectImage(made.images[1].data);
    expect([large.format, large.width, large.height]).toEqual(['webp', 1280, 960]);
  });

  it('hashes the whole image for the placeholder, not a variant’s crop, upright', async () => {
    const wide = await processor.makeVariants(await quadrants(400, 200), [{ width: 100, height: 100, fit: 'cover', format: 'png', quality: null }]);
    expect(thumbHashToApproximateAspectRatio(wide.thumbhash)).toBeGreaterThan(1.5);
    // Stored 32x48 and turned by EXIF orientation 6 to the 48x32 picture.
    const turned = await processor.makeVariants(await jpegWithOrientation(6), [{ width: 10, height: 10, fit: 'fill', format: 'png', quality: null }]);
    expect(thumbHashToApproximateAspectRatio(turned.thumbhash)).toBeGreaterThan(1.2);
  });

  it('refuses plans no caller may send as programming errors', async () => {
    const input = await quadrants(40, 20);
    await expect(processor.makeVariants(input, [])).rejects.toBeInstanceOf(RangeError);
    await expect(processor.makeVariants(input, [{ width: 10, height: 10, fit: 'cover', format: 'webp', quality: 0 }])).rejects.toBeInstanceOf(RangeError);
    const tooMany = Array.from({ length: 33 }, () => ({ width: 10, height: 10, fit: 'cover', format: 'png', quality: null }) as const);
    await expect(processor.makeVariants(input, tooMany)).rejects.toBeInstanceOf(RangeError);
  });
});

describe('sharedDecodeScale', () => {
  it('keeps what the most demanding plan needs, and never more than the image', () => {
    // 4000x2000: a 100x100 cover needs 1/20 of it (height 100), contain and inside 1/40.
    expect(sharedDecodeScale([{ width: 100, height: 100, fit: 'cover' }], 4000, 2000)).toBe(1 / 20);
    expect(sharedDecodeScale([{ width: 100, height: 100, fit: 'contain' }], 4000, 2000)).toBe(1 / 40);
    expect(sharedDecodeScale([{ width: 100, height: 100, fit: 'inside' }], 4000, 2000)).toBe(1 / 40);
    expect(sharedDecodeScale([{ width: 400, height: 100, fit: 'fill' }], 4000, 2000)).toBe(1 / 10);
    expect(
      sharedDecodeScale(
        [
          { width: 100, height: 100, fit: 'cover' },
          { width: 1000, height: 1000, fit: 'inside' },
        ],
        4000,
        2000,
      ),
    ).toBe(1 / 4);
    expect(sharedDecodeScale([{ width: 5000, height: 100, fit: 'inside' }], 4000, 2000)).toBe(1 / 20);
    expect(sharedDecodeScale([{ width: 800, height: 800, fit: 'cover' }], 400, 200)).toBe(1);
  });
});
