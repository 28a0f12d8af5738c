import sharp, { type FitEnum, type Metadata, type SharpOptions } from 'sharp';
import { type ImageFormat, REFUSED_FORMATS, sniffImageType } from '@thumbnail/upload-inspection';
import { coverCropBeforeResize } from './cover-crop';
import { type DecodeFacts, oversizedImageRefusal } from './decode-memory';
import { type EmbeddedColourProfile, readEmbeddedColourProfile } from './embedded-colour-profile';
import { ImageRejectedError, ImageTimeoutError, ImageTooLargeError, InvalidImageError } from './image-errors';
import { type EncodedImage, ImageProcessor, type MadeVariants, requireInteger, requireValidPlans } from './image-processor.port';
import { thumbHashOf } from './placeholder';
import { isSrgbIccProfile } from './srgb-icc-profile';
import { sharedDecodeScale, type ThumbnailPlan, type VariantPlan } from './thumbnail-plan';

export interface SharpImageProcessorOptions {
  /** Refuse images with more pixels (width x height) than this, before decoding them. */
  limitInputPixels: number;
  /** Abandon one thumbnail after this many whole seconds (1..3600). */
  timeoutSeconds: number;
  /** libvips threads per image; process-wide. Unset keeps sharp's default. */
  concurrency?: number;
}

/**
 * The libvips loaders left usable, file and buffer variants: one per accepted format, with
 * heifload for AVIF (it would decode HEIC too, had this libvips an HEVC decoder). Everything
 * else stays blocked, because uploads are untrusted and each loader is attack surface that
 * libvips would otherwise pick by content alone: svgload (librsvg: XML, fonts, external
 * references), pdfload, magickload (ImageMagick's dozens of coders), openslide, jp2k,
 * uhdrload (UltraHDR JPEGs then open with plain jpegload instead, base image only), and
 * libvips' own vips/matrix/csv/raw formats, which are not images anyone uploads.
 */
const ALLOWED_LOADERS = ['Jpeg', 'Png', 'Webp', 'Nsgif', 'Tiff', 'Heif'].flatMap((name) => [
  `VipsForeignLoad${name}File`,
  `VipsForeignLoad${name}Buffer`,
]);

/** Most channels an accepted image has: CMYK plus alpha. */
const MAX_INPUT_CHANNELS = 5;

/** Bytes of one decoded sample, by libvips band format. */
const SAMPLE_BYTES: Record<string, number> = {
  uchar: 1,
  char: 1,
  ushort: 2,
  short: 2,
  uint: 4,
  int: 4,
  float: 4,
  complex: 8,
  double: 8,
  dpcomplex: 16,
};

const FIT: Record<ThumbnailPlan['fit'], keyof FitEnum> = {
  cover: 'cover',
  contain: 'contain',
  fill: 'fill',
  inside: 'inside',
};

const TRANSPARENT = { r: 0, g: 0, b: 0, alpha: 0 };
const WHITE = { r: 255, g: 255, b: 255 };

let untrustedInputPolicyApplied = false;

/** Process-wide sharp settings for untrusted input; the first processor applies them. */
function applyUntrustedInputPolicy(): void {
  if (untrustedInputPolicyApplied) return;
  // Each job decodes a different upload once: caching operations only holds memory.
  sharp.cache(false);
  sharp.block({ operation: ['VipsForeignLoad'] });
  sharp.unblock({ operation: ALLOWED_LOADERS });
  untrustedInputPolicyApplied = true;
}

/** How to bring one input to sRGB, decided from its container before decoding. */
interface ColourHandling {
  /** The embedded profile is sRGB: skip building a colour transform that changes nothing. */
  ignoreIcc: boolean;
  /**
   * sharp converts 16-bit RGB with a profile to Display P3, then narrows it to 8 bits without
   * converting (sharp 0.35), so P3 numbers would be labelled sRGB. Converting P3 to sRGB at the
   * end puts them right.
   */
  p3ToSrgb: boolean;
}

/** The image decoded once, scaled down as far as every variant allows, in sRGB. */
interface DecodedImage {
  data: Buffer;
  raw: { width: number; height: number; channels: 1 | 2 | 3 | 4 };
}

/** The one place that runs sharp: untrusted image bytes in, sRGB variants and a placeholder out. */
export class SharpImageProcessor extends ImageProcessor {
  private readonly inputOptions: SharpOptions;
  private readonly timeoutSeconds: number;
  private readonly limitInputPixels: number;

