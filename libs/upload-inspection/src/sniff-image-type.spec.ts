import {
  animatedGif,
  avif,
  heic,
  jpegWithOrientation,
  minimalPdf,
  png50,
  svg,
  tiff,
  webp,
} from '@thumbnail/testing';
import { ACCEPTED_FORMATS, SNIFF_BYTES, sniffImageType, type ImageFormat } from './sniff-image-type';

/** An ISO-BMFF `ftyp` box, as HEIF/AVIF/MP4 files start. */
function ftyp(major: string, compatible: string[]): Buffer {
  const size = 16 + compatible.length * 4;
  const box = Buffer.alloc(size);
  box.writeUInt32BE(size, 0);
  box.write('ftyp', 4, 'latin1');
  box.write(major, 8, 'latin1');
  compatible.forEach((brand, index) => box.write(brand, 16 + index * 4, 'latin1'));
  return box;
}

describe('sniffImageType', () => {
  const made: [ImageFormat, string, () => Promise<Buffer> | Buffer][] = [
    ['jpeg', 'image/jpeg', () => jpegWithOrientation(1)],
    ['png', 'image/png', png50],
    ['webp', 'image/webp', () => webp()],
    ['gif', 'image/gif', () => animatedGif(2, 8, 8)],
    ['tiff', 'image/tiff', () => tiff()],
    ['avif', 'image/avif', () => avif()],
    ['heic', 'image/heic', heic],
  ];

  it.each(made)('recognises %s made by an encoder from its first SNIFF_BYTES bytes', async (format, mime, make) => {
    const head = (await make()).subarray(0, SNIFF_BYTES);
    expect(sniffImageType(head)).toEqual({ format, mime });
  });

  it('recognises big-endian TIFF as well as little-endian', () => {
    expect(sniffImageType(Buffer.from('4d4d002a00000008', 'hex'))?.format).toBe('tiff');
    expect(sniffImageType(Buffer.from('49492a0008000000', 'hex'))?.format).toBe('tiff');
  });

  it('tells AVIF from HEIC by brands', () => {
    expect(sniffImageType(ftyp('avif', ['mif1', 'miaf']))?.format).toBe('avif');
    expect(sniffImageType(ftyp('avis', ['msf1']))?.format).toBe('avif');
    expect(sniffImageType(ftyp('mif1', ['mif1', 'miaf', 'avif']))?.format).toBe('avif');
    expect(sniffImageType(ftyp('msf1', ['avis']))?.format).toBe('avif');
    for (const brand of ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']) {
      expect(sniffImageType(ftyp(brand, ['mif1']))?.format).toBe('heic');
    }
    expect(sniffImageType(ftyp('mif1', ['heic']))?.format).toBe('heic');
    expect(sniffImageType(ftyp('mif1', []))?.format).toBe('heic');
  });

  it('accepts every recognised format except HEIC', () => {
    expect([...ACCEPTED_FORMATS].sort()).toEqual(['avif', 'gif', 'jpeg', 'png', 'tiff', 'webp']);
  });

  it.each([
    ['PDF', minimalPdf()],
    ['SVG', svg()],
    ['HTML', Buffer.from('<!DOCTYPE html><html><body><img src="x.png"></body></html>')],
    ['an ELF executable', Buffer.from('7f454c46020101000000000000000000', 'hex')],
    ['an MP4 video', ftyp('isom', ['isom', 'iso2', 'mp41'])],
    ['zero bytes', Buffer.alloc(SNIFF_BYTES)],
    ['one byte', Buffer.from([0xff])],
    ['nothing', Buffer.alloc(0)],
    ['half a PNG signature', Buffer.from('89504e47', 'hex')],
    ['RIFF that is not WebP', Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ', 'latin1')],
    ['an ftyp box too short for its brands', Buffer.concat([Buffer.from('00000008', 'hex'), Buffer.from('ftypavif')])],
  ])('returns null for %s', (_name, bytes) => {
    expect(sniffImageType(bytes)).toBeNull();
  });
});
