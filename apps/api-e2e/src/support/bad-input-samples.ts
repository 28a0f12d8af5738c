/*
 * Real corrupt files from Debian's Go source package, fetched once into a cache folder by
 * scripts/fetch-corrupt-samples.sh. Absent (offline machine, no apt) means those cases skip.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const WORKSPACE = resolve(__dirname, '../../../..');
const SCRIPT = join(WORKSPACE, 'scripts', 'fetch-corrupt-samples.sh');

export const CORRUPT_SAMPLES_DIR = process.env['CORRUPT_SAMPLES_DIR'] ?? join(WORKSPACE, 'node_modules', '.cache', 'corrupt-samples');

export type SampleFolder = { dir: string; files: string[] } | { dir: null; reason: string };

/** The sample folder, fetching it first when it is not complete; never throws. */
export async function corruptSamples(): Promise<SampleFolder> {
  const stamp = join(CORRUPT_SAMPLES_DIR, '.complete');
  if (!existsSync(stamp)) {
    const outcome = await new Promise<{ code: number | null; stderr: string }>((done) => {
      execFile('bash', [SCRIPT, CORRUPT_SAMPLES_DIR], { timeout: 240_000 }, (error, _stdout, stderr) =>
        done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr: String(stderr) }),
      );
    });
    if (outcome.code !== 0 || !existsSync(stamp)) {
      const said = outcome.stderr.trim().split('\n').pop() || `exit code ${outcome.code}`;
      return { dir: null, reason: `${SCRIPT} could not fetch them: ${said}` };
    }
  }
  return { dir: CORRUPT_SAMPLES_DIR, files: readdirSync(CORRUPT_SAMPLES_DIR).filter((name) => !name.startsWith('.')) };
}
