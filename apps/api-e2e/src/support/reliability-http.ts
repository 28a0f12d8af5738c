import { readdirSync, readFileSync } from 'node:fs';
import { request, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { type Answer, call } from './client';

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: unknown;
  /** File bytes the client had written when the answer arrived. */
  writtenWhenAnswered: number;
}

export interface StreamedUploadOptions {
  /** Size of the file part. */
  fileBytes: number;
  /** The file's first bytes (a real image header); the rest is filler. */
  head?: Buffer;
  /** Stop writing after this many file bytes and keep the request open (a stalled client). */
  stallAfter?: number;
  /** Send the body chunked, without Content-Length. */
  chunked?: boolean;
  /** Query string of the POST, without the `?` (e.g. `fit=contain`). */
  query?: string;
}

export interface StreamedUpload {
  /** The answer; rejects if the connection ended before one came. */
  answer: Promise<RawAnswer>;
  /** Resolves once `stallAfter` file bytes are written. */
  stalled: Promise<void>;
  /** Goes away mid-request: the socket is destroyed without finishing the body. */
  abort(): void;
}

const BOUNDARY = 'reliability-e2e-boundary';
const FILLER = Buffer.alloc(64 * 1024, 0x5a);

/** The multipart body around a file in the field "file", and its total length. */
function multipartFrame(fileBytes: number): { preamble: Buffer; epilogue: Buffer; length: number } {
  const preamble = Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n`,
  );
  const epilogue = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
  return { preamble, epilogue, length: preamble.length + fileBytes + epilogue.length };
}

/**
 * POST /thumbnail as a client with a large file would send it: multipart, generated while it is
 * written (so 50 uploads of 20 MiB do not sit in the test's memory), honouring backpressure,
 * and able to stall or vanish part-way. It reads while it writes and stops writing once an
 * answer arrives; if the connection fails first, `answer` rejects with that error.
 */
export function streamUpload(api: string, options: StreamedUploadOptions): StreamedUpload {
  const { preamble, epilogue, length } = multipartFrame(options.fileBytes);
  const headers: Record<string, string> = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };
  if (options.chunked) headers['transfer-encoding'] = 'chunked';
  else headers['content-length'] = String(length);

  let written = 0;
  let answered = false;
  let markStalled: () => void = () => undefined;
  const stalled = new Promise<void>((resolve) => (markStalled = resolve));
  const path = options.query ? `/thumbnail?${options.query}` : '/thumbnail';
  const req: ClientRequest = request(`${api}${path}`, { method: 'POST', headers });
  const answer = new Promise<RawAnswer>((resolve, reject) => {
    req.on('response', (response) => {
      answered = true;
      const writtenWhenAnswered = written;
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: response.statusCode ?? 0, headers: response.headers, text, json: parseJson(text), writtenWhenAnswered });
      });
      response.on('error', reject);
    });
    // A server that answers early and closes makes the rest of our writes fail: not an error
    // once the answer is in.
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
  });
  answer.catch(() => undefined);

  const write = (chunk: Buffer): Promise<boolean> =>
    new Promise((resolve) => {
      if (answered || req.destroyed) return resolve(false);
      if (req.write(chunk)) return resolve(true);
      const done = () => {
        req.off('drain', done);
        req.off('close', done);
        resolve(!answered && !req.destroyed);
      };
      req.once('drain', done);
      req.once('close', done);
    });

  void (async () => {
    if (!(await write(preamble))) return;
    const head = options.head ?? Buffer.alloc(0);
    let file = 0;
    while (file < options.fileBytes) {
      if (options.stallAfter !== undefined && file >= options.stallAfter) {
        markStalled();
        return;
      }
      const source = file < head.length ? head.subarray(file) : FILLER;
      const limit = Math.min(options.fileBytes, options.stallAfter ?? Infinity) - file;
      const chunk = source.subarray(0, Math.min(source.length, limit));
      if (!(await write(chunk))) return;
      file += chunk.length;
      written = file;
    }
    if (options.stallAfter !== undefined) markStalled();
    if (await write(epilogue)) req.end();
  })();

  return { answer, stalled, abort: () => void req.destroy() };
}

/**
 * An upload from a client that sends the whole request before it reads the answer, as Python's
 * requests and many other simple clients do: it does not read while writing. Resolves with the
 * status line's code, or rejects with the error that ended the upload (EPIPE, ECONNRESET).
 */
export function uploadThenRead(api: string, options: { fileBytes: number; head: Buffer }): Promise<number> {
  const { hostname, port } = new URL(api);
  const { preamble, epilogue, length } = multipartFrame(options.fileBytes);
  const head = Buffer.from(
    `POST /thumbnail HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\n` +
      `Content-Length: ${length}\r\nConnection: close\r\n\r\n`,
  );
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.pause(); // nothing is read until the whole request is written
    const chunks: Buffer[] = [];
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      const statusLine = /^HTTP\/1\.1 (\d{3})/.exec(Buffer.concat(chunks).toString('latin1'));
      if (statusLine) resolve(Number(statusLine[1]));
      else reject(new Error('connection ended without an answer'));
    });
    const write = (chunk: Buffer) =>
      new Promise<void>((done) => (socket.write(chunk) ? done() : socket.once('drain', () => done())));
    void (async () => {
      await write(head);
      await write(preamble);
      await write(options.head);
      for (let sent = options.head.length; sent < options.fileBytes && !socket.destroyed; ) {
        const chunk = FILLER.subarray(0, Math.min(FILLER.length, options.fileBytes - sent));
        await write(chunk);
        sent += chunk.length;
      }
      if (socket.destroyed) return;
      await write(epilogue);
      socket.resume();
    })();
  });
}

/**
 * POST `body` (a FormData) with headers and body in one write, so the server has the whole
 * request before it can answer: an early answer cannot race the rest of the body.
 */
export async function postAtOnce(url: string, body: FormData, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const encoded = new Response(body);
  const bytes = Buffer.from(await encoded.arrayBuffer());
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': encoded.headers.get('content-type') ?? '', 'content-length': String(bytes.length), ...headers },
    });
    req.on('error', reject);
    req.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: response.statusCode ?? 0, headers: response.headers, text, json: parseJson(text), writtenWhenAnswered: bytes.length });
      });
    });
    req.end(bytes);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Resident memory of a process, from /proc: now (VmRSS) and its peak so far (VmHWM), in bytes. */
export function processMemory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

export const MIB = 1024 * 1024;

/** Whether process `pid` still exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The value of one Prometheus sample, e.g. `thumbnail_jobs_finished_total{outcome="complete",code=""}`; 0 if absent. */
export async function metric(url: string, sample: string): Promise<number> {
  const text = (await call(`${url}/metrics`)).text;
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

/** Retries `probe` until it stops throwing, or throws its last error after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T> | T, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }
}

/** Waits until `<url>/health/ready` answers 200. */
export async function untilReady(url: string, timeoutMs = 20_000): Promise<void> {
  await eventually(async () => {
    const ready = await call(`${url}/health/ready`);
    if (ready.status !== 200) throw new Error(`${url} not ready: ${ready.text}`);
  }, timeoutMs, 200);
}

/**
 * Writes in progress under the disk storage (`<root>/.tmp`), without the readiness probe's own
 * short-lived `ping-*` files.
 */
export function pendingWrites(storageDir: string): string[] {
  try {
    return readdirSync(join(storageDir, '.tmp')).filter((name) => !name.startsWith('ping-'));
  } catch {
    return [];
  }
}

/** The job id of an upload the API accepted; throws with the answer if it was not a 202. */
export function acceptedId(answer: Answer): string {
  if (answer.status !== 202) throw new Error(`upload answered ${answer.status}: ${answer.text}`);
  return (answer.json as { data: { job_id: string } }).data.job_id;
}

/** How many jobs GET /thumbnail lists (up to 500). */
export async function listedCount(api: string, headers: Record<string, string> = {}): Promise<number> {
  const page = await call(`${api}/thumbnail?limit=500`, { headers });
  if (page.status !== 200) throw new Error(`list answered ${page.status}: ${page.text}`);
  return page.json.data.length;
}
