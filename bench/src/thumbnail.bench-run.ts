/*
 * Entry point of `npm run bench` (bench/run.sh runs it with bench/bench.vitest.mts). Vitest is
 * only the TypeScript runner here, for the workspace's path aliases: this is one long run, not
 * a test, and `npm test` never picks it up (no vitest.config.* or *.spec.ts in bench/).
 */
import { join } from 'node:path';
import { it } from 'vitest';
import { runBench } from './bench-runner';

it('benchmarks the thumbnail service against its limit and nginx', async () => {
  const report = await runBench(join(__dirname, '..', '..'));
  if (report.errors.length > 0) throw new Error(`${report.errors.length} bench phase(s) failed:\n${report.errors.join('\n')}`);
}, 30 * 60_000);
