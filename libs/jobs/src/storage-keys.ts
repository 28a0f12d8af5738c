import { DEFAULT_PRESET, type PresetFormat } from '@thumbnail/config';

// Object keys come from the job id (and an operator's preset name): a client's file name never
// reaches a key or a path.
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

/**
 * Where a variant is stored. The `default` variant keeps the original service's key
 * (`thumbnails/<id>.png`, or its format's extension when an operator redefines it); the others
 * add their preset name, whose characters config allows only from [a-z0-9_-].
 */
export function variantKey(jobId: string, variant: { name: string; format: PresetFormat }): string {
  const extension = FILE_EXTENSIONS[variant.format];
  return variant.name === DEFAULT_PRESET ? `thumbnails/${jobId}.${extension}` : `thumbnails/${jobId}.${variant.name}.${extension}`;
}

const FILE_EXTENSIONS: Record<PresetFormat, string> = { png: 'png', webp: 'webp', avif: 'avif', jpeg: 'jpg' };

/** The Content-Type each format is stored and served with. */
export const VARIANT_CONTENT_TYPES: Record<PresetFormat, string> = {
  png: 'image/png',
  webp: 'image/webp',
  avif: 'image/avif',
  jpeg: 'image/jpeg',
};
