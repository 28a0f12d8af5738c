import {
  animatedGif,
  avif,
  cmykJpeg,
  displayP3Png,
  heic,
  inspectImage,
  jpegWithOrientation,
  largeJpeg,
  minimalPdf,
  ORIENTATION_UPRIGHT,
  png50,
  pngWithIccProfile400,
  SEMI_TRANSPARENT_ALPHA,
  sixteenBitPng,
  svg,
  tiff,
  truncated,
  webp,
} from './image-fixtures';

describe('image fixtures', () => {
  it('seed-like PNGs are RGBA with an embedded profile and some transparency', async () => {
    const big = await inspectImage(await pngWithIccProfile400());
    expect(big).toMatchObject({ format: 'png', width: 400, height: 400, channels: 4, hasIcc: true });
    expect(big.pixel(10, 10)[3]).toBe(SEMI_TRANSPARENT_ALPHA);
    expect(big.pixel(390, 10)[3]).toBe(255);
    expect(await inspectImage(await png50())).toMatchObject({ width: 50, height: 50, hasIcc: true });
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('orientation %i carries the EXIF tag and stores the pixels turned', async (n) => {
    const image = await inspectImage(await jpegWithOrientation(n));
    expect(image.orientation).toBe(n);
    const sideways = n >= 5;
    expect([image.width, image.height]).toEqual(
      sideways ? [ORIENTATION_UPRIGHT.height, ORIENTATION_UPRIGHT.width] : [ORIENTATION_UPRIGHT.width, ORIENTATION_UPRIGHT.height],
    );
    if (n === 1) expect(image.pixel(2, 2)[0]).toBeGreaterThan(200);
    // Orientation 6 needs a clockwise turn: red (top left when upright) is stored top right.
    if (n === 6) expect(image.pixel(image.width - 3, 2)[0]).toBeGreaterThan(200);
  });

  it('makes the colour-managed and unusual inputs it claims', async () => {
    expect(await inspectImage(await cmykJpeg())).toMatchObject({ format: 'jpeg', space: 'cmyk', channels: 4 });
    expect(await inspectImage(await displayP3Png())).toMatchObject({ hasIcc: true, depth: 'uchar' });
    expect(await inspectImage(await displayP3Png({ bitDepth: 16 }))).toMatchObject({ hasIcc: true, depth: 'ushort' });
    expect(await inspectImage(await sixteenBitPng())).toMatchObject({ depth: 'ushort', space: 'rgb16', hasIcc: false });
    expect(await inspectImage(await animatedGif(3, 10, 6))).toMatchObject({ format: 'gif', pages: 3, width: 10 });
    expect(await inspectImage(await webp())).toMatchObject({ format: 'webp', hasAlpha: true });
    expect(await inspectImage(await avif())).toMatchObject({ format: 'heif', width: 64, height: 48 });
    expect(await inspectImage(await tiff())).toMatchObject({ format: 'tiff', width: 64, height: 48 });
    expect(await inspectImage(await largeJpeg(320, 200))).toMatchObject({ format: 'jpeg', width: 320, height: 200 });
  });

  it('makes a photo-like JPEG that does not compress like a flat card', async () => {
    const jpeg = await largeJpeg(400, 300);
    expect(jpeg.length).toBeGreaterThan(400 * 300 * 0.2);
  });

  it('writes a well-formed PDF whose xref points at its objects', () => {
    const pdf = minimalPdf();
    const text = pdf.toString('latin1');
    expect(text.startsWith('%PDF-1.4\n')).toBe(true);
    expect(text.trimEnd().endsWith('%%EOF')).toBe(true);
    const xref = Number(/startxref\n(\d+)\n/.exec(text)?.[1]);
    expect(text.slice(xref, xref + 4)).toBe('xref');
    const offsets = [...text.slice(xref).matchAll(/^(\d{10}) 00000 n $/gm)].map((match) => Number(match[1]));
    expect(offsets).toHaveLength(4);
    offsets.forEach((offset, index) => expect(text.slice(offset).startsWith(`${index + 1} 0 obj`)).toBe(true));
  });

  it('has SVG, HEIC and truncation helpers that produce what they say', () => {
    expect(svg().toString()).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
    expect(heic().subarray(4, 12).toString('latin1')).toBe('ftypheic');
    const bytes = Buffer.from('0123456789');
    expect(truncated(bytes, 0.5).toString()).toBe('01234');
    expect(truncated(bytes, 1)).toEqual(bytes);
  });
});
