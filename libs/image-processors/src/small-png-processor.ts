import { crc32 } from 'node:zlib';
import { CompressionType, FastResizeFilter, FilterType, ResizeFit, Transformer } from '@napi-rs/image';
import {
  ascii,
  ImageProcessor,
  isSrgbIccProfile,
  readEmbeddedColourProfile,
  type Thumbnail,
  type ThumbnailPlan,
  u32be,
  u8,
} from '@thumbnail/imaging';

/**
 * Largest input the fast path takes. Measured here against sharp for RGBA PNGs made into
 * 100x100 thumbnails: 400x400 costs 2.6 ms CPU instead of 8.8, 1024x768 17 instead of 30;
 * at 2000x2000 sharp is faster.
 */
export const SMALL_PNG_MAX_PIXELS = 1024 * 1024;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const COLOUR_TYPE_RGBA = 6;

/**
 * Small 8-bit RGBA PNGs (icons, stickers, emoji) made with @napi-rs/image instead of sharp.
 *
 * Why a second decoder: for these images libvips' fixed costs dominate (a byte-at-a-time
 * Paeth unfilter in the bundled libpng, per-pipeline setup, float alpha premultiplication; see
 * bench/upstream/png-decode.md), and the Rust `png` crate with fast_image_resize does the same
 * thumbnail in about a third of the CPU. Everything else goes to `general` (sharp), which
 * stays the engine for JPEG, WebP, large images and colour management.
 *
 * Only inputs whose result is the same as sharp's are taken: 8-bit RGBA, not interlaced, no
 * colour profile other than sRGB, no EXIF (PNG orientation), not animated, cover or fill, whole
 * chunks with valid CRCs. Any error here, including on corrupt data, hands the input to
 * `general`, so refusals keep sharp's codes and wording (hasIntactChunks says what differs).
 */
export class SmallPngProcessor extends ImageProcessor {
  constructor(private readonly general: ImageProcessor) {
    super();
  }

  override async makeThumbnail(input: Buffer, plan: ThumbnailPlan): Promise<Thumbnail> {
    const png = plan.fit === 'contain' ? null : readSmallPlainPng(input);
    if (png && hasIntactChunks(input)) {
      try {
        return await this.thumbnail(input, png, plan);
      } catch {
        // Not ours to word: sharp either succeeds or refuses it with the usual code.
      }
    }
    return this.general.makeThumbnail(input, plan);
  }

  private async thumbnail(input: Buffer, png: PngSize, plan: ThumbnailPlan): Promise<Thumbnail> {
    const transformer = new Transformer(input);
    if (plan.fit === 'cover') {
      // Like sharp: scale until the box is covered, then cut the centre. (The transformer
      // always resizes before it crops, whatever the call order.)
      const scale = Math.max(plan.width / png.width, plan.height / png.height);
      const width = Math.max(plan.width, Math.round(png.width * scale));
      const height = Math.max(plan.height, Math.round(png.height * scale));
      transformer
        .fastResize({ width, height, filter: FastResizeFilter.Lanczos3, fit: ResizeFit.Fill })
        .crop(Math.floor((width - plan.width) / 2), Math.floor((height - plan.height) / 2), plan.width, plan.height);
    } else {
      transformer.fastResize({ width: plan.width, height: plan.height, filter: FastResizeFilter.Lanczos3, fit: ResizeFit.Fill });
    }
    // Fast deflate with adaptive filters: 2.5 ms and ~12 KB for the seed image, against
    // 3.1 ms / 11.5 KB for the default level (sharp's own output is ~27 KB). No timeout signal:
    // at most SMALL_PNG_MAX_PIXELS bounds the work to tens of milliseconds, and wiring an
    // AbortSignal into the native task cost 6% of the worker's main thread in a profile.
    const data = await transformer.png({ compressionType: CompressionType.Fast, filterType: FilterType.Adaptive });
    const made = readSmallPlainPng(data, Number.MAX_SAFE_INTEGER);
    if (!made || made.width !== plan.width || made.height !== plan.height) {
      throw new Error(`fast path made ${made ? `${made.width}x${made.height}` : 'an unexpected PNG'}`);
    }
    return { data, width: made.width, height: made.height };
  }
}

interface PngSize {
  width: number;
  height: number;
}

const CRITICAL_CHUNKS = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND']);

/**
 * Whole chunks up to IEND, and a valid CRC on every critical one: what a file damaged in
 * transfer or storage, or cut short, fails. (The Rust decoder checks CRCs too; this makes the
 * rule ours and costs ~0.05 ms per 100 KB.)
 *
 * What it does not check, by measurement: zlib's Adler-32 and the row filter bytes, which
 * libpng does and the Rust decoder does not. Checking them means inflating the image a second
 * time, ~2 ms for 400x400 and ~20 ms for 1024x768 here, which cost the fast path its whole gain
 * (400x400: 143/s with the check, 156/s for sharp, 593/s without). So a PNG whose CRCs are all
 * valid but whose compressed data was altered (made so on purpose, or by a broken encoder) gets
 * a thumbnail of whatever pixels it decodes to, where sharp would refuse it: in a seeded fuzz of
 * 3,000 such files, a third. Files with a broken CRC or cut short fail as before.
 */
export function hasIntactChunks(input: Buffer): boolean {
  let offset = 8;
  while (offset + 12 <= input.length) {
    const length = input.readUInt32BE(offset);
    const type = input.toString('latin1', offset + 4, offset + 8);
    const end = offset + 12 + length;
    if (end > input.length) return false;
    if (CRITICAL_CHUNKS.has(type) && crc32(input.subarray(offset + 4, end - 4)) !== input.readUInt32BE(end - 4)) return false;
    if (type === 'IEND') return true;
    offset = end;
  }
  return false;
}

/**
 * The size of a PNG the fast path can take, or null. Reads the chunks before the image data
 * only; the pixels' own validity is the decoder's business.
 */
export function readSmallPlainPng(input: Uint8Array, maxPixels = SMALL_PNG_MAX_PIXELS): PngSize | null {
  if (!PNG_SIGNATURE.every((byte, index) => input[index] === byte) || ascii(input, 12, 4) !== 'IHDR') return null;
  const width = u32be(input, 16);
  const height = u32be(input, 20);
  const bitDepth = u8(input, 24);
  const colourType = u8(input, 25);
  const interlace = u8(input, 28);
  if (!(width > 0 && height > 0 && width * height <= maxPixels)) return null;
  if (bitDepth !== 8 || colourType !== COLOUR_TYPE_RGBA || interlace !== 0) return null;

  let offset = 8;
  while (offset + 8 <= input.length) {
    const length = u32be(input, offset);
    const type = ascii(input, offset + 4, 4);
    if (type === 'IDAT') return { width, height };
    // eXIf may rotate (sharp honours its orientation); acTL makes an animation; a profile
    // other than sRGB needs converting. sharp does all three.
    if (type === 'eXIf' || type === 'acTL') return null;
    if (type === 'iCCP') {
      const profile = readEmbeddedColourProfile(input, 'png');
      if (!profile?.icc || !isSrgbIccProfile(profile.icc)) return null;
    }
    if (!(length >= 0)) return null;
    offset += 12 + length; // length, type, data, CRC
  }
  return null; // no image data before the end: let sharp say what is wrong
}
