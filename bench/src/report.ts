/*
 * Turns one run's measurements into the per-image comparison, the target verdicts and the
 * printed tables. Pure: no measuring here.
 */
import { ALL_PHASES, P99_TARGET_IMAGE, WORKER_RSS_TARGET_IMAGE, type BenchSettings } from './bench-settings';
import type { CorpusImage } from './corpus';
import type { ProfileResult } from './profile-pass';
import type { LimitResult } from './limit-bench';
import type { MachineInfo } from './machine-info';
import type { PeerResult } from './nginx-peer';
import type { ServiceImageResult, ServiceResult } from './service-bench';
import type { StorageMode } from './bench-service';
import type { VariantsResult } from './variants-bench';
import { median } from './load-loops';
import type { WebhookBenchResult } from './webhook-bench';

export const TARGETS = {
  serviceOverLimit: 0.8,
  serviceOverPeer: 1,
  p50Factor: 2,
  p50SlackMs: 10,
  p99Ms: 100,
  apiRssMiB: 150,
  workerRssMiB: 350,
  /** A job making three variants costs less than this times the costliest of them alone. */
  threeVariantsOverOne: 1.6,
  /** With webhooks, the fastest run reaches at least the slowest without: no measurable cost. */
  webhookRunsOverlap: 1,
} as const;

export interface ImageRow {
  id: string;
  description: string;
  bytes: number;
  /** makeThumbnail alone, median, ms. */
  singleMs: number;
  /** SharpImageProcessor alone, one image, median, ms: the p50 budget's base. */
  sharpSingleMs: number;
  /** Thumbnails per second. */
  limit: number;
  /** SharpImageProcessor alone: the limit without the small-PNG fast path. */
  sharp: number;
  bare: number;
  nginx: number | null;
  service: Record<StorageMode, number | null>;
  serviceOverLimit: Record<StorageMode, number | null>;
  /** Service over sharp alone: the issue's "raw sharp limit". */
  serviceOverSharp: Record<StorageMode, number | null>;
  serviceOverNginx: Record<StorageMode, number | null>;
}

export interface TargetVerdict {
  target: string;
  subject: string;
  measured: number | null;
  threshold: string;
  /** measured relative to the threshold, as a signed % (positive = headroom). */
  marginPct: number | null;
  verdict: 'PASS' | 'MISS' | 'n/a';
}

export interface BenchReport {
  generatedAt: string;
  durationSeconds: number;
  /** Time spent waiting for other work on the machine to stop before measurements. */
  quietWaitSeconds: number;
  /** Measurements run a second time because other work disturbed the first. */
  repeatedNoisyMeasurements: number;
  machine: MachineInfo;
  settings: BenchSettings;
  corpus: Array<{ id: string; description: string; bytes: number; format: string; width: number; height: number; channels: number; hasIcc: boolean }>;
  rows: ImageRow[];
  targets: TargetVerdict[];
  limit: LimitResult[];
  peer: PeerResult | null;
  service: Partial<Record<StorageMode, ServiceResult>>;
  webhooks: WebhookBenchResult | null;
  profile: ProfileResult | null;
  variants: VariantsResult | null;
  errors: string[];
}

const MODES: StorageMode[] = ['fs', 's3'];

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return a / b;
}

export function imageRows(corpus: CorpusImage[], limit: LimitResult[], peer: PeerResult | null, service: BenchReport['service']): ImageRow[] {
  return corpus.map((image) => {
    const lim = limit.find((l) => l.id === image.id);
    const peerImage = peer?.images.find((p) => p.id === image.id);
    const nginx = peerImage && !peerImage.error ? peerImage.perSecond : null;
    const serviceRate = (mode: StorageMode) => service[mode]?.images.find((s) => s.id === image.id)?.saturation.perSecond ?? null;
    const rates = { fs: serviceRate('fs'), s3: serviceRate('s3') };
    return {
      id: image.id,
      description: image.description,
      bytes: image.data.length,
      singleMs: lim?.singleMs ?? NaN,
      sharpSingleMs: lim?.sharpSingleMs ?? NaN,
      limit: lim?.saturation.perSecond ?? NaN,
      sharp: lim?.sharp.perSecond ?? NaN,
      bare: lim?.bare.perSecond ?? NaN,
      nginx,
      service: rates,
      serviceOverLimit: { fs: ratio(rates.fs, lim?.saturation.perSecond), s3: ratio(rates.s3, lim?.saturation.perSecond) },
      serviceOverSharp: { fs: ratio(rates.fs, lim?.sharp.perSecond), s3: ratio(rates.s3, lim?.sharp.perSecond) },
      serviceOverNginx: { fs: ratio(rates.fs, nginx), s3: ratio(rates.s3, nginx) },
    };
  });
}

