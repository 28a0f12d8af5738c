import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the receiver got: its headers and its body exactly as sent (what is signed). */
export interface ReceivedWebhook {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** An answer to give: a status code, or `hang` (read the request, never answer). */
export type ReceiverAnswer = number | 'hang';

/**
 * A webhook receiver as a user would run one: a real HTTP server on 127.0.0.1 that records what
 * it gets and answers as planned for the request's path, in order, then 200. A hanging answer
 * keeps the connection open until the sender gives up; `abandoned` counts, per path, those the
 * sender closed without getting an answer.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  readonly abandoned = new Map<string, number>();
  private readonly plans = new Map<string, ReceiverAnswer[]>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | null = null;
    const server = createServer((request, response) => void receiver?.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver = new WebhookReceiver(server, (server.address() as AddressInfo).port);
    return receiver;
  }

  url(path = '/hooks'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** How to answer the next requests to `path` (each test uses its own path). */
  plan(path: string, answers: ReceiverAnswer[]): void {
    this.plans.set(path, [...answers]);
  }

  /** What arrived for `path`. */
  at(path: string): ReceivedWebhook[] {
    return this.received.filter((webhook) => webhook.path === path);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
    const path = request.url ?? '';
    this.received.push({ path, headers, body: Buffer.concat(chunks).toString('utf8') });
    const answer = this.plans.get(path)?.shift() ?? 200;
    if (answer === 'hang') {
      response.on('close', () => {
        if (!response.writableEnded) this.abandoned.set(path, (this.abandoned.get(path) ?? 0) + 1);
      });
      return;
    }
    response.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'no');
  }
}
