/*
 * Images for tests, generated on the spot with sharp (or written by hand) so a fresh clone needs
 * no binary fixtures. Every generator is deterministic.
 */
import sharp from 'sharp';

export type Rgb = readonly [number, number, number];

/** Channel count of raw pixels, as sharp accepts them. */
type Channels = 3 | 4;

function fromRaw(pixels: Uint8Array | Uint16Array, width: number, height: number, channels: Channels) {
  return sharp(pixels, { raw: { width, height, channels } });
}

/** A colourful gradient with a half-transparent band on the left quarter, like a logo or sticker. */
function gradientRgba(width: number, height: number): Uint8Array {
  const pixels = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      pixels[i] = Math.round((x * 255) / (width - 1));
      pixels[i + 1] = Math.round((y * 255) / (height - 1));
      pixels[i + 2] = 160;
      pixels[i + 3] = x < width / 4 ? SEMI_TRANSPARENT_ALPHA : 255;
    }
  }
  return pixels;
}

/** Alpha of the left quarter of `pngWithIccProfile400` and `png50`; the rest is opaque. */
export const SEMI_TRANSPARENT_ALPHA = 128;

/** 400x400 RGBA PNG with an embedded sRGB ICC profile (an `iCCP` chunk), like the seed images. */
export function pngWithIccProfile400(): Promise<Buffer> {
  return fromRaw(gradientRgba(400, 400), 400, 400, 4).withIccProfile('srgb').png().toBuffer();
}

/** 50x50 RGBA PNG with an embedded sRGB ICC profile: the small seed image. */
export function png50(): Promise<Buffer> {
  return fromRaw(gradientRgba(50, 50), 50, 50, 4).withIccProfile('srgb').png().toBuffer();
}

/**
 * The upright picture inside every `jpegWithOrientation` fixture: 48x32, four flat quadrants
 * whose colours tell any rotation or mirroring apart.
 */
export const ORIENTATION_UPRIGHT = {
  width: 48,
  height: 32,
  topLeft: [255, 0, 0] as Rgb,
  topRight: [0, 255, 0] as Rgb,
  bottomLeft: [0, 0, 255] as Rgb,
  bottomRight: [255, 255, 255] as Rgb,
};

/**
 * Where a stored pixel appears once EXIF orientation `n` is applied (EXIF 2.3, tag 0x0112).
 * Stored size is `storedWidth` x `storedHeight`; 5 to 8 swap width and height.
 */
function displayedPosition(n: number, x: number, y: number, storedWidth: number, storedHeight: number): [number, number] {
  switch (n) {
    case 2: return [storedWidth - 1 - x, y]; // mirrored horizontally
    case 3: return [storedWidth - 1 - x, storedHeight - 1 - y]; // rotated 180
    case 4: return [x, storedHeight - 1 - y]; // mirrored vertically
    case 5: return [y, x]; // transposed
    case 6: return [storedHeight - 1 - y, x]; // needs 90 clockwise
    case 7: return [storedHeight - 1 - y, storedWidth - 1 - x]; // transversed
    case 8: return [y, storedWidth - 1 - x]; // needs 90 anticlockwise
    default: return [x, y];
  }
}

/**
 * A JPEG whose pixels are stored turned as a camera would store them, with EXIF orientation `n`
 * (1..8) saying how to turn them back: honouring the tag gives `ORIENTATION_UPRIGHT` (red top
 * left). It also carries an sRGB ICC profile, as camera JPEGs do.
 */
export function jpegWithOrientation(n: number): Promise<Buffer> {
  if (!Number.isInteger(n) || n < 1 || n > 8) throw new RangeError(`EXIF orientation is 1..8, not ${n}`);
  const { width, height } = ORIENTATION_UPRIGHT;
  const [storedWidth, storedHeight] = n >= 5 ? [height, width] : [width, height];
  const pixels = new Uint8Array(storedWidth * storedHeight * 3);
  for (let y = 0; y < storedHeight; y++) {
    for (let x = 0; x < storedWidth; x++) {
      const [dx, dy] = displayedPosition(n, x, y, storedWidth, storedHeight);
      const colour = quadrantColour(dx < width / 2, dy < height / 2);
      pixels.set(colour, (y * storedWidth + x) * 3);
    }
  }
  return fromRaw(pixels, storedWidth, storedHeight, 3).withMetadata({ orientation: n }).jpeg({ quality: 95 }).toBuffer();
}

