import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { png50, pngWithIccProfile400, skipWithoutNetworkNamespaces, truncated } from '@thumbnail/testing';
import { call, form, type Json, waitFor } from './support/client';
import { PartitionedService } from './support/partitioned-service';
import { metric } from './support/reliability-http';
import { TestService } from './support/service';
import { WebhookReceiver } from './support/webhook-receiver';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
/** The receiver's side: the maintained library's own verifier, as a user's receiver runs it. */
const verifier = new Webhook(SECRET);
const SLOW = { timeout: 30_000, interval: 100 };

/** Submits an image with a callback_url; the job id. */
async function submitWithCallback(api: string, image: Buffer, callbackUrl: string): Promise<string> {
  const body = form(image);
  body.append('callback_url', callbackUrl);
  const answer = await call(`${api}/thumbnail`, { method: 'POST', body });
  if (answer.status !== 202) throw new Error(`submit answered ${answer.status}: ${answer.text}`);
  return answer.json.data.job_id;
}

const deliveries = (receiver: 'job' | 'operator', outcome: string) =>
  `thumbnail_webhook_deliveries_total{receiver="${receiver}",outcome="${outcome}"}`;
const attempts = (result: string) => `thumbnail_webhook_attempts_total{receiver="job",result="${result}"}`;

describe('completion webhooks', () => {
  let service: TestService;
  let receiver: WebhookReceiver;
  let operator: WebhookReceiver;
  let api: string;
  let worker: string;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    operator = await WebhookReceiver.start();
    service = await TestService.start({
      env: {
        WEBHOOK_SECRET: SECRET,
        WEBHOOK_URL: operator.url('/every-job'),
        // The receivers listen on loopback, which only a listed host may be.
        WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
        PUBLIC_URL: 'https://thumbs.example.test',
        WEBHOOK_ATTEMPTS: '3',
        WEBHOOK_BACKOFF_MS: '200',
        WEBHOOK_TIMEOUT_MS: '1000',
      },
    });
    api = service.api.url;
    worker = service.workers[0].url;
  });
  afterAll(async () => {
    await service?.stop();
    await receiver?.stop();
    await operator?.stop();
  });

  it('delivers a signed thumbnail.completed that the library verifies, carrying the job as GET shows it', async () => {
    const delivered = await metric(worker, deliveries('job', 'delivered'));
    const id = await submitWithCallback(api, await pngWithIccProfile400(), receiver.url('/completed?token=receiver-token-1'));
    await vi.waitFor(() => expect(receiver.at('/completed?token=receiver-token-1')).toHaveLength(1), SLOW);
    const [hook] = receiver.at('/completed?token=receiver-token-1');

    const message = verifier.verify(hook.body, hook.headers) as Json;
    const shown = (await call(`${api}/thumbnail/${id}`)).json.data;
    expect(message).toEqual({ type: 'thumbnail.completed', timestamp: shown.completedAt, data: shown });
    expect(shown.thumbnailLink).toBe(`https://thumbs.example.test/thumbnail/${id}/image`);
    expect(hook.headers['webhook-id']).toBe(`msg_${id}_${Date.parse(shown.completedAt)}`);
    expect(hook.headers['content-type']).toBe('application/json');
    expect(hook.headers['user-agent']).toMatch(/^thumbnail-generator\//);
    expect(() => verifier.verify(hook.body.replace('"complete"', '"failed"'), hook.headers)).toThrow();
    expect(() => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(hook.body, hook.headers)).toThrow();
    expect(hook.body).not.toContain(SECRET.slice(6));

    // WEBHOOK_URL gets every job too: the same message, under the same webhook-id.
    await vi.waitFor(() => expect(operator.received.find((h) => h.headers['webhook-id'] === hook.headers['webhook-id'])).toBeDefined(), SLOW);
    const copy = operator.received.find((h) => h.headers['webhook-id'] === hook.headers['webhook-id']);
    expect(copy?.body).toBe(hook.body);
    await vi.waitFor(async () => expect(await metric(worker, deliveries('job', 'delivered'))).toBe(delivered + 1), SLOW);
  });

  it('sends thumbnail.failed, with the error, for a job that failed', async () => {
    const id = await submitWithCallback(api, truncated(await pngWithIccProfile400(), 0.5), receiver.url('/failed'));
    await vi.waitFor(() => expect(receiver.at('/failed')).toHaveLength(1), SLOW);
    const message = verifier.verify(receiver.at('/failed')[0].body, receiver.at('/failed')[0].headers) as Json;
    expect(message).toMatchObject({ type: 'thumbnail.failed', data: { _id: id, status: 'failed', thumbnailLink: null, error: { code: 'invalid_image' } } });
    expect(message.data).toEqual((await call(`${api}/thumbnail/${id}`)).json.data);
  });

  it('tries again after two 500s and delivers on the third attempt, with the same webhook-id and body', async () => {
    const delivered = await metric(worker, deliveries('job', 'delivered'));
    const rejected = await metric(worker, attempts('rejected'));
    receiver.plan('/flaky', [500, 500]);
    const id = await submitWithCallback(api, await png50(), receiver.url('/flaky'));
    await vi.waitFor(async () => expect(await metric(worker, deliveries('job', 'delivered'))).toBe(delivered + 1), SLOW);

    const hooks = receiver.at('/flaky');
    expect(hooks).toHaveLength(3);
    expect(new Set(hooks.map((hook) => hook.headers['webhook-id']))).toEqual(new Set([hooks[0].headers['webhook-id']]));
    expect(new Set(hooks.map((hook) => hook.body)).size).toBe(1);
    // Each attempt is signed afresh (its own webhook-timestamp), and each verifies.
    for (const hook of hooks) expect((verifier.verify(hook.body, hook.headers) as Json).data._id).toBe(id);
    const stamps = hooks.map((hook) => Number(hook.headers['webhook-timestamp']));
    expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
    expect(await metric(worker, attempts('rejected'))).toBe(rejected + 2);
  });

  it('gives up on a receiver that never answers: each attempt times out, and after WEBHOOK_ATTEMPTS it counts as failed', async () => {
    const failed = await metric(worker, deliveries('job', 'failed'));
    const timeouts = await metric(worker, attempts('timeout'));
    receiver.plan('/silent?token=receiver-token-2', ['hang', 'hang', 'hang', 'hang']);
    await submitWithCallback(api, await png50(), receiver.url('/silent?token=receiver-token-2'));
    await vi.waitFor(async () => expect(await metric(worker, deliveries('job', 'failed'))).toBe(failed + 1), SLOW);

    // Three attempts and no more, each given up by the sender, not the receiver.
    expect(receiver.at('/silent?token=receiver-token-2')).toHaveLength(3);
    await vi.waitFor(() => expect(receiver.abandoned.get('/silent?token=receiver-token-2')).toBe(3), SLOW);
    expect(await metric(worker, attempts('timeout'))).toBe(timeouts + 3);
    expect(service.logs()).toMatch(/"msg":"Webhook failed: the last attempt failed too"/);
  });

  it('keeps the secret and the callback URLs out of every log line', () => {
    const logs = service.logs();
    expect(logs).not.toContain(SECRET.slice(6));
    expect(logs).not.toContain('receiver-token');
    expect(logs).not.toContain('/every-job');
    // The host is what a log line says of the receiver.
    expect(logs).toMatch(/"receiver":"job","host":"127\.0\.0\.1:\d+","attempt":1,"status":200,"msg":"Webhook delivered"/);
  });

  it('refuses callback_url values that are not URLs webhooks may go to, and stores nothing', async () => {
    const before = await service.storedObjects('originals');
    for (const [url, reason] of [
      ['ftp://127.0.0.1/in', /http:\/\/ or https:\/\//],
      ['http://user:secret@127.0.0.1/in', /credentials/],
      ['http://hooks.example.com/in', /WEBHOOK_ALLOWED_HOSTS does not list/],
      [`http://127.0.0.1/${'a'.repeat(2100)}`, /longer than 2048/],
    ] as const) {
      await expectCallbackRefused(api, url, reason);
    }
    expect(await service.originalsAddedSince(before)).toEqual([]);
  });
});

