// s3rver in a process of its own for the bench's STORAGE_DRIVER=s3 run, set up as
// libs/testing's startS3rver sets it up (own HTTP server on 127.0.0.1, fresh temp directory),
// so that its CPU is measured apart from the load client's and it cannot stall the client's
// event loop. Prints {"port":N} once listening. Stops, removing its directory, on SIGTERM or
// SIGINT or when its parent closes our stdin (so it never outlives the bench).
'use strict';
const { mkdtempSync, rmSync } = require('node:fs');
const { createServer } = require('node:http');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const S3rver = require('s3rver');
const { keepPrefixFolders } = require('../../libs/testing/src/s3rver-flat-keys.cjs');

async function main() {
  const directory = mkdtempSync(join(tmpdir(), 'bench-s3rver-'));
  const app = new S3rver({ directory, silent: true, configureBuckets: [] });
  keepPrefixFolders(app);
  await app.configureBuckets();
  const server = createServer(app.callback());
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close();
    server.closeAllConnections();
    rmSync(directory, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
