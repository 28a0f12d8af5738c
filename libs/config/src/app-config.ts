import { z } from 'zod';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { MAX_PRESETS, presetsVariable } from './thumbnail-presets';

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

const urlProblem = (protocols: string[]) => `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`;

function hasProtocol(value: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** The names proxy-addr (Fastify's trustProxy) knows for whole ranges. */
const NAMED_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

function isAddressOrRange(value: string): boolean {
  if (NAMED_RANGES.includes(value)) return true;
  const [address, prefix, ...rest] = value.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
}

/**
 * Which peers may set X-Forwarded-For/-Host/-Proto: a hop count (the nearest N proxies) or a list
 * of addresses and CIDR ranges. Unset or 0: none, so a client cannot change the links the API
 * returns by sending those headers.
 */
const trustedProxies = z
  .string()
  .trim()
  .default('')
  .refine(
    (v) => v === '' || /^\d{1,2}$/.test(v) || v.split(',').every((item) => isAddressOrRange(item.trim())),
    `must be a number of proxy hops or comma-separated IP addresses or CIDR ranges (or ${NAMED_RANGES.join(', ')})`,
  )
  .transform((v): number | string[] | undefined => {
    if (v === '' || v === '0') return undefined;
    if (/^\d+$/.test(v)) return Number(v);
    return v.split(',').map((item) => item.trim());
  });

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((v) => hasProtocol(v, protocols), urlProblem(protocols));

const WEBHOOK_SECRET_PROBLEM = 'must be whsec_ followed by the base64 of 24 to 64 random bytes (the Standard Webhooks form)';

function isWebhookSecret(value: string): boolean {
  const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(value);
  if (!match) return false;
  const bytes = Buffer.from(match[1], 'base64').length;
  return bytes >= 24 && bytes <= 64;
}

/** `hooks.example.com`, `*.example.com`, `10.0.0.7`, `[fd00::7]` or `fd00::7`. */
function isHostPattern(value: string): boolean {
  const name = value.startsWith('*.') ? value.slice(2) : value;
  if (/^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/.test(name)) return true;
  return !value.startsWith('*.') && isIP(value.replace(/^\[(.*)\]$/, '$1')) !== 0;
}

/** Variables every process reads, whatever storage and job store it uses. */
const common = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PORT: integer(3000, 1, 65535),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  WORKER_PORT: integer(3001, 0, 65535),
  PUBLIC_URL: url(['http:', 'https:']).optional(),
  TRUST_PROXY: trustedProxies,
  // Every request ends: a body that pauses or drags on is cut off (408) and its upload dropped.
  REQUEST_TIMEOUT_MS: integer(300_000, 1000, 3_600_000),
  BODY_IDLE_TIMEOUT_MS: integer(30_000, 100, 3_600_000),
  LIST_CONCURRENCY_PER_KEY: integer(2, 1, 1000),
  LIST_JOBS_PER_SECOND_PER_KEY: integer(5000, 1, 10_000_000),

  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),

  JOB_RETENTION_DAYS: integer(0, 0, 36500),
  KEEP_ORIGINALS: flag(false),

  THUMBNAIL_SIZE: integer(100, 1, 4096),
  THUMBNAIL_PRESETS: presetsVariable,
  MAX_VARIANTS_PER_JOB: integer(4, 1, MAX_PRESETS),
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

  // Completion webhooks (Standard Webhooks): the worker signs and delivers them.
  WEBHOOK_URL: url(['http:', 'https:']).optional(),
  WEBHOOK_SECRET: optionalText.refine((v) => v === undefined || isWebhookSecret(v), WEBHOOK_SECRET_PROBLEM),
  WEBHOOK_ALLOWED_HOSTS: z
    .string()
    .trim()
    .default('')
    .transform((v) => v.split(',').map((host) => host.trim().toLowerCase()).filter(Boolean))
    .refine((hosts) => hosts.every(isHostPattern), 'must be comma-separated host names (*.example.com for any subdomain) or IP addresses'),
  WEBHOOK_TIMEOUT_MS: integer(10_000, 100, 120_000),
  WEBHOOK_ATTEMPTS: integer(14, 1, 30),
  WEBHOOK_BACKOFF_MS: integer(10_000, 0, 3_600_000),
  WEBHOOK_CONCURRENCY: integer(16, 1, 256),

  // Safe retries of requests: Idempotency-Key, and POST /thumbnail/:id/retry.
  IDEMPOTENCY_RETENTION_HOURS: integer(24, 1, 720),
  RETRY_WINDOW_HOURS: integer(24, 0, 8760),
});

