import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningApp } from '@thumbnail/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RULES_FILE, alertQueries, dashboardQueries } from './dashboard-queries';
import { absentArgument, alertOperands, subqueryResolutionsSeconds, withoutThresholds } from './prometheus-promql';
import { type PromAlertRule, type PromSample, type RulesData, type RunningPrometheus, requirePrometheus, startPrometheus } from './prometheus-server';
import * as testing from '@thumbnail/testing';
import { type TrafficFiles, type WebhookReceiver, call, startWebhookReceiver, trafficFiles, upload, uploadAndWait } from './prometheus-traffic';

/*
 * The chart's PromQL against the real thing: a real Prometheus scrapes the built API and worker
 * while the test drives uploads through them, then every dashboard panel query and every alert
 * expression is run on that server. promtool (monitoring.spec.ts) proves the queries parse; this
 * proves they name metrics and labels the apps really expose.
 */

const API_JOB = 'thumbnail-generator-api';
const WORKER_JOB = 'thumbnail-generator-worker';
const JOBS = [API_JOB, WORKER_JOB];
/** Prometheus' default --query.lookback-delta: an instant selector sees samples this old. */
const LOOKBACK_SECONDS = 300;
const GOOD_UPLOADS_PER_ROUND = 3;
const FAILING_UPLOADS_PER_ROUND = 2;

/*
 * Everything started is registered here as soon as it exists and torn down in reverse order,
 * whichever step failed. A hook that times out leaves its start running: teardown first refuses
 * new starts and waits for those in flight, or the process they spawn would outlive the suite.
 */
const cleanups: (() => Promise<void> | void)[] = [];
const inFlight = new Set<Promise<unknown>>();
let tearingDown = false;

function started<T>(start: () => Promise<T>, teardown: (value: T) => Promise<void> | void): Promise<T> {
  if (tearingDown) return Promise.reject(new Error('the suite is tearing down: not starting anything more'));
  const registered = start().then((value) => {
    cleanups.push(() => teardown(value));
    return value;
  });
  inFlight.add(registered);
  void registered.finally(() => inFlight.delete(registered)).catch(() => undefined);
  return registered;
}

let prometheus: RunningPrometheus;
/** Unix seconds at which every query is evaluated, so they all see the same data. */
let evaluatedAt: number;
let logs: () => string = () => '';
let webhooks: WebhookReceiver;

beforeAll(async () => {
  requirePrometheus();
  const workDir = await started(
    async () => mkdtempSync(join(tmpdir(), 'prometheus-scrape-')),
    (dir) => rmSync(dir, { recursive: true, force: true }),
  );
  const storageDir = join(workDir, 'files');
  mkdirSync(storageDir);

  const redis = await started(() => testing.startRedisServer(), (server) => server.destroy());
  webhooks = await started(() => startWebhookReceiver(), (receiver) => receiver.close());
  const env = {
    REDIS_URL: redis.url,
    STORAGE_DRIVER: 'fs',
    STORAGE_DIR: storageDir,
    WORKER_CONCURRENCY: '2',
    JOB_ATTEMPTS: '1',
    RECONCILE_INTERVAL_MS: '0',
    SHUTDOWN_TIMEOUT_MS: '5000',
    // Every job's webhook to a receiver that rejects every other one; one attempt each, so the
    // rejected ones count as failed deliveries at once.
    WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
    WEBHOOK_URL: webhooks.url,
    PUBLIC_URL: 'http://thumbnails.example.test',
    WEBHOOK_ATTEMPTS: '1',
  };
  // One after the other, as the e2e suites do: on 2 busy cores, two Node apps booting at once
  // can take long enough to hit startApp's 30 s /health deadline.
  const worker = await startApp('worker', env);
  const api = await startApp('api', env);

  const port = await testing.freePort();
  prometheus = await started(
    () =>
      startPrometheus({
        targets: { [API_JOB]: `127.0.0.1:${api.port}`, [WORKER_JOB]: `127.0.0.1:${worker.port}` },
        ruleFiles: [RULES_FILE],
        port,
        dir: join(workDir, 'prometheus'),
      }),
    (server) => server.stop(),
  );
  logs = () =>
    [`--- api\n${api.output()}`, `--- worker\n${worker.output()}`, `--- prometheus\n${prometheus.output()}`]
      .map((log) => log.slice(-4000))
      .join('\n');

  // A first scrape of each target before any traffic: rate() only counts increases between
  // samples, so counters must already have a sample from before the traffic.
  const start = Date.now() / 1000;
  await waitForScrapes(start, 0);
  const files = await trafficFiles();
  // Two rounds with a scrape in between: a labelled series (a route's 415s, a failure code) is
  // born during round 1 with its count already in it, so only round 2 gives it a rate above 0.
  await driveRound(api.url, storageDir, files);
  await waitForScrapes(Date.now() / 1000, 1);
  await driveRound(api.url, storageDir, files);
  // Three scrapes after the traffic: the last requests' metrics land just after their responses.
  const trafficEnd = Date.now() / 1000;
  const lastScrape = await waitForScrapes(trafficEnd, 3);
  await waitForRuleEvaluation(lastScrape);
  evaluatedAt = lastScrape;
}, 90_000);