function verdict(target: string, subject: string, measured: number | null, threshold: number, kind: 'atLeast' | 'above' | 'atMost' | 'below', unit = ''): TargetVerdict {
  const symbol = { atLeast: '>=', above: '>', atMost: '<=', below: '<' }[kind];
  const shown = `${symbol} ${Number.isInteger(threshold) ? threshold : threshold.toFixed(2)}${unit}`;
  if (measured == null || !Number.isFinite(measured) || !Number.isFinite(threshold)) {
    return { target, subject, measured: measured ?? null, threshold: Number.isFinite(threshold) ? shown : 'n/a', marginPct: null, verdict: 'n/a' };
  }
  const higherIsBetter = kind === 'atLeast' || kind === 'above';
  const pass = { atLeast: measured >= threshold, above: measured > threshold, atMost: measured <= threshold, below: measured < threshold }[kind];
  const marginPct = higherIsBetter ? (measured / threshold - 1) * 100 : (threshold / measured - 1) * 100;
  return { target, subject, measured, threshold: shown, marginPct, verdict: pass ? 'PASS' : 'MISS' };
}

/** Thumbnails per second the cores could sustain on the service's own CPU cost (client excluded). */
function capacityWithoutClient(image: ServiceImageResult, cores: number): number {
  const t = image.perThumb;
  const ms = t.api.cpuMs + t.worker.cpuMs + t.redis.cpuMs + (Number.isFinite(t.minio.cpuMs) ? t.minio.cpuMs : 0);
  return (cores * 1000) / ms;
}

function serviceImage(service: BenchReport['service'], mode: StorageMode, id: string): ServiceImageResult | undefined {
  return service[mode]?.images.find((s) => s.id === id);
}

export function targetVerdicts(
  rows: ImageRow[],
  service: BenchReport['service'],
  variants: VariantsResult | null = null,
  webhooks: WebhookBenchResult | null = null,
): TargetVerdict[] {
  const verdicts: TargetVerdict[] = [];
  for (const row of variants?.library ?? []) {
    verdicts.push(verdict('three variants < 1.6 x w640 alone (ratio)', `${row.id} in-process`, ratio(row.cpuMs.three, row.cpuMs.largest), TARGETS.threeVariantsOverOne, 'below'));
  }
  for (const row of variants?.service ?? []) {
    verdicts.push(verdict('three variants < 1.6 x w640 alone (ratio)', `${row.id} worker`, ratio(row.workerCpuMs.three, row.workerCpuMs.largest), TARGETS.threeVariantsOverOne, 'below'));
  }
  for (const image of webhooks?.images ?? []) {
    const rates = (on: boolean) => image.runs.filter((run) => run.webhooks === on).map((run) => run.perSecond);
    const overlap = ratio(Math.max(...rates(true)), Math.min(...rates(false)));
    verdicts.push(verdict('webhooks: fastest run on >= slowest off (ratio)', `${image.image} fs`, overlap, TARGETS.webhookRunsOverlap, 'atLeast'));
  }
  for (const mode of MODES) {
    if (!service[mode]) continue;
    for (const row of rows) {
      verdicts.push(verdict('service >= 0.8 x sharp alone (ratio)', `${row.id} ${mode}`, row.serviceOverSharp[mode], TARGETS.serviceOverLimit, 'atLeast'));
    }
    for (const row of rows) {
      verdicts.push(verdict('service >= 0.8 x limit, fastest in-process (ratio)', `${row.id} ${mode}`, row.serviceOverLimit[mode], TARGETS.serviceOverLimit, 'atLeast'));
    }
    for (const row of rows) {
      verdicts.push(verdict('service beats nginx (ratio)', `${row.id} ${mode}`, row.serviceOverNginx[mode], TARGETS.serviceOverPeer, 'above'));
    }
    for (const row of rows) {
      const p50 = serviceImage(service, mode, row.id)?.light.latencyMs.p50 ?? null;
      const budget = TARGETS.p50Factor * row.sharpSingleMs + TARGETS.p50SlackMs;
      verdicts.push(verdict(`light p50 <= 2 x sharp single + 10 ms`, `${row.id} ${mode}`, p50, budget, 'atMost', ' ms'));
    }
    for (const row of rows) {
      // The same budget from the worker's own processor, stricter where the fast path is quicker.
      const p50 = serviceImage(service, mode, row.id)?.light.latencyMs.p50 ?? null;
      const budget = TARGETS.p50Factor * row.singleMs + TARGETS.p50SlackMs;
      verdicts.push(verdict(`light p50 <= 2 x limit single + 10 ms`, `${row.id} ${mode}`, p50, budget, 'atMost', ' ms'));
    }
    const p99 = serviceImage(service, mode, P99_TARGET_IMAGE)?.light.latencyMs.p99 ?? null;
    verdicts.push(verdict('light p99 < 100 ms', `${P99_TARGET_IMAGE} ${mode}`, p99, TARGETS.p99Ms, 'below', ' ms'));
    const result = service[mode];
    const apiPeaks = [...(result?.images.map((i) => i.peakRssMiB.api) ?? []), result?.largestUpload?.peakRssMiB.api ?? NaN].filter(Number.isFinite);
    const apiPeak = result?.largestUpload && apiPeaks.length > 0 ? Math.max(...apiPeaks) : null;
    verdicts.push(verdict('API peak RSS < 150 MiB (incl. 20 MiB uploads)', `api ${mode}`, apiPeak, TARGETS.apiRssMiB, 'below', ' MiB'));
    const workerPeak = serviceImage(service, mode, WORKER_RSS_TARGET_IMAGE)?.peakRssMiB.worker ?? null;
    verdicts.push(verdict('worker peak RSS < 350 MiB (16 MP photos)', `worker ${mode}`, workerPeak, TARGETS.workerRssMiB, 'below', ' MiB'));
  }
  return verdicts;
}

