import type { Env } from '@thumbnail/config';
import { CallbackPolicy, CallbackRefusedError, MAX_CALLBACK_URL_LENGTH } from '@thumbnail/webhooks';
import { errors } from '../errors/api-error';

/**
 * The form field `callback_url`: accepted when webhooks are on (WEBHOOK_SECRET) and the policy
 * allows it without DNS. Where it resolves to is checked by the worker at each delivery, on the
 * address it connects to.
 */
export class CallbackUrls {
  private readonly policy: CallbackPolicy | null;

  constructor(config: Env) {
    this.policy = config.WEBHOOK_SECRET ? new CallbackPolicy(config.WEBHOOK_ALLOWED_HOSTS, config.WEBHOOK_URL) : null;
  }

  /** Whether uploads may name a `callback_url` at all (the OpenAPI document offers it then). */
  get accepted(): boolean {
    return this.policy !== null;
  }

  /** The URL to keep with the job, or a 400 saying why not. */
  accept(raw: string, truncated: boolean): string {
    if (!this.policy) throw errors.invalidParameter('callback_url', 'is not accepted: this server sends no webhooks (no WEBHOOK_SECRET).');
    if (truncated) throw errors.invalidParameter('callback_url', `is longer than ${MAX_CALLBACK_URL_LENGTH} characters.`);
    try {
      return this.policy.checkUrl(raw.trim()).url.href;
    } catch (error) {
      if (error instanceof CallbackRefusedError) throw errors.invalidParameter('callback_url', `${error.reason}.`);
      throw error;
    }
  }
}
