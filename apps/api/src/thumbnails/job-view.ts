import { DEFAULT_PRESET } from '@thumbnail/config';
import type { JobPlaceholder, ThumbnailJob } from '@thumbnail/jobs';

/**
 * The job as clients see it. The first seven keys are the original service's; keep their names
 * and meaning, clients depend on them.
 */
export interface JobView {
  _id: string;
  filename: string;
  originalFilename: string;
  status: ThumbnailJob['status'];
  thumbnailFilename: string | null;
  thumbnailLink: string | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  attempts: number;
  fit: ThumbnailJob['fit'];
  width: number;
  height: number;
  contentType: string;
  bytes: number;
  /** Every image the job makes; `bytes` and `link` once it is complete. */
  variants: VariantView[];
  /** Once complete: a ThumbHash of the image to show while a variant loads. */
  placeholder: JobPlaceholder | null;
  error?: { code: string; message: string };
}

export interface VariantView {
  name: string;
  format: ThumbnailJob['variants'][number]['format'];
  /** As made; before that, the preset's box (an upper bound with fit `inside`). */
  width: number;
  height: number;
  bytes: number | null;
  link: string | null;
}

/**
 * @param links where each variant of a complete job can be fetched, by name (`default`'s is
 *   also the original service's `thumbnailLink`); null while the job is not complete.
 */
export function toJobView(job: ThumbnailJob, links: ReadonlyMap<string, string> | null): JobView {
  const complete = job.status === 'complete';
  const view: JobView = {
    _id: job.id,
    filename: job.originalKey,
    originalFilename: job.originalFilename,
    status: job.status,
    thumbnailFilename: job.thumbnailKey,
    thumbnailLink: complete ? (links?.get(DEFAULT_PRESET) ?? null) : null,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    completedAt: job.completedAt?.toISOString() ?? null,
    attempts: job.attempts,
    fit: job.fit,
    width: job.width,
    height: job.height,
    contentType: job.contentType,
    bytes: job.bytes,
    variants: job.variants.map((variant) => ({
      name: variant.name,
      format: variant.format,
      width: variant.output?.width ?? variant.width,
      height: variant.output?.height ?? variant.height,
      bytes: variant.output?.bytes ?? null,
      link: complete ? (links?.get(variant.name) ?? null) : null,
    })),
    placeholder: job.placeholder,
  };
  if (job.error) view.error = job.error;
  return view;
}

/**
 * A display name only: control characters, path parts and excess length removed. It is echoed
 * back in JSON (which escapes it) and never used as a key or path.
 */
export function cleanFilename(raw: string | undefined): string {
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  // Control characters (C0 and C1: terminal escapes) and bidi controls (U+202E makes
  // "x\u202egnp.exe" display as "xexe.png") never survive.
  const printable = base.replace(/[\p{Cc}\p{Bidi_Control}\u2028\u2029]/gu, '').trim();
  return Array.from(printable).slice(0, 255).join('') || 'upload';
}