  constructor(options: SharpImageProcessorOptions) {
    super();
    requireInteger('limitInputPixels', options.limitInputPixels, 1, Number.MAX_SAFE_INTEGER);
    requireInteger('timeoutSeconds', options.timeoutSeconds, 1, 3600);
    applyUntrustedInputPolicy();
    if (options.concurrency !== undefined) {
      requireInteger('concurrency', options.concurrency, 1, 1024);
      sharp.concurrency(options.concurrency);
    }
    this.timeoutSeconds = options.timeoutSeconds;
    this.limitInputPixels = options.limitInputPixels;
    this.inputOptions = {
      // Truncated or corrupt data fails instead of giving a half-grey thumbnail.
      failOn: 'warning',
      limitInputPixels: options.limitInputPixels,
      limitInputChannels: MAX_INPUT_CHANNELS,
      // The first frame of an animation, the first page of a TIFF.
      pages: 1,
      // sharp 0.35 no longer applies EXIF orientation unless asked.
      autoOrient: true,
    };
  }

  /**
   * Decodes once, to raw sRGB pixels already scaled down as far as the largest variant allows
   * (so JPEG and WebP still shrink while decoding), then scales and encodes each variant from
   * those pixels, one after another, and hashes them for the placeholder. The time limit holds
   * for the whole set. Anything that is not the image's fault (out of memory, a bad plan)
   * propagates as it is.
   */
  override async makeVariants(input: Buffer, plans: readonly VariantPlan[]): Promise<MadeVariants> {
    requireValidPlans(plans);
    const deadline = Date.now() + this.timeoutSeconds * 1000;
    // sniffImageType only routes here; libvips' allowlist decides what is decoded.
    const format = sniffImageType(input)?.format;
    const refusal = format && REFUSED_FORMATS[format];
    if (refusal) throw new InvalidImageError(refusal);
    try {
      const decoded = await this.decode(input, format, plans, deadline);
      const images: EncodedImage[] = [];
      for (const plan of plans) images.push(await encode(decoded, plan, deadline));
      return { images, thumbhash: thumbHashOf({ data: decoded.data, ...decoded.raw }) };
    } catch (error) {
      throw classifyDecodeError(error);
    }
  }

  private async decode(input: Buffer, format: ImageFormat | undefined, plans: readonly VariantPlan[], deadline: number): Promise<DecodedImage> {
    // A header read: what decoding will cost is known before any pixel is decoded.
    const metadata = await sharp(input, this.inputOptions).metadata();
    const { width, height } = metadata.autoOrient;
    const scale = sharedDecodeScale(plans, width, height);
    const scaled = scale < 1 ? { width: Math.ceil(width * scale), height: Math.ceil(height * scale) } : { width, height };
    // Without a resize, sharp turns a rotated image whole, as it does before a crop.
    const refusal = oversizedImageRefusal(decodeFacts(metadata), { ...largestPlan(plans), decodedPixels: scaled.width * scaled.height, cropsFirst: scale >= 1 }, {
      limitInputPixels: this.limitInputPixels,
      largestImage: largestPlan(plans),
    });
    if (refusal) throw refusal;
    const colour = await this.colourHandling(input, format, metadata);
    let pipeline = sharp(input, { ...this.inputOptions, ignoreIcc: colour.ignoreIcc }).timeout({ seconds: secondsLeft(deadline) });
    // Resizing straight after load lets libvips shrink JPEG and WebP while decoding them.
    if (scale < 1) pipeline = pipeline.resize(scaled.width, scaled.height, { fit: 'fill' });
    if (colour.p3ToSrgb) pipeline = pipeline.withIccProfile('srgb', { attach: false });
    const { data, info } = await pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return { data, raw: { width: info.width, height: info.height, channels: info.channels } };
  }

  /**
   * Building the colour transform for an embedded profile is most of a small thumbnail's time
   * in libvips, and for an sRGB profile it converts sRGB to sRGB. Reading the
   * profile from the container first (no decode) lets those images skip it; every other
   * profile is still converted.
   */
  private async colourHandling(input: Buffer, format: ImageFormat | undefined, metadata: Metadata): Promise<ColourHandling> {
    const embedded = (format && readEmbeddedColourProfile(input, format)) || profileFromHeader(metadata);
    if (!embedded.icc) return { ignoreIcc: false, p3ToSrgb: false };
    if (isSrgbIccProfile(embedded.icc)) return { ignoreIcc: true, p3ToSrgb: false };
    return { ignoreIcc: false, p3ToSrgb: embedded.rgb16 };
  }
}

/** Formats whose container we do not parse (TIFF, AVIF): the profile the decoder's header read found. */
function profileFromHeader(metadata: Metadata): EmbeddedColourProfile {
  return { icc: metadata.icc ?? null, rgb16: metadata.space === 'rgb16' };
}

