// Pure parsing and the processor port: nothing here loads an image library (the processors are
// in @thumbnail/image-processors).
export { ACCEPTED_FORMATS, SNIFF_BYTES, sniffImageType, type ImageFormat, type SniffedImage } from './sniff-image-type';
export { readDeclaredDimensions, type DeclaredDimensions } from './declared-dimensions';
export type { ThumbnailFit, ThumbnailPlan } from './thumbnail-plan';
export {
  ImageRejectedError,
  ImageTimeoutError,
  ImageTooLargeError,
  InvalidImageError,
  type ImageRejectionCode,
} from './image-errors';
export { ImageProcessor, type Thumbnail } from './image-processor.port';
// What the processors read from headers before choosing how to decode.
export { readEmbeddedColourProfile, type EmbeddedColourProfile } from './embedded-colour-profile';
export { isSrgbIccProfile } from './srgb-icc-profile';
export { ascii, u32be, u8 } from './byte-reading';
