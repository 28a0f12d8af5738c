import { CompressionType, FastResizeFilter, FilterType, ResizeFit, Transformer } from '@napi-rs/image';
import { profileOfIccpChunk } from './embedded-colour-profile';
import { type EncodedImage, ImageProcessor, type MadeVariants, requireValidPlans } from './image-processor.port';
import { thumbHashOf } from './placeholder';
import { PNG_SIGNATURE, pngChunks } from './png-chunks';
import { isSrgbIccProfile } from './srgb-icc-profile';
import type { ThumbnailPlan, VariantPlan } from './thumbnail-plan';

/**
 * Largest input the fast path takes: above about this size sharp is the faster of the two
 * (bench/README.md has the figures).
 */
export const SMALL_PNG_MAX_PIXELS = 1024 * 1024;

const COLOUR_TYPE_RGBA = 6;

/**
 * Small 8-bit RGBA PNGs (icons, stickers, emoji) made with @napi-rs/image instead of sharp.
 *
 * Why a second decoder: for these images libvips' fixed costs dominate (a byte-at-a-time
 * Paeth unfilter in the bundled libpng, per-pipeline setup, float alpha premultiplication; see
 * bench/upstream/png-decode.md), and the Rust `png` crate with fast_image_resize does the same
 * thumbnail in about a third of the CPU. Everything else goes to `general` (sharp), which
 * stays the engine for JPEG, WebP, large images, colour management and the other formats.
 *
 * Only inputs whose result is the same as sharp's are taken: 8-bit RGBA, not interlaced, no
 * colour profile other than sRGB, no EXIF (PNG orientation), not animated, every variant a PNG
 * with cover or fill, a shape close enough to each box's that resizing builds nothing large,
 * whole chunks with valid CRCs. Any error here, including on corrupt data, hands the input to
 * `general`, so refusals keep sharp's codes and wording (hasIntactChunks says what differs).
 */
export class SmallPngProcessor extends ImageProcessor {
  /**
   * @param onFallback told when the fast path took an image and failed on it, before the image
   *   goes to `general`: such failures are rare and worth seeing (a log line, a metric).
   */
  constructor(
    private readonly general: ImageProcessor,
    private readonly onFallback: (reason: unknown) => void = () => undefined,
  ) {
    super();
  }

  override async makeVariants(input: Buffer, plans: readonly VariantPlan[]): Promise<MadeVariants> {
    requireValidPlans(plans);
    const png = plans.every(isFastPathPlan) ? readSmallPlainPng(input) : null;
    if (png && plans.every((plan) => resizeStaysSmall(png, plan)) && hasIntactChunks(input)) {
      try {
        return await this.variants(input, png, plans);
      } catch (error) {
        // Not ours to word: sharp either succeeds or refuses it with the usual code.
        this.onFallback(error);
      }
    }
    return this.general.makeVariants(input, plans);
  }

  /** One decode to RGBA pixels, then each variant and the placeholder from them. */
  private async variants(input: Buffer, png: PngSize, plans: readonly VariantPlan[]): Promise<MadeVariants> {
    const pixels = await new Transformer(input).rawPixels();
    if (pixels.length !== png.width * png.height * 4) throw new Error(`fast path decoded ${pixels.length} bytes for ${png.width}x${png.height} RGBA`);
    const images: EncodedImage[] = [];
    for (const plan of plans) images.push(await thumbnail(Transformer.fromRgbaPixels(pixels, png.width, png.height), png, plan));
    return { images, thumbhash: thumbHashOf({ data: pixels, width: png.width, height: png.height, channels: 4 }) };
  }
}

function isFastPathPlan(plan: VariantPlan): boolean {
  return plan.format === 'png' && (plan.fit === 'cover' || plan.fit === 'fill');
}

