import type { Redis } from 'ioredis';
import { isJobStatus, type JobStatus } from './job-status';
import {
  DuplicateJobError,
  type JobListQuery,
  type JobPage,
  JobStore,
  JobStoreUnavailableError,
  type JobTransition,
  type TransitionResult,
} from './job-store';
import { decodeCursor, encodeCursor, type ListPosition, positionKey } from './job-cursor';
import { legacyVariants, type NewThumbnailJob, type ThumbnailFit, type ThumbnailJob, type ThumbnailVariant, waitingJob } from './thumbnail-job';

/*
 * Layout (prefix `tg:`):
 *   tg:job:<id>                 hash, one field per attribute (dates as epoch ms, '' for null;
 *                               `variants` as JSON, absent on records from before variants)
 *   tg:idx:all, tg:idx:status:<s>, tg:idx:owner:<o>, tg:idx:owner:<o>:status:<s>
 *                               sorted sets, every score 0, member "<createdAt ms, 13 digits>:<id>"
 *   tg:idx:original-expiry      sorted set, score = originalExpiresAt (epoch ms), member = id: the
 *                               kept originals of failed jobs, for RETRY_WINDOW_HOURS
 * Equal scores make Redis order members lexically, so ZREVRANGEBYLEX gives newest first with
 * the id as tie-break, and the last member of a page is an exact, stable cursor.
 * Scripts build index keys from the prefix, so this store assumes a single Redis node (as
 * BullMQ without hash tags does).
 */
const PREFIX = 'tg:';
/** Index members read per round trip while looking for expired jobs. */
const EXPIRY_SCAN_PAGE = 200;

const INDEX_KEYS_LUA = `
local function index_keys(prefix, owner, status)
  local keys = { prefix .. 'idx:status:' .. status }
  if owner ~= '' then
    table.insert(keys, prefix .. 'idx:owner:' .. owner .. ':status:' .. status)
  end
  return keys
end
`;

const CREATE_LUA = `${INDEX_KEYS_LUA}
local key = KEYS[1]
local prefix, member, owner = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', key) == 1 then return 0 end
for i = 4, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', prefix .. 'idx:all', 0, member)
if owner ~= '' then redis.call('ZADD', prefix .. 'idx:owner:' .. owner, 0, member) end
for _, k in ipairs(index_keys(prefix, owner, 'waiting')) do redis.call('ZADD', k, 0, member) end
return 1
`;

// ARGV: prefix, allowed statuses (comma list), target status, increment attempts (1/0), the
// attempt the record must be at ('' for any), the time the kept original must outlive (epoch ms,
// or '' for no such condition), then field/value pairs to set.
const TRANSITION_LUA = `${INDEX_KEYS_LUA}
local key = KEYS[1]
local prefix, allowed, target, increment, attempt, keptAfter = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if redis.call('EXISTS', key) == 0 then return { 0 } end
local fields = redis.call('HMGET', key, 'status', 'owner', 'createdAt', 'id', 'attempts', 'originalExpiresAt')
local current, owner = fields[1], fields[2]
if not string.find(',' .. allowed .. ',', ',' .. current .. ',', 1, true) or (attempt ~= '' and fields[5] ~= attempt) then
  return { 0, redis.call('HGETALL', key) }
end
if keptAfter ~= '' and (not fields[6] or fields[6] == '' or tonumber(fields[6]) <= tonumber(keptAfter)) then
  return { 0, redis.call('HGETALL', key) }
end
for i = 7, #ARGV, 2 do
  redis.call('HSET', key, ARGV[i], ARGV[i + 1])
  if ARGV[i] == 'originalExpiresAt' then
    if ARGV[i + 1] == '' then
      redis.call('ZREM', prefix .. 'idx:original-expiry', fields[4])
    else
      redis.call('ZADD', prefix .. 'idx:original-expiry', ARGV[i + 1], fields[4])
    end
  end
end
redis.call('HSET', key, 'status', target)
if increment == '1' then redis.call('HINCRBY', key, 'attempts', 1) end
if current ~= target then
  local member = string.format('%013d', tonumber(fields[3])) .. ':' .. fields[4]
  for _, k in ipairs(index_keys(prefix, owner, current)) do redis.call('ZREM', k, member) end
  for _, k in ipairs(index_keys(prefix, owner, target)) do redis.call('ZADD', k, 0, member) end
end
return { 1, redis.call('HGETALL', key) }
`;

const DELETE_LUA = `${INDEX_KEYS_LUA}
local key = KEYS[1]
local prefix = ARGV[1]
if redis.call('EXISTS', key) == 0 then return 0 end
local fields = redis.call('HMGET', key, 'status', 'owner', 'createdAt', 'id')
local member = string.format('%013d', tonumber(fields[3])) .. ':' .. fields[4]
redis.call('ZREM', prefix .. 'idx:all', member)
if fields[2] ~= '' then redis.call('ZREM', prefix .. 'idx:owner:' .. fields[2], member) end
for _, k in ipairs(index_keys(prefix, fields[2], fields[1])) do redis.call('ZREM', k, member) end
redis.call('ZREM', prefix .. 'idx:original-expiry', fields[4])
redis.call('DEL', key)
return 1
`;

