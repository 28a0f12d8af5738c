import { Injectable, Logger } from '@nestjs/common';
import { isFinished, JobStore, JobStoreUnavailableError, removeFinishedJob } from '@thumbnail/jobs';
import { Storage, StorageUnavailableError } from '@thumbnail/storage';
import { errors } from '../errors/api-error';
import { ThumbnailQueryService } from './thumbnail-query.service';

/**
 * DELETE /thumbnail/:id: removes a finished job's thumbnail, its original if still kept, and its
 * record, for clients whose images must not outlive their use.
 *
 * Only finished jobs: a worker may still write a waiting or processing job's thumbnail, which
 * would then outlive its record. A client waits for the job (`?wait=`) and deletes it after.
 */
@Injectable()
export class JobDeletionService {
  private readonly logger = new Logger(JobDeletionService.name);

  constructor(
    private readonly query: ThumbnailQueryService,
    private readonly jobStore: JobStore,
    private readonly storage: Storage,
  ) {}

  async delete(id: string, owner: string | null): Promise<void> {
    const job = await this.query.find(id, owner);
    if (!isFinished(job.status)) throw errors.notFinished(job.status);
    try {
      // If storage fails, the record stays and a retried DELETE finishes the work.
      await removeFinishedJob(job, this.jobStore, this.storage);
    } catch (error) {
      if (error instanceof StorageUnavailableError) throw errors.unavailable('Storage', error);
      if (error instanceof JobStoreUnavailableError) throw errors.unavailable('The job store');
      throw error;
    }
    this.logger.log({ jobId: job.id, status: job.status }, 'Job deleted');
  }
}
