import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gifWithScreen, minimalPdf, png50, svg, tiff, uniformPng } from '@thumbnail/testing';
import { MAX_IMAGE_SIDE } from '@thumbnail/upload-inspection';
import { ApiError } from '../errors/api-error';
import { UploadInspector } from './upload-inspector';

/** Streams `data` in small chunks through an inspector; resolves with what came out. */
async function inspect(data: Buffer, limits = { maxBytes: 1024 * 1024, maxPixels: 40_000_000 }, chunk = 7) {
  const inspector = new UploadInspector(limits);
  const out: Buffer[] = [];
  const chunks = Array.from({ length: Math.ceil(data.length / chunk) }, (_, i) => data.subarray(i * chunk, (i + 1) * chunk));
  await pipeline(
    Readable.from(chunks),
    inspector,
    new Writable({ write: (c, _e, done) => (out.push(c), done()) }),
  );
  return { inspector, output: Buffer.concat(out) };
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe('UploadInspector', () => {
  it('passes an image through unchanged and learns its type, size and dimensions', async () => {
    const png = await png50();
    const { inspector, output } = await inspect(png);
    expect(output.equals(png)).toBe(true);
    expect(inspector.bytes).toBe(png.length);
    expect(inspector.image?.mime).toBe('image/png');
    expect(inspector.dimensions).toEqual({ width: 50, height: 50 });
  });

  it('refuses bytes that are not an accepted image, whatever they claim', async () => {
    expect((await refusal(inspect(minimalPdf()))).code).toBe('unsupported_media_type');
    expect((await refusal(inspect(svg()))).status).toBe(415);
    expect((await refusal(inspect(Buffer.from('<html><body>hi</body></html>'.repeat(4))))).status).toBe(415);
  });

  it('refuses an empty file and a file over the byte limit', async () => {
    expect((await refusal(inspect(Buffer.alloc(0)))).code).toBe('file_required');
    const png = await png50();
    const error = await refusal(inspect(png, { maxBytes: png.length - 1, maxPixels: 40_000_000 }));
    expect(error).toMatchObject({ status: 413, code: 'file_too_large' });
  });

  it('refuses a header declaring more pixels than the limit before reading further', async () => {
    const png = Buffer.from(await png50());
    png.writeUInt32BE(50_000, 16); // IHDR width
    png.writeUInt32BE(50_000, 20); // IHDR height
    const error = await refusal(inspect(png));
    expect(error).toMatchObject({ status: 422, code: 'image_too_large' });
    expect(error.message).toContain('50000x50000');
  });

  describe('a side longer than MAX_IMAGE_SIDE, within the pixel limit', () => {
    /** A little-endian TIFF with the ImageWidth and ImageLength of its first IFD set to `width` x `height`. */
    async function tiffClaiming(width: number, height: number): Promise<Buffer> {
      const patched = Buffer.from(await tiff());
      const ifd = patched.readUInt32LE(4);
      for (let i = 0; i < patched.readUInt16LE(ifd); i++) {
        const entry = ifd + 2 + i * 12;
        const tag = patched.readUInt16LE(entry);
        if (tag !== 256 && tag !== 257) continue;
        patched.writeUInt16LE(4, entry + 2); // LONG
        patched.writeUInt32LE(tag === 256 ? width : height, entry + 8);
      }
      return patched;
    }

    it.each([
      ['a 40000000x1 PNG', () => uniformPng({ width: 40_000_000, height: 1, bitDepth: 1, colourType: 'palette' }), '40000000x1'],
      ['a 1x40000000 PNG', () => uniformPng({ width: 1, height: 40_000_000, bitDepth: 1, colourType: 'palette' }), '1x40000000'],
      ['a 1000000x1 TIFF', () => tiffClaiming(1_000_000, 1), '1000000x1'],
      ['a GIF whose first frame sits at x 65000 of a 1x1 screen', () => {
        const gif = gifWithScreen(1000, 1, 1, 1);
        gif.writeUInt16LE(65_000, gif.indexOf(0x2c) + 1); // the frame's left edge
        return gif;
      }, '66000x1'],
    ])('refuses %s as too large from its header', async (_name, make, size) => {
      const error = await refusal(inspect(await make(), { maxBytes: 1024 * 1024, maxPixels: 40_000_000 }));
      expect(error).toMatchObject({ status: 422, code: 'image_too_large' });
      expect(error.message).toBe(`The image declares ${size} pixels; no side may be longer than ${MAX_IMAGE_SIDE} pixels.`);
    });

    it('passes the longest side allowed and refuses one pixel more', async () => {
      const longest = await uniformPng({ width: MAX_IMAGE_SIDE, height: 1 });
      expect((await inspect(longest)).inspector.dimensions).toEqual({ width: MAX_IMAGE_SIDE, height: 1 });
      const error = await refusal(inspect(await uniformPng({ width: 1, height: MAX_IMAGE_SIDE + 1 })));
      expect(error).toMatchObject({ status: 422, code: 'image_too_large' });
    });
  });
});
