/** The API spoken to the way a client's script does: multipart upload, job polling, downloads. */

/** Where the API listens, and the API key its requests carry (null: API keys are off). */
export interface ApiEndpoint {
  url: string;
  apiKey: string | null;
}

function authorization(apiKey: string | null): Record<string, string> {
  return apiKey === null ? {} : { authorization: `Bearer ${apiKey}` };
}

/** A job record as GET /thumbnail/:id answers it; the tests' assertions check its shape. */
export interface Job {
  _id: string;
  status: string;
  attempts: number;
  thumbnailLink: string | null;
  completedAt?: string;
  error?: { code: string };
}

/** POST /thumbnail with the image in the multipart field `file`; resolves with the job id. */
export async function submit(api: ApiEndpoint, image: Buffer, filename = 'picture.png'): Promise<string> {
  const body = new FormData();
  body.append('file', new Blob([new Uint8Array(image)], { type: 'image/png' }), filename);
  const response = await fetch(`${api.url}/thumbnail`, { method: 'POST', body, headers: authorization(api.apiKey) });
  const text = await response.text();
  if (response.status !== 202) throw new Error(`upload answered ${response.status}: ${text}`);
  return (JSON.parse(text) as { data: { job_id: string } }).data.job_id;
}

export async function getJob(api: ApiEndpoint, id: string, waitSeconds = 0): Promise<Job> {
  const response = await fetch(`${api.url}/thumbnail/${id}${waitSeconds ? `?wait=${waitSeconds}` : ''}`, { headers: authorization(api.apiKey) });
  if (response.status !== 200) throw new Error(`GET /thumbnail/${id} answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { data: Job }).data;
}

/** Holds `?wait=` requests until the job is complete or failed. */
export async function finishedJob(api: ApiEndpoint, id: string, timeoutMs = 60_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(api, id, 10);
    if (job.status === 'complete' || job.status === 'failed') return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
  }
}

/** Polls until the job has the status (e.g. `processing`: a worker has taken it). */
export async function jobReaches(api: ApiEndpoint, id: string, status: string, timeoutMs = 60_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(api, id);
    if (job.status === status) return job;
    if (job.status === 'complete' || job.status === 'failed') throw new Error(`job ${id} ended ${job.status} before it was seen ${status}`);
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Width and height of a PNG, from its IHDR chunk; throws when the bytes are not a PNG. */
export function pngSize(png: Buffer): { width: number; height: number } {
  if (!png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    throw new Error(`not a PNG: ${png.subarray(0, 16).toString('hex')}`);
  }
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** GET of an image: from the API with its key, or a presigned link with none. */
export async function download(url: string, apiKey: string | null = null): Promise<{ status: number; type: string | null; bytes: Buffer }> {
  const response = await fetch(url, { headers: authorization(apiKey) });
  return { status: response.status, type: response.headers.get('content-type'), bytes: Buffer.from(await response.arrayBuffer()) };
}
