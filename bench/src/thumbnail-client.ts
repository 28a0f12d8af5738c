import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import type { TaskOutcome } from './load-loops';

/** Longest any one request may take (a held POST or GET is at most WAIT_SECONDS). */
const REQUEST_TIMEOUT_MS = 60_000;

/**
 * node:http with keep-alive rather than fetch: the client shares the two cores with the service,
 * and fetch (undici) costs about 1 ms more CPU per job here, which the service would
 * otherwise lose.
 */
let agent = new Agent({ keepAlive: true });

/** Closes the kept-alive connections (before the service under test stops). */
export function closeClientConnections(): void {
  agent.destroy();
  agent = new Agent({ keepAlive: true });
}

function send(url: string, method: 'GET' | 'POST', upload?: MultipartUpload): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers = upload ? { 'content-type': upload.contentType, 'content-length': String(upload.body.length) } : undefined;
    const req = request(url, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${url} took over ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(upload?.body);
  });
}

/** How long a POST or GET may hold for completion; the API caps `wait` at its own maximum. */
const WAIT_SECONDS = 30;
/** GETs per job after the POST's own wait, before giving up: each holds up to WAIT_SECONDS. */
const MAX_POLLS = 3;

/** A multipart/form-data body with the image in the field `file` (after any other fields), as a browser would send it. */
export interface MultipartUpload {
  body: Buffer;
  contentType: string;
}

/**
 * Encodes the form once per image: the client shares the cores with the service, so it should
 * cost as little as it can (FormData with a Blob encodes and streams the file again on every
 * request).
 */
export function multipartUpload(file: Buffer, filename: string, contentType: string, fields: Record<string, string> = {}): MultipartUpload {
  const boundary = `----bench${randomBytes(12).toString('hex')}`;
  const fieldParts = Object.entries(fields).map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  const head = Buffer.from(
    `${fieldParts.join('')}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${contentType}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: Buffer.concat([head, file, tail]), contentType: `multipart/form-data; boundary=${boundary}` };
}

/**
 * Where one job's time went, from the job record's timestamps (each process's wall clock; same
 * machine, millisecond resolution).
 */
export interface JobPhases {
  /** POST sent until the record was created: upload, checks, storing the original. */
  upload: number;
  /** Record created until the worker marked it processing: queue add, pick-up. */
  queued: number;
  /** Processing until complete: read original, makeThumbnail, store thumbnail, update record. */
  processing: number;
  /** Complete until the client saw it: queue completion, event to the API, answer. */
  notify: number;
}

interface JobRecord {
  status: string;
  createdAt?: string;
  startedAt?: string | null;
  completedAt?: string | null;
}

/** Reads the phases from a finished job's timestamps, when the caller wants them. */
function reportPhases(job: JobRecord, sentAt: number, onPhases?: (phases: JobPhases) => void): void {
  if (!onPhases || !job.createdAt || !job.startedAt || !job.completedAt) return;
  const created = Date.parse(job.createdAt);
  const started = Date.parse(job.startedAt);
  const completed = Date.parse(job.completedAt);
  onPhases({ upload: created - sentAt, queued: started - created, processing: completed - started, notify: Date.now() - completed });
}

function outcomeOf(job: JobRecord): TaskOutcome | null {
  if (job.status === 'complete') return 'complete';
  if (job.status === 'failed') return 'failed';
  return null;
}

/**
 * One client's whole job, as a user's script does it: `POST /thumbnail?wait=30`, which answers
 * 201 with the finished job, or 202 if time ran out, after which it GETs
 * `/thumbnail/:id?wait=30` until the job is complete or failed. Throws on anything else.
 */
export async function submitAndWait(api: string, upload: MultipartUpload, onPhases?: (phases: JobPhases) => void): Promise<TaskOutcome> {
  const sentAt = Date.now();
  const posted = await send(`${api}/thumbnail?wait=${WAIT_SECONDS}`, 'POST', upload);
  if (posted.status !== 201 && posted.status !== 202) {
    throw new Error(`POST /thumbnail answered ${posted.status}: ${posted.text.slice(0, 200)}`);
  }
  const answer = (JSON.parse(posted.text) as { data: JobRecord & { job_id: string } }).data;
  const postedOutcome = outcomeOf(answer);
  if (posted.status === 201 && postedOutcome) {
    if (postedOutcome === 'complete') reportPhases(answer, sentAt, onPhases);
    return postedOutcome;
  }
  const id = answer.job_id;
  for (let poll = 0; poll < MAX_POLLS; poll++) {
    const { status, text } = await send(`${api}/thumbnail/${id}?wait=${WAIT_SECONDS}`, 'GET');
    if (status !== 200) throw new Error(`GET /thumbnail/${id} answered ${status}: ${text.slice(0, 200)}`);
    const job = (JSON.parse(text) as { data: JobRecord }).data;
    const outcome = outcomeOf(job);
    if (outcome === 'complete') reportPhases(job, sentAt, onPhases);
    if (outcome) return outcome;
  }
  throw new Error(`job ${id} not finished after ${(MAX_POLLS + 1) * WAIT_SECONDS} s`);
}
