/*
 * Reads a V8 .cpuprofile (what `node --cpu-prof` and the inspector write) and says where the
 * main thread's time went: top functions by self time, and self time per area (a package, one
 * of our libs, node core, GC, idle). Locations in the bundled apps are mapped back to the
 * TypeScript sources through dist/apps/<app>/main.js.map.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  process: string;
  image: string;
  file: string;
  /** Length of the profile, ms. */
  durationMs: number;
  /** Share of the main thread's time not idle (running JS, GC, native code), %. */
  busyPct: number;
  /** Top functions by self time; `pct` is of the busy time. */
  top: Array<{ name: string; location: string; area: string; selfMs: number; pct: number }>;
  /** Busy self time per area; `pct` is of the busy time. */
  byArea: Array<{ area: string; selfMs: number; pct: number }>;
  /**
   * Busy time charged to the nearest package or source of ours on the stack (a socket write
   * made by ioredis counts for ioredis, a log line's write for pino); `pct` is of the busy time.
   */
  byCaller: Array<{ area: string; ms: number; pct: number }>;
}

/** Areas that do work on someone else's behalf: charge their time to whoever called them. */
const PASS_THROUGH = new Set(['native builtins', 'node core', 'native (V8/libuv, unattributed)', 'webpack glue', 'tslib', 'other']);

const sourceMaps = new Map<string, SourceMap | null>();

function sourceMapFor(url: string): SourceMap | null {
  if (!sourceMaps.has(url)) {
    let map: SourceMap | null = null;
    try {
      const path = url.startsWith('file:') ? fileURLToPath(url) : url;
      if (existsSync(`${path}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')));
    } catch {
      map = null;
    }
    sourceMaps.set(url, map);
  }
  return sourceMaps.get(url) ?? null;
}

interface Place {
  location: string;
  area: string;
}

/**
 * Webpack names sources relative to the app's folder ("webpack:///./src/x.ts",
 * "webpack:///../../libs/jobs/src/y.ts"); Node's SourceMap may resolve them further
 * ("./../libs/..."). Either way: a path from the workspace root.
 */
function workspacePath(source: string, app: string): string {
  const bare = source.replace(/^webpack:\/\/[^/]*\//, '').replace(/^(\.\.?\/)+/, '');
  if (bare.startsWith('libs/') || bare.startsWith('apps/')) return bare;
  if (bare.startsWith('src/')) return `apps/${app}/${bare}`;
  return bare;
}

function place(frame: CallFrame): Place {
  const { functionName, url, lineNumber, columnNumber } = frame;
  if (functionName === '(idle)') return { location: '', area: '(idle)' };
  if (functionName === '(garbage collector)') return { location: '', area: 'GC' };
  if (functionName === '(program)') return { location: '', area: 'native (V8/libuv, unattributed)' };
  if (!url) return { location: '', area: 'native builtins' };
  if (url.startsWith('node:')) return { location: `${url}:${lineNumber + 1}`, area: 'node core' };
  const path = url.startsWith('file:') ? fileURLToPath(url) : url;
  const modules = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(path);
  if (modules) return { location: `${modules[1]}/${modules[2]}:${lineNumber + 1}`, area: modules[1] };
  const bundle = /\/dist\/apps\/([^/]+)\/main\.js$/.exec(path);
  if (bundle) {
    const entry = sourceMapFor(url)?.findEntry(lineNumber, columnNumber) as
      | { originalSource?: string; originalLine?: number }
      | undefined;
    if (entry?.originalSource) {
      const source = workspacePath(entry.originalSource, bundle[1]);
      const area = /^((?:apps|libs)\/[^/]+)\//.exec(source)?.[1] ?? 'webpack glue';
      return { location: `${source}:${(entry.originalLine ?? 0) + 1}`, area };
    }
    return { location: `dist/apps/${bundle[1]}/main.js:${lineNumber + 1}`, area: 'webpack glue' };
  }
  return { location: `${path}:${lineNumber + 1}`, area: 'other' };
}

export function summariseCpuProfile(file: string, processName: string, image: string, topN = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const durationMs = (profile.endTime - profile.startTime) / 1000;
  // Every sample counts the same share of the wall time. Weighting each by the gap to the next
  // one instead would charge a whole descheduling (likely on a busy 2-core machine) to whatever
  // function happened to be running when the process was preempted.
  const perSampleUs = profile.samples.length > 0 ? (durationMs * 1000) / profile.samples.length : 0;
  const selfUs = new Map<number, number>();
  for (const id of profile.samples) selfUs.set(id, (selfUs.get(id) ?? 0) + perSampleUs);
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const callerOf = new Map<number, string>();
  const caller = (id: number): string => {
    const known = callerOf.get(id);
    if (known) return known;
    let found = '';
    for (let at: number | undefined = id; at !== undefined && !found; at = parents.get(at)) {
      const node = byId.get(at);
      if (!node) break;
      const area = place(node.callFrame).area;
      if (!PASS_THROUGH.has(area) && area !== '(idle)') found = area;
    }
    // Nothing of ours or a package's on the stack: stream and socket callbacks run by the event loop.
    const area = found || `${place(byId.get(id)?.callFrame ?? { functionName: '', url: '', lineNumber: 0, columnNumber: 0 }).area} (event loop)`;
    callerOf.set(id, area);
    return area;
  };
  const callers = new Map<string, number>();
  const functions = new Map<string, { name: string; location: string; area: string; us: number }>();
  const areas = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    const where = place(node.callFrame);
    if (where.area === '(idle)') {
      idleUs += us;
      continue;
    }
    const name = node.callFrame.functionName || '(anonymous)';
    const key = `${name}|${where.location}`;
    const entry = functions.get(key) ?? { name, location: where.location, area: where.area, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    areas.set(where.area, (areas.get(where.area) ?? 0) + us);
    const by = where.area === 'GC' ? 'GC' : caller(id);
    callers.set(by, (callers.get(by) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const pct = (us: number) => (busyUs > 0 ? (100 * us) / busyUs : 0);
  return {
    process: processName,
    image,
    file,
    durationMs,
    busyPct: totalUs > 0 ? (100 * busyUs) / totalUs : 0,
    top: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((f) => ({ name: f.name, location: f.location, area: f.area, selfMs: f.us / 1000, pct: pct(f.us) })),
    byArea: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfMs: us / 1000, pct: pct(us) })),
    byCaller: [...callers.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, ms: us / 1000, pct: pct(us) })),
  };
}
