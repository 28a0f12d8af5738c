import type { Redis } from 'ioredis';
import type { JobStore } from '@thumbnail/jobs';
import type { Storage } from '@thumbnail/storage';

/**
 * One dependency's state as a probe may show it: a failure's `reason` is one of a few fixed
 * phrases, never the driver's message, which can name hosts, addresses, paths and buckets.
 */
export type CheckResult = { ok: true } | { ok: false; reason: string };

export interface Readiness {
  ready: boolean;
  checks: Record<string, CheckResult>;
  /** What each failing dependency said, for the log only. */
  causes: Record<string, string>;
}

const CHECK_TIMEOUT_MS = 3_000;

/** A failure whose message is ours and safe to show (a setting to change, not a place). */
class ShownFailure extends Error {}

const UNAVAILABLE = 'unavailable; the log says why';

/**
 * Readiness of everything a process needs. Each check is bounded in time so a hung dependency
 * makes the probe fail instead of hang.
 */
export async function checkReadiness(deps: { redis: Redis; storage: Storage; jobStore: JobStore }): Promise<Readiness> {
  const entries = await Promise.all([
    check('redis', () => checkRedis(deps.redis)),
    check('storage', () => deps.storage.ping()),
    check('job_store', () => deps.jobStore.ping()),
  ]);
  const checks = Object.fromEntries(entries.map(([name, result]) => [name, result]));
  const causes = Object.fromEntries(entries.flatMap(([name, , cause]) => (cause === undefined ? [] : [[name, cause]])));
  return { ready: entries.every(([, result]) => result.ok), checks, causes };
}

async function check(name: string, probe: () => Promise<void>): Promise<[string, CheckResult, string?]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ShownFailure(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return [name, { ok: true }];
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error);
    return [name, { ok: false, reason: error instanceof ShownFailure ? cause : UNAVAILABLE }, cause];
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Redis must answer and must not evict keys: an eviction policy would silently drop queued
 * jobs and job records under memory pressure.
 */
async function checkRedis(redis: Redis): Promise<void> {
  await redis.ping();
  const policy = await redis.config('GET', 'maxmemory-policy').catch(() => null);
  // Managed Redis services may refuse CONFIG; then we cannot tell and do not block on it.
  if (Array.isArray(policy) && policy[1] && policy[1] !== 'noeviction') {
    throw new ShownFailure(
      `maxmemory-policy is "${policy[1]}"; set it to "noeviction" or queued jobs may be silently dropped`,
    );
  }
}

export function describeFailures(readiness: Readiness): string {
  return Object.entries(readiness.checks)
    .filter(([, r]) => !r.ok)
    .map(([name, r]) => `${name} down (${(r as { reason: string }).reason})`)
    .join('; ');
}