/** What the memory estimate needs, from sharp's header read. */
function decodeFacts(metadata: Metadata): DecodeFacts {
  const bytesPerSample = SAMPLE_BYTES[metadata.depth ?? 'uchar'] ?? 8;
  return {
    format: metadata.format ?? 'unknown',
    width: metadata.width,
    height: metadata.height,
    channels: metadata.channels ?? MAX_INPUT_CHANNELS,
    bytesPerSample,
    bitsPerSample: metadata.bitsPerSample ?? bytesPerSample * 8,
    progressive: metadata.isProgressive ?? false,
    // Orientations 3 to 8 turn the image (2 only mirrors it).
    rotated: (metadata.orientation ?? 1) >= 3,
  };
}

/** One variant from the decoded pixels: sharp keeps no metadata unless told to. */
async function encode(decoded: DecodedImage, plan: VariantPlan, deadline: number): Promise<EncodedImage> {
  const opaque = plan.format === 'jpeg';
  let pipeline = sharp(decoded.data, { raw: decoded.raw }).timeout({ seconds: secondsLeft(deadline) });
  const crop = coverCropBeforeResize(decoded.raw.width, decoded.raw.height, plan);
  pipeline = crop
    ? pipeline.extract(crop).resize(plan.width, plan.height, { fit: 'fill' })
    : pipeline.resize(plan.width, plan.height, {
        fit: FIT[plan.fit],
        position: 'centre',
        // sharp flattens before it pads, whatever the call order: JPEG's padding is white itself.
        background: opaque ? WHITE : TRANSPARENT,
        withoutEnlargement: plan.fit === 'inside',
      });
  if (plan.fit === 'contain' && !opaque) pipeline = pipeline.ensureAlpha();
  switch (plan.format) {
    case 'png':
      pipeline = pipeline.png();
      break;
    case 'webp':
      // libwebp's method 2 instead of sharp's 4: half the CPU for the same size and quality on
      // thumbnail-sized photos (bench/README.md).
      pipeline = pipeline.webp({ quality: plan.quality ?? undefined, effort: 2 });
      break;
    case 'avif':
      pipeline = pipeline.avif({ quality: plan.quality ?? undefined });
      break;
    case 'jpeg':
      pipeline = pipeline.flatten({ background: WHITE }).jpeg({ quality: plan.quality ?? undefined });
      break;
  }
  const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
  return { data, format: plan.format, width: info.width, height: info.height };
}

/** The variant with the most pixels: what the job's image slot is sized by. */
function largestPlan(plans: readonly VariantPlan[]): { width: number; height: number } {
  return plans.reduce((largest, plan) => (plan.width * plan.height > largest.width * largest.height ? plan : largest));
}

/** What is left of the job's time limit, as sharp takes it (whole seconds, 0 meaning none). */
function secondsLeft(deadline: number): number {
  const left = deadline - Date.now();
  if (left <= 0) throw new ImageTimeoutError();
  return Math.ceil(left / 1000);
}

/**
 * Turns what sharp/libvips threw into our outcome when the image is at fault, or returns the
 * error untouched when it is not. The libvips text (file offsets, library names) goes to
 * `cause` for logs; clients only ever see our message.
 */
export function classifyDecodeError(error: unknown): unknown {
  if (error instanceof ImageRejectedError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  if (/out of memory/i.test(reason)) return error; // the machine, not the image
  if (/exceeds pixel limit/i.test(reason)) {
    return new ImageTooLargeError(undefined, { cause: error });
  }
  if (/^timeout: \d+% complete/i.test(reason)) {
    return new ImageTimeoutError(undefined, { cause: error });
  }
  if (/exceeds channel limit/i.test(reason)) {
    // A valid image (a multispectral TIFF, say), only wider per pixel than thumbnails are made of.
    return new ImageTooLargeError(
      `The image has more than ${MAX_INPUT_CHANNELS} channels per pixel; this service makes thumbnails of images with at most ${MAX_INPUT_CHANNELS} (CMYK and alpha).`,
      { cause: error },
    );
  }
  if (/compression format has not been built in|no decoding plugin/i.test(reason)) {
    return new InvalidImageError('The image uses a compression (such as HEVC) this service cannot decode.', {
      cause: error,
    });
  }
  if (/unsupported image format|buffer is empty/i.test(reason)) {
    return new InvalidImageError(
      'The file is not a JPEG, PNG, WebP, GIF, AVIF or TIFF image this service can read.',
      { cause: error },
    );
  }
  return new InvalidImageError('The image is corrupt or truncated and cannot be decoded.', { cause: error });
}
