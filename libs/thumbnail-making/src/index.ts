// What the worker needs to make a thumbnail. The image libraries (sharp, @napi-rs/image) are
// loaded here and nowhere else; lint keeps the API and the shared libraries from importing this.
export { ImageProcessor, MAX_PLANS, type EncodedImage, type MadeVariants, type Thumbnail } from './image-processor.port';
export type { OutputFormat, ThumbnailFit, ThumbnailPlan, VariantPlan } from './thumbnail-plan';
export {
  ImageRejectedError,
  ImageTimeoutError,
  ImageTooLargeError,
  InvalidImageError,
  type ImageRejectionCode,
} from './image-errors';
export { createImageProcessor, type ImageProcessorOptions } from './create-image-processor';
export { SharpImageProcessor, type SharpImageProcessorOptions } from './image-processor';
export { SmallPngProcessor, readSmallPlainPng, SMALL_PNG_MAX_PIXELS } from './small-png-processor';
export { imageSlotBytes } from './decode-memory';
export { WORKER_BASE_BYTES, workerMemoryBytes, type WorkerMemorySettings } from './worker-memory';
