export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif' | 'heic';

export interface SniffedImage {
  format: ImageFormat;
  /** The media type to store and serve the original with. */
  mime: string;
}

/**
 * How many leading bytes `sniffImageType` needs to decide. ISO-BMFF files (AVIF, HEIC) list
 * their compatible brands after the major one; 64 bytes covers the ftyp box of every encoder
 * seen in practice (libheif, libavif, Apple, Samsung).
 */
export const SNIFF_BYTES = 64;

/**
 * Formats the thumbnailer decodes. HEIC is recognised only to refuse it clearly: the libvips
 * bundled with sharp has no HEVC decoder, so such a file would fail deep inside the worker.
 */
export const ACCEPTED_FORMATS: readonly ImageFormat[] = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'];

/** Why a recognised format is refused anyway; the API (415) and the worker say the same. */
export const REFUSED_FORMATS: Readonly<Partial<Record<ImageFormat, string>>> = {
  heic: 'HEIC images (HEVC-compressed HEIF, as iPhones save them) cannot be decoded by this service; convert to JPEG or AVIF first.',
};

const MIME: Record<ImageFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tiff: 'image/tiff',
  avif: 'image/avif',
  heic: 'image/heic',
};

/** The media types of ACCEPTED_FORMATS, as a job's `contentType` names them. */
export const ACCEPTED_MEDIA_TYPES: readonly string[] = ACCEPTED_FORMATS.map((format) => MIME[format]);

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);
const AVIF_BRANDS = new Set(['avif', 'avis']);
const HEIF_GENERIC_BRANDS = new Set(['mif1', 'msf1']);

/**
 * Recognises an image by its magic bytes only (never by name or declared type). Returns null
 * for anything else, including SVG, PDF and HTML.
 */
export function sniffImageType(head: Uint8Array): SniffedImage | null {
  const format = sniffFormat(Buffer.from(head.buffer, head.byteOffset, head.byteLength));
  return format ? { format, mime: MIME[format] } : null;
}

function sniffFormat(head: Buffer): ImageFormat | null {
  if (startsWith(head, 0, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(head, 0, PNG_SIGNATURE)) return 'png';
  if (ascii(head, 0, 6) === 'GIF87a' || ascii(head, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 4) === 'WEBP') return 'webp';
  if (startsWith(head, 0, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, 0, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (ascii(head, 4, 4) === 'ftyp') return sniffHeif(head);
  return null;
}

/** ISO-BMFF: `[size:u32]['ftyp'][major brand][minor version:u32][compatible brands...]`. */
function sniffHeif(head: Buffer): ImageFormat | null {
  if (head.length < 16) return null;
  const boxSize = head.readUInt32BE(0);
  if (!(boxSize >= 16)) return null;
  const major = ascii(head, 8, 4);
  const compatible: string[] = [];
  const end = Math.min(boxSize, head.length);
  for (let offset = 16; offset + 4 <= end; offset += 4) compatible.push(ascii(head, offset, 4));

  if (AVIF_BRANDS.has(major)) return 'avif';
  if (HEIC_BRANDS.has(major)) return 'heic';
  if (HEIF_GENERIC_BRANDS.has(major)) {
    return compatible.some((brand) => AVIF_BRANDS.has(brand)) ? 'avif' : 'heic';
  }
  return null;
}

function startsWith(bytes: Buffer, offset: number, expected: readonly number[]): boolean {
  return bytes.length >= offset + expected.length && expected.every((byte, index) => bytes[offset + index] === byte);
}

/** Latin-1 text of `length` bytes at `offset`, or '' when they are not all there. */
function ascii(bytes: Buffer, offset: number, length: number): string {
  return bytes.length >= offset + length ? bytes.toString('latin1', offset, offset + length) : '';
}
