import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchSettings } from './bench-settings';
import { BenchService } from './bench-service';
import type { CorpusImage } from './corpus';
import { summariseCpuProfile, type ProfileSummary } from './cpu-profile-summary';
import { closedLoop } from './load-loops';
import { closeClientConnections, multipartUpload, submitAndWait } from './thumbnail-client';

export interface ProfileResult {
  /** Thumbnails per second while profiling (the profiler costs a little). */
  runs: Array<{ image: string; perSecond: number; completed: number }>;
  summaries: ProfileSummary[];
  error?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForFile(path: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(path)) return true;
    await sleep(100);
  }
  return false;
}

/**
 * A separate saturation run (fs storage unless BENCH_PROFILE_STORAGE=s3) of a few images with a V8 CPU profile of the API's and
 * the worker's main threads over the measurement window only. Kept apart from the measured runs
 * so that profiling never slows the figures in the table.
 */
export async function profileService(
  images: CorpusImage[],
  settings: BenchSettings,
  profileDir: string,
  log: (line: string) => void,
): Promise<ProfileResult> {
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });
  const chosen = settings.profile.images.map((id) => images.find((image) => image.id === id)).filter((image) => image !== undefined);
  const result: ProfileResult = { runs: [], summaries: [] };
  const service = await BenchService.start({ storage: settings.profile.storage, workerConcurrency: settings.cores, cpuProfileDir: profileDir, appEnv: settings.appEnv });
  try {
    const apps = [
      { name: 'api', pid: service.api?.pid ?? -1 },
      { name: 'worker', pid: service.worker?.pid ?? -1 },
    ];
    const toggle = () => apps.forEach(({ pid }) => process.kill(pid, 'SIGUSR2'));
    let round = 0;
    for (const image of chosen) {
      round++;
      const upload = multipartUpload(image.data, `${image.id}.${image.extension}`, image.contentType);
      const run = await closedLoop({
        concurrency: settings.service.clients,
        warmupMs: settings.profile.warmupMs,
        measureMs: settings.profile.measureMs,
        task: () => submitAndWait(service.apiUrl, upload),
        onWindowStart: toggle,
        onWindowEnd: toggle,
      });
      result.runs.push({ image: image.id, perSecond: run.perSecond, completed: run.completed });
      for (const app of apps) {
        const written = join(profileDir, `${app.name}-${round}.cpuprofile`);
        if (!(await waitForFile(written, 15_000))) throw new Error(`no CPU profile from the ${app.name} (${written})`);
        const kept = join(profileDir, `${image.id}-${settings.profile.storage}-${app.name}.cpuprofile`);
        renameSync(written, kept);
        result.summaries.push(summariseCpuProfile(kept, app.name, image.id));
      }
      log(`profile ${image.id}: ${run.perSecond.toFixed(1)}/s while profiling; profiles in ${profileDir}`);
    }
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    log(`profile pass stopped early: ${result.error}`);
  } finally {
    closeClientConnections();
    await service.stop();
    for (const name of readdirSync(profileDir)) if (name.endsWith('.partial')) rmSync(join(profileDir, name), { force: true });
  }
  return result;
}