async function thumbnail(transformer: Transformer, png: PngSize, plan: ThumbnailPlan): Promise<EncodedImage> {
  const { width, height } = resizeTarget(png, plan);
  transformer.fastResize({ width, height, filter: FastResizeFilter.Lanczos3, fit: ResizeFit.Fill });
  // Like sharp's cover: scale until the box is covered, then cut the centre. (The transformer
  // always resizes before it crops, whatever the call order.)
  if (plan.fit === 'cover') {
    transformer.crop(Math.floor((width - plan.width) / 2), Math.floor((height - plan.height) / 2), plan.width, plan.height);
  }
  // Fast deflate with adaptive filters: quicker than the default level for about the same size.
  // No timeout signal: SMALL_PNG_MAX_PIXELS bounds the work to tens of milliseconds, and an
  // AbortSignal into the native task costs the worker's main thread more than it could save.
  const data = await transformer.png({ compressionType: CompressionType.Fast, filterType: FilterType.Adaptive });
  const made = readSmallPlainPng(data, Number.MAX_SAFE_INTEGER);
  if (!made || made.width !== plan.width || made.height !== plan.height) {
    throw new Error(`fast path made ${made ? `${made.width}x${made.height}` : 'an unexpected PNG'}`);
  }
  return { data, format: 'png', width: made.width, height: made.height };
}

interface PngSize {
  width: number;
  height: number;
}

/** What the image is scaled to: the box for fill; for cover, the box covered, cut afterwards. */
function resizeTarget(png: PngSize, plan: ThumbnailPlan): PngSize {
  if (plan.fit !== 'cover') return { width: plan.width, height: plan.height };
  const scale = Math.max(plan.width / png.width, plan.height / png.height);
  return {
    width: Math.max(plan.width, Math.round(png.width * scale)),
    height: Math.max(plan.height, Math.round(png.height * scale)),
  };
}

/**
 * Whether every image the resize builds stays within SMALL_PNG_MAX_PIXELS: the target and the
 * intermediate of each pass order (fast_image_resize scales one axis, then the other). Far from
 * the box's shape they are not: a 1,000,000x1 PNG covered to 100x100 scales to 100,000,000x100,
 * 40 GB the allocator cannot give, which aborts the process. Such images go to sharp, which
 * cuts before it scales.
 */
export function resizeStaysSmall(png: PngSize, plan: ThumbnailPlan): boolean {
  const target = resizeTarget(png, plan);
  const built = [target.width * target.height, png.width * target.height, target.width * png.height];
  return Math.max(...built) <= SMALL_PNG_MAX_PIXELS;
}

const CRITICAL_CHUNKS = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND']);

/**
 * Whole chunks up to IEND, and a valid CRC on every critical one: what a file damaged in
 * transfer or storage, or cut short, fails. (The Rust decoder checks CRCs too; this makes the
 * rule ours, cheaply.)
 *
 * What it does not check: zlib's Adler-32 and the row filter bytes, which libpng does and the
 * Rust decoder does not. Checking them means inflating the image a second time, which costs the
 * fast path its whole gain. So a PNG whose CRCs are all valid but whose compressed data was
 * altered (on purpose, or by a broken encoder) gets a thumbnail of whatever pixels it decodes
 * to, where sharp would refuse it. Files with a broken CRC or cut short fail as before.
 */
export function hasIntactChunks(input: Buffer): boolean {
  for (const chunk of pngChunks(input)) {
    if (CRITICAL_CHUNKS.has(chunk.type) && !chunk.crcMatches()) return false;
    if (chunk.type === 'IEND') return true;
  }
  return false;
}

/**
 * The size of a PNG the fast path can take, or null. Reads the chunks before the image data
 * only; the pixels' own validity is the decoder's business.
 */
export function readSmallPlainPng(input: Buffer, maxPixels = SMALL_PNG_MAX_PIXELS): PngSize | null {
  if (input.length < 29 || !input.subarray(0, 8).equals(PNG_SIGNATURE) || input.toString('latin1', 12, 16) !== 'IHDR') return null;
  const width = input.readUInt32BE(16);
  const height = input.readUInt32BE(20);
  const [bitDepth, colourType, , , interlace] = input.subarray(24, 29);
  if (!(width > 0 && height > 0 && width * height <= maxPixels)) return null;
  if (bitDepth !== 8 || colourType !== COLOUR_TYPE_RGBA || interlace !== 0) return null;

  for (const chunk of pngChunks(input)) {
    if (chunk.type === 'IDAT') return { width, height };
    // eXIf may rotate (sharp honours its orientation); acTL makes an animation; a profile
    // other than sRGB needs converting. sharp does all three.
    if (chunk.type === 'eXIf' || chunk.type === 'acTL') return null;
    if (chunk.type === 'iCCP') {
      const icc = profileOfIccpChunk(chunk.data);
      if (!icc || !isSrgbIccProfile(icc)) return null;
    }
  }
  return null; // no image data before the end: let sharp say what is wrong
}
