import { randomBytes, randomUUID } from 'node:crypto';
import { freePort } from '@thumbnail/testing';
import { describeJobStoreContract, newJob } from './job-store.contract';
import { JobStoreUnavailableError } from './job-store';
import { MongoJobStore } from './mongo-job-store';

// MongoDB cannot be installed everywhere the tests run, so these cases need a server from outside
// (CI runs a mongo service and sets MONGO_URL). Each run works in throwaway databases it drops.
const MONGO_URL = process.env['MONGO_URL'];
const SKIP_REASON =
  'MongoDB contract: skipped because MONGO_URL is not set (MongoDB cannot run on this machine; CI with a mongo service sets it)';
const RUN_DB = `tg_contract_${randomBytes(6).toString('hex')}`;

function database(store: MongoJobStore) {
  const db = store.connection.db;
  if (!db) throw new Error('The store has no open database');
  return db;
}

function records(store: MongoJobStore) {
  return database(store).collection<{ _id: string }>('thumbnail_jobs');
}

async function dropAndClose(store: MongoJobStore | undefined): Promise<void> {
  if (!store) return;
  await database(store).dropDatabase();
  await store.close();
}

if (MONGO_URL === undefined || MONGO_URL === '') {
  console.warn(SKIP_REASON);
  it.skip(SKIP_REASON, () => undefined);
} else {
  const url = MONGO_URL;

  describeJobStoreContract('mongo', async () => {
    const store = await MongoJobStore.connect(url, { dbName: RUN_DB });
    return {
      store,
      reset: async () => void (await records(store).deleteMany({})),
      teardown: () => dropAndClose(store),
    };
  });

  describe('MongoJobStore indexes', () => {
    const dbName = `${RUN_DB}_indexes`;
    afterAll(async () => {
      const store = await MongoJobStore.connect(url, { dbName });
      await dropAndClose(store);
    });

    it('creates the list indexes and one on completedAt, and drops the TTL index of earlier versions', async () => {
      // What earlier builds made with JOB_RETENTION_DAYS set: a TTL index that deleted the
      // record and left its thumbnail behind.
      const first = await MongoJobStore.connect(url, { dbName });
      await records(first).createIndex(
        { expireAt: 1 },
        { expireAfterSeconds: 0, partialFilterExpression: { expireAt: { $exists: true } } },
      );
      await first.close();

      const store = await MongoJobStore.connect(url, { dbName });
      try {
        const keys = (await records(store).indexes()).map((index) => index.key);
        expect(keys).toEqual(
          expect.arrayContaining([
            { createdAt: -1, _id: -1 },
            { status: 1, createdAt: -1, _id: -1 },
            { owner: 1, createdAt: -1, _id: -1 },
            { owner: 1, status: 1, createdAt: -1, _id: -1 },
            { completedAt: 1 },
          ]),
        );
        expect(keys).not.toContainEqual({ expireAt: 1 });
      } finally {
        await store.close();
      }
    });
  });

  describe('MongoJobStore when its connection is closed', () => {
    it('fails at once with JobStoreUnavailableError instead of hanging', async () => {
      const store = await MongoJobStore.connect(url, { dbName: `${RUN_DB}_closed` });
      await database(store).dropDatabase();
      await store.close();
      const id = randomUUID();
      const started = Date.now();
      await expect(store.get(id)).rejects.toBeInstanceOf(JobStoreUnavailableError);
      await expect(store.create(newJob({ id }))).rejects.toBeInstanceOf(JobStoreUnavailableError);
      await expect(store.list({ limit: 5 })).rejects.toBeInstanceOf(JobStoreUnavailableError);
      await expect(store.transition(id, { from: ['waiting'], to: 'processing' })).rejects.toBeInstanceOf(
        JobStoreUnavailableError,
      );
      await expect(store.expiredJobs(new Date(), 10)).rejects.toBeInstanceOf(JobStoreUnavailableError);
      await expect(store.delete(id)).rejects.toBeInstanceOf(JobStoreUnavailableError);
      await expect(store.ping()).rejects.toBeInstanceOf(JobStoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(2_000);
    });
  });
}

// Needs no server, so it runs everywhere: nothing listens on the port.
describe('MongoJobStore.connect without a reachable server', () => {
  it('rejects with JobStoreUnavailableError once server selection times out', async () => {
    const url = `mongodb://127.0.0.1:${await freePort()}/`;
    const started = Date.now();
    await expect(
      MongoJobStore.connect(url, { dbName: RUN_DB, serverSelectionTimeoutMS: 300 }),
    ).rejects.toBeInstanceOf(JobStoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
