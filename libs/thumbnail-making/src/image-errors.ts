export type ImageRejectionCode = 'invalid_image' | 'image_too_large' | 'processing_timeout';

/**
 * The image itself is the problem: the same bytes fail the same way every time, so the job is
 * final (an outcome to record, not a failure to retry). `message` is ours and safe to show a
 * client; the decoder's own words stay in `cause`, for logs only.
 */
export abstract class ImageRejectedError extends Error {
  abstract readonly code: ImageRejectionCode;
  /** Never worth retrying. */
  readonly final = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Not an image we decode: unknown or refused format, truncated or corrupt data. */
export class InvalidImageError extends ImageRejectedError {
  readonly code = 'invalid_image';

  constructor(message = 'The file is not an image this service can read.', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** More pixels than the configured limit, as declared by the image or found while decoding. */
export class ImageTooLargeError extends ImageRejectedError {
  readonly code = 'image_too_large';

  constructor(message = 'The image has more pixels than this service accepts.', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Decoding and resizing took longer than the configured limit. */
export class ImageTimeoutError extends ImageRejectedError {
  readonly code = 'processing_timeout';

  constructor(message = 'The image took too long to process.', options?: { cause?: unknown }) {
    super(message, options);
  }
}
