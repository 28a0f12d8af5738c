import type { IncomingHttpHeaders } from 'node:http';
import { MAX_CALLBACK_URL_LENGTH } from '@thumbnail/webhooks';
import { type ApiError, errors } from '../errors/api-error';
import { declaredBodyBytes } from './declared-body-bytes';

/** Room for the form around the file: boundaries, part headers, the `fit` field. */
const MULTIPART_SLACK_BYTES = 64 * 1024;

/**
 * The form an upload may be: one file, a few small fields. A field one byte longer than the
 * longest callback URL is cut there, so the cut is seen (`valueTruncated`) and refused. `parts`
 * bounds the fields too; a `fields` limit of its own would hang the upload: past it busboy still
 * hands out a later file, whose bytes @fastify/multipart has stopped feeding it, so reading that
 * file never ends.
 */
const FORM_LIMITS = { files: 1, fieldSize: MAX_CALLBACK_URL_LENGTH + 1, parts: 20 } as const;

/**
 * How big an upload may be, in one place. The header check (before the body is read), the
 * multipart parser and the inspector that counts the bytes as they stream all take their
 * numbers from here.
 */
export class UploadLimits {
  /** The largest body worth reading: the largest file plus its form. */
  readonly bodyBytes: number;

  /** @param fileBytes MAX_UPLOAD_BYTES, the largest file. */
  constructor(readonly fileBytes: number) {
    this.bodyBytes = fileBytes + MULTIPART_SLACK_BYTES;
  }

  /** A body that declares more than any acceptable upload: refused from its header, unread. */
  declaresTooMuch(headers: IncomingHttpHeaders): boolean {
    return (declaredBodyBytes(headers) ?? 0) > this.bodyBytes;
  }

  /** A declared length small enough that reading the rest of a refused body is cheap. */
  declaresReadableBody(headers: IncomingHttpHeaders): boolean {
    const declared = declaredBodyBytes(headers);
    return declared !== undefined && declared <= this.bodyBytes;
  }

  /** For @fastify/multipart: it flags a file one byte over the limit, so the refusal names the limit itself. */
  parserLimits() {
    return { fileSize: this.fileBytes + 1, ...FORM_LIMITS };
  }

  tooLarge(): ApiError {
    return errors.fileTooLarge(this.fileBytes);
  }
}
