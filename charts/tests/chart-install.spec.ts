/**
 * The umbrella chart installed, upgraded, rolled back and uninstalled with helm on a real
 * Kubernetes API server (etcd, kube-apiserver and kube-controller-manager from
 * @thumbnail/testing), in namespaces that enforce the Pod Security "restricted" level. There is
 * no scheduler and no kubelet: the controllers create every workload's Pods, admission decides
 * whether they may exist, and they then stay Pending, so nothing here waits for readiness
 * (`--wait`) or runs `helm test` to the end. What needs a real cluster is listed in
 * docs/development.md.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { requireTool, skipWithoutTool, startKubeControlPlane, type RunningKubeControlPlane } from '@thumbnail/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { chartDir } from './chart-files';
import { clusterClients, manifestObjects, serverWarnings, type ClusterClients } from './cluster-clients';

const RELEASE = 'thumbnail-generator';
const NAMESPACE = 'thumbnails';
const INSTANCE = `app.kubernetes.io/instance=${RELEASE}`;
const monitoringValues = join(chartDir, 'ci/monitoring-values.yaml');
const externalServicesValues = join(chartDir, 'ci/external-services-values.yaml');

interface KubeObject {
  kind: string;
  metadata: {
    name: string;
    uid: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { uid: string; controller?: boolean }[];
  };
  spec?: { replicas?: number; nodeName?: string; template?: { metadata?: { annotations?: Record<string, string> } } };
  status?: { observedGeneration?: number; updateRevision?: string; phase?: string };
  data?: Record<string, string>;
}

interface List {
  items: KubeObject[];
}

function ownedBy(object: KubeObject, owner: KubeObject): boolean {
  return (object.metadata.ownerReferences ?? []).some((ref) => ref.uid === owner.metadata.uid && ref.controller);
}

describe.skipIf(skipWithoutTool('kube-apiserver', 'kube-controller-manager', 'kubectl', 'helm', 'prometheus-operator-crds'))(
  'the chart on a Kubernetes API server (no kubelet: Pods stay Pending)',
  () => {
    let cluster: RunningKubeControlPlane;
    let cli: ClusterClients;

    /** A namespace whose Pods must meet the Pod Security "restricted" level, as a hardened cluster sets it. */
    const createRestrictedNamespace = async (name: string) => {
      const levels = ['enforce', 'warn', 'audit'].map((mode) => `pod-security.kubernetes.io/${mode}: restricted`);
      const namespace = `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  labels:\n${levels.map((l) => `    ${l}\n`).join('')}`;
      const created = await cli.kubectl(['create', '-f', '-'], namespace);
      expect(created.code, created.stderr).toBe(0);
    };

    /** Every object in the namespace, as Kind/name, but what Kubernetes puts in each namespace and events. */
    const namespaceObjects = async (namespace: string): Promise<string[]> => {
      const types = await cli.kubectl(['api-resources', '--verbs=list', '--namespaced', '--output=name']);
      const listable = types.stdout.split('\n').filter((type) => type && !type.startsWith('events'));
      const all = await cli.getJson<List>([listable.join(','), `--namespace=${namespace}`]);
      return all.items
        .map((item) => `${item.kind}/${item.metadata.name}`)
        .filter((id) => id !== 'ConfigMap/kube-root-ca.crt' && id !== 'ServiceAccount/default')
        .sort();
    };

    const failedCreations = async (namespace: string): Promise<string> => {
      const events = await cli.getJson<{ items: { involvedObject: { name: string }; message: string }[] }>([
        'events', `--namespace=${namespace}`, '--field-selector=reason=FailedCreate',
      ]);
      return events.items.map((event) => `${event.involvedObject.name}: ${event.message}`).join('\n');
    };

    /**
     * Waits until the controllers have acted on every workload's current spec: each Deployment's
     * current ReplicaSet holds all its Pods, each StatefulSet's first Pod exists at its current
     * revision (OrderedReady makes the next only once that one is Ready). Every Pod of the
     * namespace stays Pending on no node. Fails with the controllers' FailedCreate events, which
     * carry admission's refusals.
     */
    const expectPodsOfEveryWorkload = async (namespace: string) => {
      await vi.waitFor(
        async () => {
          const get = (type: string) => cli.getJson<List>([type, `--namespace=${namespace}`]).then((list) => list.items);
          const [deployments, replicaSets, statefulSets, pods] = await Promise.all(
            ['deployments', 'replicasets', 'statefulsets', 'pods'].map(get),
          );
          const problems: string[] = [];
          for (const deployment of deployments) {
            const name = `Deployment/${deployment.metadata.name}`;
            if (deployment.status?.observedGeneration !== deployment.metadata.generation) {
              problems.push(`${name}: its controller has not seen generation ${deployment.metadata.generation}`);
              continue;
            }
            const revision = deployment.metadata.annotations?.['deployment.kubernetes.io/revision'];
            const current = replicaSets.find(
              (rs) => ownedBy(rs, deployment) && rs.metadata.annotations?.['deployment.kubernetes.io/revision'] === revision,
            );
            const podCount = current ? pods.filter((pod) => ownedBy(pod, current)).length : 0;
            if (!current || podCount === 0 || podCount !== current.spec?.replicas) {
              problems.push(`${name}: ${podCount} Pods of revision ${revision}, ReplicaSet wants ${current?.spec?.replicas}`);
            }
          }
          for (const statefulSet of statefulSets) {
            const name = `StatefulSet/${statefulSet.metadata.name}`;
            const first = pods.find((pod) => pod.metadata.name === `${statefulSet.metadata.name}-0` && ownedBy(pod, statefulSet));
            if (statefulSet.status?.observedGeneration !== statefulSet.metadata.generation) {
              problems.push(`${name}: its controller has not seen generation ${statefulSet.metadata.generation}`);
            } else if (first?.metadata.labels?.['controller-revision-hash'] !== statefulSet.status?.updateRevision) {
              problems.push(`${name}: no Pod ${statefulSet.metadata.name}-0 at revision ${statefulSet.status?.updateRevision}`);
            }
          }
          if (problems.length > 0) throw new Error(`${problems.join('\n')}\nFailedCreate events:\n${await failedCreations(namespace)}`);
          expect(deployments.length + statefulSets.length).toBeGreaterThan(0);
          for (const pod of pods) {
            expect(pod.status?.phase, pod.metadata.name).toBe('Pending');
            expect(pod.spec?.nodeName, pod.metadata.name).toBeUndefined();
          }
        },
        { timeout: 90_000, interval: 250 },
      );
    };

    /** The Secrets the chart generates passwords into (the ones `helm uninstall` keeps): name -> data. */
    const generatedSecrets = async () => {
      const secrets = await cli.getJson<List>(['secrets', `--namespace=${NAMESPACE}`, `--selector=${INSTANCE}`]);
      return Object.fromEntries(
        secrets.items
          .filter((secret) => secret.metadata.annotations?.['helm.sh/resource-policy'] === 'keep')
          .map((secret) => [secret.metadata.name, secret.data]),
      );
    };

    /** Pod template annotations (the configuration checksums) of every workload: Kind/name -> annotations. */
    const templateAnnotations = async () => {
      const workloads = await cli.getJson<List>(['deployments,statefulsets', `--namespace=${NAMESPACE}`]);
      return Object.fromEntries(
        workloads.items.map((w) => [`${w.kind}/${w.metadata.name}`, w.spec?.template?.metadata?.annotations ?? {}]),
      );
    };

    const replicaSetNames = async () =>
      (await cli.getJson<List>(['replicasets', `--namespace=${NAMESPACE}`])).items.map((rs) => rs.metadata.name).sort();

    const appSetting = async (key: string) =>
      (await cli.getJson<KubeObject>(['configmap', `${RELEASE}-app`, `--namespace=${NAMESPACE}`])).data?.[key];

    const upgrade = async (...set: string[]) => {
      const result = await cli.helm([
        'upgrade', RELEASE, chartDir, `--namespace=${NAMESPACE}`, '--reuse-values', ...set.flatMap((s) => ['--set', s]),
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(serverWarnings(result.stderr)).toEqual([]);
    };

    beforeAll(async () => {
      const started = performance.now();
      cluster = await startKubeControlPlane();
      console.info(`chart-install: control plane ready in ${Math.round(performance.now() - started)} ms`);
      cli = clusterClients(cluster.kubeconfig, cluster.dir);
      // The CRDs of the kinds the chart creates (applying all of prometheus-operator's only
      // costs the API server time: each CRD rebuilds its OpenAPI document).
      const crds = join(requireTool('prometheus-operator-crds'), 'example/prometheus-operator-crd');
      const applied = await cli.kubectl([
        'apply', '--server-side',
        '-f', join(crds, 'monitoring.coreos.com_servicemonitors.yaml'),
        '-f', join(crds, 'monitoring.coreos.com_prometheusrules.yaml'),
      ]);
      expect(applied.code, applied.stderr).toBe(0);
      const established = await cli.kubectl([
        'wait', '--for=condition=Established', '--timeout=60s',
        'crd/servicemonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com',
      ]);
      expect(established.code, established.stderr).toBe(0);
      await createRestrictedNamespace(NAMESPACE);
    }, 300_000);

    afterAll(async () => {
      await cluster?.stop();
    });

    it('the namespace refuses a Pod that breaks the restricted level (so admission below means something)', async () => {
      const pod = `apiVersion: v1\nkind: Pod\nmetadata: { name: loose, namespace: ${NAMESPACE} }\nspec:\n  containers: [{ name: main, image: busybox }]\n`;
      const refused = await cli.kubectl(['create', '-f', '-'], pod);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('violates PodSecurity "restricted:latest"');
    });

    let secretsAtInstall: Record<string, unknown>;
    let installNotes = '';
    let annotationsAtInstall: Record<string, Record<string, string>>;

    it('installs with monitoring on: every object accepted without a warning, every workload’s Pods admitted', async () => {
      const installed = await cli.helm(['install', RELEASE, chartDir, `--namespace=${NAMESPACE}`, '--values', monitoringValues]);
      expect(installed.code, installed.stderr).toBe(0);
      // Unknown fields and Pod templates that break the namespace's level come back as warnings.
      expect(serverWarnings(installed.stderr)).toEqual([]);

      const manifest = await cli.helm(['get', 'manifest', RELEASE, `--namespace=${NAMESPACE}`]);
      const objects = manifestObjects(manifest.stdout);
      const kinds = new Set(objects.map((o) => o.kind));
      for (const kind of ['Deployment', 'StatefulSet', 'ServiceMonitor', 'PrometheusRule', 'NetworkPolicy', 'PodDisruptionBudget']) {
        expect(kinds, kind).toContain(kind);
      }
      expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toContain(`ConfigMap/${RELEASE}-dashboard`);
      const onServer = await cli.kubectl(['get', '-f', '-', `--namespace=${NAMESPACE}`, '--output=name'], manifest.stdout);
      expect(onServer.code, onServer.stderr).toBe(0);
      expect(onServer.stdout.trim().split('\n')).toHaveLength(objects.length);

      await expectPodsOfEveryWorkload(NAMESPACE);
      const claims = await cli.getJson<List>(['persistentvolumeclaims', `--namespace=${NAMESPACE}`]);
      expect(claims.items.map((c) => c.metadata.name).sort()).toEqual(
        ['minio', 'mongodb', 'redis'].map((name) => `data-${RELEASE}-${name}-0`),
      );

      secretsAtInstall = await generatedSecrets();
      expect(Object.keys(secretsAtInstall).sort()).toEqual(['api-key', 'minio', 'mongodb', 'redis'].map((name) => `${RELEASE}-${name}`));
      annotationsAtInstall = await templateAnnotations();
      installNotes = installed.stdout;
    });

    it('generates an API key whose digest the API reads, and NOTES.txt’s command reads the key itself', async () => {
      const command = /^\s*export API_KEY=\$\((kubectl .*)\)$/m.exec(installNotes)?.[1];
      expect(command, installNotes).toBe(
        `kubectl --namespace ${NAMESPACE} get secret ${RELEASE}-api-key -o jsonpath='{.data.api-key}' | base64 -d`,
      );
      // Run as the operator would, through a shell, against this cluster (not synchronously: the
      // control plane logs into pipes this process must keep reading).
      const path = `${dirname(requireTool('kubectl'))}:${process.env['PATH']}`;
      const { stdout: key } = await promisify(execFile)('bash', ['-c', command as string], {
        env: { PATH: path, HOME: cluster.dir, KUBECONFIG: cluster.kubeconfig },
      });
      expect(key).toMatch(/^[A-Za-z0-9]{48}$/);
      const data = secretsAtInstall[`${RELEASE}-api-key`] as Record<string, string>;
      expect(Buffer.from(data['api-keys'], 'base64').toString('utf8').trim()).toBe(createHash('sha256').update(key).digest('hex'));
      // The notes' curl examples send it.
      expect(installNotes).toContain('curl -sS -H "Authorization: Bearer $API_KEY" -F file=@picture.png "$API_URL/thumbnail"');
    });

    it('admits the `helm test` Pod too (it stays Pending: running it needs a kubelet)', async () => {
      // The hook never finishes here, so helm gives up after the timeout; the Pod it created is what counts.
      const tested = await cli.helm(['test', RELEASE, `--namespace=${NAMESPACE}`, '--timeout=2s']);
      expect(tested.stderr).not.toContain('forbidden');
      const pod = await cli.getJson<KubeObject>(['pod', `${RELEASE}-test`, `--namespace=${NAMESPACE}`]);
      expect(pod.status?.phase).toBe('Pending');
    });

    it('upgrade --reuse-values of an unrelated setting keeps every generated Secret and does not roll the Pods', async () => {
      const replicaSetsBefore = await replicaSetNames();
      await upgrade('worker.replicaCount=3');

      // lookup found the Secrets on the server, so the passwords were not generated again.
      expect(await generatedSecrets()).toEqual(secretsAtInstall);
      expect(await templateAnnotations()).toEqual(annotationsAtInstall);
      await expectPodsOfEveryWorkload(NAMESPACE);
      expect(await replicaSetNames()).toEqual(replicaSetsBefore);
      const worker = await cli.getJson<KubeObject>(['deployment', `${RELEASE}-worker`, `--namespace=${NAMESPACE}`]);
      expect(worker.spec?.replicas).toBe(3);
    });

    it('upgrade --reuse-values with config.logLevel=debug changes the apps’ checksum and rolls their Pods, not the databases’', async () => {
      const replicaSetsBefore = await replicaSetNames();
      await upgrade('config.logLevel=debug');

      expect(await appSetting('LOG_LEVEL')).toBe('debug');
      expect(await generatedSecrets()).toEqual(secretsAtInstall);
      const annotations = await templateAnnotations();
      for (const app of ['api', 'worker']) {
        const id = `Deployment/${RELEASE}-${app}`;
        expect(annotations[id]['checksum/config'], id).not.toBe(annotationsAtInstall[id]['checksum/config']);
      }
      for (const service of ['redis', 'mongodb', 'minio']) {
        const id = `StatefulSet/${RELEASE}-${service}`;
        expect(annotations[id], id).toEqual(annotationsAtInstall[id]);
      }
      // A new ReplicaSet per app, whose Pods admission lets in; reuse-values kept the worker's 3 replicas.
      await expectPodsOfEveryWorkload(NAMESPACE);
      const replicaSets = await replicaSetNames();
      expect(replicaSets.filter((name) => !replicaSetsBefore.includes(name))).toHaveLength(2);
      const worker = await cli.getJson<KubeObject>(['deployment', `${RELEASE}-worker`, `--namespace=${NAMESPACE}`]);
      expect(worker.spec?.replicas).toBe(3);
    });

    it('rolls back to revision 1, and helm history shows every revision', async () => {
      const rolledBack = await cli.helm(['rollback', RELEASE, '1', `--namespace=${NAMESPACE}`]);
      expect(rolledBack.code, rolledBack.stderr).toBe(0);

      expect(await appSetting('LOG_LEVEL')).toBe('info');
      expect(await templateAnnotations()).toEqual(annotationsAtInstall);
      expect(await generatedSecrets()).toEqual(secretsAtInstall);
      await expectPodsOfEveryWorkload(NAMESPACE);

      const history = await cli.helm(['history', RELEASE, `--namespace=${NAMESPACE}`, '--output=json']);
      expect(history.code, history.stderr).toBe(0);
      const revisions = (JSON.parse(history.stdout) as { revision: number; status: string; description: string }[]).map(
        ({ revision, status, description }) => ({ revision, status, description }),
      );
      expect(revisions).toEqual([
        { revision: 1, status: 'superseded', description: 'Install complete' },
        { revision: 2, status: 'superseded', description: 'Upgrade complete' },
        { revision: 3, status: 'superseded', description: 'Upgrade complete' },
        { revision: 4, status: 'deployed', description: 'Rollback to 1' },
      ]);
    });

    it('uninstall leaves exactly what docs/deployment.md says, and its command for the rest removes it', async () => {
      const uninstalled = await cli.helm(['uninstall', RELEASE, `--namespace=${NAMESPACE}`]);
      expect(uninstalled.code, uninstalled.stderr).toBe(0);
      // The bundled services' claims and password Secrets, and the failed `helm test` Pod (helm
      // leaves hook objects; this one never finished).
      const kept = [
        ...['minio', 'mongodb', 'redis'].flatMap((name) => [`PersistentVolumeClaim/data-${RELEASE}-${name}-0`, `Secret/${RELEASE}-${name}`]),
        `Secret/${RELEASE}-api-key`,
        `Pod/${RELEASE}-test`,
      ].sort();
      // The garbage collector removes ReplicaSets, Pods and EndpointSlices after their owners.
      await vi.waitFor(async () => expect(await namespaceObjects(NAMESPACE)).toEqual(kept), { timeout: 60_000, interval: 250 });
      expect(await generatedSecrets()).toEqual(secretsAtInstall);

      const deleted = await cli.kubectl([`--namespace=${NAMESPACE}`, 'delete', 'pvc,secret,pod', `--selector=${INSTANCE}`]);
      expect(deleted.code, deleted.stderr).toBe(0);
      await vi.waitFor(async () => expect(await namespaceObjects(NAMESPACE)).toEqual([]), { timeout: 60_000, interval: 250 });
    });

    it('installs the external-services example (Ingress, autoscalers, NetworkPolicies to outside) under the same admission', async () => {
      await createRestrictedNamespace('external');
      const installed = await cli.helm([
        'install', RELEASE, chartDir, '--namespace=external', '--values', externalServicesValues, '--values', monitoringValues,
      ]);
      expect(installed.code, installed.stderr).toBe(0);
      expect(serverWarnings(installed.stderr)).toEqual([]);
      const objects = await namespaceObjects('external');
      for (const id of [`Ingress/${RELEASE}-api`, `HorizontalPodAutoscaler/${RELEASE}-worker`, `NetworkPolicy/${RELEASE}-api`, `Secret/${RELEASE}-external`]) {
        expect(objects).toContain(id);
      }
      await expectPodsOfEveryWorkload('external');
    });

    describe('refuses an impossible combination with the operator-facing message and creates nothing', () => {
      const refusedNamespace = 'refused';
      const install = (...args: string[]) =>
        cli.helm(['install', RELEASE, chartDir, `--namespace=${refusedNamespace}`, '--set', 'redis.enabled=false', ...args]);

      beforeAll(() => createRestrictedNamespace(refusedNamespace));

      it('values.schema.json names the values to set', async () => {
        const refused = await install();
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toContain('/externalRedis/url');
        expect(refused.stderr).toContain('/externalRedis/existingSecret');
      });

      it('without the schema (--skip-schema-validation) the templates refuse it in words', async () => {
        const refused = await install('--skip-schema-validation');
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toContain('redis.enabled=false needs your own Redis: set externalRedis.url');
      });

      it('and nothing of the release exists', async () => {
        expect(await namespaceObjects(refusedNamespace)).toEqual([]);
        const releases = await cli.helm(['list', `--namespace=${refusedNamespace}`, '--all', '--output=json']);
        expect(JSON.parse(releases.stdout)).toEqual([]);
      });
    });
  },
);