// ---------------------------------------------------------------------------------------------
// Printing

function fmt(value: number | null | undefined, digits = 1): string {
  if (value == null || !Number.isFinite(value)) return 'n/a';
  return value.toFixed(digits);
}

/** Columns of figures are right-aligned, columns of words left-aligned. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const figure = /^\s*(-|n\/a|[-+]?[\d.]+(%| ms| MiB)?( \([^)]*\))?)$/;
  const numeric = headers.map((_, i) => i > 0 && rows.every((r) => figure.test(r[i] ?? '')));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function renderReport(report: BenchReport): string {
  const out: string[] = [];
  const m = report.machine;
  out.push(
    `Machine: ${m.cores} cores, ${m.cpuModel}, ${m.memoryGiB} GiB, Linux ${m.kernel}; node ${m.node}; sharp ${m.sharp} (libvips ${m.libvips}); ` +
      `${m.redis ?? 'redis ?'}; nginx ${report.peer?.nginxVersion ?? 'n/a'}; ${report.peer?.wrkVersion ?? 'wrk n/a'}`,
  );
  out.push(`Commit ${m.gitCommit ?? '?'}, bundles api ${m.builds['api']} worker ${m.builds['worker']}; load average at start ${m.loadAverageAtStart.join(' ')}; ` +
    `waited ${report.quietWaitSeconds} s for a quiet machine, repeated ${report.repeatedNoisyMeasurements} disturbed measurement(s)` + (report.settings.quick ? '; QUICK run (BENCH_QUICK=1): figures not comparable' : ''));
  if (Object.keys(report.settings.appEnv).length > 0) out.push(`Apps ran with BENCH_APP_ENV ${JSON.stringify(report.settings.appEnv)}: not the defaults`);
  if (report.settings.phases.length < ALL_PHASES.length) out.push(`Only these phases ran (BENCH_ONLY): ${report.settings.phases.join(', ')}`);
  out.push('');
  out.push('Corpus (generated by the bench):');
  out.push(table(['image', 'bytes', 'what'], report.corpus.map((c) => [c.id, String(c.bytes), c.description])));

  const s = report.settings;
  out.push('');
  out.push(
    `Throughput, thumbnails/s. limit = the worker's makeThumbnail (sharp + small-PNG fast path) in one process, ${s.cores} in flight; ` +
      `sharp = SharpImageProcessor alone; bare = sharp(ignoreIcc).resize.png, no checks; ` +
      `nginx = image_filter crop, ${report.peer?.command ?? 'wrk'}; fs/s3 = API+worker+Redis, ${s.service.clients} closed-loop clients`,
  );
  out.push(
    table(
      ['image', 'limit', 'sharp', 'bare', 'nginx', 'fs', 's3', 'fs/limit', 's3/limit', 'fs/sharp', 's3/sharp', 'fs/nginx', 's3/nginx'],
      report.rows.map((r) => [
        r.id, fmt(r.limit), fmt(r.sharp), fmt(r.bare), fmt(r.nginx), fmt(r.service.fs), fmt(r.service.s3),
        fmt(r.serviceOverLimit.fs, 2), fmt(r.serviceOverLimit.s3, 2), fmt(r.serviceOverSharp.fs, 2), fmt(r.serviceOverSharp.s3, 2),
        fmt(r.serviceOverNginx.fs, 2), fmt(r.serviceOverNginx.s3, 2),
      ]),
    ),
  );

  out.push('');
  out.push(
    `Latency, ms, from sending POST ?wait= to the answer that says "complete", at ${s.service.lightRatePerSecond}/s open loop ` +
      `(single = one makeThumbnail alone, the worker's / sharp alone; p50 budget = 2 x sharp single + 10 ms)`,
  );
  out.push(
    table(
      ['image', 'single', 'sharp single', 'p50 budget', 'fs p50', 'fs p95', 'fs p99', 'fs n', 's3 p50', 's3 p95', 's3 p99', 's3 n', 'fs sat p50'],
      report.rows.map((r) => {
        const fs = serviceImage(report.service, 'fs', r.id);
        const s3 = serviceImage(report.service, 's3', r.id);
        return [
          r.id, fmt(r.singleMs), fmt(r.sharpSingleMs), fmt(TARGETS.p50Factor * r.sharpSingleMs + TARGETS.p50SlackMs),
          fmt(fs?.light.latencyMs.p50), fmt(fs?.light.latencyMs.p95), fmt(fs?.light.latencyMs.p99), String(fs?.light.latencyMs.n ?? 'n/a'),
          fmt(s3?.light.latencyMs.p50), fmt(s3?.light.latencyMs.p95), fmt(s3?.light.latencyMs.p99), String(s3?.light.latencyMs.n ?? 'n/a'),
          fmt(fs?.saturation.latencyMs.p50),
        ];
      }),
    ),
  );

  out.push('');
  out.push('Light-load latency split by the job record\'s timestamps, medians, ms: upload = POST until the record exists (upload, checks, original stored); queued = until the worker took it; processing = read, makeThumbnail, store, record; notify = until the held POST\'s answer reached the client');
  const phaseRows: string[][] = [];
  for (const mode of MODES) {
    for (const image of report.service[mode]?.images ?? []) {
      const p = image.light.phasesP50Ms;
      const single = report.limit.find((l) => l.id === image.id)?.singleMs;
      phaseRows.push([`${image.id} ${mode}`, fmt(image.light.latencyMs.p50), fmt(p?.upload), fmt(p?.queued), fmt(p?.processing), fmt(single), fmt(p?.notify)]);
    }
  }
  out.push(table(['image mode', 'p50', 'upload', 'queued', 'processing', '(of which makeThumbnail)', 'notify'], phaseRows));

  out.push('');
  out.push(
    'Resources at saturation. CPU ms per thumbnail (main JS thread in brackets); client = the load client (this process) or wrk; ' +
      'peak RSS MiB over the image\'s runs; other = average busy cores used by anything else on the machine during the window; ' +
      'cpu cap/s = cores / CPU per thumbnail without the client: what the CPU would allow if the client ran elsewhere (an estimate)',
  );
  const resourceRows: string[][] = [];
  for (const mode of MODES) {
    for (const image of report.service[mode]?.images ?? []) {
      const t = image.perThumb;
      resourceRows.push([
        `${image.id} ${mode}`,
        `${fmt(t.api.cpuMs, 2)} (${fmt(t.api.mainThreadCpuMs, 2)})`,
        `${fmt(t.worker.cpuMs, 2)} (${fmt(t.worker.mainThreadCpuMs, 2)})`,
        fmt(t.redis.cpuMs, 2),
        mode === 's3' ? fmt(t.minio.cpuMs, 2) : '-',
        fmt(t.benchClient, 2),
        fmt(image.peakRssMiB.api, 0),
        fmt(image.peakRssMiB.worker, 0),
        fmt(image.resources?.otherBusyCores, 2),
        fmt(capacityWithoutClient(image, report.settings.cores), 1),
      ]);
    }
  }
  for (const lim of report.limit) {
    resourceRows.push([`${lim.id} limit`, '-', `${fmt(lim.cpuMsPerThumb, 2)} (1 process)`, '-', '-', '-', '-', '-', fmt(lim.resources?.otherBusyCores, 2), fmt((report.settings.cores * 1000) / lim.cpuMsPerThumb, 1)]);
  }
  for (const peer of report.peer?.images ?? []) {
    resourceRows.push([
      `${peer.id} nginx`, '-', `${fmt(peer.cpuMsPerThumb, 2)} (workers)`, '-', '-', fmt(peer.clientCpuMsPerThumb, 2), '-',
      `${fmt(peer.peakRssMiB, 0)} (2 workers)`, fmt(peer.resources?.otherBusyCores, 2), fmt((report.settings.cores * 1000) / peer.cpuMsPerThumb, 1),
    ]);
  }
  out.push(table(['image run', 'api cpu', 'worker cpu', 'redis', 'minio', 'client', 'api RSS', 'worker RSS', 'other', 'cpu cap/s'], resourceRows));
  for (const mode of MODES) {
    const boot = report.service[mode]?.rssAfterBootMiB;
    const bundles = report.service[mode]?.bundles;
    const rebuilt = bundles && (bundles['api'] !== m.builds['api'] || bundles['worker'] !== m.builds['worker']);
    if (boot) {
      out.push(
        `RSS right after start-up, ${mode}: API ${fmt(boot.api, 0)} MiB, worker ${fmt(boot.worker, 0)} MiB` +
          (rebuilt ? ` (WARNING: dist/ was rebuilt during the run; this service ran api ${bundles['api']} worker ${bundles['worker']})` : ''),
      );
    }
  }
  for (const mode of MODES) {
    const big = report.service[mode]?.largestUpload;
    if (big) {
      out.push(
        `${big.id} ${mode}: ${big.completed} thumbnails (${fmt(big.perSecond, 2)}/s, ${s.service.largestUploadClients} clients, ${(big.bytes / 2 ** 20).toFixed(2)} MiB each): ` +
          `API peak ${fmt(big.peakRssMiB.api, 0)} MiB, worker peak ${fmt(big.peakRssMiB.worker, 0)} MiB` +
          (big.errors + big.failed ? `, ${big.errors + big.failed} errors/failed (${big.errorSamples[0] ?? 'job failed'})` : ''),
      );
    }
  }

  out.push('');
  out.push('Targets:');
  out.push(
    table(
      ['target', 'subject', 'measured', 'threshold', 'margin', 'verdict'],
      report.targets.map((t) => [t.target, t.subject, fmt(t.measured, 2), t.threshold, t.marginPct == null ? 'n/a' : `${t.marginPct >= 0 ? '+' : ''}${t.marginPct.toFixed(0)}%`, t.verdict]),
    ),
  );
  const missed = report.targets.filter((t) => t.verdict === 'MISS').length;
  const passed = report.targets.filter((t) => t.verdict === 'PASS').length;
  out.push(`${passed} PASS, ${missed} MISS, ${report.targets.length - passed - missed} n/a`);
  const noisy = [
    ...report.limit.map((l) => l.resources?.otherBusyCores ?? 0),
    ...(report.peer?.images ?? []).map((p) => p.resources?.otherBusyCores ?? 0),
    ...MODES.flatMap((mode) => report.service[mode]?.images.map((i) => i.resources?.otherBusyCores ?? 0) ?? []),
  ].filter((cores) => cores > 0.25).length;
  if (noisy > 0) {
    out.push(`Warning: in ${noisy} measurement(s) other work used more than 0.25 of a core (column "other"): those figures are low. Run again on a quiet machine.`);
  }

  if (report.webhooks) out.push('', ...webhooksSection(report.webhooks));

  if (report.profile && report.profile.summaries.length > 0) {
    out.push('');
    out.push('Where the main threads spend their time at saturation (V8 CPU profile over the window; % of busy time):');
    for (const summary of report.profile.summaries) {
      out.push(`${summary.process} on ${summary.image} (${report.settings.profile.storage}): main thread busy ${summary.busyPct.toFixed(0)}% of ${(summary.durationMs / 1000).toFixed(1)} s`);
      out.push(`  self time by area: ${summary.byArea.slice(0, 7).map((a) => `${a.area} ${a.pct.toFixed(0)}%`).join(', ')}`);
      out.push(`  charged to the caller: ${summary.byCaller.slice(0, 9).map((a) => `${a.area} ${a.pct.toFixed(0)}%`).join(', ')}`);
      out.push(
        table(
          ['  self ms', '%', 'function', 'where'],
          summary.top.slice(0, 8).map((f) => [`  ${f.selfMs.toFixed(0)}`, f.pct.toFixed(1), f.name, f.location || f.area]),
        ),
      );
    }
  }
  if (report.variants) out.push('', ...variantsSection(report.variants));
  if (report.errors.length > 0) {
    out.push('');
    out.push('Errors:');
    for (const error of report.errors) out.push(`  ${error}`);
  }
  return out.join('\n');
}

/** What extra variants cost: CPU in-process and in the worker, and worker memory. */
function variantsSection(result: VariantsResult): string[] {
  const out: string[] = [];
  out.push(
    "Variants, CPU ms per job of the worker's image processor alone (sequential calls): default = the 100x100 PNG; w640 = a 640 px WebP (inside), " +
      'the costliest of the three alone; three = default + w320 + w640 WebP from one decode; separate = the same three as three jobs. Target: three < 1.6 x w640.',
  );
  out.push(
    table(
      ['image', 'default', 'w640', 'three', 'separate', 'three/w640', 'three/default'],
      result.library.map((row) => [
        row.id,
        fmt(row.cpuMs.default),
        fmt(row.cpuMs.largest),
        fmt(row.cpuMs.three),
        fmt(row.cpuMs.separate),
        fmt(ratio(row.cpuMs.three, row.cpuMs.largest), 2),
        fmt(ratio(row.cpuMs.three, row.cpuMs.default), 2),
      ]),
    ),
  );
  if (result.service.length > 0) {
    out.push('Worker CPU ms per job in the service (disk storage, closed loop): the whole job (read, make, write each, record)');
    out.push(
      table(
        ['image', 'default', 'w640', 'three', 'three/w640', 'three/default'],
        result.service.map((row) => [
          row.id,
          fmt(row.workerCpuMs.default),
          fmt(row.workerCpuMs.largest),
          fmt(row.workerCpuMs.three),
          fmt(ratio(row.workerCpuMs.three, row.workerCpuMs.largest), 2),
          fmt(ratio(row.workerCpuMs.three, row.workerCpuMs.default), 2),
        ]),
      ),
    );
  }
  if (result.memory) {
    const bySet = new Map<string, number[]>();
    for (const run of result.memory.runs) bySet.set(run.variants.join(','), [...(bySet.get(run.variants.join(',')) ?? []), run.peakRssMiB]);
    out.push(
      `Worker peak RSS, two ${result.memory.image} jobs at once, WORKER_CONCURRENCY=${result.memory.workerConcurrency}: ` +
        [...bySet].map(([set, peaks]) => `${set} ${peaks.map((p) => p.toFixed(0)).join(', ')} MiB (median ${median(peaks).toFixed(0)})`).join('; '),
    );
  }
  return out;
}

