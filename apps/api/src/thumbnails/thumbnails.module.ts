import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import { THUMBNAIL_QUEUE } from '@thumbnail/jobs';
import { Storage } from '@thumbnail/storage';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { JobCompletionWaiter } from './job-completion-waiter.service';
import { JobDeletionService } from './job-deletion.service';
import { QueueAdmissionService } from './queue-admission.service';
import { ThumbnailQueryService } from './thumbnail-query.service';
import { ThumbnailSubmissionService } from './thumbnail-submission.service';
import { ThumbnailsController } from './thumbnails.controller';
import { UploadSpace } from './upload-space';

@Module({
  imports: [BullModule.registerQueue({ name: THUMBNAIL_QUEUE })],
  controllers: [ThumbnailsController],
  providers: [
    ApiKeyGuard,
    ThumbnailSubmissionService,
    ThumbnailQueryService,
    QueueAdmissionService,
    JobCompletionWaiter,
    JobDeletionService,
    {
      provide: UploadSpace,
      inject: [APP_CONFIG, Storage],
      useFactory: (config: Env, storage: Storage) =>
        new UploadSpace({
          freeBytes: () => storage.freeBytes(),
          reserveBytes: config.MIN_FREE_STORAGE_BYTES,
          maxUploadBytes: config.MAX_UPLOAD_BYTES,
        }),
    },
  ],
  exports: [BullModule],
})
export class ThumbnailsModule {}
