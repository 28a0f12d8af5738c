import type { Storage } from '@thumbnail/storage';
import type { ThumbnailJob } from './thumbnail-job';

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
  error?: { code: string; message: string };
}

export function toJobView(job: ThumbnailJob, thumbnailLink: string | null): JobView {
  const view: JobView = {
    _id: job.id,
    filename: job.originalKey,
    originalFilename: job.originalFilename,
    status: job.status,
    thumbnailFilename: job.thumbnailKey,
    thumbnailLink: job.status === 'complete' ? thumbnailLink : null,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    completedAt: job.completedAt?.toISOString() ?? null,
    attempts: job.attempts,
    fit: job.fit,
    width: job.width,
    height: job.height,
    contentType: job.contentType,
    bytes: job.bytes,
  };
  if (job.error) view.error = job.error;
  return view;
}

/**
 * The view with its `thumbnailLink`: a presigned link where storage hands them out
 * (S3_PUBLIC_ENDPOINT), otherwise the API's own route under `baseUrl` (PUBLIC_URL, or the
 * request's host in the API).
 */
export async function viewJob(job: ThumbnailJob, storage: Storage, baseUrl: string): Promise<JobView> {
  if (job.status !== 'complete' || !job.thumbnailKey) return toJobView(job, null);
  const presigned = await storage.publicUrl(job.thumbnailKey).catch(() => null);
  return toJobView(job, presigned ?? `${baseUrl.replace(/\/+$/, '')}/thumbnail/${job.id}/image`);
}
