import { thumbHashToApproximateAspectRatio, thumbHashToAverageRGBA, thumbHashToRGBA } from 'thumbhash';
import { thumbHashOf, type RawPixels } from './placeholder';

/** `width` x `height` pixels of `channels`, each pixel made by `colour(x, y)`. */
function pixels(width: number, height: number, channels: number, colour: (x: number, y: number) => number[]): RawPixels {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(colour(x, y), (y * width + x) * channels);
  return { data, width, height, channels };
}

describe('thumbHashOf', () => {
  it.each([
    [640, 480],
    [480, 640],
    [1000, 1000],
    [1920, 1080],
    [30, 90],
    [1, 1],
  ])('decodes back to an image of the %ix%i input’s aspect ratio', (width, height) => {
    const hash = thumbHashOf(pixels(width, height, 3, (x) => [x % 256, 90, 160]));
    const decoded = thumbHashToRGBA(hash);
    expect(Math.sign(decoded.w - decoded.h)).toBe(Math.sign(width - height));
    // ThumbHash keeps the ratio of its cosine term counts per axis (1 to 7 each), so a ratio
    // such as 1:3 comes back as 2:7; within a quarter always.
    expect(Math.abs(Math.log(thumbHashToApproximateAspectRatio(hash) / (width / height)))).toBeLessThan(Math.log(1.25));
    expect(Math.abs(Math.log(decoded.w / decoded.h / (width / height)))).toBeLessThan(Math.log(1.25));
    expect(hash.length).toBeLessThanOrEqual(25);
  });

  it('keeps the picture: the left half red and the right half blue decode that way round', () => {
    const hash = thumbHashOf(pixels(400, 200, 3, (x) => (x < 200 ? [220, 30, 30] : [30, 30, 220])));
    const { w, h, rgba } = thumbHashToRGBA(hash);
    const at = (x: number, y: number) => Array.from(rgba.subarray((y * w + x) * 4, (y * w + x) * 4 + 3));
    const [left, right] = [at(Math.floor(w / 8), Math.floor(h / 2)), at(Math.floor((7 * w) / 8), Math.floor(h / 2))];
    expect(left[0]).toBeGreaterThan(left[2] + 80);
    expect(right[2]).toBeGreaterThan(right[0] + 80);
  });

  it('weights colours by alpha, and says when the image is transparent', () => {
    // Opaque green over transparent black: the black must not darken the average.
    const hash = thumbHashOf(pixels(200, 200, 4, (x, y) => ((x + y) % 2 === 0 ? [0, 200, 0, 255] : [0, 0, 0, 0])));
    const average = thumbHashToAverageRGBA(hash);
    expect(average.g).toBeGreaterThan(0.7);
    expect(average.r).toBeLessThan(0.1);
    expect(average.a).toBeLessThan(0.8);
    expect(thumbHashToAverageRGBA(thumbHashOf(pixels(50, 50, 4, () => [0, 200, 0, 255]))).a).toBe(1);
  });

  it('reads grey and grey with alpha as well as RGB', () => {
    // ThumbHash quantises its average colour: a few levels either way.
    const near = (value: number, expected: number) => expect(Math.abs(value * 255 - expected)).toBeLessThanOrEqual(8);
    const grey = thumbHashToAverageRGBA(thumbHashOf(pixels(64, 48, 1, () => [128])));
    for (const channel of [grey.r, grey.g, grey.b]) near(channel, 128);
    const greyAlpha = thumbHashToAverageRGBA(thumbHashOf(pixels(64, 48, 2, (x) => [200, x < 32 ? 255 : 0])));
    for (const channel of [greyAlpha.r, greyAlpha.g, greyAlpha.b]) near(channel, 200);
    expect(greyAlpha.a).toBeLessThan(0.8);
  });
});
