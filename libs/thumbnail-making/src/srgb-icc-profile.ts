import { ascii, s15Fixed16be, u16be, u32be } from './byte-reading';

/*
 * Skipping an embedded profile is only safe when converting from it to sRGB would change no
 * pixel. Names are unreliable ("sRGB IEC61966-2.1", "sRGB built-in", "GIMP built-in sRGB",
 * "sRGB2014", localised variants...), so this looks at what the profile does instead: an RGB
 * matrix/curve profile whose primaries are sRGB's and whose three curves are the sRGB curve.
 */

/** sRGB primaries adapted to D50, as every ICC matrix profile stores them (rXYZ, gXYZ, bXYZ). */
const SRGB_COLORANTS: Record<string, readonly [number, number, number]> = {
  rXYZ: [0.4361, 0.2225, 0.0139],
  gXYZ: [0.3851, 0.7169, 0.0971],
  bXYZ: [0.1431, 0.0606, 0.7141],
};

/**
 * Profiles in the wild round these differently in the 4th decimal; Display P3 and Adobe RGB
 * differ by more than 0.05.
 */
const COLORANT_TOLERANCE = 0.002;

/** Largest difference, in 8-bit code values, a curve may have from the sRGB curve. */
const CURVE_TOLERANCE = 0.5;

const HEADER_BYTES = 128;

/** True if `icc` is an sRGB profile: converting from it to sRGB would leave pixels as they are. */
export function isSrgbIccProfile(icc: Uint8Array): boolean {
  if (icc.length < HEADER_BYTES + 4) return false;
  const size = u32be(icc, 0);
  if (!(size <= icc.length) || ascii(icc, 36, 4) !== 'acsp') return false;
  if (ascii(icc, 16, 4) !== 'RGB ' || ascii(icc, 20, 4) !== 'XYZ ') return false;

  const tags = readTagTable(icc, size);
  if (!tags) return false;
  // With a LUT (A2Bx/D2Bx) present, colour engines use it instead of the matrix and curves.
  for (const signature of tags.keys()) {
    if (signature.startsWith('A2B') || signature.startsWith('D2B')) return false;
  }
  for (const [signature, expected] of Object.entries(SRGB_COLORANTS)) {
    const tag = tags.get(signature);
    if (!tag || !colorantMatches(icc, tag, expected)) return false;
  }
  return ['rTRC', 'gTRC', 'bTRC'].every((signature) => {
    const tag = tags.get(signature);
    return tag !== undefined && curveIsSrgb(icc, tag);
  });
}

interface TagData {
  offset: number;
  size: number;
}

function readTagTable(icc: Uint8Array, size: number): Map<string, TagData> | null {
  const count = u32be(icc, HEADER_BYTES);
  if (!(HEADER_BYTES + 4 + count * 12 <= size)) return null;
  const tags = new Map<string, TagData>();
  for (let index = 0; index < count; index++) {
    const entry = HEADER_BYTES + 4 + index * 12;
    const offset = u32be(icc, entry + 4);
    const length = u32be(icc, entry + 8);
    if (!(offset + length <= size) || length < 8) return null;
    tags.set(ascii(icc, entry, 4), { offset, size: length });
  }
  return tags;
}

function colorantMatches(icc: Uint8Array, tag: TagData, expected: readonly [number, number, number]): boolean {
  if (ascii(icc, tag.offset, 4) !== 'XYZ ' || tag.size < 20) return false;
  return expected.every(
    (value, index) => Math.abs(s15Fixed16be(icc, tag.offset + 8 + index * 4) - value) <= COLORANT_TOLERANCE,
  );
}

/** Compares the curve with sRGB's at every 8-bit code value. */
function curveIsSrgb(icc: Uint8Array, tag: TagData): boolean {
  const curve = readCurve(icc, tag);
  if (!curve) return false;
  for (let code = 0; code <= 255; code++) {
    const linear = curve(code / 255);
    if (!(Math.abs(srgbEncode(linear) * 255 - code) <= CURVE_TOLERANCE)) return false;
  }
  return true;
}

type Curve = (encoded: number) => number;

/** A `curv` (identity, gamma or sampled table) or `para` (parametric) tone curve. */
function readCurve(icc: Uint8Array, tag: TagData): Curve | null {
  const type = ascii(icc, tag.offset, 4);
  if (type === 'curv') {
    const entries = u32be(icc, tag.offset + 8);
    if (!(12 + entries * 2 <= tag.size)) return null;
    if (entries === 0) return (x) => x;
    if (entries === 1) {
      const gamma = u16be(icc, tag.offset + 12) / 256;
      return (x) => x ** gamma;
    }
    const table = Array.from({ length: entries }, (_, index) => u16be(icc, tag.offset + 12 + index * 2) / 65535);
    return (x) => {
      const position = x * (entries - 1);
      const below = Math.floor(position);
      const above = Math.min(below + 1, entries - 1);
      return table[below] + (table[above] - table[below]) * (position - below);
    };
  }
  if (type === 'para') {
    const functionType = u16be(icc, tag.offset + 8);
    const parameterCount = [1, 3, 4, 5, 7][functionType];
    if (parameterCount === undefined || 12 + parameterCount * 4 > tag.size) return null;
    const [g, a = 0, b = 0, c = 0, d = 0, e = 0, f = 0] = Array.from({ length: parameterCount }, (_, index) =>
      s15Fixed16be(icc, tag.offset + 12 + index * 4),
    );
    switch (functionType) {
      case 0:
        return (x) => x ** g;
      case 1:
        return (x) => (x >= -b / a ? (a * x + b) ** g : 0);
      case 2:
        return (x) => (x >= -b / a ? (a * x + b) ** g + c : c);
      case 3:
        return (x) => (x >= d ? (a * x + b) ** g : c * x);
      default:
        return (x) => (x >= d ? (a * x + b) ** g + e : c * x + f);
    }
  }
  return null;
}

/** The sRGB transfer function (IEC 61966-2-1), linear light to encoded, both 0..1. */
function srgbEncode(linear: number): number {
  return linear <= 0.0031308 ? linear * 12.92 : 1.055 * linear ** (1 / 2.4) - 0.055;
}
