// Loaded into the api and worker with NODE_OPTIONS=--require by the bench's profiling pass only
// (node refuses --cpu-prof in NODE_OPTIONS, and the harness starts apps with no node flags).
// The first SIGUSR2 starts a V8 CPU profile of the main thread, the second stops it and writes
// <BENCH_CPU_PROFILE_DIR>/<BENCH_CPU_PROFILE_NAME>-<n>.cpuprofile, so the profile covers exactly
// the bench's measurement window and not the app's start-up.
'use strict';
const inspector = require('node:inspector');
const fs = require('node:fs');
const path = require('node:path');

const dir = process.env.BENCH_CPU_PROFILE_DIR;
const name = process.env.BENCH_CPU_PROFILE_NAME || 'process';
if (dir) {
  const session = new inspector.Session();
  session.connect();
  let profiling = false;
  let count = 0;
  process.on('SIGUSR2', () => {
    if (!profiling) {
      profiling = true;
      session.post('Profiler.enable', () => session.post('Profiler.start'));
      return;
    }
    profiling = false;
    session.post('Profiler.stop', (error, result) => {
      count += 1;
      const file = path.join(dir, `${name}-${count}.cpuprofile`);
      const tmp = `${file}.partial`;
      if (error) fs.writeFileSync(`${file}.error`, String(error));
      else {
        fs.writeFileSync(tmp, JSON.stringify(result.profile));
        fs.renameSync(tmp, file);
      }
      session.post('Profiler.disable');
    });
  });
}
