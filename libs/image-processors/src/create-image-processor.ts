import type { ImageProcessor } from '@thumbnail/imaging';
import { SharpImageProcessor, type SharpImageProcessorOptions } from './image-processor';
import { SmallPngProcessor } from './small-png-processor';

export interface ImageProcessorOptions extends SharpImageProcessorOptions {
  /** Small RGBA PNGs through @napi-rs/image (SMALL_PNG_FAST_PATH); sharp does the rest. */
  smallPngFastPath: boolean;
}

/** The worker's processor: sharp, fronted by the small-PNG fast path unless it is turned off. */
export function createImageProcessor(options: ImageProcessorOptions): ImageProcessor {
  const { smallPngFastPath, ...sharpOptions } = options;
  const sharp = new SharpImageProcessor(sharpOptions);
  return smallPngFastPath ? new SmallPngProcessor(sharp) : sharp;
}
