import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';

/** Files and HTTP calls the scrape test drives the API with, the way a client would. */

export interface TrafficFiles {
  png: Buffer;
  /** The first half of `png`: the API accepts it (the header is fine), the worker cannot decode it. */
  truncatedPng: Buffer;
  pdf: Buffer;
}

export interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface FinishedJob {
  _id: string;
  status: 'complete' | 'failed';
  error?: { code: string; message: string };
}

/**
 * Pseudo-random pixels (a fixed LCG, so every run uploads the same bytes) barely compress: cut
 * in half, the PNG loses most of its image data rather than a trailer a decoder could skip.
 */
export async function trafficFiles(): Promise<TrafficFiles> {
  const width = 160;
  const height = 120;
  const pixels = Buffer.alloc(width * height * 3);
  let seed = 12345;
  for (let i = 0; i < pixels.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    pixels[i] = seed >>> 24;
  }
  const png = await sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
  return {
    png,
    truncatedPng: png.subarray(0, Math.floor(png.length / 2)),
    pdf: Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n'),
  };
}

export async function call(url: string, init?: RequestInit): Promise<Answer> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text for the failure message
  }
  return { status: response.status, body };
}

export function upload(api: string, file: Buffer, options: { filename?: string; type?: string } = {}): Promise<Answer> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(file)], { type: options.type ?? 'image/png' }), options.filename ?? 'image.png');
  return call(`${api}/thumbnail`, { method: 'POST', body: form });
}

/** Uploads, expects 202, and holds on `?wait=` until the job is complete or failed. */
export async function uploadAndWait(api: string, file: Buffer, timeoutMs = 30_000): Promise<FinishedJob> {
  const answer = await upload(api, file);
  if (answer.status !== 202) throw new Error(`upload answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const id: string = answer.body.data.job_id;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await call(`${api}/thumbnail/${id}?wait=10`)).body?.data;
    if (job?.status === 'complete' || job?.status === 'failed') return job as FinishedJob;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job?.status} after ${timeoutMs} ms`);
  }
}

export interface WebhookReceiver {
  url: string;
  /** Webhooks received so far. */
  received(): number;
  close(): Promise<void>;
}

/**
 * A receiver for WEBHOOK_URL on 127.0.0.1 that accepts every other webhook (200) and rejects the
 * rest (500), so both delivered and failed deliveries exist to be counted.
 */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  let received = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      received++;
      response.writeHead(received % 2 === 0 ? 500 : 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
