import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { APP_CONFIG, type Env } from '@thumbnail/config';
import { REDIS } from '@thumbnail/runtime';
import { errors } from '../errors/api-error';

/**
 * `tg:idem:<owner or ->:<sha256 of the key>`, a hash: the job id, the request's fingerprint and
 * whether the job is queued (`done`) or still being created (`pending`). Owners never share
 * keys; the key is hashed so a client's text never becomes part of a Redis key name.
 */
const PREFIX = 'tg:idem:';
/** A pending claim outlives any creation of a record and a queue entry; a crashed API's then expires. */
const PENDING_TTL_MS = 60_000;
/** How long a replay waits for the first request to finish creating its job before answering 409. */
const IN_FLIGHT_WAIT_MS = 10_000;

const CLAIM_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'jobId', ARGV[1], 'fingerprint', ARGV[2], 'state', 'pending')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return { 'claimed' }
end
return redis.call('HMGET', KEYS[1], 'jobId', 'fingerprint', 'state')
`;

// ARGV: job id, then 'done' and the retention (ms) to confirm, or nothing to release.
const SETTLE_LUA = `
if redis.call('HGET', KEYS[1], 'jobId') ~= ARGV[1] then return 0 end
if ARGV[2] == 'done' then
  redis.call('HSET', KEYS[1], 'state', 'done')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
return 1
`;

type RedisWithScripts = Redis & {
  tgClaimIdempotencyKey(key: string, jobId: string, fingerprint: string, ttlMs: string): Promise<(string | null)[]>;
  tgSettleIdempotencyKey(key: string, jobId: string, ...rest: string[]): Promise<number>;
};

/** What became of a claim on a key: ours, the first request's job, or a different request. */
export type KeyClaim = { kind: 'claimed' } | { kind: 'replay'; jobId: string } | { kind: 'mismatch' };

/**
 * Idempotency-Key on POST /thumbnail, with the IETF draft's and Stripe's semantics: the first
 * request with a key creates the job, and the same key from the same owner within
 * IDEMPOTENCY_RETENTION_HOURS answers with that job instead of making another. The same key with
 * a different request (another file or other fields) is refused (422).
 *
 * The claim is taken once the upload is stored and its fingerprint known. A replay arriving
 * while the first is still creating its job waits for it (at most 10 s, then 409), so
 * concurrent replays make exactly one job and, in practice, all get it.
 */
@Injectable()
export class IdempotencyKeys {
  private readonly redis: RedisWithScripts;
  private readonly retentionMs: number;

  constructor(@Inject(APP_CONFIG) config: Env, @Inject(REDIS) redis: Redis) {
    redis.defineCommand('tgClaimIdempotencyKey', { numberOfKeys: 1, lua: CLAIM_LUA });
    redis.defineCommand('tgSettleIdempotencyKey', { numberOfKeys: 1, lua: SETTLE_LUA });
    this.redis = redis as RedisWithScripts;
    this.retentionMs = config.IDEMPOTENCY_RETENTION_HOURS * 3600 * 1000;
  }

  async claim(owner: string | null, key: string, fingerprint: string, jobId: string): Promise<KeyClaim> {
    const deadline = Date.now() + IN_FLIGHT_WAIT_MS;
    for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
      const answer = await this.run(() =>
        this.redis.tgClaimIdempotencyKey(redisKey(owner, key), jobId, fingerprint, String(PENDING_TTL_MS)),
      );
      if (answer[0] === 'claimed') return { kind: 'claimed' };
      const [firstJobId, firstFingerprint, state] = answer;
      if (firstFingerprint !== fingerprint) return { kind: 'mismatch' };
      if (state === 'done' && firstJobId) return { kind: 'replay', jobId: firstJobId };
      if (Date.now() > deadline) throw errors.idempotencyKeyInUse();
      await sleep(pause);
    }
  }

  /** The job is queued: replays get it for IDEMPOTENCY_RETENTION_HOURS. */
  async confirm(owner: string | null, key: string, jobId: string): Promise<void> {
    await this.run(() => this.redis.tgSettleIdempotencyKey(redisKey(owner, key), jobId, 'done', String(this.retentionMs)));
  }

  /** The job could not be created: the key is free again, for the client's retry. */
  async release(owner: string | null, key: string, jobId: string): Promise<void> {
    await this.run(() => this.redis.tgSettleIdempotencyKey(redisKey(owner, key), jobId));
  }

  private async run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      // Redis is also the queue: while it is down the upload is refused with 503 either way.
      throw errors.unavailable('Redis', error);
    }
  }
}

/** A key: 1 to 255 visible ASCII characters, spaces inside it allowed. */
const KEY = '[\\x21-\\x7e](?:[\\x20-\\x7e]{0,253}[\\x21-\\x7e])?';
const KEY_PATTERN = new RegExp(`^${KEY}$`);

/**
 * The header as `parseIdempotencyKey` takes it, for the OpenAPI document: a key, bare or as the
 * draft's quoted string; a value in quotes is the quoted form, so what is inside must be a key.
 */
export const IDEMPOTENCY_HEADER_PATTERN = new RegExp(`^(?:(?!".*"$)${KEY}|"${KEY}")$`);

/**
 * The header's value: absent, or 1 to 255 visible ASCII characters, bare or as the draft's
 * quoted string (`"8e03978e-…"`).
 */
export function parseIdempotencyKey(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  const value = Array.isArray(header) ? null : header.trim().replace(/^"(.*)"$/, '$1');
  if (value === null || !KEY_PATTERN.test(value)) {
    throw errors.invalidHeader('Idempotency-Key', 'must be one value of 1 to 255 visible ASCII characters.');
  }
  return value;
}

function redisKey(owner: string | null, key: string): string {
  return `${PREFIX}${owner ?? '-'}:${createHash('sha256').update(key).digest('hex')}`;
}
