import { createImageProcessor } from './create-image-processor';
import { SharpImageProcessor } from './image-processor';
import { SmallPngProcessor } from './small-png-processor';

describe('createImageProcessor', () => {
  const limits = { limitInputPixels: 40_000_000, timeoutSeconds: 10 };

  it('puts the small-PNG fast path in front of sharp by default', () => {
    expect(createImageProcessor({ ...limits, smallPngFastPath: true })).toBeInstanceOf(SmallPngProcessor);
  });

  it('is sharp alone when SMALL_PNG_FAST_PATH is off', () => {
    expect(createImageProcessor({ ...limits, smallPngFastPath: false })).toBeInstanceOf(SharpImageProcessor);
  });
});