/**
 * A `width` x `height` picture of the four `ORIENTATION_UPRIGHT` quadrants (red top left, green
 * top right, blue bottom left, white bottom right), as a PNG or a JPEG: any crop, scale or
 * re-encoding keeps them apart, so a test can tell that an output shows this image.
 */
export function quadrants(width: number, height: number, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels.set(quadrantColour(x < width / 2, y < height / 2), (y * width + x) * 3);
  }
  const image = fromRaw(pixels, width, height, 3);
  return (format === 'png' ? image.png() : image.jpeg({ quality: 90 })).toBuffer();
}

function quadrantColour(left: boolean, top: boolean): Rgb {
  if (top) return left ? ORIENTATION_UPRIGHT.topLeft : ORIENTATION_UPRIGHT.topRight;
  return left ? ORIENTATION_UPRIGHT.bottomLeft : ORIENTATION_UPRIGHT.bottomRight;
}

function flat(width: number, height: number, colour: Rgb): Uint8Array {
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) pixels.set(colour, i * 3);
  return pixels;
}

/** The sRGB colour `cmykJpeg` was made from; inside the CMYK gamut, so it survives the trip. */
export const CMYK_SOURCE_SRGB: Rgb = [210, 160, 130];

/**
 * A 64x64 CMYK JPEG (4 channels, as print workflows save them) without an embedded profile, so
 * decoders fall back to a generic CMYK profile, as libvips did when making it.
 */
export function cmykJpeg(): Promise<Buffer> {
  return fromRaw(flat(64, 64, CMYK_SOURCE_SRGB), 64, 64, 3).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
}

/**
 * The sRGB colour shown by `displayP3Png`: its stored numbers are this colour in Display P3
 * (about 187,105,62), so a decoder that ignores the profile gets visibly different numbers.
 */
export const DISPLAY_P3_SOURCE_SRGB: Rgb = [200, 100, 50];

/** A 64x64 PNG tagged with a Display P3 ICC profile, 8 or 16 bits per channel. */
export async function displayP3Png(options: { bitDepth?: 8 | 16 } = {}): Promise<Buffer> {
  const size = 64;
  const p3 = fromRaw(flat(size, size, DISPLAY_P3_SOURCE_SRGB), size, size, 3).withIccProfile('p3');
  if (options.bitDepth !== 16) return p3.png().toBuffer();
  const p3Numbers = await p3.raw().toBuffer();
  const wide = Uint16Array.from(p3Numbers, (value) => value * 257);
  // sharp treats 16-bit RGB as P3 already, so this only attaches the P3 profile.
  return fromRaw(wide, size, size, 3).toColourspace('rgb16').withIccProfile('p3').png().toBuffer();
}

/** What `sixteenBitPng` holds; each value is between two 8-bit steps, so it is truly 16-bit. */
export const SIXTEEN_BIT_RGB: readonly [number, number, number] = [51500, 25800, 12900];

/** A 32x32 16-bit RGB PNG without a profile, one flat colour (`SIXTEEN_BIT_RGB`, about 200,100,50). */
export function sixteenBitPng(): Promise<Buffer> {
  const pixels = new Uint16Array(32 * 32 * 3);
  for (let i = 0; i < 32 * 32; i++) pixels.set(SIXTEEN_BIT_RGB, i * 3);
  return fromRaw(pixels, 32, 32, 3).toColourspace('rgb16').png().toBuffer();
}