/** An upload naming `url` as its callback is refused with 400 invalid_parameter saying `reason`. */
async function expectCallbackRefused(api: string, url: string, reason: RegExp): Promise<void> {
  const body = form(await png50());
  body.append('callback_url', url);
  const answer = await call(`${api}/thumbnail`, { method: 'POST', body });
  expect(answer.status, url).toBe(400);
  expect(answer.json.error).toMatchObject({ code: 'invalid_parameter', message: expect.stringMatching(reason) });
}

/*
 * Without an allowlist, on a test network: the worker runs in a network namespace whose only
 * route is the test network, so even a refusal that failed could send nothing to a link-local or
 * metadata address for real. It resolves `metadata.test` to the metadata address (its own
 * /etc/hosts), as a DNS answer could.
 */
describe.skipIf(skipWithoutNetworkNamespaces())('webhook addresses without an allowlist', () => {
  let service: PartitionedService;
  let api: string;
  let worker: string;

  beforeAll(async () => {
    service = await PartitionedService.start({
      env: { WEBHOOK_SECRET: SECRET, PUBLIC_URL: 'https://thumbs.example.test', WEBHOOK_ATTEMPTS: '2', WEBHOOK_BACKOFF_MS: '100', RECONCILE_INTERVAL_MS: '0' },
      workers: { worker: {} },
      workerHosts: { 'metadata.test': '169.254.169.254' },
    });
    api = service.api.url;
    worker = service.worker('worker').url;
  });
  afterAll(async () => service?.stop());

  it('refuses link-local, metadata, loopback and unspecified addresses when the job is submitted, storing nothing', async () => {
    const before = await service.bucket.keys('originals/');
    for (const [url, reason] of [
      ['http://169.254.169.254/latest/meta-data/', /metadata/],
      ['http://[fd00:ec2::254]/latest/meta-data/', /metadata/],
      ['http://[::ffff:169.254.169.254]/', /metadata/],
      ['http://169.254.0.1/', /link-local/],
      ['http://[fe80::1]:8080/', /link-local/],
      ['http://127.0.0.1:8080/hooks', /loopback/],
      ['http://0.0.0.0:8080/', /unspecified/],
    ] as const) {
      await expectCallbackRefused(api, url, reason);
    }
    expect(await service.bucket.keys('originals/')).toEqual(before);
  });

  it('refuses at delivery host names that resolve to loopback or to a metadata address', async () => {
    const refused = await metric(worker, deliveries('job', 'refused'));
    for (const url of ['http://localhost:8080/hooks', 'http://metadata.test/latest/meta-data/']) {
      const id = await submitWithCallback(api, await png50(), url);
      expect((await waitFor(api, id)).status).toBe('complete');
    }
    await vi.waitFor(async () => expect(await metric(worker, deliveries('job', 'refused'))).toBe(refused + 2), SLOW);
    expect(await metric(worker, attempts('unreachable'))).toBe(0);
    const logs = service.logs();
    expect(logs).toMatch(/"reason":"resolves to a loopback address[^"]*","msg":"Webhook refused/);
    expect(logs).toMatch(/"reason":"resolves to a cloud metadata address","msg":"Webhook refused/);
  });
});
