import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { findWorkspaceRoot, requireTool } from '@thumbnail/testing';

/**
 * The api and worker pods as the Helm chart renders them (`helm template`), turned into what
 * podman needs to run a container the same way: the environment of the app ConfigMap and the
 * container's env, the pod's and container's security contexts, resource limits, volumes and
 * the termination grace period. A setting it does not know how to reproduce is an error, so a
 * new chart setting cannot be silently left out of the image tests.
 */

const CHART = join(findWorkspaceRoot(), 'charts', 'thumbnail-generator');
const RELEASE = 'thumbnail-generator';

export type Component = 'api' | 'worker';

export interface ChartPod {
  /** The ConfigMap's data and the container's literal env entries, as the chart sets them. */
  env: Record<string, string>;
  /** Env entries the chart reads from Secrets: the test must give each one a value. */
  secretEnv: string[];
  /**
   * The API key a client of this pod sends (`Authorization: Bearer`): the one the chart generated
   * into its Secret when the pod reads API keys from it; null when API keys are off.
   */
  apiKey: string | null;
  /** terminationGracePeriodSeconds: how long Kubernetes waits after SIGTERM before SIGKILL. */
  graceSeconds: number;
  /**
   * `podman run` options for the security contexts, limits and volumes. `claims` gives a host
   * folder for each PersistentVolumeClaim the pod mounts.
   */
  runArgs(claims?: Record<string, string>): string[];
}

type Yaml = Record<string, unknown>;

interface Manifest {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: { template: { spec: PodSpec } };
}

interface PodSpec {
  terminationGracePeriodSeconds: number;
  securityContext?: Yaml;
  containers: Container[];
  volumes?: Volume[];
}

interface Volume {
  name: string;
  emptyDir?: { sizeLimit?: string };
  persistentVolumeClaim?: { claimName: string };
  secret?: { secretName: string; defaultMode?: number; items?: { key: string; path: string }[] };
}

/** Each rendered Secret's entries, decoded, by Secret name. */
type Secrets = Map<string, Record<string, string>>;

/** Folders holding the Secret files of pods started by this test process, removed as it exits. */
const secretFolders = new Set<string>();
process.once('exit', () => {
  for (const folder of secretFolders) rmSync(folder, { recursive: true, force: true });
});

interface Container {
  envFrom?: { configMapRef?: { name: string } }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  securityContext?: Yaml;
  resources?: { limits?: { cpu?: string; memory?: string } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

/** Renders the chart with `--set` values and returns the api and worker pods. */
export function renderChartPods(set: Record<string, string> = {}): Record<Component, ChartPod> {
  const args = ['template', RELEASE, CHART, '--namespace', 'thumbnails', '--kube-version', '1.30.0'];
  for (const [key, value] of Object.entries(set)) args.push('--set', `${key}=${value}`);
  const output = execFileSync(requireTool('helm'), args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  // YAML 1.1 as Kubernetes reads it: `defaultMode: 0440` is octal.
  const manifests = parseAllDocuments(output, { version: '1.1' })
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);
  const configMaps = new Map(manifests.filter((m) => m.kind === 'ConfigMap').map((m) => [m.metadata.name, m.data ?? {}]));
  const secrets: Secrets = new Map(
    manifests
      .filter((m) => m.kind === 'Secret')
      .map((m) => [m.metadata.name, Object.fromEntries(Object.entries(m.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]))]),
  );
  const pod = (component: Component): ChartPod => {
    const deployment = manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === `${RELEASE}-${component}`);
    if (!deployment?.spec) throw new Error(`the chart rendered no Deployment ${RELEASE}-${component}`);
    return toChartPod(deployment.spec.template.spec, configMaps, secrets);
  };
  return { api: pod('api'), worker: pod('worker') };
}

function toChartPod(spec: PodSpec, configMaps: Map<string, Record<string, string>>, secrets: Secrets): ChartPod {
  if (spec.containers.length !== 1) throw new Error(`expected one container, the chart renders ${spec.containers.length}`);
  const container = spec.containers[0];
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    const data = name === undefined ? undefined : configMaps.get(name);
    if (!data) throw new Error(`envFrom ${JSON.stringify(source)} is not a ConfigMap of this release`);
    Object.assign(env, data);
  }
  const secretEnv: string[] = [];
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) env[entry.name] = entry.value;
    else if (entry.valueFrom !== undefined) secretEnv.push(entry.name);
  }
  const fsGroup = Number(spec.securityContext?.['fsGroup'] ?? 0);
  return {
    env,
    secretEnv,
    apiKey: env['API_KEYS_FILE'] ? generatedApiKey(spec, secrets) : null,
    graceSeconds: spec.terminationGracePeriodSeconds,
    runArgs: (claims = {}) => [
      ...securityArgs({ ...(spec.securityContext ?? {}), ...(container.securityContext ?? {}) }),
      ...limitArgs(container.resources?.limits ?? {}),
      ...volumeArgs(spec, container, claims, secrets, fsGroup),
    ],
  };
}

