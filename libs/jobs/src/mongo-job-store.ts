import mongoose, { type Connection, type Model, type QueryFilter, Schema } from 'mongoose';
import { PRESET_FITS, PRESET_FORMATS } from '@thumbnail/config';
import { isJobStatus, JOB_STATUSES } from './job-status';
import {
  DuplicateJobError,
  type JobListQuery,
  type JobPage,
  JobStore,
  JobStoreUnavailableError,
  type JobTransition,
  type TransitionResult,
} from './job-store';
import { decodeCursor, encodeCursor } from './job-cursor';
import {
  type JobError,
  type JobPlaceholder,
  legacyVariants,
  type NewThumbnailJob,
  THUMBNAIL_FITS,
  type ThumbnailJob,
  type ThumbnailVariant,
  type VariantOutput,
  waitingJob,
} from './thumbnail-job';

/*
 * One document per job in `thumbnail_jobs`, `_id` = the job id. The compound indexes all end in
 * `createdAt: -1, _id: -1`, the list order, so a list query with any mix of owner and status
 * filters reads its page in order from an index, with no in-memory sort.
 * Renaming the collection or a field strands the records already stored.
 */
const COLLECTION = 'thumbnail_jobs';

export interface MongoJobStoreOptions {
  /** Database to use instead of the URL's; authentication still uses the URL's (or its authSource). */
  dbName?: string;
  /** How long an operation waits for a usable server before failing as unavailable. */
  serverSelectionTimeoutMS?: number;
}

/** A job as stored: the record with its id as `_id`. */
type JobDocument = Omit<ThumbnailJob, 'id'> & { _id: string };

function jobSchema(): Schema<JobDocument> {
  const errorSchema = new Schema<JobError>(
    { code: { type: String, required: true }, message: { type: String, required: true } },
    { _id: false, versionKey: false, strict: true },
  );
  const outputSchema = new Schema<VariantOutput>(
    { width: { type: Number, required: true }, height: { type: Number, required: true }, bytes: { type: Number, default: null } },
    { _id: false, versionKey: false, strict: true },
  );
  const variantSchema = new Schema<ThumbnailVariant>(
    {
      name: { type: String, required: true },
      width: { type: Number, required: true },
      height: { type: Number, required: true },
      fit: { type: String, enum: PRESET_FITS, required: true },
      format: { type: String, enum: PRESET_FORMATS, required: true },
      quality: { type: Number, default: null },
      output: { type: outputSchema, default: null },
    },
    { _id: false, versionKey: false, strict: true },
  );
  const placeholderSchema = new Schema<JobPlaceholder>({ thumbhash: { type: String, required: true } }, { _id: false, versionKey: false, strict: true });
  const schema = new Schema<JobDocument>(
    {
      _id: { type: String, required: true },
      status: { type: String, enum: JOB_STATUSES, required: true },
      originalFilename: { type: String },
      originalKey: { type: String, required: true },
      thumbnailKey: { type: String, default: null },
      contentType: { type: String },
      bytes: { type: Number, required: true },
      fit: { type: String, enum: THUMBNAIL_FITS, required: true },
      width: { type: Number, required: true },
      height: { type: Number, required: true },
      // Absent on records from before variants (read as their one default PNG).
      variants: { type: [variantSchema], default: undefined },
      placeholder: { type: placeholderSchema, default: null },
      owner: { type: String, default: null },
      requestId: { type: String, default: null },
      createdAt: { type: Date, required: true },
      startedAt: { type: Date, default: null },
      completedAt: { type: Date, default: null },
      attempts: { type: Number, required: true, default: 0 },
      error: { type: errorSchema, default: null },
      callbackUrl: { type: String, default: null },
      originalExpiresAt: { type: Date, default: null },
    },
    { versionKey: false, strict: true },
  );
  schema.index({ createdAt: -1, _id: -1 });
  schema.index({ status: 1, createdAt: -1, _id: -1 });
  schema.index({ owner: 1, createdAt: -1, _id: -1 });
  schema.index({ owner: 1, status: 1, createdAt: -1, _id: -1 });
  // expiredJobs. syncIndexes drops any index not declared here, such as the TTL index on
  // `expireAt` that older versions made (it deleted records and left their thumbnails).
  schema.index({ completedAt: 1 });
  // expiredOriginals.
  schema.index({ originalExpiresAt: 1 });
  return schema;
}

