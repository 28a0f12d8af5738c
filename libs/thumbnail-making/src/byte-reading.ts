/*
 * Reads for header parsers fed untrusted, possibly truncated bytes. Parsers check lengths before
 * reading; a read past either end still never throws: it yields NaN, which fails every
 * comparison, so a missed check ends a parse instead of crashing it.
 */

function inside(bytes: Uint8Array, offset: number, length: number): boolean {
  return offset >= 0 && offset + length <= bytes.length;
}

export function u8(bytes: Uint8Array, offset: number): number {
  return inside(bytes, offset, 1) ? bytes[offset] : NaN;
}

export function u16be(bytes: Uint8Array, offset: number): number {
  return inside(bytes, offset, 2) ? (bytes[offset] << 8) | bytes[offset + 1] : NaN;
}

export function u32be(bytes: Uint8Array, offset: number): number {
  if (!inside(bytes, offset, 4)) return NaN;
  return bytes[offset] * 0x1000000 + ((bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]);
}

export function u32le(bytes: Uint8Array, offset: number): number {
  if (!inside(bytes, offset, 4)) return NaN;
  return bytes[offset + 3] * 0x1000000 + ((bytes[offset + 2] << 16) | (bytes[offset + 1] << 8) | bytes[offset]);
}

/** Signed 16.16 fixed point, as ICC profiles store numbers. */
export function s15Fixed16be(bytes: Uint8Array, offset: number): number {
  if (!inside(bytes, offset, 4)) return NaN;
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) / 65536;
}

/** Latin-1 text of `length` bytes, or '' when they are not all there. */
export function ascii(bytes: Uint8Array, offset: number, length: number): string {
  if (!inside(bytes, offset, length)) return '';
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}

export function startsWith(bytes: Uint8Array, offset: number, expected: readonly number[]): boolean {
  if (!inside(bytes, offset, expected.length)) return false;
  return expected.every((byte, index) => bytes[offset + index] === byte);
}
