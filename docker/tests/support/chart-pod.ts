import { execFileSync } from 'node:child_process';
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
  volumes?: { name: string; emptyDir?: { sizeLimit?: string }; persistentVolumeClaim?: { claimName: string } }[];
}

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
  const manifests = parseAllDocuments(output)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);
  const configMaps = new Map(manifests.filter((m) => m.kind === 'ConfigMap').map((m) => [m.metadata.name, m.data ?? {}]));
  const pod = (component: Component): ChartPod => {
    const deployment = manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === `${RELEASE}-${component}`);
    if (!deployment?.spec) throw new Error(`the chart rendered no Deployment ${RELEASE}-${component}`);
    return toChartPod(deployment.spec.template.spec, configMaps);
  };
  return { api: pod('api'), worker: pod('worker') };
}

function toChartPod(spec: PodSpec, configMaps: Map<string, Record<string, string>>): ChartPod {
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
  return {
    env,
    secretEnv,
    graceSeconds: spec.terminationGracePeriodSeconds,
    runArgs: (claims = {}) => [
      ...securityArgs({ ...(spec.securityContext ?? {}), ...(container.securityContext ?? {}) }),
      ...limitArgs(container.resources?.limits ?? {}),
      ...volumeArgs(spec, container, claims),
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

function volumeArgs(spec: PodSpec, container: Container, claims: Record<string, string>): string[] {
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
