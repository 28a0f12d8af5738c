import { spawnSync } from 'node:child_process';
import { requireTool } from '@thumbnail/testing';
import { parseAllDocuments } from 'yaml';
import { chartDir, type Values } from './chart-files';

/**
 * helm (as scripts/tools.sh builds it) on the umbrella chart. Renders always name the Kubernetes
 * version: a helm built without release flags would assume 1.20, and the chart's kubeVersion
 * refuses that.
 */

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): RunResult {
  const result = spawnSync(requireTool('helm'), args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? String(result.error ?? '') };
}

export interface Manifest extends Values {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

export interface RenderOptions {
  valuesFiles?: string[];
  set?: string[];
  release?: string;
  /** Kubernetes version (x.y.z) helm renders for. */
  kubeVersion: string;
  extraArgs?: string[];
}

/** `helm template` of the umbrella chart; throws with helm's message when it refuses. */
export function helmTemplate(options: RenderOptions): { text: string; manifests: Manifest[] } {
  const args = ['template', options.release ?? 'thumbnail-generator', chartDir, '--namespace', 'thumbnails', '--kube-version', options.kubeVersion];
  for (const file of options.valuesFiles ?? []) args.push('--values', file);
  for (const assignment of options.set ?? []) args.push('--set', assignment);
  const result = helm([...args, ...(options.extraArgs ?? [])]);
  if (result.status !== 0) throw new Error(result.stderr.trim());
  const manifests = parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);
  return { text: result.stdout, manifests };
}

/** `helm lint --strict` of the umbrella chart. */
export function helmLint(options: Pick<RenderOptions, 'valuesFiles' | 'set' | 'kubeVersion'>): RunResult {
  const args = ['lint', '--strict', chartDir, '--kube-version', options.kubeVersion];
  for (const file of options.valuesFiles ?? []) args.push('--values', file);
  for (const assignment of options.set ?? []) args.push('--set', assignment);
  return helm(args);
}

export function findManifest(manifests: Manifest[], kind: string, nameSuffix: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name.endsWith(nameSuffix));
  if (!found) throw new Error(`no ${kind} named *${nameSuffix} in ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`);
  return found;
}

/** Pod specs of every workload (Deployment, StatefulSet, Pod), with where they came from. */
export function podSpecs(manifests: Manifest[]): { source: string; spec: Values }[] {
  return manifests.flatMap((m) => {
    const source = `${m.kind}/${m.metadata.name}`;
    if (m.kind === 'Pod') return [{ source, spec: m.spec as Values }];
    if (m.kind === 'Deployment' || m.kind === 'StatefulSet') {
      const template = (m.spec as { template: { spec: Values } }).template;
      return [{ source, spec: template.spec }];
    }
    return [];
  });
}

/** Every container image of the rendered workloads, by workload. */
export function imagesBySource(manifests: Manifest[]): Record<string, string[]> {
  return Object.fromEntries(podSpecs(manifests).map(({ source, spec }) => [source, (spec.containers as { image: string }[]).map((c) => c.image)]));
}
