import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse } from 'yaml';

/** Paths and file helpers for the chart tests (charts/tests/chart.spec.ts). */

export const repoRoot = resolve(import.meta.dirname, '../..');
export const chartDir = join(repoRoot, 'charts/thumbnail-generator');
export const subchartsDir = join(chartDir, 'charts');

export type Values = Record<string, unknown>;

export function isMap(value: unknown): value is Values {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

export function readYaml<T = Values>(path: string): T {
  return parse(readText(path)) as T;
}

export function subchartNames(): string[] {
  return readdirSync(subchartsDir)
    .filter((name) => statSync(join(subchartsDir, name)).isDirectory())
    .sort();
}

/** Every file under `dir`, recursively, as paths relative to `base`. */
export function listFiles(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path, base) : [relative(base, path)];
  });
}

/**
 * Helm's merge of values: maps merge key by key, anything else is replaced, and null removes a
 * key (how `--set key=null` or `key: null` in a values file unsets a default).
 */
export function mergeValues(base: Values, override: Values): Values {
  const result: Values = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete result[key];
    else if (isMap(value) && isMap(result[key])) result[key] = mergeValues(result[key] as Values, value);
    else result[key] = value;
  }
  return result;
}

/**
 * The values tree Helm validates and renders for the umbrella chart: each subchart's defaults
 * under its name, the umbrella's values.yaml over them, then the given values files in order;
 * finally `global` copied into every subchart's map, as Helm does.
 */
export function coalescedValues(...overrides: Values[]): Values {
  let values: Values = {};
  for (const name of subchartNames()) {
    values[name] = readYaml(join(subchartsDir, name, 'values.yaml')) ?? {};
  }
  values = mergeValues(values, readYaml(join(chartDir, 'values.yaml')));
  for (const override of overrides) values = mergeValues(values, override);
  const global = isMap(values.global) ? values.global : {};
  for (const name of subchartNames()) {
    const sub = values[name];
    if (isMap(sub)) values[name] = { ...sub, global: mergeValues(isMap(sub.global) ? sub.global : {}, global) };
  }
  return values;
}

/** `a.b.c=value` paths into a nested override, like `helm --set` (values are taken as given). */
export function setValues(assignments: Record<string, unknown>): Values {
  const result: Values = {};
  for (const [path, value] of Object.entries(assignments)) {
    const keys = path.split('.');
    let node = result;
    for (const key of keys.slice(0, -1)) {
      if (!isMap(node[key])) node[key] = {};
      node = node[key] as Values;
    }
    node[keys[keys.length - 1]] = value;
  }
  return result;
}