afterAll(async () => {
  tearingDown = true;
  await Promise.allSettled([...inFlight]);
  const errors: unknown[] = [];
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, 'tearing down the scrape test failed');
}, 60_000);

/** Apps still running, killed if the test process exits without tearing down (a crash, a bail). */
const liveApps = new Set<RunningApp>();
process.once('exit', () => liveApps.forEach((app) => app.kill('SIGKILL')));
/** Apps that ended before teardown stopped them, and how. */
const deadApps: string[] = [];

function startApp(name: 'api' | 'worker', env: Record<string, string>): Promise<RunningApp> {
  return started(
    async () => {
      const app = await testing.startApp(name, env);
      liveApps.add(app);
      void app.exited.then(({ code, signal }) => {
        if (liveApps.has(app)) deadApps.push(`${name} (pid ${app.pid}) exited (${signal ? `signal ${signal}` : `code ${code}`})`);
      });
      return app;
    },
    async (app) => {
      liveApps.delete(app);
      await app.stop();
    },
  );
}

/**
 * Uploads that end in every outcome the dashboard tells apart: complete jobs, jobs the worker
 * fails (`invalid_image`), uploads the API refuses (415, 400), 404s, and 503s.
 */
async function driveRound(api: string, storageDir: string, files: TrafficFiles): Promise<void> {
  const webhooksBefore = webhooks.received();
  const jobs = await Promise.all([
    ...Array.from({ length: GOOD_UPLOADS_PER_ROUND }, () => uploadAndWait(api, files.png)),
    ...Array.from({ length: FAILING_UPLOADS_PER_ROUND }, () => uploadAndWait(api, files.truncatedPng)),
  ]);
  // One webhook per finished job, sent right after it finished.
  await vi.waitFor(() => expect(webhooks.received() - webhooksBefore).toBe(jobs.length), { timeout: 10_000, interval: 50 });
  expect(jobs.map((job) => job.error?.code ?? job.status)).toEqual([
    ...Array<string>(GOOD_UPLOADS_PER_ROUND).fill('complete'),
    ...Array<string>(FAILING_UPLOADS_PER_ROUND).fill('invalid_image'),
  ]);
  const refused = [
    await upload(api, files.pdf, { filename: 'report.pdf', type: 'application/pdf' }),
    await upload(api, Buffer.alloc(0)),
    await call(`${api}/thumbnail/${randomUUID()}`),
    await call(`${api}/no-such-route`),
  ];
  expect(refused.map((answer) => answer.status)).toEqual([415, 400, 404, 404]);
  // Without a 5xx the "5xx ratio" panel and ServiceAvailability's operands have no data at all
  // (sum() over no series is empty, not 0), and would prove nothing about `status_code=~"5.."`.
  const unavailable = await withOriginalsBlocked(storageDir, () => Promise.all([upload(api, files.png), upload(api, files.png)]));
  expect(unavailable.map((answer) => answer.status)).toEqual([503, 503]);
}

