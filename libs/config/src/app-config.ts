import { z } from 'zod';
import { availableParallelism } from 'node:os';

const MIB = 1024 * 1024;

const integer = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(fallback);

// "true"/"1"/"yes" and "false"/"0"/"no"; z.coerce.boolean would read "false" as true.
const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
    .transform((v) => v === 'true' || v === '1' || v === 'yes')
    .prefault(fallback ? 'true' : 'false');

const optionalText = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);

/**
 * Every environment variable the service reads, in one place. Both apps parse the whole schema
 * so that a variable means the same thing wherever it is set; the README's table mirrors it.
 */
export const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    PORT: integer(3000, 1, 65535),
    HOST: z.string().trim().min(1).default('0.0.0.0'),
    WORKER_PORT: integer(3001, 0, 65535),
    PUBLIC_URL: url(['http:', 'https:']).optional(),

    REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),

    STORAGE_DRIVER: z.enum(['fs', 's3']).default('fs'),
    STORAGE_DIR: z.string().trim().min(1).default('./data/files'),
    S3_ENDPOINT: url(['http:', 'https:']).optional(),
    S3_PUBLIC_ENDPOINT: url(['http:', 'https:']).optional(),
    S3_REGION: z.string().trim().min(1).default('us-east-1'),
    S3_BUCKET: z.string().trim().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid bucket name').default('thumbnails'),
    S3_ACCESS_KEY_ID: optionalText,
    S3_SECRET_ACCESS_KEY: optionalText,
    S3_FORCE_PATH_STYLE: flag(false),
    S3_SSE: z.enum(['', 'AES256', 'aws:kms']).prefault('').transform((v) => (v === '' ? undefined : v)),
    S3_CREATE_BUCKET: flag(false),
    PRESIGN_TTL_SECONDS: integer(900, 1, 7 * 24 * 3600),

    JOB_STORE: z.enum(['redis', 'mongo']).default('redis'),
    MONGO_URL: url(['mongodb:', 'mongodb+srv:']).optional(),
    JOB_RETENTION_DAYS: integer(0, 0, 36500),
    KEEP_ORIGINALS: flag(false),

    THUMBNAIL_SIZE: integer(100, 1, 4096),
    MAX_UPLOAD_BYTES: integer(20 * MIB, 1, 1024 * MIB),
    // Disk space uploads may not use (STORAGE_DRIVER=fs): kept for thumbnails, Redis and logs.
    MIN_FREE_STORAGE_BYTES: integer(1024 * MIB, 0),
    LIMIT_INPUT_PIXELS: integer(40_000_000, 1, 1_000_000_000),
    JOB_TIMEOUT_MS: integer(30_000, 100, 3_600_000),
    SMALL_PNG_FAST_PATH: flag(true),
    JOB_ATTEMPTS: integer(3, 1, 100),
    JOB_BACKOFF_MS: integer(1000, 0, 3_600_000),
    MAX_QUEUE_DEPTH: integer(10_000, 1, 100_000_000),
    KEEP_COMPLETED_QUEUE_ENTRIES: integer(1000, 0, 1_000_000),
    KEEP_FAILED_QUEUE_ENTRIES: integer(5000, 0, 1_000_000),

    WORKER_CONCURRENCY: integer(availableParallelism(), 1, 256),
    WORKER_LOCK_DURATION_MS: integer(30_000, 500, 3_600_000),
    WORKER_STALLED_INTERVAL_MS: integer(30_000, 500, 3_600_000),
    RECONCILE_INTERVAL_MS: integer(60_000, 0, 86_400_000),
    RETENTION_SWEEP_INTERVAL_MS: integer(600_000, 100, 86_400_000),
    SHUTDOWN_TIMEOUT_MS: integer(25_000, 0, 600_000),

    // SHA-256 hex digests of the accepted API keys; keys themselves are never configured.
    API_KEYS: z
      .string()
      .trim()
      .default('')
      .transform((v) => v.split(',').map((k) => k.trim().toLowerCase()).filter(Boolean))
      .refine((keys) => keys.every((k) => /^[0-9a-f]{64}$/.test(k)), 'must be comma-separated SHA-256 hex digests (64 hex characters each)'),
    API_KEYS_FILE: optionalText,
  })
  .superRefine((env, ctx) => {
    if (env.STORAGE_DRIVER === 's3') {
      for (const name of ['S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const) {
        if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'is required when STORAGE_DRIVER=s3' });
      }
    }
    if (env.JOB_STORE === 'mongo' && !env.MONGO_URL) {
      ctx.addIssue({ code: 'custom', path: ['MONGO_URL'], message: 'is required when JOB_STORE=mongo' });
    }
  });

export type Env = z.output<typeof envSchema>;