const requiredText = (when: string) =>
  z.string({ error: `is required when ${when}` }).trim().min(1, `is required when ${when}`);

const MONGO_PROTOCOLS = ['mongodb:', 'mongodb+srv:'];

/** STORAGE_DRIVER picks one of these, and only its variables are read. */
const storage = z.discriminatedUnion(
  'STORAGE_DRIVER',
  [
    z.object({
      STORAGE_DRIVER: z.literal('fs'),
      STORAGE_DIR: z.string().trim().min(1).default('./data/files'),
    }),
    z.object({
      STORAGE_DRIVER: z.literal('s3'),
      S3_ENDPOINT: url(['http:', 'https:']).optional(),
      S3_PUBLIC_ENDPOINT: url(['http:', 'https:']).optional(),
      S3_REGION: z.string().trim().min(1).default('us-east-1'),
      S3_BUCKET: z.string().trim().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid bucket name').default('thumbnails'),
      S3_ACCESS_KEY_ID: requiredText('STORAGE_DRIVER=s3'),
      S3_SECRET_ACCESS_KEY: requiredText('STORAGE_DRIVER=s3'),
      S3_FORCE_PATH_STYLE: flag(false),
      S3_SSE: z.enum(['', 'AES256', 'aws:kms']).prefault('').transform((v) => (v === '' ? undefined : v)),
      S3_CREATE_BUCKET: flag(false),
      PRESIGN_TTL_SECONDS: integer(900, 1, 7 * 24 * 3600),
    }),
  ],
  { error: 'must be fs or s3' },
);

/** JOB_STORE picks one of these. */
const jobStore = z.discriminatedUnion(
  'JOB_STORE',
  [
    z.object({ JOB_STORE: z.literal('redis') }),
    z.object({
      JOB_STORE: z.literal('mongo'),
      MONGO_URL: requiredText('JOB_STORE=mongo').refine((v) => hasProtocol(v, MONGO_PROTOCOLS), urlProblem(MONGO_PROTOCOLS)),
    }),
  ],
  { error: 'must be redis or mongo' },
);

/** Variables whose values never appear in an error message (or, through it, in a log). */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set(['WEBHOOK_SECRET', 'S3_SECRET_ACCESS_KEY']);

/** The drivers' own defaults, filled in before the unions pick a branch by them. */
export const DRIVER_DEFAULTS: Readonly<Record<string, string>> = { STORAGE_DRIVER: 'fs', JOB_STORE: 'redis' };

/**
 * Every environment variable the service reads, in one place. Both apps parse the whole schema
 * so that a variable means the same thing wherever it is set; docs/configuration.md's table is
 * tested against it. The storage and job-store variables are a union keyed on their driver, so
 * code that checks `STORAGE_DRIVER === 's3'` gets the S3 settings typed as present.
 */
export const envSchema = z.preprocess(
  (env) => ({ ...DRIVER_DEFAULTS, ...definedEntries(env) }),
  z.intersection(common, z.intersection(storage, jobStore)).superRefine(requireWebhookSettings),
);

/** Settings webhooks cannot work without, named on the variable to set. */
function requireWebhookSettings(env: z.output<typeof common> & { S3_PUBLIC_ENDPOINT?: string }, context: z.RefinementCtx): void {
  if (env.WEBHOOK_URL && !env.WEBHOOK_SECRET) {
    context.addIssue({ code: 'custom', path: ['WEBHOOK_SECRET'], message: 'is required when WEBHOOK_URL is set: every webhook is signed' });
  }
  // The worker has no request to take a host from: thumbnailLink in a webhook is PUBLIC_URL's,
  // unless S3 hands out presigned links.
  if (env.WEBHOOK_SECRET && !env.PUBLIC_URL && !env.S3_PUBLIC_ENDPOINT) {
    context.addIssue({
      code: 'custom',
      path: ['PUBLIC_URL'],
      message: 'is required when WEBHOOK_SECRET is set (webhooks carry thumbnailLink), unless S3_PUBLIC_ENDPOINT is set',
    });
  }
}

function definedEntries(env: unknown): Record<string, unknown> {
  if (typeof env !== 'object' || env === null) return {};
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined));
}

export type Env = z.output<typeof envSchema>;

/** The schema's parts, for documentation and its test: every variable is in one of them. */
export const ENV_SCHEMA_PARTS = [common, ...storage.options, ...jobStore.options] as const;
