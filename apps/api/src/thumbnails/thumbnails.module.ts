import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { THUMBNAIL_QUEUE } from '@thumbnail/jobs';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { JobCompletionWaiter } from './job-completion-waiter.service';
import { QueueAdmissionService } from './queue-admission.service';
import { ThumbnailQueryService } from './thumbnail-query.service';
import { ThumbnailSubmissionService } from './thumbnail-submission.service';
import { ThumbnailsController } from './thumbnails.controller';

@Module({
  imports: [BullModule.registerQueue({ name: THUMBNAIL_QUEUE })],
  controllers: [ThumbnailsController],
  providers: [
    ApiKeyGuard,
    ThumbnailSubmissionService,
    ThumbnailQueryService,
    QueueAdmissionService,
    JobCompletionWaiter,
  ],
  exports: [BullModule],
})
export class ThumbnailsModule {}
