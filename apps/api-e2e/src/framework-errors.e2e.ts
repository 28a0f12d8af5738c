import { rmSync, writeFileSync } from 'node:fs';
import { call } from './support/client';
import { type RawOutcome, rawRequest } from './support/raw-requests';
import { TestService } from './support/service';

/** Put into every request below: an answer that quotes the request would contain it. */
const MARK = 'EchoMark7f3a';
const REQUEST_MS = 3_000;

/**
 * Requests the HTTP framework refuses before (or instead of) our handlers: Node's parser,
 * Fastify's router and content parsing, busboy. Each must answer in the API's own shape,
 * `{"error":{"code","message"}}`, quoting nothing of the request and logging no error.
 */
describe('errors the HTTP framework raises itself', () => {
  let service: TestService;
  let api: string;

  beforeAll(async () => {
    service = await TestService.start({ withoutWorker: true, env: { REQUEST_TIMEOUT_MS: String(REQUEST_MS) } });
    api = service.api.url;
  });
  afterAll(async () => service?.stop());

  const cases: Array<[string, string, number, string]> = [
    ['a path with a malformed percent-encoding', `GET /thumbnail/%E0%A4%ZZ${MARK} HTTP/1.1\r\nHost: api\r\n\r\n`, 400, 'bad_request'],
    ['a path segment over 100 characters', `GET /thumbnail/${MARK.repeat(20)} HTTP/1.1\r\nHost: api\r\n\r\n`, 414, 'uri_too_long'],
    ['a 20 KB URL', `GET /thumbnail?cursor=${MARK.repeat(1700)} HTTP/1.1\r\nHost: api\r\n\r\n`, 414, 'uri_too_long'],
    ['a 20 KB header', `GET /thumbnail HTTP/1.1\r\nHost: api\r\nX-Big: ${MARK.repeat(1700)}\r\n\r\n`, 431, 'headers_too_large'],
    ['bytes that are not HTTP', `${MARK} / NOT-HTTP\r\n\r\n`, 400, 'bad_request'],
    ['an unknown HTTP version', `GET /${MARK} HTTP/7.1\r\nHost: api\r\n\r\n`, 400, 'bad_request'],
    ['a non-numeric Content-Length', `POST /thumbnail HTTP/1.1\r\nHost: api\r\nContent-Length: ${MARK}\r\n\r\n`, 400, 'bad_request'],
    ['both Content-Length and chunked', `POST /thumbnail HTTP/1.1\r\nHost: api\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, 'bad_request'],
    ['a control character in a header', `GET / HTTP/1.1\r\nHost: api\r\nX-${MARK}: a\u0001b\r\n\r\n`, 400, 'bad_request'],
    [
      'multipart/form-data without a boundary',
      `POST /thumbnail HTTP/1.1\r\nHost: api\r\nContent-Type: multipart/form-data\r\nContent-Length: ${MARK.length}\r\n\r\n${MARK}`,
      400,
      'malformed_multipart',
    ],
    [
      'a multipart boundary left unquoted half-way',
      `POST /thumbnail HTTP/1.1\r\nHost: api\r\nContent-Type: multipart/form-data; boundary="${MARK}\r\nContent-Length: 4\r\n\r\nabcd`,
      400,
      'malformed_multipart',
    ],
    [
      'a JSON body that is not JSON',
      `POST /thumbnail HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: ${MARK.length + 1}\r\n\r\n{${MARK}`,
      400,
      'bad_request',
    ],
    ['headers that stop arriving', `GET /thumbnail HTTP/1.1\r\nHost: api\r\nX-${MARK}: `, 408, 'request_timeout'],
  ];

  it.each(cases)('answers %s in the API shape, quoting nothing and logging no error', async (_name, request, status, code) => {
    const outcome: RawOutcome = await rawRequest(api, [request], 2 * REQUEST_MS + 35_000).outcome;
    expect(outcome.status, outcome.body).toBe(status);
    const body = JSON.parse(outcome.body) as { error: { code: string; message: string } };
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
    expect(body.error.code).toBe(code);
    expect(outcome.body).not.toContain(MARK);
    expect(service.api.output()).not.toContain('"level":"error"');
    // Still serving.
    expect((await call(`${api}/health`)).status).toBe(200);
  });
});

describe('readiness when a dependency is down', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await TestService.start({ withoutWorker: true });
  });
  afterAll(async () => service?.stop());

  it('names the dependency without its address, path or driver message, which go to the log', async () => {
    const redisPort = String(service.redis.port);
    await service.redis.stop();
    // The storage folder replaced by a file: every write under it fails with ENOTDIR, naming the path.
    rmSync(service.storageDir, { recursive: true, force: true });
    writeFileSync(service.storageDir, 'not a folder');

    const ready = await call(`${service.api.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.json.checks).toEqual({
      redis: { ok: false, reason: expect.any(String) },
      storage: { ok: false, reason: 'unavailable; the log says why' },
      job_store: { ok: false, reason: expect.any(String) },
    });
    expect(ready.json.error).toEqual({ code: 'not_ready', message: expect.stringMatching(/^Not ready: redis down .*storage down/) });
    for (const internal of [redisPort, '127.0.0.1', service.storageDir, 'ENOTDIR', 'ECONNREFUSED']) {
      expect(ready.text).not.toContain(internal);
    }
    // The operator reads the causes in the log, once per change.
    await vi.waitFor(() => expect(service.api.output()).toContain('Not ready: a dependency is down'));
    const logged = service.api.output().split('\n').filter((line) => line.includes('Not ready: a dependency is down'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain(`${service.storageDir} is not writable (ENOTDIR)`);
    // Probes every few seconds do not repeat what has not changed.
    for (let i = 0; i < 6; i++) expect((await call(`${service.api.url}/health/ready`)).status).toBe(503);
    expect(service.api.output().split('\n').filter((line) => line.includes('Not ready: a dependency is down')).length).toBeLessThanOrEqual(2);
  });
});
