import { readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import {
  animatedGif,
  avif,
  cmykJpeg,
  CMYK_SOURCE_SRGB,
  displayP3Png,
  DISPLAY_P3_SOURCE_SRGB,
  GIF_FRAME_COLOURS,
  gifWithScreen,
  heic,
  inspectImage,
  jpegWithOrientation,
  largeJpeg,
  minimalPdf,
  ORIENTATION_UPRIGHT,
  png50,
  pngChunk,
  pngChunks,
  pngWithIccProfile400,
  sixteenBitPng,
  solidFramesGif,
  svg,
  tiff,
  truncated,
  type InspectedImage,
  type Rgb,
  webp,
} from '@thumbnail/testing';
import {

  headOfFile,
  jpegClaiming,
  pngClaiming,
  solidPng,
  tiffClaiming,
  webpClaiming,
  withBadAncillaryCrc,
  withBadIdatCrc,
  withBadZlibData,
  withCommentsBeforeFrame,
  withExtraFrame,
  withHugeIdatLength,
  zipArchive,
} from './support/bad-input-images';
import { cutMultipart, type RawRequest, serialised } from './support/bad-input-multipart';
import { corruptSamples, type SampleFolder } from './support/bad-input-samples';
import { type Answer, call, form, UUID_V4, waitFor } from './support/client';
import { eventually } from './support/reliability-http';
import { TestService } from './support/service';

/*
 * What the service does with hostile, broken and odd uploads: refused at upload with a code, or
 * accepted and then `failed` with a code after one attempt, or made into a correct thumbnail.
 * Never a crash, a hang, a retry loop, libvips' words in an answer, or a thumbnail of garbage.
 */

/** What an upload must come to. */
type Outcome =
  | { refused: 400 | 415 | 422; code: string; message?: RegExp }
  | { failed: 'invalid_image' | 'image_too_large' }
  | { complete: (thumbnail: Thumbnail) => void | Promise<void> };

interface Case {
  name: string;
  file: () => Buffer | Promise<Buffer>;
  filename?: string;
  /** The part's declared media type; the service must judge by the bytes, not this. */
  type?: string;
  expect: Outcome;
}

/** The job as GET /thumbnail/:id shows it (the fields these tests read). */
interface Job {
  _id: string;
  status: string;
  attempts: number;
  filename: string;
  originalFilename: string;
  thumbnailFilename: string | null;
  thumbnailLink: string | null;
  error?: { code: string; message: string };
}

/** Any answer of this API: `data` on success, `error` otherwise. */
interface Body<T = unknown> {
  data: T;
  error: { code: string; message: string };
}

type Submitted = Body<{ job_id: string }>;

interface Thumbnail {
  job: Job;
  bytes: Buffer;
  image: InspectedImage;
}

/** Words and paths of the libraries underneath, which no client should ever read. */
const INTERNALS = /vips|libpng|spng|libjpeg|libheif|sharp|\/tmp\/|\/work\/|\.c:\d+|\bat \S+ \(/i;

const PAYLOAD = 'CONFIDENTIAL-PAYLOAD-7f3a9c';

/** Jobs accepted (202) and uploads refused, for the storage accounting at the end. */
const accepted = new Set<string>();
let refusedCount = 0;

let service: TestService;
let api: string;

function post(request: RawRequest, query = ''): Promise<Answer<Submitted>> {
  return call<Submitted>(`${api}/thumbnail${query}`, { method: 'POST', headers: request.headers, body: new Uint8Array(request.body) });
}

async function upload(file: Buffer, filename = 'upload.png', type = 'image/png'): Promise<Answer<Submitted>> {
  const answer = await post(await serialised(form(file, { filename, type })));
  if (answer.status === 202) accepted.add(answer.json.data.job_id);
  else refusedCount++;
  return answer;
}

function once<T>(make: () => Promise<T> | T): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= Promise.resolve(make()));
}

const png400 = once(pngWithIccProfile400);
const plainJpeg = once(() => largeJpeg(320, 240));

function flatPng(width: number, height: number, colour: Rgb): Promise<Buffer> {
  const [r, g, b] = colour;
  return sharp({ create: { width, height, channels: 3, background: { r, g, b } } }).png().toBuffer();
}

