import { spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { chartDir, type Values } from './chart-files';

/** helm and kubeconform, when they are on PATH (the GitHub workflow installs both). */

function onPath(command: string): boolean {
  return spawnSync(command, ['version'], { encoding: 'utf8' }).status === 0;
}

export const hasHelm = onPath('helm');
export const hasKubeconform = hasHelm && onPath('kubeconform');

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], input?: string): RunResult {
  const result = spawnSync(command, args, { encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? String(result.error ?? '') };
}

export interface Manifest extends Values {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** `helm template` of the umbrella chart; throws with helm's message when it refuses. */
export function helmTemplate(options: { valuesFiles?: string[]; set?: string[]; release?: string } = {}): {
  text: string;
  manifests: Manifest[];
} {
  const args = ['template', options.release ?? 'thumbnail-generator', chartDir, '--namespace', 'thumbnails'];
  for (const file of options.valuesFiles ?? []) args.push('--values', file);
  for (const assignment of options.set ?? []) args.push('--set', assignment);
  const result = run('helm', args);
  if (result.status !== 0) throw new Error(result.stderr.trim());
  const manifests = parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);
  return { text: result.stdout, manifests };
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
