import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { animatedGif, avif, jpegWithOrientation, png50, requireTool, skipWithoutTool, tiff, webp } from '@thumbnail/testing';
import { TestService } from './support/service';

/*
 * Schemathesis (pinned by scripts/tools.sh) against the API's own OpenAPI document, /docs/json:
 * every check (no 5xx, status codes, content types, headers and bodies as documented, valid
 * input accepted and invalid refused, 405 for undocumented methods, auth enforced, one key never
 * reading another's jobs, a deleted job gone) in the coverage, fuzzing and stateful phases, the
 * last following the document's links from POST to GET, the image and DELETE. The service runs
 * with two API keys.
 */

const SCHEMATHESIS_DIR = join(import.meta.dirname, '..', 'schemathesis');
/** Fixed, so a failure reproduces; THUMBNAIL_FUZZ_SEED tries another. */
const SEED = process.env['THUMBNAIL_FUZZ_SEED'] ?? '20261203';

/** The parts of Schemathesis' JSON report (--report json) the test reads. */
interface RunSummary {
  operations: { total: number; tested: number };
  phases: Record<'coverage' | 'fuzzing' | 'stateful', { status: string }>;
  test_cases: { generated: number; with_failures: number; errored: number };
}

interface RunReport {
  exitCode: number | null;
  output: string;
}

function runSchemathesis(args: string[], env: Record<string, string>): Promise<RunReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(requireTool('schemathesis'), args, {
      cwd: SCHEMATHESIS_DIR,
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: tmpdir(),
        PYTHONPATH: SCHEMATHESIS_DIR,
        // Nothing written next to the hooks.
        PYTHONDONTWRITEBYTECODE: '1',
        NO_COLOR: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += String(chunk)));
    child.stderr.on('data', (chunk) => (output += String(chunk)));
    child.once('error', reject);
    child.once('exit', (exitCode) => resolve({ exitCode, output }));
  });
}

/** node:http, which sends any method (fetch refuses TRACE). */
function send(url: string, method: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

/** One file per accepted image type, in the folders the hooks read (`image/jpeg` -> `jpeg/`). */
async function writeImages(root: string): Promise<void> {
  const images: Record<string, Buffer> = {
    jpeg: await jpegWithOrientation(6),
    png: await png50(),
    webp: await webp(),
    gif: await animatedGif(2, 32, 24),
    avif: await avif(),
    tiff: await tiff(),
  };
  for (const [subtype, data] of Object.entries(images)) {
    mkdirSync(join(root, subtype));
    writeFileSync(join(root, subtype, `1.${subtype}`), data);
  }
}

describe('the API against its OpenAPI document', () => {
  let service: TestService;
  let work: string;
  const keys = { alice: randomBytes(24).toString('hex'), bob: randomBytes(24).toString('hex') };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tg-fuzz-'));
    mkdirSync(join(work, 'images'));
    await writeImages(join(work, 'images'));
    // Web Fuzzing Commons auth: the two keys as two users who must not see each other's jobs.
    const auth = Object.entries(keys).map(([name, key]) => ({ name, fixedHeaders: [{ name: 'Authorization', value: `Bearer ${key}` }] }));
    writeFileSync(join(work, 'auth.json'), JSON.stringify({ auth }));
    const digests = Object.values(keys).map((key) => createHash('sha256').update(key).digest('hex'));
    // Two presets, so that `variants` and `variant` have more than one name to choose from.
    const presets = JSON.stringify({ w64: { width: 64, height: 64, fit: 'inside', format: 'webp' } });
    service = await TestService.start({ env: { API_KEYS: digests.join(','), THUMBNAIL_PRESETS: presets, MAX_VARIANTS_PER_JOB: '2' } });
  });

  afterAll(async () => {
    await service?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it.each(['PUT', 'PATCH', 'TRACE', 'OPTIONS', 'QUERY'])('answers %s on a path that does not take it with 405 and Allow', async (method) => {
    const headers = { authorization: `Bearer ${keys.alice}` };
    for (const [path, allow] of [
      ['/thumbnail', 'GET, HEAD, POST'],
      [`/thumbnail/${randomUUID()}`, 'DELETE, GET, HEAD'],
      ['/health', 'GET, HEAD'],
    ]) {
      const answer = await send(`${service.api.url}${path}`, method, headers);
      expect(answer.status, `${method} ${path}`).toBe(405);
      expect(answer.headers['allow']).toBe(allow);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'method_not_allowed' } });
    }
  });

  it.skipIf(skipWithoutTool('schemathesis'))('passes every Schemathesis check in the coverage, fuzzing and stateful phases, links followed', { timeout: 15 * 60_000 }, async () => {
    const report = join(work, 'report.json');
    const run = await runSchemathesis(
      [
        '--config-file',
        join(SCHEMATHESIS_DIR, 'schemathesis.toml'),
        'run',
        `${service.api.url}/docs/json`,
        '--checks',
        'all',
        '--seed',
        SEED,
        '--report',
        'json',
        '--report-json-path',
        report,
      ],
      { THUMBNAIL_FUZZ_IMAGES: join(work, 'images'), THUMBNAIL_FUZZ_AUTH: join(work, 'auth.json') },
    );
    // What ran (operations, phases, test cases, links covered) shows in the test output.
    console.info(run.output);
    expect(run.exitCode, run.output).toBe(0);
    const summary = JSON.parse(readFileSync(report, 'utf8')) as RunSummary;
    expect(summary.operations.tested).toBe(summary.operations.total);
    // The examples phase runs only on examples the document gives for requests; it has none.
    expect([summary.phases.coverage.status, summary.phases.fuzzing.status, summary.phases.stateful.status]).toEqual(['success', 'success', 'success']);
    expect(summary.test_cases).toMatchObject({ with_failures: 0, errored: 0 });
    const links = /API Links:\s+(\d+) covered \/ (\d+) selected/.exec(run.output);
    expect(links, 'the stateful phase reports the links it followed').not.toBeNull();
    expect(Number(links?.[1])).toBeGreaterThanOrEqual(Number(links?.[2]) / 2);
  });
});
