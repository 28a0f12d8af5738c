// The image libraries (sharp, @napi-rs/image) load with this entry point only, so that a
// process that just inspects uploads (the API) never maps them: ~20 MiB of RSS each.
export { createImageProcessor, type ImageProcessorOptions } from './create-image-processor';
export { SharpImageProcessor, type SharpImageProcessorOptions } from './image-processor';
export { SmallPngProcessor, readSmallPlainPng, SMALL_PNG_MAX_PIXELS } from './small-png-processor';
