import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, type Env } from '@thumbnail/config';

/** Accepted key digests mapped to the owner id their jobs are filed under. */
export type ApiKeyRegistry = ReadonlyMap<string, string>;

const DIGEST = /^[0-9a-f]{64}$/;

/**
 * The accepted keys, from API_KEYS and the file named by API_KEYS_FILE (one SHA-256 hex digest
 * per line, `#` comments; a mounted Secret). Empty means API keys are off.
 */
export function loadApiKeys(config: Pick<Env, 'API_KEYS' | 'API_KEYS_FILE'>): ApiKeyRegistry {
  const digests = [...config.API_KEYS];
  if (config.API_KEYS_FILE) {
    let text: string;
    try {
      text = readFileSync(config.API_KEYS_FILE, 'utf8');
    } catch (error) {
      throw new ConfigError([{ variable: 'API_KEYS_FILE', message: `cannot be read (${(error as NodeJS.ErrnoException).code})` }]);
    }
    text.split('\n').forEach((raw, index) => {
      const line = raw.replace(/#.*/, '').trim().toLowerCase();
      if (!line) return;
      if (!DIGEST.test(line)) {
        throw new ConfigError([
          { variable: 'API_KEYS_FILE', message: `line ${index + 1} is not a SHA-256 hex digest (64 hex characters)` },
        ]);
      }
      digests.push(line);
    });
  }
  // The owner id is a prefix of the digest: stable across restarts, and it reveals nothing usable.
  return new Map(digests.map((digest) => [digest, digest.slice(0, 16)]));
}

export function digestOf(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