/** The merged pod and container security context (the container's keys win, as in Kubernetes). */
function securityArgs(context: Yaml): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(context)) {
    switch (key) {
      case 'runAsUser':
        args.push('--user', `${value}:${context['runAsGroup'] ?? value}`);
        break;
      case 'runAsGroup':
      case 'runAsNonRoot': // with runAsUser set, the test's uid check is what proves it
        break;
      case 'fsGroup':
        args.push('--group-add', String(value));
        break;
      case 'allowPrivilegeEscalation':
        if (value === false) args.push('--security-opt', 'no-new-privileges');
        break;
      case 'readOnlyRootFilesystem':
        // podman would otherwise add tmpfs mounts of its own (/run, /var/tmp) that a pod lacks.
        if (value === true) args.push('--read-only', '--read-only-tmpfs=false');
        break;
      case 'capabilities': {
        const { drop = [], add = [], ...rest } = value as { drop?: string[]; add?: string[] };
        if (Object.keys(rest).length > 0) throw new Error(`capabilities.${Object.keys(rest)[0]} is not reproduced`);
        for (const capability of drop) args.push('--cap-drop', capability);
        for (const capability of add) args.push('--cap-add', capability);
        break;
      }
      case 'seccompProfile':
        // podman applies its default seccomp profile, as RuntimeDefault asks.
        if ((value as { type?: string }).type !== 'RuntimeDefault') throw new Error(`seccompProfile ${JSON.stringify(value)} is not reproduced`);
        break;
      default:
        throw new Error(`securityContext.${key} is not reproduced by the image tests`);
    }
  }
  return args;
}

function limitArgs(limits: { cpu?: string; memory?: string }): string[] {
  const args: string[] = [];
  if (limits.cpu) args.push('--cpus', String(parseCpu(limits.cpu)));
  if (limits.memory) args.push('--memory', String(parseBytes(limits.memory)));
  return args;
}

/** The key in the Secret the pod's API keys come from (the chart writes it next to their digests). */
function generatedApiKey(spec: PodSpec, secrets: Secrets): string {
  for (const volume of spec.volumes ?? []) {
    const key = volume.secret && secrets.get(volume.secret.secretName)?.['api-key'];
    if (key) return key;
  }
  throw new Error('the API reads API keys from a file, but no Secret the chart rendered holds the key: give the test one');
}

/**
 * A Secret volume as the kubelet makes it: the selected entries (all without `items`) as files,
 * owned by root and the pod's fsGroup, with `defaultMode`, in a folder mounted read-only.
 */
function secretFolder(volume: NonNullable<Volume['secret']>, secrets: Secrets, fsGroup: number): string {
  const data = secrets.get(volume.secretName);
  if (!data) throw new Error(`the Secret ${volume.secretName} is not rendered by the chart: the image tests cannot fill it`);
  const folder = mkdtempSync(join(tmpdir(), 'tg-secret-'));
  secretFolders.add(folder);
  chmodSync(folder, 0o755);
  for (const { key, path } of volume.items ?? Object.keys(data).map((key) => ({ key, path: key }))) {
    if (!(key in data)) throw new Error(`the Secret ${volume.secretName} has no entry ${key}`);
    const file = join(folder, path);
    writeFileSync(file, data[key]);
    chownSync(file, 0, fsGroup);
    chmodSync(file, volume.defaultMode ?? 0o644);
  }
  return folder;
}

function volumeArgs(spec: PodSpec, container: Container, claims: Record<string, string>, secrets: Secrets, fsGroup: number): string[] {
  return (container.volumeMounts ?? []).flatMap((mount) => {
    const volume = (spec.volumes ?? []).find((v) => v.name === mount.name);
    if (volume?.emptyDir) {
      const size = volume.emptyDir.sizeLimit ? `,size=${parseBytes(volume.emptyDir.sizeLimit)}` : '';
      return ['--tmpfs', `${mount.mountPath}:rw,mode=1777${size}`];
    }
    if (volume?.persistentVolumeClaim) {
      const hostDir = claims[volume.persistentVolumeClaim.claimName];
      if (!hostDir) throw new Error(`no host folder given for the claim ${volume.persistentVolumeClaim.claimName}`);
      return ['--volume', `${hostDir}:${mount.mountPath}${mount.readOnly ? ':ro' : ''}`];
    }
    if (volume?.secret) return ['--volume', `${secretFolder(volume.secret, secrets, fsGroup)}:${mount.mountPath}:ro`];
    throw new Error(`volume ${JSON.stringify(volume ?? mount.name)} is not reproduced by the image tests`);
  });
}

/** Kubernetes CPU quantity ("1", "250m") in CPUs. */
function parseCpu(quantity: string): number {
  return quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
}

/** Kubernetes memory quantity ("512Mi", "1Gi", "64M") in bytes. */
function parseBytes(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi|K|M|G)?$/.exec(quantity);
  if (!match) throw new Error(`cannot read the quantity ${quantity}`);
  const units: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 };
  return Number(match[1]) * (match[2] ? units[match[2]] : 1);
}
