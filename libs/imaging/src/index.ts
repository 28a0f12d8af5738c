// Pure parsing and the processor port: nothing here loads an image library (see processors.ts).
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
