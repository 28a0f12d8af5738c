import sharp from 'sharp';
import { MAX_IMAGE_SIDE } from '@thumbnail/upload-inspection';
import { solidFramesGif, uniformPng, uniformTiff } from '@thumbnail/testing';
import { call, submit, waitFor } from './support/client';
import { acceptedId, isAlive, metric } from './support/reliability-http';
import { TestService } from './support/service';

/*
 * Valid images whose decoding or resizing costs far more than their pixel count suggests, sent
 * to the running service: each is refused at upload, or ends `failed` with `image_too_large`
 * after one attempt, or `complete`; the worker that made or refused them is the one still
 * running at the end, and goes on making thumbnails.
 */

type Fit = 'cover' | 'contain' | 'fill';
const FITS: Fit[] = ['cover', 'contain', 'fill'];

interface Case {
  name: string;
  file: () => Promise<Buffer> | Buffer;
  fits?: Fit[];
  expect: 'refused' | 'failed' | 'complete';
}

const cases: Case[] = [
  // The 4 KB attack: a 1,000,000x1 RGBA PNG, which the small-PNG fast path once scaled to
  // 100,000,000x100 for cover and aborted on.
  { name: '1000000x1 8-bit RGBA PNG', file: () => uniformPng({ width: 1_000_000, height: 1 }), expect: 'refused' },
  { name: '40000000x1 1-bit PNG', file: () => uniformPng({ width: 40_000_000, height: 1, bitDepth: 1, colourType: 'palette' }), expect: 'refused' },
  { name: '1x40000000 1-bit PNG', file: () => uniformPng({ width: 1, height: 40_000_000, bitDepth: 1, colourType: 'palette' }), expect: 'refused' },
  { name: `${MAX_IMAGE_SIDE + 1}x1 8-bit RGBA PNG`, file: () => uniformPng({ width: MAX_IMAGE_SIDE + 1, height: 1 }), expect: 'refused' },

  { name: `${MAX_IMAGE_SIDE}x1 8-bit RGBA PNG`, file: () => uniformPng({ width: MAX_IMAGE_SIDE, height: 1 }), fits: FITS, expect: 'complete' },
  { name: `1x${MAX_IMAGE_SIDE} 8-bit RGBA PNG`, file: () => uniformPng({ width: 1, height: MAX_IMAGE_SIDE }), fits: FITS, expect: 'complete' },
  { name: `${MAX_IMAGE_SIDE}x16 16-bit RGBA PNG, interlaced`, file: () => uniformPng({ width: MAX_IMAGE_SIDE, height: 16, bitDepth: 16, interlaced: true }), fits: FITS, expect: 'complete' },
  { name: '6324x6324 16-bit RGBA PNG, interlaced (the largest allowed)', file: () => uniformPng({ width: 6324, height: 6324, bitDepth: 16, interlaced: true }), expect: 'complete' },

  { name: '40000x1000 16-bit RGBA PNG', file: () => uniformPng({ width: 40_000, height: 1000, bitDepth: 16 }), fits: FITS, expect: 'failed' },
  { name: '8000x5000 16-bit RGBA PNG, interlaced', file: () => uniformPng({ width: 8000, height: 5000, bitDepth: 16, interlaced: true }), expect: 'failed' },
  { name: '65535x610 GIF', file: () => solidFramesGif(65_535, 610, 1, [[0, 0, 255]]), fits: FITS, expect: 'failed' },
  { name: '65535x600 CMYK+alpha 16-bit TIFF', file: () => uniformTiff({ width: 65_535, height: 600, samples: 5, bitsPerSample: 16, photometric: 5, extraSamples: 1 }), expect: 'failed' },
  {
    name: '5000x4000 AVIF',
    file: () => sharp({ create: { width: 5000, height: 4000, channels: 3, background: { r: 200, g: 80, b: 20 } } }).avif({ effort: 0 }).toBuffer(),
    expect: 'failed',
  },
];

describe('images of extreme geometry and pixel format, through the running service', () => {
  let service: TestService;
  let api: string;

  beforeAll(async () => {
    service = await TestService.start({ env: { WORKER_CONCURRENCY: '2' } });
    api = service.api.url;
  });
  afterAll(async () => service?.stop());

  it.each(cases.flatMap((c) => (c.fits ?? ['cover' as Fit]).map((fit) => [c.name, fit, c] as const)))(
    '%s (%s)',
    async (_name, fit, { file, expect: outcome }) => {
      const answer = await submit(api, await file(), { fit });
      if (outcome === 'refused') {
        expect(answer.status, answer.text).toBe(422);
        expect(answer.json.error).toMatchObject({ code: 'image_too_large', message: expect.stringMatching(/no side may be longer than 65535 pixels/) });
        return;
      }
      const job = await waitFor(api, acceptedId(answer), 60);
      if (outcome === 'failed') {
        expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'image_too_large' } });
        expect(job.error.message).toMatch(/would take about \d+ MiB of memory, more than the \d+ MiB one image may use/);
      } else {
        expect(job).toMatchObject({ status: 'complete', attempts: 1 });
        const image = await fetch(`${api}/thumbnail/${job._id}/image`);
        expect(await sharp(Buffer.from(await image.arrayBuffer())).metadata()).toMatchObject({ format: 'png', width: 100, height: 100 });
      }
    },
    90_000,
  );

  it('kept the one worker it started, which counted each outcome once and still makes thumbnails', async () => {
    const [worker] = service.workers;
    expect(service.workers).toHaveLength(1);
    expect(isAlive(worker.pid)).toBe(true);
    const accepted = cases.filter((c) => c.expect !== 'refused');
    const count = (outcome: Case['expect']) => accepted.filter((c) => c.expect === outcome).reduce((n, c) => n + (c.fits ?? ['cover']).length, 0);
    expect(await metric(worker.url, 'thumbnail_jobs_finished_total{outcome="failed",code="image_too_large"}')).toBe(count('failed'));
    expect(await metric(worker.url, 'thumbnail_jobs_finished_total{outcome="complete",code=""}')).toBe(count('complete'));

    const small = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 10, g: 160, b: 90 } } }).png().toBuffer();
    const job = await waitFor(api, acceptedId(await submit(api, small)));
    expect(job.status).toBe('complete');
    expect((await call(`${api}/thumbnail/${job._id}`)).json.data.attempts).toBe(1);
  });
});
