import { coverCropBeforeResize } from './cover-crop';

describe('coverCropBeforeResize', () => {
  const box = { width: 100, height: 100, fit: 'cover' as const };

  it('cuts the centre square a thin image shows, instead of scaling it whole', () => {
    expect(coverCropBeforeResize(65_535, 1, box)).toEqual({ left: 32_767, top: 0, width: 1, height: 1 });
    expect(coverCropBeforeResize(1, 65_535, box)).toEqual({ left: 0, top: 32_767, width: 1, height: 1 });
    expect(coverCropBeforeResize(3000, 30, box)).toEqual({ left: 1485, top: 0, width: 30, height: 30 });
    // Smaller than the box both ways: the centre of the box's shape.
    expect(coverCropBeforeResize(48, 32, box)).toEqual({ left: 8, top: 0, width: 32, height: 32 });
  });

  it('keeps the box’s shape for a box that is not square', () => {
    expect(coverCropBeforeResize(10_000, 10, { width: 200, height: 100, fit: 'cover' })).toEqual({ left: 4990, top: 0, width: 20, height: 10 });
  });

  it('leaves images that only shrink, and the other fits, to the resize', () => {
    expect(coverCropBeforeResize(6000, 4000, box)).toBeNull();
    expect(coverCropBeforeResize(65_535, 100, box)).toBeNull();
    expect(coverCropBeforeResize(65_535, 1, { ...box, fit: 'contain' })).toBeNull();
    expect(coverCropBeforeResize(65_535, 1, { ...box, fit: 'fill' })).toBeNull();
  });
});