/** What completion webhooks cost the service, per image: each run, then the medians. */
function webhooksSection(result: WebhookBenchResult): string[] {
  const out: string[] = [
    `Webhooks: fs service at saturation, ${result.clients} clients, without and with WEBHOOK_URL (every job's webhook signed and ` +
      'delivered to a receiver in the bench process, whose CPU counts against throughput but not against the service), fresh services, alternated. ' +
      'CPU ms per thumbnail; service = worker + api + redis.',
  ];
  for (const w of result.images) {
    out.push(
      table(
        ['image', 'webhooks', 'thumbnails/s', 'worker cpu', 'api cpu', 'redis cpu', 'service cpu', 'jobs', 'webhooks received', 'repeated', 'other'],
        w.runs.map((r) => [
          w.image, r.webhooks ? 'on' : 'off', fmt(r.perSecond), fmt(r.workerCpuMs, 2), fmt(r.apiCpuMs, 2), fmt(r.redisCpuMs, 2), fmt(r.serviceCpuMs, 2),
          String(r.jobs), r.webhooks ? String(r.webhooksReceived) : '-', r.webhooks ? String(r.duplicates) : '-', fmt(r.otherBusyCores, 2),
        ]),
      ),
    );
  }
  out.push(
    table(
      ['image', 'off /s', 'on /s', 'throughput on/off', 'spread between runs', 'service cpu off', 'service cpu on', 'service cpu on/off'],
      result.images.map((w) => [
        w.image, fmt(w.median.off.perSecond), fmt(w.median.on.perSecond), fmt(w.throughputRatio, 3), `${(w.throughputSpread * 100).toFixed(1)}%`,
        fmt(w.median.off.serviceCpuMs, 2), fmt(w.median.on.serviceCpuMs, 2), fmt(w.serviceCpuRatio, 3),
      ]),
    ),
  );
  return out;
}
