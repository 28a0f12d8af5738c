/**
 * The worker's memory limit as the chart renders it, against what a worker needs: its base and,
 * per image slot (worker.concurrency), the largest image LIMIT_INPUT_PIXELS allows and its
 * upload (workerMemoryBytes, the rule the worker's refusals follow). The limit must hold that
 * with a quarter to spare, for the defaults and every ci/*-values.yaml; docs/security.md must
 * state the same figures.
 */
import { join } from 'node:path';
import { loadConfig, presetCatalogue } from '@thumbnail/config';
import { skipWithoutTool } from '@thumbnail/testing';
import { imageSlotBytes, WORKER_BASE_BYTES, workerMemoryBytes } from '@thumbnail/thumbnail-making';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartDir, listFiles, readText, repoRoot, type Values } from './chart-files';
import { findManifest, helmTemplate, type Manifest } from './chart-helm';
import { createValidator, type Validator } from './kubeconform';

const MIB = 1024 * 1024;
const ROOM_TO_SPARE = 1.25;
const SIZING_VARIABLES = ['WORKER_CONCURRENCY', 'LIMIT_INPUT_PIXELS', 'THUMBNAIL_SIZE', 'THUMBNAIL_PRESETS', 'MAX_UPLOAD_BYTES'];
const ciValuesFiles = listFiles(join(chartDir, 'ci'))
  .filter((file) => file.endsWith('-values.yaml'))
  .sort();

const QUANTITY_UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: MIB, Gi: 1024 * MIB, Ti: 1024 ** 4 };

/** A Kubernetes memory quantity (`1280Mi`, `2Gi`, `1.5G`, `536870912`) in bytes. */
function quantityBytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(|k|M|G|T|Ki|Mi|Gi|Ti)$/.exec(quantity);
  if (!match) throw new Error(`not a memory quantity: ${quantity}`);
  return Number(match[1]) * QUANTITY_UNITS[match[2]];
}

/** The preset with the most pixels: what each image slot is sized by. */
function largestPreset(config: ReturnType<typeof loadConfig>): { width: number; height: number } {
  const presets = [...presetCatalogue(config).values()];
  return presets.reduce((largest, preset) => (preset.width * preset.height > largest.width * largest.height ? preset : largest));
}

interface WorkerSizing {
  limitBytes: number;
  needed: number;
  concurrency: number;
}

/** The worker container's memory limit, and what its rendered configuration needs. */
function workerSizing(manifests: Manifest[]): WorkerSizing {
  const deployment = findManifest(manifests, 'Deployment', '-worker');
  const container = (deployment.spec as { template: { spec: { containers: Values[] } } }).template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const source of (container['envFrom'] as Array<{ configMapRef?: { name: string } }>) ?? []) {
    if (!source.configMapRef) continue;
    Object.assign(env, findManifest(manifests, 'ConfigMap', source.configMapRef.name).data as Record<string, string>);
  }
  for (const entry of (container['env'] as Array<{ name: string; value?: string }>) ?? []) if (entry.value !== undefined) env[entry.name] = entry.value;
  // The variables that size the worker, the others at their defaults.
  const config = loadConfig(Object.fromEntries(SIZING_VARIABLES.filter((name) => name in env).map((name) => [name, env[name]])));
  const limit = (container['resources'] as { limits?: { memory?: string } }).limits?.memory;
  if (!limit) throw new Error('the worker has no memory limit');
  return {
    limitBytes: quantityBytes(limit),
    concurrency: config.WORKER_CONCURRENCY,
    needed: workerMemoryBytes({
      concurrency: config.WORKER_CONCURRENCY,
      limitInputPixels: config.LIMIT_INPUT_PIXELS,
      largestImage: largestPreset(config),
      maxUploadBytes: config.MAX_UPLOAD_BYTES,
    }),
  };
}

describe.skipIf(skipWithoutTool('helm', 'kubeconform', 'kubernetes-openapi', 'prometheus-operator-crds'))('the worker memory limit the chart renders', () => {
  let validator: Validator;
  let kubeVersion: string;

  beforeAll(() => {
    validator = createValidator();
    kubeVersion = validator.schemas.kubernetesVersion;
  });
  afterAll(() => validator?.remove());

  const renders: Array<[string, string[]]> = [['the defaults', []], ...ciValuesFiles.map((file): [string, string[]] => [`ci/${file}`, [join(chartDir, 'ci', file)]])];

  it.each(renders)(
    'holds the base and every image slot with a quarter to spare: %s',
    (_name, valuesFiles) => {
      const { limitBytes, needed } = workerSizing(helmTemplate({ kubeVersion, valuesFiles }).manifests);
      expect(limitBytes / MIB, `needs ${Math.ceil(needed / MIB)} MiB`).toBeGreaterThanOrEqual((needed * ROOM_TO_SPARE) / MIB);
    },
  );

  it('is what docs/security.md states, with the figures the worker refuses by', () => {
    const security = readText(join(repoRoot, 'docs/security.md'));
    const defaults = loadConfig({});
    const slot = imageSlotBytes(defaults.LIMIT_INPUT_PIXELS, { width: defaults.THUMBNAIL_SIZE, height: defaults.THUMBNAIL_SIZE });
    const rendered = workerSizing(helmTemplate({ kubeVersion }).manifests);
    const stated = (label: string) => {
      const match = new RegExp(`${label}: \\*\\*(\\d+) MiB\\*\\*`).exec(security);
      if (!match) throw new Error(`docs/security.md states no "${label}: **N MiB**"`);
      return Number(match[1]);
    };
    expect(stated('One image slot')).toBe(Math.ceil(slot / MIB));
    expect(stated('Worker base')).toBe(WORKER_BASE_BYTES / MIB);
    expect(stated('Chart default limit')).toBe(rendered.limitBytes / MIB);
    expect(security).toContain(`\`worker.concurrency\` ${rendered.concurrency}`);
  });
});
