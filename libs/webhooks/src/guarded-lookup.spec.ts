import { lookup } from 'node:dns/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CallbackPolicy, CallbackRefusedError } from './callback-policy';
import { guardedLookup } from './guarded-lookup';

/**
 * The lookup on the system resolver (getaddrinfo: /etc/hosts, then DNS), with `localhost`, the
 * one name every machine resolves to a refused (loopback) address, and a server listening there
 * that must see nothing when the policy refuses.
 */
describe('guardedLookup', () => {
  let server: Server;
  let port: number;
  let requests = 0;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      requests++;
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function get(listed: boolean): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: 'localhost', port, path: '/', family: 4, lookup: guardedLookup(new CallbackPolicy([]), listed) },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('refuses a name that resolves to loopback before anything connects', async () => {
    expect((await lookup('localhost', { family: 4 })).address).toMatch(/^127\./);
    const before = requests;
    await expect(get(false)).rejects.toBeInstanceOf(CallbackRefusedError);
    expect(requests).toBe(before);
  });

  it('connects to the address it resolved when the host is listed', async () => {
    const before = requests;
    expect(await get(true)).toBe(200);
    expect(requests).toBe(before + 1);
  });

  it('answers every address when asked for all (happy eyeballs)', async () => {
    const all = await new Promise<unknown>((resolve, reject) =>
      guardedLookup(new CallbackPolicy([]), true)('localhost', { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
    );
    expect(all).toEqual(expect.arrayContaining([expect.objectContaining({ address: '127.0.0.1', family: 4 })]));
  });
});
