import mongoose from 'mongoose';
import { skipWithoutTool } from './built-tools';
import { startFerretDb, type RunningFerretDb } from './ferretdb-server';

describe.skipIf(skipWithoutTool('ferretdb'))('startFerretDb', () => {
  let ferretdb: RunningFerretDb;

  beforeAll(async () => {
    ferretdb = await startFerretDb();
  });
  afterAll(async () => ferretdb?.destroy());

  it('speaks the MongoDB protocol and keeps records across a restart', async () => {
    const first = await mongoose.createConnection(ferretdb.url, { dbName: 'harness' }).asPromise();
    await first.collection('things').insertOne({ name: 'kept' });
    await first.close();
    await ferretdb.stop();
    await ferretdb.restart();
    const second = await mongoose.createConnection(ferretdb.url, { dbName: 'harness' }).asPromise();
    expect(await second.collection('things').findOne({ name: 'kept' }, { projection: { _id: 0 } })).toEqual({ name: 'kept' });
    await second.close();
  });
});
