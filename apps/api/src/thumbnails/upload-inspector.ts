import { Transform, type TransformCallback } from 'node:stream';
import {
  MAX_IMAGE_SIDE,
  readDeclaredDimensions,
  REFUSED_FORMATS,
  sniffImageType,
  SNIFF_BYTES,
  type SniffedImage,
} from '@thumbnail/upload-inspection';
import { errors } from '../errors/api-error';

/** How far into the file we look for the declared dimensions (JPEG EXIF can push SOF back). */
const HEADER_WINDOW_BYTES = 64 * 1024;

export interface UploadLimits {
  maxBytes: number;
  maxPixels: number;
}

/**
 * Sits between the upload and storage: counts bytes, recognises the image type from its first
 * bytes and refuses a declared size over the pixel limit or with a side over MAX_IMAGE_SIDE, all
 * while the bytes stream through. What else an image costs to make (its bit depth, channels,
 * interlacing) the worker judges from what its decoder reads.
 * Any refusal errors the stream, which makes storage discard what it had written.
 */
export class UploadInspector extends Transform {
  bytes = 0;
  image: SniffedImage | null = null;
  dimensions: { width: number; height: number } | null = null;
  private head: Buffer[] = [];
  private headLength = 0;
  private released = false;

  constructor(private readonly limits: UploadLimits) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limits.maxBytes) return callback(errors.fileTooLarge(this.limits.maxBytes));
    if (this.released) return callback(null, chunk);
    this.head.push(chunk);
    this.headLength += chunk.length;
    try {
      if (this.inspect(false)) this.release();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (!this.released) {
        this.inspect(true);
        this.release();
      }
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  /** True once nothing more needs to be learnt from the head. */
  private inspect(atEnd: boolean): boolean {
    if (!atEnd && this.headLength < SNIFF_BYTES) return false;
    const head = this.head.length === 1 ? this.head[0] : Buffer.concat(this.head);
    this.head = [head];
    if (head.length === 0) throw errors.fileRequired('The file is empty.');
    if (!this.image) {
      const image = sniffImageType(head);
      if (!image) throw errors.unsupportedMediaType();
      const refusal = REFUSED_FORMATS[image.format];
      if (refusal) throw errors.unsupportedMediaType(refusal);
      this.image = image;
    }
    const dimensions = readDeclaredDimensions(head, this.image.format);
    if (dimensions) {
      this.dimensions = { width: dimensions.width, height: dimensions.height };
      if (dimensions.width * dimensions.height > this.limits.maxPixels) {
        throw errors.imageTooLarge(dimensions.width, dimensions.height, this.limits.maxPixels);
      }
      if (Math.max(dimensions.width, dimensions.height) > MAX_IMAGE_SIDE) {
        throw errors.imageSideTooLong(dimensions.width, dimensions.height, MAX_IMAGE_SIDE);
      }
      return true;
    }
    // Not found yet: keep looking within the window; past it the worker's own limit applies.
    return atEnd || this.headLength >= HEADER_WINDOW_BYTES;
  }

  private release(): void {
    this.released = true;
    for (const chunk of this.head) this.push(chunk);
    this.head = [];
  }
}