function expectColour(actual: number[], expected: Rgb, tolerance: number, where = ''): void {
  const distance = Math.max(...expected.map((value, channel) => Math.abs(value - actual[channel])));
  expect(distance, `${where} pixel ${actual.slice(0, 3)} should be within ${tolerance} of ${expected}`).toBeLessThanOrEqual(tolerance);
}

/** The thumbnail is `colour` (within `tolerance`) at its corners and centre. */
function expectFlat(colour: Rgb, tolerance: number) {
  return ({ image }: Thumbnail): void => {
    for (const [x, y] of [[0, 0], [50, 50], [99, 99], [0, 99], [99, 0]]) expectColour(image.pixel(x, y), colour, tolerance, `(${x},${y})`);
  };
}

/** Code points outside printable ASCII as \u{...}, so an invisible character shows in a failure. */
function visible(text: string): string {
  return Array.from(text, (c) => (/[\x20-\x7e]/.test(c) ? c : `\\u{${c.codePointAt(0)?.toString(16)}}`)).join('');
}

/** The thumbnail looks like sharp's own 100x100 of `original` (not grey, not noise). */
function expectLike(original: () => Promise<Buffer>) {
  return async ({ image, bytes }: Thumbnail): Promise<void> => {
    expect(image.hasAlpha).toBe(true);
    const reference = await sharp(await original()).resize(100, 100).png().toBuffer();
    expect(await meanDifference(bytes, reference, 100)).toBeLessThan(2);
  };
}

function expectNamed(originalFilename: string) {
  return ({ job }: Thumbnail): void => {
    expect(job.originalFilename, visible(job.originalFilename)).toBe(originalFilename);
  };
}

function expectPayloadGone({ bytes }: Thumbnail): void {
  for (const needle of [PAYLOAD, '<script', 'PK\u0003\u0004']) expect(bytes.includes(needle)).toBe(false);
  // Pixels and their layout only: no text, EXIF or profile chunk that could carry bytes along.
  const chunkTypes = pngChunks(bytes).map((chunk) => chunk.type);
  expect(chunkTypes.filter((type) => !['IHDR', 'PLTE', 'tRNS', 'pHYs', 'IDAT', 'IEND'].includes(type))).toEqual([]);
}

/**
 * The fixture's 48x32 picture, covered into 100x100: scaled to 150x100 and centre-cropped, so
 * the quadrants meet at (50, 50). Sampled away from the edges JPEG smears.
 */
function expectUpright({ image }: Thumbnail): void {
  expect(image.hasExif).toBe(false);
  expectColour(image.pixel(25, 25), ORIENTATION_UPRIGHT.topLeft, 24, 'top left');
  expectColour(image.pixel(75, 25), ORIENTATION_UPRIGHT.topRight, 24, 'top right');
  expectColour(image.pixel(25, 75), ORIENTATION_UPRIGHT.bottomLeft, 24, 'bottom left');
  expectColour(image.pixel(75, 75), ORIENTATION_UPRIGHT.bottomRight, 24, 'bottom right');
}

const TEXT = Buffer.from('Quarterly numbers, do not share.\nThis is plain text, not a picture.\n'.repeat(4));
const HTML = Buffer.from('<!DOCTYPE html><html><head><title>x</title></head><body><img src=x onerror=alert(1)></body></html>\n');