type RedisWithScripts = Redis & {
  tgCreateJob(key: string, ...args: string[]): Promise<number>;
  tgTransitionJob(key: string, ...args: string[]): Promise<[number, string[]?]>;
  tgDeleteJob(key: string, prefix: string): Promise<number>;
};

/** Job records in the Redis that BullMQ already needs: the embedded default. */
export class RedisJobStore extends JobStore {
  private readonly redis: RedisWithScripts;

  constructor(redis: Redis) {
    super();
    redis.defineCommand('tgCreateJob', { numberOfKeys: 1, lua: CREATE_LUA });
    redis.defineCommand('tgTransitionJob', { numberOfKeys: 1, lua: TRANSITION_LUA });
    redis.defineCommand('tgDeleteJob', { numberOfKeys: 1, lua: DELETE_LUA });
    this.redis = redis as RedisWithScripts;
  }

  async create(job: NewThumbnailJob): Promise<ThumbnailJob> {
    const record = waitingJob(job);
    const created = await this.run(() =>
      this.redis.tgCreateJob(
        jobKey(job.id),
        PREFIX,
        positionKey(job.createdAt, job.id),
        job.owner ?? '',
        ...toFields(record),
      ),
    );
    if (created !== 1) throw new DuplicateJobError(job.id);
    return record;
  }

  async get(id: string): Promise<ThumbnailJob | null> {
    const fields = await this.run(() => this.redis.hgetall(jobKey(id)));
    return Object.keys(fields).length === 0 ? null : fromFields(fields);
  }

  async list(query: JobListQuery): Promise<JobPage> {
    const max = query.cursor === undefined ? '+' : `(${positionKeyOf(decodeCursor(query.cursor))}`;
    const members = await this.run(() =>
      this.redis.zrevrangebylex(indexKey(query), max, '-', 'LIMIT', 0, query.limit + 1),
    );
    const page = members.slice(0, query.limit);
    const items = await this.records(page.map(idOfMember));
    const last = page[page.length - 1];
    const nextCursor =
      members.length > query.limit ? encodeCursor({ createdAt: new Date(Number(last.slice(0, 13))), id: last.slice(14) }) : null;
    return { items, nextCursor };
  }

  /** The records of these ids, in one round trip. */
  private async records(ids: string[]): Promise<ThumbnailJob[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(jobKey(id));
    const results = await this.run(() => pipeline.exec());
    return (results ?? [])
      .map(([error, fields]) => {
        if (error) throw error;
        return fields as Record<string, string>;
      })
      // A record deleted between the two reads leaves an empty hash: skip it.
      .filter((fields) => Object.keys(fields).length > 0)
      .map(fromFields);
  }

  async transition(id: string, change: JobTransition): Promise<TransitionResult> {
    const set: string[] = [];
    if (change.startedAt) set.push('startedAt', String(change.startedAt.getTime()));
    if (change.completedAt !== undefined) set.push('completedAt', change.completedAt ? String(change.completedAt.getTime()) : '');
    if (change.originalExpiresAt !== undefined) {
      set.push('originalExpiresAt', change.originalExpiresAt ? String(change.originalExpiresAt.getTime()) : '');
    }
    if (change.thumbnailKey !== undefined) set.push('thumbnailKey', change.thumbnailKey);
    if (change.variants !== undefined) set.push('variants', JSON.stringify(change.variants));
    if (change.placeholder !== undefined) set.push('thumbhash', change.placeholder?.thumbhash ?? '');
    if (change.error !== undefined) {
      set.push('errorCode', change.error?.code ?? '', 'errorMessage', change.error?.message ?? '');
    }
    const [applied, fields] = await this.run(() =>
      this.redis.tgTransitionJob(
        jobKey(id),
        PREFIX,
        change.from.join(','),
        change.to,
        change.incrementAttempts ? '1' : '0',
        change.attempt === undefined ? '' : String(change.attempt),
        change.originalKeptAfter ? String(change.originalKeptAfter.getTime()) : '',
        ...set,
      ),
    );
    const job = fields ? fromFields(pairsToObject(fields)) : null;
    return applied === 1 && job ? { applied: true, job } : { applied: false, job };
  }

  /**
   * Walks the complete and failed indexes oldest first up to `finishedBefore` (a job finishes
   * after it is created, so nothing created later can qualify) and keeps the records that
   * finished before it. Jobs created before but finished after are read and passed over.
   */
  async expiredJobs(finishedBefore: Date, limit: number): Promise<ThumbnailJob[]> {
    const expired: ThumbnailJob[] = [];
    const max = `(${positionKey(finishedBefore, '')}`;
    for (const status of ['complete', 'failed'] as const) {
      let min = '-';
      while (expired.length < limit) {
        const members = await this.run(() =>
          this.redis.zrangebylex(indexKey({ limit, status }), min, max, 'LIMIT', 0, EXPIRY_SCAN_PAGE),
        );
        for (const job of await this.records(members.map(idOfMember))) {
          if (expired.length < limit && job.completedAt && job.completedAt < finishedBefore) expired.push(job);
        }
        if (members.length < EXPIRY_SCAN_PAGE) break;
        min = `(${members[members.length - 1]}`;
      }
    }
    return expired;
  }

