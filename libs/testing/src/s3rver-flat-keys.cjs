'use strict';
// Plain CommonJS so that both the TypeScript harness (s3rver-harness.ts) and the bench's s3rver
// process (bench/src/s3rver-process.cjs, run by node itself) use this one copy.
const { unlink } = require('node:fs/promises');

/**
 * s3rver 3.7.1 keeps each object as files under folders named after its key's prefixes, and a
 * DELETE that leaves a folder empty removes the folder. A PUT into the same prefix that made
 * the folder a moment before then opens its file in a folder that is gone: ENOENT on a write
 * stream without an error listener, an uncaught exception that ends the process. The worker
 * deletes originals while the API stores new ones under the same `originals/` prefix, so this
 * happens. S3 has no folders; deleting an object here leaves them in place.
 */
function keepPrefixFolders(s3rver) {
  const store = s3rver.store;
  store.deleteObject = async (bucket, key) => {
    await Promise.all(
      ['object', 'object.md5', 'metadata.json'].map((type) =>
        unlink(store.getResourcePath(bucket, key, type)).catch((error) => {
          if (error.code !== 'ENOENT') throw error;
        }),
      ),
    );
  };
}

module.exports = { keepPrefixFolders };
