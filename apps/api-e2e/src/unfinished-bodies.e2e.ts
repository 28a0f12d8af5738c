import { png50 } from '@thumbnail/testing';
import { listedCount, MIB, pendingWrites, processMemory } from './support/reliability-http';
import { chunk, openDescriptors, type RawOutcome, rawRequest, type Step, uploadBody, uploadHead } from './support/raw-requests';
import { TestService } from './support/service';

const IDLE_MS = 1_000;
const REQUEST_MS = 4_000;
/** How long a test waits for an answer before calling the request unanswered (never, on a hang). */
const GIVE_UP_MS = 20_000;
/** Concurrent requests of each kind. */
const N = 10;

/*
 * Request bodies that never finish properly, sent by hand on raw connections: ones that stall
 * (before the body, inside the form, mid-file, mid-chunk), one that trickles, ones that end
 * without the form's closing delimiter, and clients that half-close or reset. Every one must be
 * answered or closed within the timeouts, and leave no socket, no open file, no temp file, no
 * job and no error line behind.
 */
describe(`request bodies that never finish (BODY_IDLE_TIMEOUT_MS=${IDLE_MS}, REQUEST_TIMEOUT_MS=${REQUEST_MS})`, () => {
  let service: TestService;
  let api: string;
  let baseline: { sockets: number };
  let png: Buffer;
  /** A 2 MiB "PNG": a real header, then filler. */
  let bigFile: Buffer;

  beforeAll(async () => {
    png = await png50();
    bigFile = Buffer.concat([png.subarray(0, 33), Buffer.alloc(2 * MIB - 33, 0x5a)]);
    service = await TestService.start({
      withoutWorker: true,
      env: { BODY_IDLE_TIMEOUT_MS: String(IDLE_MS), REQUEST_TIMEOUT_MS: String(REQUEST_MS) },
    });
    api = service.api.url;
    // The connections the API keeps on its own (Redis) and its listening socket.
    baseline = openDescriptors(service.api.pid, service.storageDir);
  });
  afterAll(async () => service?.stop());

  /** Runs `N` copies of a request at once; returns their outcomes once all have one. */
  async function many(steps: () => Step[]): Promise<RawOutcome[]> {
    const clients = Array.from({ length: N }, () => rawRequest(api, steps(), GIVE_UP_MS));
    const outcomes = await Promise.all(clients.map((client) => client.outcome));
    for (const client of clients) client.socket.destroy();
    return outcomes;
  }

  /** Nothing of the requests is left in the API: sockets, files, temp files, jobs, error lines. */
  async function expectNothingLeft(): Promise<void> {
    // A failed write closes its temp file, then removes it.
    await vi.waitFor(
      () => {
        const now = openDescriptors(service.api.pid, service.storageDir);
        expect(now.underDir).toEqual([]);
        expect(now.sockets).toBeLessThanOrEqual(baseline.sockets);
        expect(pendingWrites(service.storageDir)).toEqual([]);
      },
      { timeout: 5_000, interval: 50 },
    );
    expect(service.storedFiles('originals')).toEqual([]);
    expect(await listedCount(api)).toBe(0);
    expect(service.api.output()).not.toContain('"level":"error"');
  }

  function code(outcome: RawOutcome): string | undefined {
    try {
      return (JSON.parse(outcome.body) as { error?: { code?: string } }).error?.code;
    } catch {
      return undefined;
    }
  }

  function report(kind: string, outcomes: RawOutcome[]): void {
    const waits = outcomes.map((outcome) => outcome.afterLastByteMs);
    console.log(`${kind}: ${N} answered with ${[...new Set(outcomes.map((o) => o.status))].join(',')} after ${Math.min(...waits)}..${Math.max(...waits)} ms`);
  }

  const stalls: Array<[string, () => Step[]]> = [
    ['only the headers', () => [uploadHead(uploadBody(bigFile).whole.length)]],
    [
      'the body stops inside the part headers',
      () => {
        const body = uploadBody(bigFile);
        return [uploadHead(body.whole.length), body.opening.subarray(0, 40)];
      },
    ],
    [
      'the body stops mid-file, 256 KiB into 2 MiB',
      () => {
        const body = uploadBody(bigFile);
        return [uploadHead(body.whole.length), body.opening, bigFile.subarray(0, 256 * 1024)];
      },
    ],
    [
      'a chunked body stops between chunks, its last chunk never sent',
      () => {
        const body = uploadBody(bigFile);
        return [uploadHead('chunked'), chunk(body.opening), chunk(bigFile.subarray(0, 64 * 1024))];
      },
    ],
  ];

  it.each(stalls)('cuts off a body that stalls (%s) with 408 request_timeout once it has been idle BODY_IDLE_TIMEOUT_MS', async (kind, steps) => {
    const outcomes = await many(steps);
    report(kind, outcomes);
    for (const outcome of outcomes) {
      expect(outcome.status, outcome.body).toBe(408);
      expect(code(outcome)).toBe('request_timeout');
      expect(outcome.afterLastByteMs).toBeGreaterThanOrEqual(IDLE_MS);
    }
    await expectNothingLeft();
  });

  it('cuts off a body that keeps trickling (a byte every 100 ms) with 408 once REQUEST_TIMEOUT_MS has passed', async () => {
    const started = Date.now();
    const outcomes = await many(() => {
      const body = uploadBody(bigFile);
      const drip: Step[] = [];
      for (let i = 0; i < 200; i++) drip.push(body.opening.subarray(i, i + 1), { pauseMs: 100 });
      return [uploadHead(body.whole.length), ...drip];
    });
    report('trickle', outcomes);
    for (const outcome of outcomes) {
      expect(outcome.status, outcome.body).toBe(408);
      expect(code(outcome)).toBe('request_timeout');
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(REQUEST_MS);
    await expectNothingLeft();
  });

  const unterminated: Array<[string, () => Step[]]> = [
    [
      'ends mid-file, as long as its Content-Length says',
      () => {
        const body = uploadBody(png).whole.subarray(0, 200);
        return [uploadHead(body.length), body];
      },
    ],
    [
      'ends after the file, without the closing delimiter',
      () => {
        const { opening } = uploadBody(bigFile);
        const body = Buffer.concat([opening, bigFile]);
        return [uploadHead(body.length), body];
      },
    ],
    [
      'ends after a delimiter that opens another part',
      () => {
        const { opening } = uploadBody(png);
        const body = Buffer.concat([opening, png, Buffer.from('\r\n--unfinished-bodies-boundary\r\n')]);
        return [uploadHead(body.length), body];
      },
    ],
    [
      'is chunked and ends (last chunk sent) without the closing delimiter',
      () => {
        const { opening } = uploadBody(bigFile);
        return [uploadHead('chunked'), chunk(opening), chunk(bigFile), '0\r\n\r\n'];
      },
    ],
  ];

  it.each(unterminated)('answers 400 malformed_multipart at once for a form that %s', async (_kind, steps) => {
    const outcomes = await many(steps);
    report(`unterminated (${_kind})`, outcomes);
    for (const outcome of outcomes) {
      expect(outcome.status, outcome.body).toBe(400);
      expect(code(outcome)).toBe('malformed_multipart');
      // Not by a timeout: the body had ended, so the answer follows.
      expect(outcome.afterLastByteMs).toBeLessThan(IDLE_MS);
    }
    await expectNothingLeft();
  });

  it.each<[string, (socket: import('node:net').Socket) => void]>([
    ['half-closes its side', (socket) => socket.end()],
    ['resets the connection', (socket) => socket.resetAndDestroy()],
  ])('lets go at once of a client that %s mid-file, logging no error', async (_kind, leave) => {
    const clients = Array.from({ length: N }, () => {
      const body = uploadBody(bigFile);
      return rawRequest(api, [uploadHead(body.whole.length), body.opening, bigFile.subarray(0, 512 * 1024)], GIVE_UP_MS);
    });
    // Once the API holds a partial file for each, the clients go.
    await vi.waitFor(() => expect(pendingWrites(service.storageDir)).toHaveLength(N), { timeout: 10_000, interval: 50 });
    for (const client of clients) leave(client.socket);
    for (const outcome of await Promise.all(clients.map((client) => client.outcome))) {
      // Closed, after a 400 for the half-closed body (Node's parser calls it malformed).
      expect([null, 400]).toContain(outcome.status);
      expect(outcome.afterLastByteMs).toBeLessThan(IDLE_MS);
    }
    await expectNothingLeft();
  });

  it('keeps its memory, sockets and files flat over 200 unfinished uploads', async () => {
    const kinds = [...stalls, ...unterminated].map(([, steps]) => steps);
    const round = async () => {
      const clients = Array.from({ length: 50 }, (_, i) => rawRequest(api, kinds[i % kinds.length](), GIVE_UP_MS));
      const outcomes = await Promise.all(clients.map((client) => client.outcome));
      for (const client of clients) client.socket.destroy();
      return outcomes;
    };
    await round(); // warm-up: JIT, pools and buffers reach their working size
    const before = processMemory(service.api.pid);
    const outcomes: RawOutcome[] = [];
    for (let i = 0; i < 4; i++) outcomes.push(...(await round()));
    const after = processMemory(service.api.pid);
    console.log('API memory over 200 unfinished uploads', {
      rssBeforeMiB: +(before.rss / MIB).toFixed(1),
      rssAfterMiB: +(after.rss / MIB).toFixed(1),
      statuses: [...new Set(outcomes.map((o) => o.status))],
    });
    for (const outcome of outcomes) expect([400, 408]).toContain(outcome.status);
    // Each upload left behind would hold its buffers and a parser; GC alone moves RSS by tens of MiB.
    expect(after.rss - before.rss).toBeLessThan(48 * MIB);
    await expectNothingLeft();
  }, 60_000);
});
