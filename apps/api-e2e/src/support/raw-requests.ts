import { readdirSync, readlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

/** What became of a request written by hand on its own connection. */
export interface RawOutcome {
  /** The status line's code, or null when the connection closed without an answer. */
  status: number | null;
  /** The answer's body (JSON for the API's errors). */
  body: string;
  /** Milliseconds from the last byte the client sent to the answer (or to the close, without one). */
  afterLastByteMs: number;
  /** True when the server closed the connection (after answering or not). */
  closed: boolean;
}

export interface RawClient {
  /** Resolves with the answer once one has fully arrived, or the close, or `giveUpMs` of nothing. */
  outcome: Promise<RawOutcome>;
  socket: Socket;
}

/** A step of a hand-written request: bytes to write, a pause, or a half-close. */
export type Step = Buffer | string | { pauseMs: number } | 'end';

/**
 * Opens a connection to `api`, plays `steps` (writes, pauses, a half-close), and reports what the
 * server did. Nothing is retried or completed on the client's behalf: a request that stops
 * part-way stays that way, with the connection open, until the server acts or `giveUpMs` passes.
 */
export function rawRequest(api: string, steps: Step[], giveUpMs: number): RawClient {
  const { hostname, port } = new URL(api);
  const socket = connect({ host: hostname, port: Number(port) });
  let received = Buffer.alloc(0);
  let lastByteAt = Date.now();
  const outcome = new Promise<RawOutcome>((resolve) => {
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const text = received.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const body = text.includes('\r\n\r\n') ? text.slice(text.indexOf('\r\n\r\n') + 4) : '';
      resolve({ status: status ? Number(status[1]) : null, body, afterLastByteMs: Date.now() - lastByteAt, closed });
    };
    const timer = setTimeout(() => finish(false), giveUpMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (answerComplete(received)) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => undefined);
  });
  void (async () => {
    for (const step of steps) {
      if (socket.destroyed) return;
      if (typeof step === 'object' && 'pauseMs' in step) {
        await new Promise((resolve) => setTimeout(resolve, step.pauseMs));
        continue;
      }
      if (step === 'end') socket.end();
      else await new Promise<void>((resolve) => socket.write(step, () => resolve()));
      lastByteAt = Date.now();
    }
  })();
  return { outcome, socket };
}

/** True once `bytes` hold a status line, headers and a body of the Content-Length they declare. */
function answerComplete(bytes: Buffer): boolean {
  const text = bytes.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
  return length !== null && bytes.length >= end + 4 + Number(length[1]);
}

export const BOUNDARY = 'unfinished-bodies-boundary';

/** The request line and headers of an upload whose body is `length` bytes (or chunked). */
export function uploadHead(length: number | 'chunked', extra = ''): string {
  const framing = length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`;
  return `POST /thumbnail HTTP/1.1\r\nHost: api\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\n${framing}\r\n${extra}\r\n`;
}

/** The multipart body of one file in the field "file": its opening, the file, its closing. */
export function uploadBody(file: Buffer): { opening: Buffer; file: Buffer; closing: Buffer; whole: Buffer } {
  const opening = Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="cut.png"\r\nContent-Type: image/png\r\n\r\n`,
  );
  const closing = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
  return { opening, file, closing, whole: Buffer.concat([opening, file, closing]) };
}

/** One chunk of a chunked body. */
export function chunk(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]);
}

/** File descriptors a process holds, by what they point at: sockets, files under `dir`, the rest. */
export function openDescriptors(pid: number, dir: string): { sockets: number; underDir: string[]; total: number } {
  const targets = readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return ''; // closed between the listing and the read
    }
  });
  return {
    sockets: targets.filter((target) => target.startsWith('socket:')).length,
    underDir: targets.filter((target) => target.startsWith(dir)),
    total: targets.length,
  };
}