/** Job records in MongoDB: the cluster adapter, for installs that run several API replicas. */
export class MongoJobStore extends JobStore {
  /**
   * Connects, creates the collection and makes its indexes match the schema (dropping any other,
   * such as an earlier version's TTL index), and resolves once the store is usable.
   */
  static async connect(url: string, options: MongoJobStoreOptions): Promise<MongoJobStore> {
    // A connection of our own, not mongoose's global default one. With buffering off, a command
    // issued while no server is reachable fails after server selection (at most
    // serverSelectionTimeoutMS) instead of queueing in mongoose; the driver reconnects by itself.
    const connection = mongoose.createConnection(url, {
      // Under the readiness probe's 3 s budget, so readiness reports the driver's reason.
      serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 2_500,
      bufferCommands: false,
      // Done explicitly below, so a failure rejects connect() instead of surfacing later.
      autoIndex: false,
      autoCreate: false,
      ...(options.dbName === undefined ? {} : { dbName: options.dbName }),
    });
    try {
      await connection.asPromise();
      const model = connection.model<JobDocument>('ThumbnailJob', jobSchema(), COLLECTION);
      await model.createCollection();
      await model.syncIndexes();
      return new MongoJobStore(connection, model);
    } catch (error) {
      // The connect error is the one worth reporting; a failure to close on top of it is not.
      await connection.close().catch(() => undefined);
      throw toStoreError(error);
    }
  }

  private constructor(
    /** Exposed for this adapter's own tests (raw fields, indexes); everything else sees `JobStore`. */
    readonly connection: Connection,
    private readonly model: Model<JobDocument>,
  ) {
    super();
  }

  async create(job: NewThumbnailJob): Promise<ThumbnailJob> {
    const record = waitingJob(job);
    try {
      await this.run(() => this.model.insertOne(toDocument(record)));
    } catch (error) {
      if (isDuplicateKey(error)) throw new DuplicateJobError(job.id);
      throw error;
    }
    return record;
  }

  async get(id: string): Promise<ThumbnailJob | null> {
    const doc = await this.run(() => this.model.findOne({ _id: id }).lean<JobDocument>().exec());
    return doc ? fromDocument(doc) : null;
  }

  async list(query: JobListQuery): Promise<JobPage> {
    const filter: QueryFilter<JobDocument> = {};
    if (query.status) filter.status = query.status;
    if (query.owner) filter.owner = query.owner;
    if (query.cursor !== undefined) {
      const after = decodeCursor(query.cursor);
      filter.$or = [
        { createdAt: { $lt: after.createdAt } },
        { createdAt: after.createdAt, _id: { $lt: after.id } },
      ];
    }
    const docs = await this.run(() =>
      this.model
        .find(filter)
        .sort({ createdAt: -1, _id: -1 })
        .limit(query.limit + 1)
        .lean<JobDocument[]>()
        .exec(),
    );
    const items = docs.slice(0, query.limit).map(fromDocument);
    const last = items[items.length - 1];
    const nextCursor = docs.length > query.limit && last ? encodeCursor(last) : null;
    return { items, nextCursor };
  }

  async transition(id: string, change: JobTransition): Promise<TransitionResult> {
    const set: Partial<JobDocument> = { status: change.to };
    if (change.startedAt) set.startedAt = change.startedAt;
    if (change.completedAt !== undefined) set.completedAt = change.completedAt;
    if (change.originalExpiresAt !== undefined) set.originalExpiresAt = change.originalExpiresAt;
    if (change.thumbnailKey !== undefined) set.thumbnailKey = change.thumbnailKey;
    if (change.variants !== undefined) set.variants = change.variants;
    if (change.placeholder !== undefined) set.placeholder = change.placeholder;
    if (change.error !== undefined) set.error = change.error;
    const update = { $set: set, ...(change.incrementAttempts ? { $inc: { attempts: 1 } } : {}) };
    // One atomic step on MongoDB: the status check and the write cannot interleave with another
    // delivery's. FerretDB 1.x, the tests' stand-in, reads and writes back without a transaction,
    // so there racing transitions can all apply (docs/development.md).
    const filter: QueryFilter<JobDocument> = { _id: id, status: { $in: [...change.from] } };
    if (change.attempt !== undefined) filter.attempts = change.attempt;
    if (change.originalKeptAfter) filter.originalExpiresAt = { $gt: change.originalKeptAfter };
    const updated = await this.run(() =>
      this.model
        .findOneAndUpdate(filter, update, { returnDocument: 'after' })
        .lean<JobDocument>()
        .exec(),
    );
    if (updated) return { applied: true, job: fromDocument(updated) };
    return { applied: false, job: await this.get(id) };
  }

