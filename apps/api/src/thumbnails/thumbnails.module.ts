import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { APP_CONFIG, type Env, presetCatalogue } from '@thumbnail/config';
import { THUMBNAIL_QUEUE } from '@thumbnail/jobs';
import { Storage } from '@thumbnail/storage';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { CallbackUrls } from './callback-urls';
import { IdempotencyKeys } from './idempotency-keys.service';
import { JobCompletionWaiter } from './job-completion-waiter.service';
import { JobDeletionService } from './job-deletion.service';
import { JobRetryService } from './job-retry.service';
import { ListingLimit } from './listing-limit.interceptor';
import { QueueAdmissionService } from './queue-admission.service';
import { ThumbnailQueryService } from './thumbnail-query.service';
import { ThumbnailSubmissionService } from './thumbnail-submission.service';
import { ThumbnailsController } from './thumbnails.controller';
import { UploadLimits } from './upload-limits';
import { UploadSpace } from './upload-space';
import { VariantPresets } from './variant-presets';

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
    JobRetryService,
    IdempotencyKeys,
    { provide: CallbackUrls, inject: [APP_CONFIG], useFactory: (config: Env) => new CallbackUrls(config) },
    ListingLimit,
    { provide: UploadLimits, inject: [APP_CONFIG], useFactory: (config: Env) => new UploadLimits(config.MAX_UPLOAD_BYTES) },
    {
      provide: VariantPresets,
      inject: [APP_CONFIG],
      useFactory: (config: Env) => new VariantPresets(presetCatalogue(config), config.MAX_VARIANTS_PER_JOB),
    },
    {
      provide: UploadSpace,
      inject: [APP_CONFIG, Storage],
      useFactory: (config: Env, storage: Storage) =>
        new UploadSpace({ freeBytes: () => storage.freeBytes(), reserveBytes: config.MIN_FREE_STORAGE_BYTES }),
    },
  ],
  exports: [BullModule, UploadLimits],
})
export class ThumbnailsModule {}
