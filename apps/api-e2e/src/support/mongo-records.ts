import mongoose, { type Connection } from 'mongoose';

/** The collection the MongoDB job store keeps one document per job in. */
const JOB_RECORDS = 'thumbnail_jobs';

/**
 * A connection for a test to look at (and tamper with) the job records the service keeps at
 * MONGO_URL. The caller closes it.
 */
export async function inspectMongo(url: string): Promise<Connection> {
  return mongoose.createConnection(url, { serverSelectionTimeoutMS: 5_000 }).asPromise();
}

/**
 * Moves a job back in time by `ms`: its `createdAt`, and `startedAt` and `completedAt` when set,
 * as if it had run then. One document holds all of a job, so there is no index to keep in step.
 */
export async function backdateMongoJob(connection: Connection, id: string, ms: number): Promise<void> {
  const records = connection.collection<{ _id: string; createdAt: Date; startedAt: Date | null; completedAt: Date | null }>(
    JOB_RECORDS,
  );
  const record = await records.findOne({ _id: id });
  if (!record) throw new Error(`no job record ${id} in ${JOB_RECORDS}`);
  const earlier = (date: Date) => new Date(date.getTime() - ms);
  const changed = await records.updateOne(
    { _id: id },
    {
      $set: {
        createdAt: earlier(record.createdAt),
        startedAt: record.startedAt && earlier(record.startedAt),
        completedAt: record.completedAt && earlier(record.completedAt),
      },
    },
  );
  if (changed.modifiedCount !== 1) throw new Error(`could not backdate ${id}`);
}

/** A job's record as stored (a plain document), or null. */
export async function mongoJobRecord(connection: Connection, id: string): Promise<Record<string, unknown> | null> {
  return connection.collection<{ _id: string }>(JOB_RECORDS).findOne({ _id: id });
}

/** How many job records the collection holds. */
export async function countMongoJobs(connection: Connection): Promise<number> {
  return connection.collection(JOB_RECORDS).countDocuments();
}
