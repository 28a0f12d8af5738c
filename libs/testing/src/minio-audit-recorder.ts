import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One S3 call MinIO served, as its audit log reports it once the call has been answered. */
export interface MinioCall {
  /** MinIO's name for the call: `NewMultipartUpload`, `PutObjectPart`, `AbortMultipartUpload`... */
  api: string;
  bucket: string;
  object: string;
  statusCode: number;
}

export interface MinioAuditRecorder {
  /** Where MinIO posts its audit entries (MINIO_AUDIT_WEBHOOK_ENDPOINT_*). */
  url: string;
  calls(): MinioCall[];
  close(): Promise<void>;
}

interface AuditEntry {
  api?: { name?: string; bucket?: string; object?: string; statusCode?: number };
}

/**
 * An HTTP endpoint on a free loopback port for MinIO's audit webhook, keeping the calls it
 * reports. It tells a test what the code under test asked of MinIO (e.g. the key of a multipart
 * upload it began, which MinIO's ListMultipartUploads will only list when given that key).
 */
export async function startMinioAuditRecorder(): Promise<MinioAuditRecorder> {
  const calls: MinioCall[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      // One JSON entry per line when MinIO batches them.
      for (const line of Buffer.concat(chunks).toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        const { api } = JSON.parse(line) as AuditEntry;
        if (api?.name) calls.push({ api: api.name, bucket: api.bucket ?? '', object: api.object ?? '', statusCode: api.statusCode ?? 0 });
      }
      response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    calls: () => [...calls],
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
