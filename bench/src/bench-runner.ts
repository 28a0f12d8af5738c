import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchSettings, type BenchPhase } from './bench-settings';
import { makeCorpus, makeLargestUpload, type CorpusImage } from './corpus';
import { measureLimit, type LimitResult } from './limit-bench';
import { machineInfo } from './machine-info';
import { measureNginx, type PeerResult } from './nginx-peer';
import { profileService, type ProfileResult } from './profile-pass';
import { imageRows, renderReport, targetVerdicts, type BenchReport } from './report';
import { QuietGate } from './resource-meter';
import { measureService } from './service-bench';
import { measureVariants, type VariantsResult } from './variants-bench';
import { measureWebhooks, type WebhookBenchResult } from './webhook-bench';

/**
 * One `npm run bench`: limit, peer, service on fs and on s3, a profiled run, then the table and
 * bench/results/latest.json. A failing phase is recorded and the others still run; the run
 * fails at the end if any phase did. Missed targets do not fail it: they are findings.
 */
export async function runBench(workspace: string): Promise<BenchReport> {
  const began = performance.now();
  const settings = benchSettings();
  const log = (line: string) => process.stdout.write(`[bench ${((performance.now() - began) / 1000).toFixed(0).padStart(3)}s] ${line}\n`);
  const resultsDir = join(workspace, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const errors: string[] = [];
  const phase = async <T>(name: string, run: () => Promise<T>): Promise<T | null> => {
    try {
      return await run();
    } catch (error) {
      const message = `${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
      errors.push(message);
      log(`FAILED ${message}`);
      return null;
    }
  };

  const gate = new QuietGate();
  const machine = machineInfo(workspace);
  log(`${machine.cores} cores, ${machine.cpuModel}, node ${machine.node}, sharp ${machine.sharp} / libvips ${machine.libvips}`);
  log('generating the corpus');
  const corpus: CorpusImage[] = await makeCorpus();
  const largest = await phase('largest upload', () => makeLargestUpload());

  const runs = (name: BenchPhase) => settings.phases.includes(name);
  if (Object.keys(settings.appEnv).length > 0) log(`apps run with BENCH_APP_ENV ${JSON.stringify(settings.appEnv)}`);
  let limit: LimitResult[] = [];
  if (runs('limit')) {
    log('limit: the worker\'s image processor in this process (sharp + small-PNG fast path), and sharp alone');
    limit = (await phase('limit', () => measureLimit(corpus, settings, gate, log))) ?? [];
  }
  let peer: PeerResult | null = null;
  if (runs('nginx')) {
    log('peer: nginx image_filter under wrk');
    peer = await phase('nginx', () => measureNginx(corpus, settings, gate, log));
    if (peer && !peer.available) errors.push(`nginx: ${peer.error}`);
  }
  const service: BenchReport['service'] = {};
  for (const mode of (['fs', 's3'] as const).filter(runs)) {
    log(`service: api + worker + redis, STORAGE_DRIVER=${mode}`);
    const result = await phase(`service ${mode}`, () => measureService(mode, corpus, largest, settings, gate, log));
    if (result) {
      service[mode] = result;
      if (result.error) errors.push(`service ${mode}: ${result.error}`);
    }
  }
  let webhooks: WebhookBenchResult | null = null;
  if (runs('webhooks')) {
    log('webhooks: the fs service at saturation without and with a webhook for every job, alternated');
    webhooks = await phase('webhooks', () => measureWebhooks(corpus, settings, gate, log));
  }
  let profile: ProfileResult | null = null;
  if (runs('profile') && settings.profile.images.length > 0) {
    log(`profile: CPU profiles of api and worker during saturation, ${settings.profile.storage} (${settings.profile.images.join(', ')})`);
    profile = await phase('profile', () => profileService(corpus, settings, join(resultsDir, 'profiles'), log));
    if (profile?.error) errors.push(`profile: ${profile.error}`);
  }

  let variants: VariantsResult | null = null;
  if (runs('variants')) {
    log('variants: one job making three presets from one decode, against one preset (in-process, in the service, worker memory)');
    variants = await phase('variants', () => measureVariants(corpus, settings, gate, log));
  }

  const rows = imageRows(corpus, limit, peer, service);
  const report: BenchReport = {
    generatedAt: new Date().toISOString(),
    durationSeconds: Math.round((performance.now() - began) / 1000),
    quietWaitSeconds: Math.round(gate.totalWaitedMs / 1000),
    repeatedNoisyMeasurements: gate.retries,
    machine,
    settings,
    corpus: [...corpus, ...(largest ? [largest] : [])].map((c) => ({ id: c.id, description: c.description, bytes: c.data.length, ...c.facts })),
    rows,
    targets: targetVerdicts(rows, service, variants, webhooks),
    limit,
    peer,
    service,
    webhooks,
    profile,
    variants,
    errors,
  };
  const json = JSON.stringify(report, (_key, value) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2);
  writeFileSync(join(resultsDir, 'latest.json'), json + '\n');
  writeFileSync(join(resultsDir, `run-${report.generatedAt.replace(/[:.]/g, '-')}.json`), json + '\n');
  process.stdout.write(`\n${renderReport(report)}\n\nWritten: bench/results/latest.json (and a dated copy), took ${report.durationSeconds} s\n`);
  return report;
}