const cases: Case[] = [
  // Refused while uploading, judged by the first bytes.
  { name: 'zero bytes', file: () => Buffer.alloc(0), expect: { refused: 400, code: 'file_required', message: /empty/ } },
  { name: 'one byte', file: () => Buffer.from([0xff]), expect: { refused: 415, code: 'unsupported_media_type' } },
  { name: 'plain text renamed .png', file: () => TEXT, filename: 'notes.png', expect: { refused: 415, code: 'unsupported_media_type', message: /JPEG, PNG/ } },
  { name: 'HTML renamed .jpg', file: () => HTML, filename: 'page.jpg', type: 'image/jpeg', expect: { refused: 415, code: 'unsupported_media_type' } },
  { name: 'PDF renamed .png', file: minimalPdf, filename: 'scan.png', expect: { refused: 415, code: 'unsupported_media_type' } },
  { name: 'ELF executable (first 4 KiB of node) renamed .jpg', file: () => headOfFile(process.execPath, 4096), filename: 'photo.jpg', type: 'image/jpeg', expect: { refused: 415, code: 'unsupported_media_type' } },
  { name: 'SVG', file: svg, filename: 'logo.svg', type: 'image/svg+xml', expect: { refused: 415, code: 'unsupported_media_type' } },
  { name: 'SVG renamed .png', file: svg, filename: 'logo.png', expect: { refused: 415, code: 'unsupported_media_type' } },
  { name: 'HEIC (iPhone photo)', file: heic, filename: 'IMG_0001.HEIC', type: 'image/heic', expect: { refused: 415, code: 'unsupported_media_type', message: /HEIC/ } },
  { name: '128-byte PNG declaring 50000x50000', file: () => pngClaiming(50000, 50000), expect: { refused: 422, code: 'image_too_large', message: /50000x50000/ } },
  { name: 'real 20000x20000 PNG (48 KB of one colour)', file: once(() => solidPng(20000, 20000, [10, 200, 30])), expect: { refused: 422, code: 'image_too_large', message: /20000x20000/ } },
  { name: 'JPEG whose header declares 65000x65000', file: async () => jpegClaiming(await plainJpeg(), 65000, 65000), filename: 'big.jpg', type: 'image/jpeg', expect: { refused: 422, code: 'image_too_large', message: /65000x65000/ } },
  { name: 'WebP whose header declares 16384x16384', file: async () => webpClaiming(await webp(), 16384, 16384), filename: 'big.webp', type: 'image/webp', expect: { refused: 422, code: 'image_too_large', message: /16384x16384/ } },
  { name: 'TIFF whose header declares 65535x65535', file: async () => tiffClaiming(await tiff(), 65535, 65535), filename: 'big.tif', type: 'image/tiff', expect: { refused: 422, code: 'image_too_large', message: /65535x65535/ } },
  // Decoders grow the canvas to the first frame, and so does the upload check.
  { name: 'GIF with a 1x1 screen and an 8000x8000 frame', file: () => gifWithScreen(8000, 8000, 1, 1), filename: 'screen.gif', type: 'image/gif', expect: { refused: 422, code: 'image_too_large', message: /8000x8000/ } },

  // Accepted (the header is fine), then failed by the worker after exactly one attempt.
  { name: 'JPEG truncated at half', file: async () => truncated(await plainJpeg(), 0.5), filename: 'cut.jpg', type: 'image/jpeg', expect: { failed: 'invalid_image' } },
  { name: 'PNG truncated at half', file: async () => truncated(await png400(), 0.5), expect: { failed: 'invalid_image' } },
  { name: 'PNG with a bad IDAT CRC', file: async () => withBadIdatCrc(await png400()), expect: { failed: 'invalid_image' } },
  { name: 'PNG with scrambled zlib data (valid CRC)', file: async () => withBadZlibData(await png400()), expect: { failed: 'invalid_image' } },
  { name: 'PNG declaring 0x0', file: () => pngClaiming(0, 0), expect: { failed: 'invalid_image' } },
  { name: 'PNG whose IDAT claims 2 GiB', file: async () => withHugeIdatLength(await png400()), expect: { failed: 'invalid_image' } },
  // The frame header is past the 64 KiB the upload check reads, so the worker's decoder enforces
  // LIMIT_INPUT_PIXELS itself, without decoding a pixel.
  { name: 'JPEG declaring 65000x65000 after 128 KiB of comments', file: async () => jpegClaiming(withCommentsBeforeFrame(await plainJpeg(), 128 * 1024), 65000, 65000), filename: 'late.jpg', type: 'image/jpeg', expect: { failed: 'image_too_large' } },

  // Odd but valid: a correct thumbnail.
  // libpng drops an ancillary chunk with a bad CRC and keeps going; the pixels are intact.
  { name: 'PNG with a bad CRC on an ancillary tEXt chunk', file: async () => withBadAncillaryCrc(await flatPng(64, 64, [40, 90, 160])), expect: { complete: expectFlat([40, 90, 160], 2) } },
  { name: 'animated GIF of 300 frames -> frame 1', file: () => animatedGif(300, 40, 40), filename: 'anim.gif', type: 'image/gif', expect: { complete: expectFlat(GIF_FRAME_COLOURS[0], 8) } },
  // LIMIT_INPUT_PIXELS (40 MP) counts the frame decoded (16 MP), not all ten (160 MP).
  { name: 'animated GIF of 10 frames of 4000x4000 -> frame 1', file: () => solidFramesGif(4000, 4000, 10, GIF_FRAME_COLOURS), filename: 'huge.gif', type: 'image/gif', expect: { complete: expectFlat(GIF_FRAME_COLOURS[0], 2) } },
  // The canvas is the screen (grown by frame 1 only); a later, larger frame is clipped to it.
  { name: 'GIF whose 2nd frame is 8000x8000 on a 10x10 screen', file: () => withExtraFrame(solidFramesGif(10, 10, 1, GIF_FRAME_COLOURS), 8000, 8000), filename: 'grow.gif', type: 'image/gif', expect: { complete: expectFlat(GIF_FRAME_COLOURS[0], 2) } },
  { name: 'JPEG with a ZIP appended', file: async () => Buffer.concat([await plainJpeg(), zipArchive('secret.txt', Buffer.from(PAYLOAD))]), filename: 'polyglot.jpg', type: 'image/jpeg', expect: { complete: expectPayloadGone } },
  { name: 'JPEG with a <script> appended', file: async () => Buffer.concat([await plainJpeg(), Buffer.from(`<script>alert("${PAYLOAD}")</script>`)]), filename: 'polyglot.jpg', type: 'image/jpeg', expect: { complete: expectPayloadGone } },
  ...[1, 2, 3, 4, 5, 6, 7, 8].map(
    (n): Case => ({ name: `JPEG with EXIF orientation ${n} -> upright`, file: () => jpegWithOrientation(n), filename: `orientation-${n}.jpg`, type: 'image/jpeg', expect: { complete: expectUpright } }),
  ),
  { name: 'CMYK JPEG -> colours kept', file: cmykJpeg, filename: 'print.jpg', type: 'image/jpeg', expect: { complete: expectFlat(CMYK_SOURCE_SRGB, 8) } },
  { name: '16-bit PNG', file: sixteenBitPng, expect: { complete: expectFlat([200, 100, 50], 2) } },
  { name: 'Display P3 PNG -> sRGB', file: () => displayP3Png(), expect: { complete: expectFlat(DISPLAY_P3_SOURCE_SRGB, 4) } },
  { name: 'Display P3 16-bit PNG -> sRGB', file: () => displayP3Png({ bitDepth: 16 }), expect: { complete: expectFlat(DISPLAY_P3_SOURCE_SRGB, 4) } },
  { name: '1x1 PNG', file: () => flatPng(1, 1, [250, 20, 120]), expect: { complete: expectFlat([250, 20, 120], 0) } },
  { name: '10000x1 PNG', file: () => flatPng(10000, 1, [20, 120, 250]), expect: { complete: expectFlat([20, 120, 250], 0) } },
  { name: '1x10000 PNG', file: () => flatPng(1, 10000, [120, 250, 20]), expect: { complete: expectFlat([120, 250, 20], 0) } },
  { name: 'AVIF', file: avif, filename: 'photo.avif', type: 'image/avif', expect: { complete: expectLike(avif) } },

  // File names are display text only: the stored key is `originals/<uuid>` whatever they say.
  { name: 'file name of 1000 characters', file: png50, filename: `${'a'.repeat(996)}.png`, expect: { complete: expectNamed('a'.repeat(255)) } },
  { name: 'file name of 1000 Japanese characters', file: png50, filename: `${'写'.repeat(1000)}.png`, expect: { complete: expectNamed('写'.repeat(255)) } },
  { name: 'file name ../../etc/passwd', file: png50, filename: '../../etc/passwd', expect: { complete: expectNamed('passwd') } },
  { name: 'file name with a Windows path', file: png50, filename: 'C:\\Users\\me\\Pictures\\holiday.png', expect: { complete: expectNamed('holiday.png') } },
  { name: 'file name in Japanese (写真.png)', file: png50, filename: '写真.png', expect: { complete: expectNamed('写真.png') } },
  { name: 'file name with control characters', file: png50, filename: 'tab\there\u0001\u001b[31m\u007f.png', expect: { complete: expectNamed('tabhere[31m.png') } },
  { name: 'file name that is only a path', file: png50, filename: '../', expect: { complete: expectNamed('upload') } },
  // C1 controls are control characters too: U+009B is the 8-bit CSI that starts terminal escapes.
  { name: 'file name with C1 control characters (U+0085, U+009B)', file: png50, filename: 'a\u0085b\u009b31mc.png', expect: { complete: expectNamed('ab31mc.png') } },
  // A right-to-left override shows "x\u202egnp.exe" as "xexe.png" (Unicode Bidi_Control).
  { name: 'file name with a right-to-left override (U+202E)', file: png50, filename: 'x\u202egnp.exe', expect: { complete: expectNamed('xgnp.exe') } },
];

