// Object keys come from the job id alone: a client's file name never reaches a key or a path.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function isJobId(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

export function originalKey(jobId: string): string {
  return `originals/${jobId}`;
}

export function thumbnailKey(jobId: string): string {
  return `thumbnails/${jobId}.png`;
}
