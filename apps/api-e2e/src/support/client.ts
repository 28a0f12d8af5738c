/** A small HTTP client for the tests, speaking to the API the way a user's script would. */

/**
 * A parsed JSON answer. Tests read its fields freely (`json.data.job_id`, `json.error.code`) and
 * their assertions are what checks the shape, so it is left untyped.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  text: string;
  json: T;
}

export async function call<T = Json>(url: string, init?: RequestInit): Promise<Answer<T>> {
  const response = await fetch(url, init);
  const text = await response.text();
  let json: Json = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export function form(file: Buffer | null, options: { field?: string; filename?: string; fit?: string; type?: string } = {}): FormData {
  const body = new FormData();
  if (options.fit) body.append('fit', options.fit);
  if (file) {
    body.append(options.field ?? 'file', new Blob([new Uint8Array(file)], { type: options.type ?? 'image/png' }), options.filename ?? 'image.png');
  }
  return body;
}

export async function submit(
  api: string,
  file: Buffer,
  options: Parameters<typeof form>[1] = {},
  signal?: AbortSignal,
): Promise<Answer<Json>> {
  return call(`${api}/thumbnail`, { method: 'POST', body: form(file, options), signal });
}

/** Submits and waits for the job to finish using `?wait=`. */
export async function submitAndWait(api: string, file: Buffer, options: Parameters<typeof form>[1] = {}): Promise<Json> {
  const answer = await submit(api, file, options);
  if (answer.status !== 202) throw new Error(`submit answered ${answer.status}: ${answer.text}`);
  return waitFor(api, answer.json.data.job_id);
}

export async function waitFor(api: string, id: string, seconds = 30): Promise<Json> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const answer = await call(`${api}/thumbnail/${id}?wait=10`);
    const job = answer.json?.data;
    if (job && (job.status === 'complete' || job.status === 'failed')) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job?.status} after ${seconds}s`);
  }
}

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
