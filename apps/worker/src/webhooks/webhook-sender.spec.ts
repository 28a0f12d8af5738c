import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { WebhookDeliveryPayload } from '@thumbnail/jobs';
import { CallbackPolicy } from '@thumbnail/webhooks';
import { WebhookSender } from './webhook-sender';

/** The sender against a real HTTP server on 127.0.0.1 (listed, as loopback must be). */
describe('WebhookSender', () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  let server: Server;
  let base: string;
  const seen: { path: string; headers: Record<string, string | string[] | undefined>; body: string }[] = [];
  let sender: WebhookSender;

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        seen.push({ path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString() });
        if (request.url === '/moved') return void response.writeHead(302, { location: '/elsewhere' }).end();
        // Headers at once, then a body that never ends.
        if (request.url === '/trickle') return void response.writeHead(200).write('partial');
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    sender = new WebhookSender({ secret, policy: new CallbackPolicy(['127.0.0.1']), timeoutMs: 500, maxSockets: 4, userAgent: 'spec' });
  });
  afterAll(async () => {
    sender.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const delivery = (path: string): WebhookDeliveryPayload => ({
    webhookId: 'msg_spec',
    type: 'thumbnail.completed',
    jobId: 'j',
    requestId: null,
    receiver: 'job',
    url: `${base}${path}`,
    body: '{"type":"thumbnail.completed","timestamp":"2026-01-01T00:00:00.000Z","data":{}}',
  });

  it('posts the body signed with the attempt time, which the library verifies', async () => {
    const now = new Date();
    expect(await sender.send(delivery('/ok'), now)).toEqual({ result: 'delivered', status: 204 });
    const request = seen.find((entry) => entry.path === '/ok');
    expect(request?.headers['webhook-timestamp']).toBe(String(Math.floor(now.getTime() / 1000)));
    expect(new Webhook(secret).verify(request?.body ?? '', request?.headers as Record<string, string>)).toMatchObject({ type: 'thumbnail.completed' });
  });

  it('does not follow redirects: a 3xx is a rejected attempt', async () => {
    expect(await sender.send(delivery('/moved'))).toEqual({ result: 'rejected', status: 302 });
    expect(seen.some((entry) => entry.path === '/elsewhere')).toBe(false);
  });

  it('times out an answer whose body never ends', async () => {
    expect(await sender.send(delivery('/trickle'))).toEqual({ result: 'timeout' });
  });

  it('says unreachable when nothing listens, and refused for an address the policy refuses', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await sender.send({ ...delivery(''), url: `http://127.0.0.1:${port}/` })).toEqual({ result: 'unreachable', code: 'ECONNREFUSED' });
    expect(await sender.send({ ...delivery(''), url: 'http://169.254.169.254/' })).toMatchObject({ result: 'refused', reason: expect.stringMatching(/does not list/) });
  });
});
