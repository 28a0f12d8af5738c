// What the API needs to inspect an upload before storing it: the format from its bytes and the
// size its header declares. Nothing here loads an image library.
export {
  ACCEPTED_FORMATS,
  ACCEPTED_MEDIA_TYPES,
  REFUSED_FORMATS,
  SNIFF_BYTES,
  sniffImageType,
  type ImageFormat,
  type SniffedImage,
} from './sniff-image-type';
export { readDeclaredDimensions, type DeclaredDimensions } from './declared-dimensions';
export { MAX_IMAGE_SIDE } from './image-side-limit';
