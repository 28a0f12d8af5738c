import type { ImageProcessor } from './image-processor.port';
import { SharpImageProcessor, type SharpImageProcessorOptions } from './image-processor';
import { SmallPngProcessor } from './small-png-processor';

export interface ImageProcessorOptions extends SharpImageProcessorOptions {
  /** Small RGBA PNGs through @napi-rs/image (SMALL_PNG_FAST_PATH); sharp does the rest. */
  smallPngFastPath: boolean;
  /** Told when the fast path failed on an image it took, which then goes to sharp. */
  onFastPathFallback?: (reason: unknown) => void;
}

/** The worker's processor: sharp, fronted by the small-PNG fast path unless it is turned off. */
export function createImageProcessor(options: ImageProcessorOptions): ImageProcessor {
  const { smallPngFastPath, onFastPathFallback, ...sharpOptions } = options;
  const sharp = new SharpImageProcessor(sharpOptions);
  return smallPngFastPath ? new SmallPngProcessor(sharp, onFastPathFallback) : sharp;
}