/**
 * Go's own test files for its decoders (Debian golang-1.NN-src). Go refuses all five invalid-*
 * files; libpng is more lenient where every pixel is still there, and that is fine as long as
 * the thumbnail equals the one of the repaired file.
 */
interface SampleCase {
  name: string;
  file: string;
  expect:
    | { failed: 'invalid_image' }
    | {
        complete: {
          /** A file whose thumbnail the service's must look like. */
          like: (sample: Buffer, folder: string) => Buffer;
          /** Compared at this many pixels square (a blurrier decode still matches when small). */
          at: number;
        };
      };
}

const IEND = pngChunk('IEND');

const sampleCases: SampleCase[] = [
  { name: 'invalid-crc32.png (bad IDAT checksum)', file: 'invalid-crc32.png', expect: { failed: 'invalid_image' } },
  { name: 'invalid-zlib.png (bad zlib checksum)', file: 'invalid-zlib.png', expect: { failed: 'invalid_image' } },
  // Every pixel is there; only the IEND chunk is missing.
  { name: 'invalid-noend.png (no IEND)', file: 'invalid-noend.png', expect: { complete: { like: (png) => Buffer.concat([png, IEND]), at: 100 } } },
  // Cut one byte into IEND's CRC.
  { name: 'invalid-trunc.png (cut inside IEND)', file: 'invalid-trunc.png', expect: { complete: { like: (png) => Buffer.concat([png.subarray(0, png.length - 7), IEND]), at: 100 } } },
  // A pixel uses palette entry 255 of a 255-entry PLTE; libpng shows it as black.
  { name: 'invalid-palette.png (index past the palette)', file: 'invalid-palette.png', expect: { complete: { like: withBlackPaletteEntry, at: 100 } } },
  // Its later progressive scans are cut but it still ends in EOI, so no decoder can tell it from
  // a coarse JPEG: a blurrier picture of the same scene, not grey rows.
  { name: 'video-001.progressive.truncated.jpeg', file: 'video-001.progressive.truncated.jpeg', expect: { complete: { like: (_jpeg, dir) => readFileSync(join(dir, 'video-001.progressive.jpeg')), at: 10 } } },
];

