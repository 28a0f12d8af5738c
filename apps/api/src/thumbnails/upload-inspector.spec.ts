import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { minimalPdf, png50, svg } from '@thumbnail/testing';
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
});
