import { writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { solidFramesGif, uniformPng, uniformTiff } from '@thumbnail/testing';
import { imageSlotBytes, WORKER_BASE_BYTES, workerMemoryBytes } from '@thumbnail/thumbnail-making';
import { submit, waitFor } from './support/client';
import { acceptedId, MIB, processMemory } from './support/reliability-http';
import { TestService } from './support/service';

/*
 * The worker's own resident memory (its process, read from /proc, never this test's) while it
 * makes the costliest image of each kind it accepts at the default LIMIT_INPUT_PIXELS: each
 * stays within one image slot (imageSlotBytes plus the image's own bytes), and two at once
 * within what docs/security.md and the chart plan for a worker.
 */

const LIMIT_INPUT_PIXELS = 40_000_000;
const SLOT = imageSlotBytes(LIMIT_INPUT_PIXELS, { width: 100, height: 100 });

const flat = (width: number, height: number, channels: 3 | 4) =>
  sharp({ create: { width, height, channels, background: { r: 200, g: 80, b: 20, alpha: 0.5 } } });

/** The costliest image of each kind the worker accepts, with the fit that costs it most. */
const worst: Array<[string, () => Promise<Buffer> | Buffer, 'cover' | 'contain' | 'fill']> = [
  ['40 MP 16-bit RGBA PNG, interlaced (6324x6324)', () => uniformPng({ width: 6324, height: 6324, bitDepth: 16, interlaced: true }), 'fill'],
  ['widest 16-bit RGBA PNG (32000x1250)', () => uniformPng({ width: 32_000, height: 1250, bitDepth: 16 }), 'fill'],
  ['thinnest 16-bit RGBA PNG, interlaced (65535x16)', () => uniformPng({ width: 65_535, height: 16, bitDepth: 16, interlaced: true }), 'contain'],
  ['widest GIF (51000x625)', () => solidFramesGif(51_000, 625, 1, [[0, 0, 255]]), 'fill'],
  ['40 MP progressive 4:4:4 JPEG (7745x5164)', () => flat(7745, 5164, 3).jpeg({ progressive: true, quality: 50, chromaSubsampling: '4:4:4' }).toBuffer(), 'fill'],
  ['largest 8-bit AVIF (4340x4340)', () => flat(4340, 4340, 3).avif({ effort: 0, chromaSubsampling: '4:4:4' }).toBuffer(), 'fill'],
  ['largest 12-bit RGBA AVIF (3550x3550)', () => flat(3550, 3550, 4).avif({ effort: 0, bitdepth: 12 }).toBuffer(), 'fill'],
  ['widest CMYK+alpha 16-bit TIFF (25000x1600)', () => uniformTiff({ width: 25_000, height: 1600, samples: 5, bitsPerSample: 16, photometric: 5, extraSamples: 1 }), 'fill'],
  ['40 MP lossless WebP (16383x2441)', () => flat(16383, 2441, 4).webp({ lossless: true, effort: 0 }).toBuffer(), 'fill'],
];

/** Resets the kernel's peak-RSS mark of `pid` (VmHWM) to its current RSS. */
function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

const mib = (bytes: number) => Math.round(bytes / MIB);

describe('worker memory per image slot (LIMIT_INPUT_PIXELS=40000000, 100x100)', () => {
  let service: TestService;
  const figures: string[] = [];

  beforeAll(async () => {
    service = await TestService.start({ env: { WORKER_CONCURRENCY: '1' } });
  });
  afterAll(async () => {
    console.log(`Worker peaks above their start, one slot of ${mib(SLOT)} MiB:\n${figures.join('\n')}`);
    await service?.stop();
  });

  it('starts within the base the sizing plans for', () => {
    const { rss } = processMemory(service.workers[0].pid);
    figures.push(`idle worker at start: ${mib(rss)} MiB (base planned: ${mib(WORKER_BASE_BYTES)} MiB)`);
    expect(rss).toBeLessThan(WORKER_BASE_BYTES);
  });

  it.each(worst)('makes the %s within one slot', async (name, make, fit) => {
    const image = await make();
    const { pid } = service.workers[0];
    resetPeak(pid);
    const before = processMemory(pid).rss;
    const job = await waitFor(service.api.url, acceptedId(await submit(service.api.url, image, { fit })), 60);
    expect(job.status).toBe('complete');
    const used = processMemory(pid).peak - before;
    figures.push(`${name}, ${fit}: ${mib(used)} MiB`);
    expect(used).toBeLessThanOrEqual(SLOT + image.length);
  }, 90_000);

  it('is back within its base once idle', () => {
    const { rss } = processMemory(service.workers[0].pid);
    figures.push(`idle worker after them: ${mib(rss)} MiB`);
    expect(rss).toBeLessThan(WORKER_BASE_BYTES);
  });
});

describe('a worker with two image slots (WORKER_CONCURRENCY=2) making two of the largest images at once', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await TestService.start({ env: { WORKER_CONCURRENCY: '2' } });
  });
  afterAll(async () => service?.stop());

  it('stays within its base and two slots', async () => {
    const api = service.api.url;
    const largest = await uniformPng({ width: 6324, height: 6324, bitDepth: 16, interlaced: true });
    const { pid } = service.workers[0];
    resetPeak(pid);
    const ids = [acceptedId(await submit(api, largest, { fit: 'fill' })), acceptedId(await submit(api, largest, { fit: 'fill' }))];
    for (const id of ids) expect((await waitFor(api, id, 60)).status).toBe('complete');
    const { peak } = processMemory(pid);
    const planned = workerMemoryBytes({ concurrency: 2, limitInputPixels: LIMIT_INPUT_PIXELS, largestImage: { width: 100, height: 100 }, maxUploadBytes: 20 * MIB });
    console.log(`Two slots at once: worker peak ${mib(peak)} MiB, planned ${mib(planned)} MiB`);
    expect(peak).toBeLessThanOrEqual(planned);
  }, 90_000);
});