function withBlackPaletteEntry(png: Buffer): Buffer {
  const plte = pngChunks(png).find((chunk) => chunk.type === 'PLTE');
  if (!plte) throw new Error('no PLTE');
  const entries = png.subarray(plte.offset + 8, plte.offset + 8 + plte.length);
  const padded = pngChunk('PLTE', Buffer.concat([entries, Buffer.alloc(768 - entries.length)]));
  return Buffer.concat([png.subarray(0, plte.offset), padded, png.subarray(plte.offset + 12 + plte.length)]);
}

/** Mean absolute difference per RGB sample between two thumbnails, both scaled to `size` square. */
async function meanDifference(a: Buffer, b: Buffer, size: number): Promise<number> {
  const [x, y] = await Promise.all([a, b].map((image) => sharp(image).resize(size, size).removeAlpha().raw().toBuffer()));
  expect(x.length).toBe(y.length);
  let total = 0;
  for (let i = 0; i < x.length; i++) total += Math.abs(x[i] - y[i]);
  return total / x.length;
}

async function download(id: string): Promise<Buffer> {
  const response = await fetch(`${api}/thumbnail/${id}/image`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('image/png');
  return Buffer.from(await response.arrayBuffer());
}

async function expectFailed(answer: Answer<Submitted>, code: string): Promise<void> {
  expect(answer.status, answer.text).toBe(202);
  const job: Job = await waitFor(api, answer.json.data.job_id);
  expect(job).toMatchObject({ status: 'failed', attempts: 1, thumbnailLink: null, thumbnailFilename: null, error: { code } });
  expect(job.error?.message).not.toMatch(INTERNALS);
  const image = await call(`${api}/thumbnail/${job._id}/image`);
  expect(image.status).toBe(409);
}

async function expectComplete(answer: Answer<Submitted>): Promise<Thumbnail> {
  expect(answer.status, answer.text).toBe(202);
  const id = answer.json.data.job_id;
  expect(id).toMatch(UUID_V4);
  const job: Job = await waitFor(api, id);
  expect(job, JSON.stringify(job.error)).toMatchObject({
    status: 'complete',
    attempts: 1,
    filename: `originals/${id}`,
    thumbnailFilename: `thumbnails/${id}.png`,
  });
  const bytes = await download(id);
  const image = await inspectImage(bytes);
  expect(image).toMatchObject({ format: 'png', width: 100, height: 100, hasExif: false, pages: 1 });
  return { job, bytes, image };
}

describe('bad input', () => {
  let samples: SampleFolder;

  beforeAll(async () => {
    [service, samples] = await Promise.all([TestService.start(), corruptSamples()]);
    api = service.api.url;
    if (samples.dir === null) console.warn(`Skipping the Go corrupt-sample cases: ${samples.reason}`);
  }, 300_000);
  afterAll(async () => service?.stop());

  // First and one at a time, so the storage counts and the empty job list see no other upload.
  describe('multipart mistakes', () => {
    it('answers 400 file_required for a file in the wrong field, and stores nothing', async () => {
      const before = await service.storedObjects('originals');
      const answer = await post(await serialised(form(await png50(), { field: 'image' })));
      expect(answer.status).toBe(400);
      expect(answer.json.error.code).toBe('file_required');
      expect(answer.json.error.message).toMatch(/"file"/);
      expect(await service.originalsAddedSince(before)).toEqual([]);
    });

    it('answers 400 too_many_files for two files in one request, and stores neither', async () => {
      const before = await service.storedObjects('originals');
      const body = form(await png50(), { filename: 'one.png' });
      body.append('file', new Blob([new Uint8Array(await png50())], { type: 'image/png' }), 'two.png');
      const answer = await post(await serialised(body));
      expect(answer.status).toBe(400);
      expect(answer.json.error.code).toBe('too_many_files');
      expect(await service.originalsAddedSince(before)).toEqual([]);
      expect((await call(`${api}/thumbnail?limit=500`)).json.data).toEqual([]);
    });

    it('answers 400 file_required for a file sent as a plain field (no filename)', async () => {
      const body = new FormData();
      body.append('file', (await png50()).toString('latin1'));
      const answer = await post(await serialised(body));
      expect(answer.status).toBe(400);
      expect(answer.json.error.code).toBe('file_required');
    });

    it('answers 400 malformed_multipart for a body cut off mid-file, and stores nothing', async () => {
      const before = await service.storedObjects('originals');
      const png = await png400();
      const answer = await post(cutMultipart(png, { cut: 200 + Math.floor(png.length / 2) }));
      expect(answer.status, answer.text).toBe(400);
      expect(answer.json.error.code).toBe('malformed_multipart');
      expect(await service.originalsAddedSince(before)).toEqual([]);
    });

    it('answers 400 malformed_multipart for multipart/form-data without its boundary, and stores nothing', async () => {
      const before = await service.storedObjects('originals');
      const { body } = await serialised(form(await png50()));
      const answer = await post({ headers: { 'content-type': 'multipart/form-data' }, body });
      expect(answer.status, answer.text).toBe(400);
      expect(answer.json.error.code).toBe('malformed_multipart');
      expect(await service.originalsAddedSince(before)).toEqual([]);
    });

    it('takes a file sent after a dozen fields (it once hung, never answered)', async () => {
      const body = new FormData();
      for (let i = 0; i < 12; i++) body.append('fit', 'cover');
      body.append('file', new Blob([new Uint8Array(await png50())], { type: 'image/png' }), 'late.png');
      const answer = await post(await serialised(body));
      expect(answer.status, answer.text).toBe(202);
      accepted.add(answer.json.data.job_id);
    });

    it('answers 400 too_many_parts for a form of 25 fields', async () => {
      const body = new FormData();
      for (let i = 0; i < 25; i++) body.append('fit', 'cover');
      body.append('file', new Blob([new Uint8Array(await png50())], { type: 'image/png' }), 'late.png');
      const answer = await post(await serialised(body));
      expect(answer.status).toBe(400);
      expect(answer.json.error.code).toBe('too_many_parts');
    });

    it('answers 400 invalid_parameter for fit=__proto__', async () => {
      const answer = await post(await serialised(form(await png50())), '?fit=__proto__');
      expect(answer.status).toBe(400);
      expect(answer.json.error.code).toBe('invalid_parameter');
    });

    it('answers 400 file_required for a JSON body', async () => {
      const answer = await call(`${api}/thumbnail`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ file: (await png50()).toString('base64'), filename: 'image.png' }),
      });
      expect(answer.status).toBe(400);
      expect(answer.json.error.code).toBe('file_required');
    });
  });

  describe('uploads', () => {
    it.concurrent.each(cases)('$name', async ({ file, filename, type, expect: outcome }) => {
      const answer = await upload(await file(), filename, type);
      expect(answer.text).not.toMatch(INTERNALS);
      if ('refused' in outcome) {
        expect(answer.status, answer.text).toBe(outcome.refused);
        expect(answer.json.error.code).toBe(outcome.code);
        if (outcome.message) expect(answer.json.error.message).toMatch(outcome.message);
      } else if ('failed' in outcome) {
        await expectFailed(answer, outcome.failed);
      } else {
        await outcome.complete(await expectComplete(answer));
      }
    });
  });

  describe("Go's corrupt image samples", () => {
    it.concurrent.for(sampleCases)('$name', async ({ file, expect: outcome }, { skip }) => {
      if (samples.dir === null) return skip(samples.reason);
      const bytes = readFileSync(join(samples.dir, file));
      const answer = await upload(bytes, file, file.endsWith('.png') ? 'image/png' : 'image/jpeg');
      if ('failed' in outcome) return expectFailed(answer, outcome.failed);
      const { bytes: thumbnail } = await expectComplete(answer);
      const { like, at } = outcome.complete;
      const reference = await sharp(like(bytes, samples.dir)).resize(100, 100).png().toBuffer();
      expect(await meanDifference(thumbnail, reference, at)).toBeLessThan(1.5);
    });
  });

  describe('afterwards', () => {
    it('leaves the API and the worker running and ready', async () => {
      for (const app of [service.api, ...service.workers]) {
        expect(() => process.kill(app.pid, 0), `${app.name} ${app.pid} is alive`).not.toThrow();
        expect((await call(`${app.url}/health/ready`)).status, app.name).toBe(200);
      }
      expect(service.logs()).not.toMatch(/FATAL|Segmentation fault|heap out of memory|uncaught/i);
    });

    it('finished every accepted job, complete or failed with a code', async () => {
      const list = await call<Body<Job[]>>(`${api}/thumbnail?limit=500`);
      const jobs = list.json.data;
      expect(new Set(jobs.map((job) => job._id))).toEqual(accepted);
      for (const job of jobs) {
        if (job.status === 'failed') expect(job.error?.code, job._id).toMatch(/^[a-z_]+$/);
        else expect(job.status, job._id).toBe('complete');
      }
    });

    it('kept a thumbnail per complete job and nothing else (originals go once their job is finished)', async () => {
      const jobs = (await call<Body<Job[]>>(`${api}/thumbnail?limit=500`)).json.data;
      const complete = jobs.filter((job) => job.status === 'complete').map((job) => `${job._id}.png`);
      expect(refusedCount).toBeGreaterThan(0);
      // The worker deletes an original just after recording its job's outcome.
      await eventually(() => expect(service.storedFiles('originals')).toEqual([]));
      expect(service.storedFiles('thumbnails').sort()).toEqual(complete.sort());

      const everything = walk(service.storageDir).map((path) => relative(service.storageDir, path));
      const unexpected = everything.filter((path) => !/^(originals\/[0-9a-f-]{36}|thumbnails\/[0-9a-f-]{36}\.png)$/.test(path));
      expect(unexpected).toEqual([]);
      // Nothing named after a hostile file name landed next to the storage folder either.
      expect(readdirSync(tmpdir()).filter((name) => /passwd|holiday|写真/.test(name))).toEqual([]);
    });

    it("kept the worker's peak memory under 300 MiB", () => {
      const worker = service.workers[0];
      const status = readFileSync(`/proc/${worker.pid}/status`, 'utf8');
      const peakKiB = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]);
      console.log(`worker ${worker.pid} peak RSS (VmHWM): ${(peakKiB / 1024).toFixed(1)} MiB`);
      expect(peakKiB).toBeGreaterThan(0);
      expect(peakKiB / 1024).toBeLessThan(300);
    });
  });
});

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}
