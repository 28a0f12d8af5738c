import {
  animatedGif,
  cmykJpeg,
  displayP3Png,
  jpegWithOrientation,
  largeJpeg,
  png50,
  pngWithIccProfile400,
  sixteenBitPng,
  tiff,
  truncated,
  webp,
} from '@thumbnail/testing';
import { readEmbeddedColourProfile } from './embedded-colour-profile';
import { isSrgbIccProfile } from './srgb-icc-profile';

/** A WebP in the extended layout carrying `icc` in an ICCP chunk, as cwebp -metadata icc writes. */
function webpWithIcc(plain: Buffer, icc: Uint8Array): Buffer {
  // plain: RIFF size WEBP VP8X(10) [ALPH] VP8 ...; set the ICC flag and put ICCP after VP8X.
  const vp8x = plain.subarray(12, 30);
  const flagged = Buffer.from(vp8x);
  flagged[8] |= 0x20;
  const chunk = Buffer.alloc(8 + icc.length + (icc.length % 2));
  chunk.write('ICCP', 0, 'latin1');
  chunk.writeUInt32LE(icc.length, 4);
  Buffer.from(icc).copy(chunk, 8);
  const body = Buffer.concat([Buffer.from('WEBP', 'latin1'), flagged, chunk, plain.subarray(30)]);
  const header = Buffer.alloc(8);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(body.length, 4);
  return Buffer.concat([header, body]);
}

describe('readEmbeddedColourProfile', () => {
  it('finds the sRGB profile in a PNG iCCP chunk', async () => {
    for (const png of [await pngWithIccProfile400(), await png50()]) {
      const profile = readEmbeddedColourProfile(png, 'png');
      expect(profile?.icc).toBeTruthy();
      expect(isSrgbIccProfile(profile?.icc as Uint8Array)).toBe(true);
      expect(profile?.rgb16).toBe(false);
    }
  });

  it('finds a Display P3 profile and tells it is not sRGB', async () => {
    const profile = readEmbeddedColourProfile(await displayP3Png(), 'png');
    expect(profile?.icc?.length).toBeGreaterThan(128);
    expect(isSrgbIccProfile(profile?.icc as Uint8Array)).toBe(false);
  });

  it('notices 16-bit RGB PNGs', async () => {
    expect(readEmbeddedColourProfile(await sixteenBitPng(), 'png')).toEqual({ icc: null, rgb16: true });
    expect(readEmbeddedColourProfile(await displayP3Png({ bitDepth: 16 }), 'png')?.rgb16).toBe(true);
  });

  it('reassembles the profile from JPEG APP2 segments', async () => {
    const profile = readEmbeddedColourProfile(await jpegWithOrientation(3), 'jpeg');
    expect(isSrgbIccProfile(profile?.icc as Uint8Array)).toBe(true);
  });

  it('reads the ICCP chunk of an extended WebP', async () => {
    const icc = readEmbeddedColourProfile(await displayP3Png(), 'png')?.icc as Uint8Array;
    const profile = readEmbeddedColourProfile(webpWithIcc(await webp(), icc), 'webp');
    expect(Buffer.from(profile?.icc as Uint8Array).equals(Buffer.from(icc))).toBe(true);
  });

  it('says "no profile" when there is none', async () => {
    expect(readEmbeddedColourProfile(await largeJpeg(64, 64), 'jpeg')).toEqual({ icc: null, rgb16: false });
    expect(readEmbeddedColourProfile(await cmykJpeg(), 'jpeg')).toEqual({ icc: null, rgb16: false });
    expect(readEmbeddedColourProfile(await webp(), 'webp')).toEqual({ icc: null, rgb16: false });
    expect(readEmbeddedColourProfile(await webp({ alpha: false }), 'webp')).toEqual({ icc: null, rgb16: false });
    expect(readEmbeddedColourProfile(await animatedGif(2, 4, 4), 'gif')).toEqual({ icc: null, rgb16: false });
  });

  it('leaves the decision to the decoder for other containers and unreadable profiles', async () => {
    expect(readEmbeddedColourProfile(await tiff(), 'tiff')).toBeNull();
    const png = Buffer.from(await png50());
    const iccp = png.indexOf('iCCP');
    png.fill(0xff, iccp + 20, iccp + 60); // corrupt the zlib stream
    expect(readEmbeddedColourProfile(png, 'png')).toBeNull();
    expect(readEmbeddedColourProfile(truncated(await png50(), 0.05), 'png')).toBeNull();
  });
});