/** Colour of frame `i` of `animatedGif` (cycling). */
export const GIF_FRAME_COLOURS: readonly Rgb[] = [
  [255, 0, 0],
  [0, 0, 255],
  [0, 255, 0],
  [255, 255, 0],
];

/** An animated GIF, each frame one flat colour from `GIF_FRAME_COLOURS`, 100 ms per frame. */
export function animatedGif(frames: number, width: number, height: number): Promise<Buffer> {
  const pixels = new Uint8Array(width * height * frames * 3);
  for (let frame = 0; frame < frames; frame++) {
    pixels.set(flat(width, height, GIF_FRAME_COLOURS[frame % GIF_FRAME_COLOURS.length]), frame * width * height * 3);
  }
  return sharp(pixels, { raw: { width, height: height * frames, channels: 3, pageHeight: height } })
    .gif({ delay: 100, loop: 0, keepDuplicateFrames: true })
    .toBuffer();
}

interface Size {
  width?: number;
  height?: number;
}

/**
 * WebP of the gradient, 64x48 by default. Lossy with alpha (the default) is the extended
 * `VP8X` layout; lossy without alpha is plain `VP8 `; lossless is `VP8L`.
 */
export function webp({ width = 64, height = 48, lossless = false, alpha = true }: Size & { lossless?: boolean; alpha?: boolean } = {}): Promise<Buffer> {
  let image = fromRaw(gradientRgba(width, height), width, height, 4);
  if (!alpha) image = image.removeAlpha();
  return image.webp(lossless ? { lossless: true } : { quality: 90 }).toBuffer();
}

/** AVIF (AV1 in HEIF) with alpha, 64x48 by default. */
export function avif({ width = 64, height = 48 }: Size = {}): Promise<Buffer> {
  return fromRaw(gradientRgba(width, height), width, height, 4).avif({ quality: 80, effort: 0 }).toBuffer();
}

/** Deflate-compressed RGB TIFF (little-endian, as libtiff writes on x86), 64x48 by default. */
export function tiff({ width = 64, height = 48 }: Size = {}): Promise<Buffer> {
  return fromRaw(gradientRgba(width, height), width, height, 4).removeAlpha().tiff({ compression: 'deflate' }).toBuffer();
}

/**
 * A photo-like JPEG (smooth gradients plus sensor-like noise, which compresses like a photo
 * and not like a flat test card), for benchmarks and size limits.
 */
export function largeJpeg(width: number, height: number): Promise<Buffer> {
  const random = mulberry32(width * 31 + height);
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const noise = (random() - 0.5) * 40;
      pixels[i] = clampByte(96 + 120 * Math.sin((x / width) * Math.PI) + noise);
      pixels[i + 1] = clampByte(64 + (160 * y) / height + noise);
      pixels[i + 2] = clampByte(180 - (120 * (x + y)) / (width + height) + noise);
    }
  }
  return fromRaw(pixels, width, height, 3).jpeg({ quality: 85 }).toBuffer();
}

function clampByte(value: number): number {
  return Math.max(0, Math.min(255, Math.round(value)));
}