  async expiredOriginals(before: Date, limit: number): Promise<ThumbnailJob[]> {
    const ids = await this.run(() =>
      this.redis.zrangebyscore(`${PREFIX}idx:original-expiry`, '-inf', `(${before.getTime()}`, 'LIMIT', 0, limit),
    );
    return this.records(ids);
  }

  async delete(id: string): Promise<void> {
    await this.run(() => this.redis.tgDeleteJob(jobKey(id), PREFIX));
  }

  async ping(): Promise<void> {
    await this.run(() => this.redis.ping());
  }

  async close(): Promise<void> {
    // The connection belongs to whoever created it (it is shared with BullMQ's producer).
  }

  private async run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      if (isConnectionError(error)) {
        throw new JobStoreUnavailableError((error as Error).message, { cause: error });
      }
      throw error;
    }
  }
}

function isConnectionError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return /Stream isn't writeable|Connection is closed|ECONNREFUSED|ETIMEDOUT|Reached the max retries|enableOfflineQueue/i.test(
    message,
  );
}

/** Index members are "<createdAt ms, 13 digits>:<id>". */
function idOfMember(member: string): string {
  return member.slice(14);
}

function jobKey(id: string): string {
  return `${PREFIX}job:${id}`;
}

function indexKey(query: JobListQuery): string {
  const owner = query.owner ? `owner:${query.owner}` : '';
  if (owner && query.status) return `${PREFIX}idx:${owner}:status:${query.status}`;
  if (owner) return `${PREFIX}idx:${owner}`;
  if (query.status) return `${PREFIX}idx:status:${query.status}`;
  return `${PREFIX}idx:all`;
}

function positionKeyOf(position: ListPosition): string {
  return positionKey(position.createdAt, position.id);
}

function toFields(job: ThumbnailJob): string[] {
  return [
    'id', job.id,
    'status', job.status,
    'originalFilename', job.originalFilename,
    'originalKey', job.originalKey,
    'thumbnailKey', job.thumbnailKey ?? '',
    'contentType', job.contentType,
    'bytes', String(job.bytes),
    'fit', job.fit,
    'width', String(job.width),
    'height', String(job.height),
    'variants', JSON.stringify(job.variants),
    'thumbhash', job.placeholder?.thumbhash ?? '',
    'owner', job.owner ?? '',
    'requestId', job.requestId ?? '',
    'createdAt', String(job.createdAt.getTime()),
    'startedAt', job.startedAt ? String(job.startedAt.getTime()) : '',
    'completedAt', job.completedAt ? String(job.completedAt.getTime()) : '',
    'attempts', String(job.attempts),
    'errorCode', job.error?.code ?? '',
    'errorMessage', job.error?.message ?? '',
    'callbackUrl', job.callbackUrl ?? '',
    'originalExpiresAt', job.originalExpiresAt ? String(job.originalExpiresAt.getTime()) : '',
  ];
}

function fromFields(f: Record<string, string>): ThumbnailJob {
  const status = f['status'];
  if (!isJobStatus(status)) throw new Error(`Corrupt job record ${f['id']}: status "${status}"`);
  const date = (v: string | undefined) => (v ? new Date(Number(v)) : null);
  const fit = (f['fit'] || 'cover') as ThumbnailFit;
  const width = Number(f['width']);
  const height = Number(f['height']);
  const thumbnailKey = f['thumbnailKey'] || null;
  return {
    id: f['id'],
    status: status as JobStatus,
    originalFilename: f['originalFilename'] ?? '',
    originalKey: f['originalKey'],
    thumbnailKey,
    contentType: f['contentType'] ?? '',
    bytes: Number(f['bytes'] ?? 0),
    fit,
    width,
    height,
    variants: f['variants'] ? parseVariants(f['id'], f['variants']) : legacyVariants({ fit, width, height, thumbnailKey }),
    placeholder: f['thumbhash'] ? { thumbhash: f['thumbhash'] } : null,
    owner: f['owner'] || null,
    requestId: f['requestId'] || null,
    createdAt: new Date(Number(f['createdAt'])),
    startedAt: date(f['startedAt']),
    completedAt: date(f['completedAt']),
    attempts: Number(f['attempts'] ?? 0),
    error: f['errorCode'] ? { code: f['errorCode'], message: f['errorMessage'] ?? '' } : null,
    callbackUrl: f['callbackUrl'] || null,
    originalExpiresAt: date(f['originalExpiresAt']),
  };
}

function parseVariants(id: string, json: string): ThumbnailVariant[] {
  const variants: unknown = JSON.parse(json);
  if (!Array.isArray(variants) || variants.length === 0) throw new Error(`Corrupt job record ${id}: variants ${json.slice(0, 80)}`);
  return variants as ThumbnailVariant[];
}

function pairsToObject(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < pairs.length; i += 2) out[pairs[i]] = pairs[i + 1];
  return out;
}
