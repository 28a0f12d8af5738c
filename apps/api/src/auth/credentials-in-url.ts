import type { FastifyInstance } from 'fastify';
import { errors } from '../errors/api-error';

/** Query parameters of our own API: none carries a secret, so the log keeps their values. */
const LOGGED_PARAMETERS = new Set(['fit', 'wait', 'limit', 'status', 'cursor']);

/**
 * Names that say "credential" once lowercased and stripped of separators and brackets:
 * api_key, apiKey, key, token, access_token, X-Api-Key, auth, password, client_secret, jwt, ...
 */
const CREDENTIAL_NAME = /(key|token|secret|passw(or)?d|passphrase|pwd|auth|authorization|bearer|jwt|credentials?|signature|session)$/;

function queryOf(url: string): URLSearchParams | null {
  const start = url.indexOf('?');
  return start === -1 ? null : new URLSearchParams(url.slice(start + 1));
}

function looksLikeCredential(name: string): boolean {
  return CREDENTIAL_NAME.test(name.toLowerCase().replace(/[^a-z0-9]/g, ''));
}

/** The first query parameter of `url` named like a credential, or null. */
export function credentialParameter(url: string): string | null {
  for (const name of queryOf(url)?.keys() ?? []) if (looksLikeCredential(name)) return name;
  return null;
}

/**
 * The URL as the log shows it: the path, our own parameters, the names of credential-like ones
 * (to see what was refused) and nothing else. A client may put anything in a query string, a
 * key even as a parameter's name; whoever reads the logs would see it all.
 */
export function urlForLog(url: string): string {
  const query = queryOf(url);
  if (!query) return url;
  const path = url.slice(0, url.indexOf('?'));
  const shown = [...query].map(([name, value]) => {
    if (LOGGED_PARAMETERS.has(name)) return `${name}=${encodeURIComponent(value)}`;
    return looksLikeCredential(name) && /^[\w.-]{1,40}$/.test(name) ? `${name}=[redacted]` : '[redacted]';
  });
  return `${path}?${shown.join('&')}`;
}

/**
 * Refuses, on every route and before anything else reads the request, a URL that carries a
 * credential: keys belong in the Authorization header, never where proxies and logs keep them.
 */
export function refuseCredentialsInUrl(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', async (request) => {
    const name = credentialParameter(request.url);
    if (name !== null) throw errors.credentialsInUrl(/^[\w.-]{1,40}$/.test(name) ? name : null);
  });
}
