// The image libraries (sharp, @napi-rs/image) are used by this library only, so that the API,
// which just inspects uploads, never loads them (~20 MiB of RSS each).
export { createImageProcessor, type ImageProcessorOptions } from './create-image-processor';
export { SharpImageProcessor, type SharpImageProcessorOptions } from './image-processor';
export { SmallPngProcessor, readSmallPlainPng, SMALL_PNG_MAX_PIXELS } from './small-png-processor';
