import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Webhook } from 'standardwebhooks';
import type { WebhookDeliveryPayload } from '@thumbnail/jobs';
import { CallbackPolicy, CallbackRefusedError, guardedLookup } from '@thumbnail/webhooks';

/**
 * How one attempt ended:
 * - `delivered`: the receiver answered 2xx;
 * - `rejected`: it answered anything else (redirects are not followed);
 * - `timeout`: no complete answer within WEBHOOK_TIMEOUT_MS;
 * - `unreachable`: no connection (refused, reset, no such host);
 * - `refused`: the policy refused the URL or an address it resolved to; no byte was sent.
 */
export type AttemptResult =
  | { result: 'delivered'; status: number }
  | { result: 'rejected'; status: number }
  | { result: 'timeout' }
  | { result: 'unreachable'; code: string }
  | { result: 'refused'; reason: string };

export type AttemptResultKind = AttemptResult['result'];

export interface WebhookSenderOptions {
  /** WEBHOOK_SECRET, `whsec_…`; without it nothing can be sent (and nothing is queued). */
  secret: string | undefined;
  policy: CallbackPolicy;
  timeoutMs: number;
  /** Connections kept open per receiver between attempts. */
  maxSockets: number;
  userAgent: string;
}

class AttemptTimeoutError extends Error {}

/**
 * Signs a message per Standard Webhooks (with the maintained `standardwebhooks` library) and
 * POSTs it once. Every attempt is signed afresh, with its own `webhook-timestamp`, because
 * receivers refuse timestamps older than a few minutes; the id and the body stay the same.
 */
export class WebhookSender {
  private readonly signer: Webhook | null;
  private readonly agents: { http: HttpAgent; https: HttpsAgent };

  constructor(private readonly options: WebhookSenderOptions) {
    this.signer = options.secret ? new Webhook(options.secret) : null;
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
    this.agents = { http: new HttpAgent(agentOptions), https: new HttpsAgent(agentOptions) };
  }

  async send(delivery: WebhookDeliveryPayload, now = new Date()): Promise<AttemptResult> {
    if (!this.signer) throw new Error('A webhook was queued but WEBHOOK_SECRET is not set');
    let url: URL;
    let listed: boolean;
    try {
      ({ url, listed } = this.options.policy.checkUrl(delivery.url));
    } catch (error) {
      if (error instanceof CallbackRefusedError) return { result: 'refused', reason: error.reason };
      throw error;
    }
    const body = Buffer.from(delivery.body);
    const headers = {
      'content-type': 'application/json',
      'content-length': String(body.length),
      'user-agent': this.options.userAgent,
      'webhook-id': delivery.webhookId,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': this.signer.sign(delivery.webhookId, now, body),
    };
    try {
      const status = await this.post(url, headers, body, listed);
      return status >= 200 && status < 300 ? { result: 'delivered', status } : { result: 'rejected', status };
    } catch (error) {
      if (error instanceof CallbackRefusedError) return { result: 'refused', reason: error.reason };
      if (error instanceof AttemptTimeoutError) return { result: 'timeout' };
      return { result: 'unreachable', code: (error as NodeJS.ErrnoException).code ?? (error as Error).name };
    }
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /** The status of the answer, once its body has been read (and dropped) within the time limit. */
  private post(url: URL, headers: Record<string, string>, body: Buffer, listed: boolean): Promise<number> {
    const https = url.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const request = send(url, {
        method: 'POST',
        headers,
        agent: https ? this.agents.https : this.agents.http,
        lookup: guardedLookup(this.options.policy, listed),
      });
      const timer = setTimeout(() => {
        timedOut = true;
        request.destroy(new AttemptTimeoutError());
      }, this.options.timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(timedOut ? new AttemptTimeoutError() : error);
      };
      request.on('error', fail);
      request.on('response', (response: IncomingMessage) => {
        response.on('error', fail);
        // Cut off in the middle of the body: by our timer, or by the receiver.
        response.on('close', () => {
          if (!response.complete) fail(Object.assign(new Error('answer cut off'), { code: 'ECONNRESET' }));
        });
        response.on('end', () => {
          clearTimeout(timer);
          resolve(response.statusCode ?? 0);
        });
        response.resume();
      });
      request.end(body);
    });
  }
}
