import { isSrgbIccProfile } from './srgb-icc-profile';

type Xyz = [number, number, number];
type Colorants = [Xyz, Xyz, Xyz];

const SRGB: Colorants = [
  [0.4361, 0.2225, 0.0139],
  [0.3851, 0.7169, 0.0971],
  [0.1431, 0.0606, 0.7141],
];
const DISPLAY_P3: Colorants = [
  [0.5151, 0.2412, -0.0011],
  [0.2919, 0.6922, 0.0419],
  [0.1571, 0.0666, 0.7841],
];
const ADOBE_RGB: Colorants = [
  [0.6097, 0.3111, 0.0195],
  [0.2053, 0.6257, 0.0609],
  [0.1492, 0.0632, 0.7446],
];

function fixed16(values: number[]): Buffer {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((value, index) => bytes.writeInt32BE(Math.round(value * 65536), index * 4));
  return bytes;
}

function xyzTag(xyz: Xyz): Buffer {
  return Buffer.concat([Buffer.from('XYZ \0\0\0\0', 'latin1'), fixed16(xyz)]);
}

const srgbDecode = (x: number): number => (x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4);

/** `para` type 3 with sRGB's parameters, as v4 profiles (libvips, GIMP) store the curve. */
const SRGB_PARA = Buffer.concat([
  Buffer.from('para\0\0\0\0\0\x03\0\0', 'latin1'),
  fixed16([2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045]),
]);

function curvTable(entries: number, decode: (x: number) => number): Buffer {
  const tag = Buffer.alloc(12 + entries * 2);
  tag.write('curv', 0, 'latin1');
  tag.writeUInt32BE(entries, 8);
  for (let i = 0; i < entries; i++) tag.writeUInt16BE(Math.round(decode(i / (entries - 1)) * 65535), 12 + i * 2);
  return tag;
}

/** The 1024-entry sampled curve of the classic HP/Microsoft "sRGB IEC61966-2.1" v2 profile. */
const SRGB_CURV_1024 = curvTable(1024, srgbDecode);

function curvGamma(gamma: number): Buffer {
  const tag = Buffer.alloc(14);
  tag.write('curv', 0, 'latin1');
  tag.writeUInt32BE(1, 8);
  tag.writeUInt16BE(Math.round(gamma * 256), 12);
  return tag;
}

interface ProfileParts {
  space?: string;
  pcs?: string;
  colorants?: Colorants;
  curve?: Buffer;
  extraTags?: [string, Buffer][];
}

/** A matrix/curve ICC profile: header, tag table, then tag data (4-byte aligned). */
function iccProfile({ space = 'RGB ', pcs = 'XYZ ', colorants = SRGB, curve = SRGB_PARA, extraTags = [] }: ProfileParts = {}): Buffer {
  const tags: [string, Buffer][] = [
    ['wtpt', xyzTag([0.9642, 1, 0.8249])],
    ['rXYZ', xyzTag(colorants[0])],
    ['gXYZ', xyzTag(colorants[1])],
    ['bXYZ', xyzTag(colorants[2])],
    ['rTRC', curve],
    ['gTRC', curve],
    ['bTRC', curve],
    ...extraTags,
  ];
  const table = Buffer.alloc(4 + tags.length * 12);
  table.writeUInt32BE(tags.length, 0);
  const data: Buffer[] = [];
  let offset = 128 + table.length;
  tags.forEach(([signature, body], index) => {
    const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
    table.write(signature, 4 + index * 12, 'latin1');
    table.writeUInt32BE(offset, 8 + index * 12);
    table.writeUInt32BE(body.length, 12 + index * 12);
    data.push(padded);
    offset += padded.length;
  });
  const header = Buffer.alloc(128);
  header.writeUInt32BE(offset, 0);
  header.writeUInt32BE(0x04300000, 8);
  header.write('mntr', 12, 'latin1');
  header.write(space, 16, 'latin1');
  header.write(pcs, 20, 'latin1');
  header.write('acsp', 36, 'latin1');
  return Buffer.concat([header, table, ...data]);
}

describe('isSrgbIccProfile', () => {
  it('accepts sRGB stored as a v4 parametric curve', () => {
    expect(isSrgbIccProfile(iccProfile())).toBe(true);
  });

  it('accepts sRGB stored as a 1024-entry sampled curve (the classic v2 profile)', () => {
    expect(isSrgbIccProfile(iccProfile({ curve: SRGB_CURV_1024 }))).toBe(true);
  });

  it('accepts colorants rounded differently in the 4th decimal', () => {
    const rounded: Colorants = [
      [0.43604, 0.22249, 0.01392],
      [0.38512, 0.7169, 0.09706],
      [0.14305, 0.06061, 0.71393],
    ];
    expect(isSrgbIccProfile(iccProfile({ colorants: rounded }))).toBe(true);
  });

  it.each([
    ['Display P3 primaries', { colorants: DISPLAY_P3 }],
    ['Adobe RGB primaries', { colorants: ADOBE_RGB }],
    ['Adobe RGB primaries with a 2.2 gamma', { colorants: ADOBE_RGB, curve: curvGamma(2.2) }],
    ['sRGB primaries with a plain 2.2 gamma', { curve: curvGamma(2.2) }],
    ['sRGB primaries with a linear curve', { curve: curvTable(2, (x) => x) }],
    ['an identity curv', { curve: Buffer.from('curv\0\0\0\0\0\0\0\0', 'latin1') }],
    ['a LUT that colour engines would use instead', { extraTags: [['A2B0', Buffer.alloc(32)]] as [string, Buffer][] }],
    ['a CMYK profile', { space: 'CMYK' }],
    ['a Lab-based profile', { pcs: 'Lab ' }],
  ])('refuses %s', (_name, parts: ProfileParts) => {
    expect(isSrgbIccProfile(iccProfile(parts))).toBe(false);
  });

  it('refuses every truncation of an sRGB profile without throwing', () => {
    const profile = iccProfile({ curve: SRGB_CURV_1024 });
    for (let length = 0; length < profile.length; length++) {
      expect(isSrgbIccProfile(profile.subarray(0, length))).toBe(false);
    }
  });

  it('survives corrupted tag tables and random bytes', () => {
    const profile = iccProfile();
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let round = 0; round < 2000; round++) {
      const corrupted = Buffer.from(profile);
      corrupted[128 + (next() % (corrupted.length - 128))] = next() & 0xff;
      expect(typeof isSrgbIccProfile(corrupted)).toBe('boolean');
      expect(isSrgbIccProfile(Buffer.from(Array.from({ length: next() % 400 }, () => next() & 0xff)))).toBe(false);
    }
  });
});
