import { thumbHashToApproximateAspectRatio, thumbHashToRGBA } from 'thumbhash';
import { expectQuadrants, inspectImage, quadrants } from '@thumbnail/testing';
import { call, form, submit, submitAndWait, type Json } from './support/client';
import { TestService } from './support/service';
import { describeEachStorage } from './support/storage-drivers';

/** The operator's presets for this suite: every format, every fit. */
const PRESETS = {
  w320: { width: 320, height: 320, fit: 'inside', format: 'webp' },
  square: { width: 120, height: 120, fit: 'cover', format: 'avif', quality: 60 },
  banner: { width: 200, height: 50, fit: 'fill', format: 'jpeg', quality: 85 },
  boxed: { width: 100, height: 100, fit: 'contain', format: 'png' },
};
const KNOWN = ['default', 'w320', 'square', 'banner', 'boxed'];

describeEachStorage('variants from operator presets, and the placeholder (STORAGE_DRIVER=%s)', (storage) => {
  let service: TestService;
  let api: string;
  let photo: Buffer;

  beforeAll(async () => {
    // 2:1, so every fit gives a different shape.
    photo = await quadrants(800, 400, 'jpeg');
    service = await TestService.start({ storage, env: { THUMBNAIL_PRESETS: JSON.stringify(PRESETS), MAX_VARIANTS_PER_JOB: '4' } });
    api = service.api.url;
  });
  afterAll(async () => service?.stop());

  /** GET of one variant: status, headers and bytes. */
  async function image(url: string, headers: Record<string, string> = {}) {
    const response = await fetch(url, { headers });
    return { status: response.status, headers: response.headers, data: Buffer.from(await response.arrayBuffer()) };
  }

  it('makes every preset in every format from one upload, each listed, served with its type and ETag, and showing the image', async () => {
    const job = await submitAndWait(api, photo, { variants: 'default,w320,square,banner', filename: 'photo.jpg', type: 'image/jpeg' });
    expect(job).toMatchObject({ status: 'complete', fit: 'cover', width: 100, height: 100, thumbnailFilename: `thumbnails/${job._id}.png` });
    expect(job.variants.map(({ name, format, width, height }: Json) => [name, format, width, height])).toEqual([
      ['default', 'png', 100, 100],
      ['w320', 'webp', 320, 160],
      ['square', 'avif', 120, 120],
      ['banner', 'jpeg', 200, 50],
    ]);
    expect(job.variants[0].link).toBe(job.thumbnailLink);

    const expected: Record<string, [string, string]> = {
      default: ['image/png', 'png'],
      w320: ['image/webp', 'webp'],
      square: ['image/avif', 'heif'],
      banner: ['image/jpeg', 'jpeg'],
    };
    for (const variant of job.variants) {
      const query = variant.name === 'default' ? '' : `?variant=${variant.name}`;
      const served = await image(`${api}/thumbnail/${job._id}/image${query}`);
      expect(served.status, variant.name).toBe(200);
      expect(served.headers.get('content-type'), variant.name).toBe(expected[variant.name][0]);
      expect(served.headers.get('x-content-type-options')).toBe('nosniff');
      expect(served.data.length, variant.name).toBe(variant.bytes);
      const etag = served.headers.get('etag') as string;
      expect((await image(`${api}/thumbnail/${job._id}/image${query}`, { 'if-none-match': etag })).status).toBe(304);

      const decoded = await inspectImage(served.data);
      expect([decoded.format, decoded.width, decoded.height], variant.name).toEqual([expected[variant.name][1], variant.width, variant.height]);
      expect([decoded.hasExif, decoded.hasIcc]).toEqual([false, false]);
      expectQuadrants(decoded, variant.format === 'png' ? 3 : 45);

      // The link in the record serves the same bytes to a plain HTTP client (presigned on S3).
      const linked = await image(variant.link);
      expect(linked.status).toBe(200);
      expect(linked.headers.get('content-type')).toBe(expected[variant.name][0]);
      expect(linked.data.equals(served.data), variant.name).toBe(true);
    }
    const etags = new Set(await Promise.all(job.variants.map(async (v: Json) => (await fetch(v.link)).headers.get('etag'))));
    expect(etags.size).toBe(job.variants.length);
    if (storage === 's3') expect(job.variants[1].link).toMatch(/^http:\/\/localhost:\d+\/thumbnails\/thumbnails\/.+\.w320\.webp\?X-Amz-/);
    else expect(job.variants[1].link).toBe(`${api}/thumbnail/${job._id}/image?variant=w320`);
  });

  it('carries a ThumbHash of the whole image that decodes back to its aspect ratio and colours', async () => {
    const job = await submitAndWait(api, photo, { variants: 'square' });
    expect(job.placeholder.thumbhash).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const hash = Buffer.from(job.placeholder.thumbhash, 'base64');
    expect(hash.length).toBeLessThanOrEqual(25);
    // 2:1 although the only variant is a square crop; ThumbHash rounds ratios to its term counts.
    expect(thumbHashToApproximateAspectRatio(hash)).toBeGreaterThan(1.6);
    const { w, h, rgba } = thumbHashToRGBA(hash);
    expect(w).toBeGreaterThan(h);
    const at = (fx: number, fy: number) => Array.from(rgba.subarray((Math.floor(fy * h) * w + Math.floor(fx * w)) * 4, (Math.floor(fy * h) * w + Math.floor(fx * w)) * 4 + 3));
    // Blurred, but red stays top left and blue bottom left.
    const [red, blue] = [at(0.1, 0.1), at(0.1, 0.9)];
    expect(red[0]).toBeGreaterThan(red[2] + 60);
    expect(blue[2]).toBeGreaterThan(blue[0] + 60);

    const portrait = await submitAndWait(api, await quadrants(200, 400), {});
    expect(thumbHashToApproximateAspectRatio(Buffer.from(portrait.placeholder.thumbhash, 'base64'))).toBeLessThan(0.7);
  });

  it('behaves as before when a request names nothing: one default PNG, now listed with its placeholder', async () => {
    const job = await submitAndWait(api, photo, { fit: 'contain' });
    expect(job).toMatchObject({ status: 'complete', fit: 'contain', width: 100, height: 100, thumbnailFilename: `thumbnails/${job._id}.png` });
    expect(job.variants).toEqual([{ name: 'default', format: 'png', width: 100, height: 100, bytes: expect.any(Number), link: job.thumbnailLink }]);
    expect(job.placeholder).toEqual({ thumbhash: expect.any(String) });
    const served = await image(`${api}/thumbnail/${job._id}/image`);
    expect([served.status, served.headers.get('content-type'), served.data.length]).toEqual([200, 'image/png', job.variants[0].bytes]);
    // The request's fit is the default variant's: contain pads the 2:1 photo.
    expect((await inspectImage(served.data)).pixel(50, 5)[3]).toBe(0);
  });

  it('takes the presets from the query, and a job without default has no thumbnailLink and no default image', async () => {
    const answer = await call(`${api}/thumbnail?variants=w320&wait=20`, { method: 'POST', body: form(photo) });
    expect(answer.status).toBe(201);
    const job = answer.json.data;
    expect(job).toMatchObject({ status: 'complete', thumbnailFilename: null, thumbnailLink: null });
    expect(job.variants.map((v: Json) => v.name)).toEqual(['w320']);
    const missing = await call(`${api}/thumbnail/${job._id}/image`);
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatchObject({ code: 'not_found', message: 'This job was not asked for the variant "default"; it has w320.' });
    expect((await image(`${api}/thumbnail/${job._id}/image?variant=w320`)).status).toBe(200);
  });

  it('refuses unknown presets and too many with 400 and the list of known ones, storing nothing', async () => {
    const before = await service.storedObjects('originals');
    const unknownInQuery = await call(`${api}/thumbnail?variants=w320,huge`, { method: 'POST', body: form(photo) });
    expect(unknownInQuery.status).toBe(400);
    expect(unknownInQuery.json.error).toEqual({
      code: 'unknown_variant',
      message: `There is no preset "huge". Presets: ${KNOWN.join(', ')}.`,
      known_variants: KNOWN,
    });
    const unknownInForm = await submit(api, photo, { variants: 'Default' });
    expect([unknownInForm.status, unknownInForm.json.error.code, unknownInForm.json.error.known_variants]).toEqual([400, 'unknown_variant', KNOWN]);

    const tooMany = await call(`${api}/thumbnail`, { method: 'POST', body: form(photo, { variants: 'default,w320,square,banner,boxed' }) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error).toEqual({
      code: 'too_many_variants',
      message: `A job makes at most 4 variants; this request names 5. Presets: ${KNOWN.join(', ')}.`,
      known_variants: KNOWN,
    });
    // A misspelt field is refused, not quietly dropped, before or after the file alike.
    for (const after of [false, true]) {
      const misspelt = form(after ? photo : null);
      misspelt.append('variant', 'w320');
      if (!after) misspelt.append('file', new Blob([new Uint8Array(photo)], { type: 'image/jpeg' }), 'photo.jpg');
      const answer = await call(`${api}/thumbnail`, { method: 'POST', body: misspelt });
      expect([answer.status, answer.json.error.code, answer.json.error.message]).toEqual([
        400,
        'invalid_parameter',
        'Query or form parameter "variant" is not a field of this form, which takes fit, variants, callback_url, file.',
      ]);
    }
    expect(await service.originalsAddedSince(before)).toEqual([]);
  });

  it('makes a name given twice once, and pads a contain preset with transparency', async () => {
    const repeated = await call(`${api}/thumbnail?variants=boxed,boxed&wait=20`, { method: 'POST', body: form(photo) });
    expect([repeated.status, repeated.json.data.variants.map((v: Json) => v.name)]).toEqual([201, ['boxed']]);
    const boxed = await inspectImage((await image(repeated.json.data.variants[0].link)).data);
    // contain pads the 2:1 image into the square, where it fills rows 25 to 74.
    expectQuadrants(boxed, 3, { x: 0, y: 25, width: 100, height: 50 });
    expect([boxed.pixel(50, 5)[3], boxed.pixel(50, 95)[3]]).toEqual([0, 0]);
  });

  it('answers a download of an unknown preset with 400 and the list, of a preset the job lacks with 404', async () => {
    const job = await submitAndWait(api, photo, { variants: 'banner' });
    const unknown = await call(`${api}/thumbnail/${job._id}/image?variant=huge`);
    expect([unknown.status, unknown.json.error.code, unknown.json.error.known_variants]).toEqual([400, 'unknown_variant', KNOWN]);
    const lacking = await call(`${api}/thumbnail/${job._id}/image?variant=square`);
    expect([lacking.status, lacking.json.error.code]).toEqual([404, 'not_found']);
    const twice = await call(`${api}/thumbnail/${job._id}/image?variant=banner&variant=square`);
    expect([twice.status, twice.json.error.code]).toEqual([400, 'invalid_parameter']);
  });

  it('deletes every variant’s image with the job', async () => {
    const job = await submitAndWait(api, photo, { variants: 'default,w320,square,banner' });
    const mine = async () => (await service.storedObjects('thumbnails')).filter((name) => name.startsWith(job._id)).sort();
    expect(await mine()).toEqual([`${job._id}.banner.jpg`, `${job._id}.png`, `${job._id}.square.avif`, `${job._id}.w320.webp`]);
    expect((await call(`${api}/thumbnail/${job._id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await mine()).toEqual([]);
  });
});