/** Small deterministic PRNG (mulberry32), so generated noise is the same on every run. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A valid one-page PDF (a blue square on 72x72 pt), written by hand with a correct xref table. */
export function minimalPdf(): Buffer {
  const content = '0 0 1 rg 8 8 56 56 re f\n';
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] /Resources << >> /Contents 4 0 R >>',
    `<< /Length ${content.length} >>\nstream\n${content}endstream`,
  ];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, index) => {
    offsets.push(pdf.length);
    pdf += `${index + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

/** A 64x64 SVG (red square): what an upload must not be rendered from. */
export function svg(): Buffer {
  return Buffer.from(
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">' +
      '<rect width="64" height="64" fill="#ff0000"/></svg>\n',
  );
}

/**
 * A real 16x16 HEIC (HEVC in HEIF, as iPhones save photos), flat #c86432: a `grid` item (the
 * primary, 16x16) over one 64x64 HEVC tile, which is how libheif and iPhones lay HEIC out. Kept as bytes because nothing in npm encodes HEVC; made
 * once with `heif-enc -q 30` (libheif 1.15.1 with x265) from a PNG of that colour.
 */
export function heic(): Buffer {
  return Buffer.from(HEIC_16X16_BASE64, 'base64');
}

const HEIC_16X16_BASE64 =
  'AAAAHGZ0eXBoZWljAAAAAG1pZjFoZWljbWlhZgAAAa1tZXRhAAAAAAAAACFoZGxyAAAAAAAAAABwaWN0AAAAAAAAAAAAAAAAAAAA' +
  'AA5waXRtAAAAAAACAAAAEGlkYXQAAAAAABAAEAAAADhpbG9jAQAAAERAAAIAAQAAAAAAAAHRAAEAAAAAAAAAKAACAAEAAAAAAAAA' +
  'AQAAAAAAAAAIAAAAOGlpbmYAAAAAAAIAAAAVaW5mZQIAAAEAAQAAaHZjMQAAAAAVaW5mZQIAAAAAAgAAZ3JpZAAAAADYaXBycAAA' +
  'ALZpcGNvAAAAdmh2Y0MBA3AAAAAAAAAAAAAe8AD8/fj4AAAPAyAAAQAYQAEMAf//A3AAAAMAkAAAAwAAAwAeugJAIQABACpCAQED' +
  'cAAAAwCQAAADAAADAB6gIIEFluqumubgQEDAgAAAAwCAAAADAIQiAAEABkQBwXPBiQAAABRpc3BlAAAAAAAAAEAAAABAAAAAFGlz' +
  'cGUAAAAAAAAAEAAAABAAAAAQcGl4aQAAAAADCAgIAAAAGmlwbWEAAAAAAAAAAgABAoECAAICA4QAAAAaaXJlZgAAAAAAAAAOZGlt' +
  'ZwACAAEAAQAAADBtZGF0AAAAJCgBrxkhORLvXaW/94j/l6V/N1t8pkqmlwTXiJkLA4GAjZGdOA==';

/** The first `fraction` (0..1) of `data`: a download cut short. */
export function truncated(data: Uint8Array, fraction: number): Buffer {
  return Buffer.from(data.subarray(0, Math.floor(data.length * fraction)));
}

export interface InspectedImage {
  format: string;
  width: number;
  height: number;
  /** Channels of the stored image (4 for RGBA and for CMYK). */
  channels: number;
  /** Per-channel sample format as libvips names it: `uchar` (8-bit), `ushort` (16-bit). */
  depth: string;
  /** Colour space as stored: `srgb`, `rgb16`, `cmyk`, `b-w`... */
  space: string;
  hasAlpha: boolean;
  hasIcc: boolean;
  hasExif: boolean;
  /** PNG text chunks and similar comments. */
  comments: number;
  orientation?: number;
  /** Frames or pages (1 for a still image). */
  pages: number;
  /**
   * 8-bit sRGB(A) values at (x, y) of the first frame, as stored: no profile applied (16-bit
   * values scaled down; CMYK converted with a generic profile).
   */
  pixel(x: number, y: number): number[];
}

/** What a test wants to assert about an encoded image: format, size, metadata and pixels. */
export async function inspectImage(data: Buffer): Promise<InspectedImage> {
  const metadata = await sharp(data).metadata();
  const decoded = await sharp(data, { ignoreIcc: true }).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const { width, channels } = decoded.info;
  return {
    format: metadata.format,
    width: metadata.width,
    height: metadata.height,
    channels: metadata.channels,
    depth: metadata.depth,
    space: metadata.space,
    hasAlpha: metadata.hasAlpha,
    hasIcc: metadata.icc !== undefined,
    hasExif: metadata.exif !== undefined,
    comments: metadata.comments?.length ?? 0,
    orientation: metadata.orientation,
    pages: metadata.pages ?? 1,
    pixel: (x, y) => Array.from(decoded.data.subarray((y * width + x) * channels, (y * width + x + 1) * channels)),
  };
}