/**
 * Runs `action` while `<STORAGE_DIR>/originals` is a plain file: the fs storage cannot create
 * an upload under it (ENOTDIR), which the API answers with 503 "Storage is unavailable". Only
 * called between rounds' jobs, so no job is reading an original meanwhile.
 */
async function withOriginalsBlocked<T>(storageDir: string, action: () => Promise<T>): Promise<T> {
  const originals = join(storageDir, 'originals');
  const aside = join(storageDir, 'originals-aside');
  const hadOriginals = existsSync(originals);
  if (hadOriginals) renameSync(originals, aside);
  writeFileSync(originals, '');
  try {
    return await action();
  } finally {
    rmSync(originals, { force: true });
    if (hadOriginals) renameSync(aside, originals);
  }
}

function waitUntil<T>(what: string, probe: () => Promise<{ done: T } | { pending: string }>, timeoutMs = 30_000): Promise<T> {
  return vi.waitFor(
    async () => {
      // Nothing here stops an app before teardown: a signal means something outside the test.
      if (deadApps.length > 0) throw new Error(`${deadApps.join('; ')} during the test\n${logs()}`);
      const result = await probe();
      if ('done' in result) return result.done;
      throw new Error(`waiting for ${what}; last: ${result.pending}\n${logs()}`);
    },
    { timeout: timeoutMs, interval: 200 },
  );
}

/**
 * Waits until each target's latest scrape started at least `seconds` after `since` (with 1 s
 * scrapes, that many scrapes have run since) and was successful. Returns the latest scrape time
 * common to both targets.
 */
function waitForScrapes(since: number, seconds: number): Promise<number> {
  return waitUntil<number>(`scrapes of ${JOBS.join(' and ')} ${seconds} s after ${since}`, async () => {
    const answer = await prometheus.query('up');
    const samples = answer.status === 'success' ? (answer.data.result as PromSample[]) : [];
    const scrapes = JOBS.map((job) => samples.find((sample) => sample.metric.job === job));
    const ready = scrapes.every((sample) => sample && sample.value[1] === '1' && sample.value[0] >= since + seconds);
    if (ready) return { done: Math.min(...scrapes.map((sample) => (sample as PromSample).value[0])) };
    return { pending: JSON.stringify(samples) };
  });
}

function alertRules(rules: RulesData): PromAlertRule[] {
  return rules.groups.flatMap((group) => group.rules.filter((rule) => rule.type === 'alerting'));
}

/** Waits until Prometheus has evaluated every alert rule on data scraped at or after `time`. */
function waitForRuleEvaluation(time: number): Promise<void> {
  return waitUntil<void>('every alert rule to be evaluated after the traffic', async () => {
    const answer = await prometheus.api<RulesData>('/api/v1/rules', { type: 'alert' });
    const rules = answer.status === 'success' ? alertRules(answer.data) : [];
    const stale = rules.filter((rule) => Date.parse(rule.lastEvaluation) / 1000 < time);
    if (rules.length > 0 && stale.length === 0) return { done: undefined };
    return { pending: `${rules.length} rules, not yet evaluated: ${stale.map((rule) => rule.name).join(', ')}` };
  });
}

/** An instant query's samples, failing with Prometheus' own error for invalid PromQL. */
async function samples(expr: string, time = evaluatedAt): Promise<PromSample[]> {
  const answer = await prometheus.query(expr, time);
  expect(answer.status, `${expr}\n${answer.errorType}: ${answer.error}`).toBe('success');
  expect(answer.data.resultType, expr).toBe('vector');
  return answer.data.result as PromSample[];
}

