import { DEFAULT_PRESET } from '@thumbnail/config';
import type { Storage } from '@thumbnail/storage';
import { variantKey } from './storage-keys';
import type { JobPlaceholder, ThumbnailJob } from './thumbnail-job';

/**
 * The job as clients see it: GET /thumbnail/:id answers it and webhooks carry it as `data`. The
 * first seven keys are the original service's; keep their names and meaning, clients depend on
 * them. The callback URL is not shown: it may carry the receiver's own token.
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
 * The view with each variant's link: a presigned link where storage hands them out
 * (S3_PUBLIC_ENDPOINT), otherwise the API's own route under `baseUrl` (PUBLIC_URL, or the
 * request's host in the API).
 */
export async function viewJob(job: ThumbnailJob, storage: Storage, baseUrl: string): Promise<JobView> {
  if (job.status !== 'complete') return toJobView(job, null);
  const base = baseUrl.replace(/\/+$/, '');
  const links = new Map<string, string>();
  for (const variant of job.variants) {
    const presigned = await storage.publicUrl(variantKey(job.id, variant)).catch(() => null);
    const query = variant.name === DEFAULT_PRESET ? '' : `?variant=${encodeURIComponent(variant.name)}`;
    links.set(variant.name, presigned ?? `${base}/thumbnail/${job.id}/image${query}`);
  }
  return toJobView(job, links);
}