  async expiredJobs(finishedBefore: Date, limit: number): Promise<ThumbnailJob[]> {
    const docs = await this.run(() =>
      this.model
        .find({ status: { $in: ['complete', 'failed'] }, completedAt: { $lt: finishedBefore } })
        .sort({ completedAt: 1 })
        .limit(limit)
        .lean<JobDocument[]>()
        .exec(),
    );
    return docs.map(fromDocument);
  }

  async expiredOriginals(before: Date, limit: number): Promise<ThumbnailJob[]> {
    const docs = await this.run(() =>
      this.model.find({ originalExpiresAt: { $lt: before } }).sort({ originalExpiresAt: 1 }).limit(limit).lean<JobDocument[]>().exec(),
    );
    return docs.map(fromDocument);
  }

  async delete(id: string): Promise<void> {
    await this.run(() => this.model.deleteOne({ _id: id }).exec());
  }

  async ping(): Promise<void> {
    await this.run(async () => {
      const db = this.connection.db;
      if (!db) throw new JobStoreUnavailableError('the MongoDB connection is not open');
      await db.admin().ping();
    });
  }

  async close(): Promise<void> {
    // Unlike the Redis store's, this connection is the store's own.
    await this.connection.close();
  }

  private async run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw toStoreError(error);
    }
  }
}

const {
  MongoClientClosedError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerClosedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} = mongoose.mongo;

/**
 * Server replies that mean "this node cannot serve you now" rather than "your request is wrong":
 * ShutdownInProgress, PrimarySteppedDown, NotWritablePrimary, InterruptedAtShutdown,
 * InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary.
 */
const UNAVAILABLE_SERVER_CODES = new Set([91, 189, 10107, 11600, 11602, 13435, 13436]);

/** Mongoose's own connection-state failures, which it reports only as message text. */
const MONGOOSE_UNAVAILABLE = /buffering timed out|Connection was force closed|before initial connection is complete/;

function toStoreError(error: unknown): unknown {
  if (error instanceof JobStoreUnavailableError || !isUnavailable(error)) return error;
  return new JobStoreUnavailableError((error as Error).message, { cause: error });
}

function isUnavailable(error: unknown): boolean {
  if (
    // Also covers MongoNetworkTimeoutError and the pool-cleared errors, which extend it.
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoNotConnectedError ||
    error instanceof MongoTopologyClosedError ||
    error instanceof MongoClientClosedError ||
    error instanceof MongoServerClosedError ||
    error instanceof mongoose.Error.MongooseServerSelectionError
  ) {
    return true;
  }
  if (error instanceof MongoServerError) return UNAVAILABLE_SERVER_CODES.has(Number(error.code));
  if (!(error instanceof Error)) return false;
  // Not exported by the driver: thrown when an operation races the pool being closed.
  return error.name === 'MongoPoolClosedError' || MONGOOSE_UNAVAILABLE.test(error.message);
}

function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === 11000;
}

function toDocument(job: ThumbnailJob): JobDocument {
  const { id, ...rest } = job;
  return { _id: id, ...rest };
}

function fromDocument(doc: JobDocument): ThumbnailJob {
  if (!isJobStatus(doc.status)) throw new Error(`Corrupt job record ${doc._id}: status "${String(doc.status)}"`);
  return {
    id: doc._id,
    status: doc.status,
    originalFilename: doc.originalFilename ?? '',
    originalKey: doc.originalKey,
    thumbnailKey: doc.thumbnailKey ?? null,
    contentType: doc.contentType ?? '',
    bytes: doc.bytes,
    fit: doc.fit,
    width: doc.width,
    height: doc.height,
    variants: doc.variants?.length ? doc.variants.map(fromVariantDocument) : legacyVariants({ ...doc, thumbnailKey: doc.thumbnailKey ?? null }),
    placeholder: doc.placeholder ? { thumbhash: doc.placeholder.thumbhash } : null,
    owner: doc.owner ?? null,
    requestId: doc.requestId ?? null,
    createdAt: doc.createdAt,
    startedAt: doc.startedAt ?? null,
    completedAt: doc.completedAt ?? null,
    attempts: doc.attempts ?? 0,
    error: doc.error ? { code: doc.error.code, message: doc.error.message } : null,
    callbackUrl: doc.callbackUrl ?? null,
    originalExpiresAt: doc.originalExpiresAt ?? null,
  };
}

function fromVariantDocument(variant: ThumbnailVariant): ThumbnailVariant {
  const { name, width, height, fit, format, quality, output } = variant;
  return {
    name,
    width,
    height,
    fit,
    format,
    quality: quality ?? null,
    output: output ? { width: output.width, height: output.height, bytes: output.bytes ?? null } : null,
  };
}
