import { randomBytes, randomUUID } from 'node:crypto';
import { freePort, skipWithoutTool, startFerretDb, type RunningFerretDb } from '@thumbnail/testing';
import { describeJobStoreContract, newJob } from './job-store.contract';
import { JobStoreUnavailableError } from './job-store';
import { MongoJobStore } from './mongo-job-store';

// Every run works in throwaway databases it drops, so MONGO_URL may point at a shared server.
const MONGO_URL = process.env['MONGO_URL'];
const RUN_DB = `tg_contract_${randomBytes(6).toString('hex')}`;

/** Which server speaks the protocol: FerretDB lacks a few of MongoDB's features (docs/development.md). */
type Server = 'ferretdb' | 'mongodb';

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

/** The contract and this adapter's own cases, against the server at `url()` (read once its hooks ran). */
function describeMongoJobStore(server: Server, url: () => string): void {
  describeJobStoreContract(
    `mongo on ${server}`,
    async () => {
      const store = await MongoJobStore.connect(url(), { dbName: RUN_DB });
      return {
        store,
        reset: async () => void (await records(store).deleteMany({})),
        dropVariantFields: async (id) => void (await records(store).updateOne({ _id: id }, { $unset: { variants: '', placeholder: '' } })),
        teardown: () => dropAndClose(store),
      };
    },
    server === 'ferretdb'
      ? {
          withoutAtomicUpdates:
            'FerretDB 1.x reads, changes and writes back a document with no transaction around them, so ' +
            'concurrent conditional updates of one document can all apply and $inc can lose counts',
        }
      : {},
  );

  describe(`MongoJobStore indexes on ${server}`, () => {
    const dbName = `${RUN_DB}_indexes`;
    afterAll(async () => {
      const store = await MongoJobStore.connect(url(), { dbName });
      await dropAndClose(store);
    });

    it('creates the list indexes and those on completedAt and originalExpiresAt, and drops the TTL index of earlier versions', async () => {
      // What earlier builds made with JOB_RETENTION_DAYS set: a TTL index that deleted the
      // record and left its thumbnail behind. FerretDB refuses TTL and partial indexes
      // (NotImplemented), so there the same index is made without those options.
      const first = await MongoJobStore.connect(url(), { dbName });
      await records(first).createIndex(
        { expireAt: 1 },
        server === 'mongodb' ? { expireAfterSeconds: 0, partialFilterExpression: { expireAt: { $exists: true } } } : {},
      );
      expect((await records(first).indexes()).map((index) => index.key)).toContainEqual({ expireAt: 1 });
      await first.close();

      const store = await MongoJobStore.connect(url(), { dbName });
      try {
        const keys = (await records(store).indexes()).map((index) => index.key);
        expect(keys).toEqual(
          expect.arrayContaining([
            { createdAt: -1, _id: -1 },
            { status: 1, createdAt: -1, _id: -1 },
            { owner: 1, createdAt: -1, _id: -1 },
            { owner: 1, status: 1, createdAt: -1, _id: -1 },
            { completedAt: 1 },
            { originalExpiresAt: 1 },
          ]),
        );
        expect(keys).not.toContainEqual({ expireAt: 1 });
      } finally {
        await store.close();
      }
    });

    it('connects from several processes at once, each making sure of the collection and its indexes', async () => {
      // The API and the worker start together; each one's connect() creates and syncs.
      const stores = await Promise.all(Array.from({ length: 3 }, () => MongoJobStore.connect(url(), { dbName })));
      await Promise.all(stores.map((store) => store.close()));
      const store = await MongoJobStore.connect(url(), { dbName });
      try {
        expect(await records(store).indexes()).toHaveLength(7); // _id and the schema's six
      } finally {
        await store.close();
      }
    });
  });

  describe(`MongoJobStore on ${server} when its connection is closed`, () => {
    it('fails at once with JobStoreUnavailableError instead of hanging', async () => {
      const store = await MongoJobStore.connect(url(), { dbName: `${RUN_DB}_closed` });
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

describe.skipIf(skipWithoutTool('ferretdb'))('on FerretDB', () => {
  let ferretdb: RunningFerretDb | undefined;
  beforeAll(async () => {
    ferretdb = await startFerretDb();
  });
  afterAll(async () => ferretdb?.destroy());

  describeMongoJobStore('ferretdb', () => (ferretdb as RunningFerretDb).url);

  // A server of its own: this one is stopped and started again.
  describe('MongoJobStore when its server stops and comes back', () => {
    let server: RunningFerretDb | undefined;
    let store: MongoJobStore | undefined;
    beforeAll(async () => {
      server = await startFerretDb();
      store = await MongoJobStore.connect(server.url, { dbName: RUN_DB, serverSelectionTimeoutMS: 500 });
    });
    afterAll(async () => {
      await store?.close();
      await server?.destroy();
    });

    // A stop and a restart of the server: about 4.5 s here, more on a busy machine.
    it('fails with JobStoreUnavailableError while it is down, and works on the same connection once it is back', { timeout: 30_000 }, async () => {
      const running = server as RunningFerretDb;
      const jobs = store as MongoJobStore;
      const kept = newJob();
      await jobs.create(kept);

      await running.stop();
      await expect(jobs.ping()).rejects.toBeInstanceOf(JobStoreUnavailableError);
      await expect(jobs.get(kept.id)).rejects.toBeInstanceOf(JobStoreUnavailableError);
      await expect(jobs.create(newJob())).rejects.toBeInstanceOf(JobStoreUnavailableError);
      await expect(jobs.list({ limit: 5 })).rejects.toBeInstanceOf(JobStoreUnavailableError);
      await expect(jobs.transition(kept.id, { from: ['waiting'], to: 'processing' })).rejects.toBeInstanceOf(
        JobStoreUnavailableError,
      );

      await running.restart();
      await vi.waitFor(() => jobs.ping(), { timeout: 20_000, interval: 100 });
      expect((await jobs.transition(kept.id, { from: ['waiting'], to: 'processing' })).applied).toBe(true);
      expect((await jobs.list({ limit: 5 })).items.map((job) => [job.id, job.status])).toEqual([[kept.id, 'processing']]);
    });
  });
});

// Real MongoDB cannot be installed on the project's machines: the GitHub workflow runs the same
// cases against its mongo service by setting MONGO_URL. Here FerretDB (above) runs them.
if (MONGO_URL) describe('on MongoDB at MONGO_URL', () => describeMongoJobStore('mongodb', () => MONGO_URL));
else console.info('MongoDB itself: MONGO_URL is not set, so these cases run on FerretDB only (the GitHub workflow adds MongoDB)');

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
