/** Multipart bodies written by hand, for the malformed requests FormData refuses to produce. */

const BOUNDARY = '----bad-input-boundary-4f1d';

export interface RawRequest {
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * One file part, `cut` to the first N bytes of the whole body when given: what a client that
 * dies mid-upload sends (the request itself is complete; its multipart body is not).
 */
export function cutMultipart(file: Buffer, options: { filename?: string; cut: number }): RawRequest {
  const head = Buffer.from(
    `--${BOUNDARY}\r\n` +
      `Content-Disposition: form-data; name="file"; filename="${options.filename ?? 'image.png'}"\r\n` +
      'Content-Type: image/png\r\n\r\n',
  );
  const whole = Buffer.concat([head, file, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
  return {
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    body: whole.subarray(0, options.cut),
  };
}

/**
 * The form as one buffer, so it goes out in a single write. Streamed (fetch's default for
 * FormData), the tail of a refused request can reach the API after it has answered and closed
 * the connection, and the client sees EPIPE instead of the answer about 1% of the time; these
 * tests are about the answer, not that race.
 */
export async function serialised(body: FormData): Promise<RawRequest> {
  const encoded = new Response(body);
  return {
    headers: { 'content-type': encoded.headers.get('content-type') as string },
    body: Buffer.from(await encoded.arrayBuffer()),
  };
}