/** NaN (0/0, a quantile without observations) is a sample too, but one a panel cannot draw. */
function expectFiniteData(expr: string, result: PromSample[]): void {
  expect(result, `no series for ${expr}`).not.toEqual([]);
  expect(
    result.some((sample) => Number.isFinite(Number(sample.value[1]))),
    `only NaN/Inf for ${expr}: ${JSON.stringify(result)}`,
  ).toBe(true);
}

function oneLine(expr: string): string {
  return expr.replace(/\s+/g, ' ');
}

describe('Prometheus scraping the api and worker', () => {
  it('scrapes both apps and finds them up', async () => {
    const up = await samples('up');
    expect(Object.fromEntries(up.map((sample) => [sample.metric.job, sample.value[1]]))).toEqual({
      [API_JOB]: '1',
      [WORKER_JOB]: '1',
    });
  });

  it('loads every alert of the rules file and evaluates each without error', async () => {
    const answer = await prometheus.api<RulesData>('/api/v1/rules', { type: 'alert' });
    expect(answer.status).toBe('success');
    const rules = alertRules(answer.data);
    expect(rules.map((rule) => rule.name).sort()).toEqual(alertQueries().map((alert) => alert.alert).sort());
    for (const rule of rules) {
      expect({ name: rule.name, health: rule.health, lastError: rule.lastError ?? '' }).toEqual({
        name: rule.name,
        health: 'ok',
        lastError: '',
      });
    }
  });
});

describe('every dashboard panel query returns data', () => {
  it.each(dashboardQueries().map((query) => [`${query.panelId} "${query.panelTitle}" ${query.refId}`, query.expr]))(
    'panel %s',
    async (_panel, expr) => {
      expectFiniteData(expr, await samples(expr));
    },
  );
});

/*
 * An alert expression returns nothing while its alert is quiet, so "returns data" is asked of
 * what each alert compares with its threshold: every operand's left-hand side, and the whole
 * expression with its thresholds removed (which also proves the `and` sides' labels match).
 */
describe.each(alertQueries().map((alert) => [alert.alert, alert.expr]))('alert %s', (_alert, expr) => {
  // A subquery's points sit on multiples of its resolution: deriv(...[10m:1m]) needs two of them
  // with data, up to two minutes of history this test does not have. Evaluated that much later,
  // the lookback still finds the last scraped samples, so the selectors and labels are checked
  // on real data; how the alert behaves over time is left to the promtool unit tests.
  const shift = (part: string) => Math.max(0, ...subqueryResolutionsSeconds(part).map((step) => 2 * step));
  const at = (part: string) => {
    if (shift(part) >= LOOKBACK_SECONDS) throw new Error(`${part}: its subquery resolution is too coarse to evaluate here`);
    return evaluatedAt + shift(part);
  };

  it('is valid PromQL on the server', async () => {
    await samples(expr);
  });

  it('returns data without its thresholds', async () => {
    const stripped = withoutThresholds(expr);
    expect((await samples(stripped, at(stripped))).length, stripped).toBeGreaterThan(0);
  });

  it.each(alertOperands(expr).map((operand) => [oneLine(operand.lhs), operand]))('operand %s', async (_lhs, operand) => {
    const absentOf = absentArgument(operand.lhs);
    if (absentOf === null) {
      expectFiniteData(operand.lhs, await samples(operand.lhs, at(operand.lhs)));
      return;
    }
    // absent(x) is built to be empty while x exists: it covers the target vanishing from
    // scraping altogether. Empty here, with x itself returning data, shows its selector names
    // the real target; a wrong job label would make it return 1 and the alert fire.
    expect(await samples(operand.lhs), `${operand.lhs} while both targets are up`).toEqual([]);
    expectFiniteData(absentOf, await samples(absentOf));
  });
});
