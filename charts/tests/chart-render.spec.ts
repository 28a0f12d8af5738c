/**
 * The chart as helm renders it: linted, rendered with every ci/*-values.yaml and with every value
 * combination docs/deployment.md gives, for the oldest Kubernetes release the docs support, and
 * each manifest validated by kubeconform against that release's API and the Prometheus Operator
 * CRDs. helm, kubeconform and the schemas' sources are built by scripts/tools.sh.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, presetCatalogue } from '@thumbnail/config';
import { freePort, skipWithoutTool, spawnServer, waitForPort } from '@thumbnail/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartDir, listFiles, readText, readYaml, repoRoot, type Values } from './chart-files';
import { findManifest, helm, helmLint, helmTemplate, imagesBySource, podSpecs, type Manifest, type RenderOptions } from './chart-helm';
import { documentedChartValues, documentedSecrets, helmWaits, type DocumentedValues } from './deployment-doc';
import { createValidator, type Validator } from './kubeconform';
import { markdownCommands, scriptCommands } from './shell-commands';

const packageVersion = (JSON.parse(readText(join(repoRoot, 'package.json'))) as { version: string }).version;
const ciValuesFiles = listFiles(join(chartDir, 'ci'))
  .filter((file) => file.endsWith('-values.yaml'))
  .sort();
const deploymentDoc = readText(join(repoRoot, 'docs/deployment.md'));
const documented = documentedChartValues(deploymentDoc);
const rulesPath = join(chartDir, 'files/prometheus-rules.yaml');
const dashboardPath = join(chartDir, 'files/grafana-dashboard.json');
const BUNDLED = ['StatefulSet/thumbnail-generator-redis', 'StatefulSet/thumbnail-generator-mongodb', 'StatefulSet/thumbnail-generator-minio'];
type Container = { command: string[]; args: string[] };
const APPS = ['Deployment/thumbnail-generator-api', 'Deployment/thumbnail-generator-worker', 'Pod/thumbnail-generator-test'];

describe.skipIf(skipWithoutTool('helm', 'kubeconform', 'kubernetes-openapi', 'prometheus-operator-crds'))('the chart rendered by helm', () => {
  let validator: Validator;
  let kubeVersion: string;
  const renders = new Map<string, { text: string; manifests: Manifest[] }>();

  beforeAll(() => {
    validator = createValidator();
    kubeVersion = validator.schemas.kubernetesVersion;
  });

  afterAll(() => {
    validator?.remove();
  });

  const render = (options: Omit<RenderOptions, 'kubeVersion'> = {}) => {
    const key = JSON.stringify(options);
    if (!renders.has(key)) renders.set(key, helmTemplate({ ...options, kubeVersion }));
    return renders.get(key) as { text: string; manifests: Manifest[] };
  };
  const renderCi = (file: string) => render({ valuesFiles: [join(chartDir, 'ci', file)] }).manifests;
  const renderDocumented = (values: DocumentedValues) =>
    render({ set: values.sets, valuesFiles: values.valuesFiles.map((file) => join(repoRoot, file)) });
  const expectValid = ({ text, manifests }: { text: string; manifests: Manifest[] }) => {
    const withoutSchema = manifests.map((m) => `${m.apiVersion} ${m.kind}`).filter((kind) => !validator.schemas.kinds.includes(kind));
    expect(withoutSchema, 'kinds with no schema').toEqual([]);
    const { resources, problems } = validator.validate(text);
    expect(problems).toEqual([]);
    expect(resources).toHaveLength(manifests.length);
  };

  describe('helm lint --strict', () => {
    it('passes with the defaults', () => {
      const result = helmLint({ kubeVersion });
      expect(result.status, result.stdout + result.stderr).toBe(0);
    });

    it.each(ciValuesFiles)('passes with ci/%s', (file) => {
      const result = helmLint({ kubeVersion, valuesFiles: [join(chartDir, 'ci', file)] });
      expect(result.status, result.stdout + result.stderr).toBe(0);
    });
  });

  describe('every manifest is a valid object of the oldest supported Kubernetes (strict kubeconform)', () => {
    it.each(ciValuesFiles)('ci/%s', (file) => {
      expectValid(render({ valuesFiles: [join(chartDir, 'ci', file)] }));
    });

    it.each(documented.map((values) => [values.name, values] as const))('docs/deployment.md %s', (_, values) => {
      expectValid(renderDocumented(values));
    });

    it('the docs give the combinations this suite renders (install, registry, Service types, Ingress, monitoring, external services, API keys)', () => {
      const keys = new Set(documented.flatMap((values) => values.sets.map((assignment) => assignment.split('=')[0])));
      const expected = ['global.imageRegistry', 'global.bundledImageRegistry', 'api.service.type', 'api.ingress.enabled', 'monitoring.serviceMonitor.enabled'];
      expected.push('redis.enabled', 'externalS3.existingSecret', 'api.apiKeys.existingSecret', 'tests.apiKey.existingSecret');
      expect(expected.filter((key) => !keys.has(key))).toEqual([]);
      expect(documented.filter((values) => values.sets.length === 0).length, 'the plain install').toBeGreaterThan(0);
    });
  });

  describe('Kubernetes and Helm versions', () => {
    it('the docs name the oldest Kubernetes the manifests are validated against, and the chart refuses older ones', () => {
      const [schemaMajor, schemaMinor] = kubeVersion.split('.').map(Number);
      const documentedMinimum = /Kubernetes (\d+)\.(\d+) or newer/.exec(deploymentDoc);
      expect(documentedMinimum?.slice(1).map(Number)).toEqual([schemaMajor, schemaMinor]);
      expect(() => helmTemplate({ kubeVersion: `${schemaMajor}.${schemaMinor}.0` })).not.toThrow();
      expect(() => helmTemplate({ kubeVersion: `${schemaMajor}.${schemaMinor - 1}.99` })).toThrow(/chart requires kubeVersion/);
    });

    it('the docs name a Helm 3 range that includes the version the tests run', () => {
      const documentedHelm = /Helm (\d+)\.(\d+) or newer within\s+Helm (\d+)/.exec(deploymentDoc);
      expect(documentedHelm, 'a "Helm 3.x or newer within Helm 3" requirement').not.toBeNull();
      const [, major, minor, line] = (documentedHelm as RegExpExecArray).map(Number);
      const running = /Version:"v(\d+)\.(\d+)/.exec(helm(['version']).stdout)?.slice(1).map(Number) ?? [];
      expect(running[0]).toBe(line);
      expect(running[0]).toBe(major);
      expect(running[1]).toBeGreaterThanOrEqual(minor);
    });
  });

  describe('images', () => {
    it('global.imageRegistry, as the docs set it, moves the api and worker images and leaves the bundled ones on Docker Hub', () => {
      const defaults = imagesBySource(render().manifests);
      const values = documented.find((v) => v.sets.some((s) => s.startsWith('global.imageRegistry=')) && !v.sets.some((s) => s.startsWith('global.bundled')));
      expect(values, 'a documented install with global.imageRegistry').toBeDefined();
      const registry = (values?.sets.find((s) => s.startsWith('global.imageRegistry=')) ?? '').split('=')[1];
      const images = imagesBySource(renderDocumented(values as DocumentedValues).manifests);
      for (const source of APPS) expect(images[source], source).toEqual(defaults[source].map((image) => `${registry}/${image}`));
      for (const source of BUNDLED) {
        expect(images[source], source).toEqual(defaults[source]);
        expect(images[source][0], source).toMatch(/^docker\.io\//);
      }
    });

    it('global.bundledImageRegistry, as the docs set it, moves the bundled images to the mirror under Docker Hub’s paths', () => {
      const defaults = imagesBySource(render().manifests);
      const values = documented.find((v) => v.sets.some((s) => s.startsWith('global.bundledImageRegistry=')));
      expect(values, 'a documented install with global.bundledImageRegistry').toBeDefined();
      const mirror = (values?.sets.find((s) => s.startsWith('global.bundledImageRegistry=')) ?? '').split('=')[1];
      const images = imagesBySource(renderDocumented(values as DocumentedValues).manifests);
      for (const source of BUNDLED) expect(images[source], source).toEqual(defaults[source].map((image) => image.replace(/^docker\.io\//, `${mirror}/`)));
    });
  });

  describe('API keys', () => {
    it('the docs turn them on with a Secret of digests that the API mounts and names in API_KEYS_FILE, and give helm test its key', () => {
      const values = documented.find((v) => v.sets.some((s) => s.startsWith('api.apiKeys.existingSecret=')));
      expect(values, 'a documented command setting api.apiKeys.existingSecret').toBeDefined();
      const secret = (values?.sets.find((s) => s.startsWith('api.apiKeys.existingSecret=')) ?? '').split('=')[1];
      const manifests = renderDocumented(values as DocumentedValues).manifests;
      const reads = secretReads(manifests);
      const fileRead = reads.find((read) => read.secret === secret && read.via === 'API_KEYS_FILE');
      expect(fileRead, `the API reads Secret ${secret} through API_KEYS_FILE`).toMatchObject({ source: 'Deployment/thumbnail-generator-api' });
      expect(documentedSecrets(deploymentDoc).get(secret), `the docs create ${secret} with the entry the API reads`).toContain(fileRead?.key);
      expect(reads.find((read) => read.via === 'API_KEY')?.source).toBe('Pod/thumbnail-generator-test');
      expect(reads.filter((read) => read.source.includes('worker') && read.secret === secret)).toEqual([]);
    });

    it('are on by default: a generated key in a kept Secret, its digest alone mounted for the API, the key itself for helm test', () => {
      const manifests = render().manifests;
      const secret = findManifest(manifests, 'Secret', '-api-key');
      expect(secret.metadata.name).toBe('thumbnail-generator-api-key');
      expect(secret.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
      const data = secret.data as Record<string, string>;
      const key = Buffer.from(data['api-key'], 'base64').toString('utf8');
      expect(key).toMatch(/^[A-Za-z0-9]{48}$/);
      expect(Buffer.from(data['api-keys'], 'base64').toString('utf8')).toBe(`${createHash('sha256').update(key).digest('hex')}\n`);

      const reads = secretReads(manifests).filter((read) => read.secret === 'thumbnail-generator-api-key');
      expect(reads).toEqual([
        { source: 'Deployment/thumbnail-generator-api', secret: 'thumbnail-generator-api-key', key: 'api-keys', via: 'API_KEYS_FILE' },
        { source: 'Pod/thumbnail-generator-test', secret: 'thumbnail-generator-api-key', key: 'api-key', via: 'API_KEY' },
      ]);
      // The API's volume holds the digests only, never the key.
      const apiVolumes = (podSpecs(manifests).find((pod) => pod.source === 'Deployment/thumbnail-generator-api')?.spec.volumes ?? []) as Values[];
      const keyVolume = apiVolumes.find((volume) => (volume.secret as Values | undefined)?.secretName === 'thumbnail-generator-api-key');
      expect((keyVolume?.secret as Values).items).toEqual([{ key: 'api-keys', path: 'api-keys' }]);
    });

    it('are off only when asked (api.apiKeys.generate=false): no Secret, no API_KEYS_FILE, no key for helm test', () => {
      const manifests = render({ set: ['api.apiKeys.generate=false'] }).manifests;
      expect(manifests.filter((m) => m.kind === 'Secret' && m.metadata.name.endsWith('-api-key'))).toEqual([]);
      expect(appEnv(findManifest(manifests, 'Deployment', '-api')).API_KEYS_FILE).toBeUndefined();
      expect(secretReads(manifests).filter((read) => read.via === 'API_KEY')).toEqual([]);
    });

    it('with api.apiKeys.existingSecret, generate nothing and mount that Secret’s entry', () => {
      const manifests = render({ set: ['api.apiKeys.existingSecret=mine', 'api.apiKeys.key=digests'] }).manifests;
      expect(manifests.filter((m) => m.kind === 'Secret' && m.metadata.name.endsWith('-api-key'))).toEqual([]);
      expect(secretReads(manifests)).toContainEqual({ source: 'Deployment/thumbnail-generator-api', secret: 'mine', key: 'digests', via: 'API_KEYS_FILE' });
    });

    it('every Secret the docs create is read by the chart under the entries the docs give it', () => {
      const created = documentedSecrets(deploymentDoc);
      const read = new Set<string>();
      for (const values of documented) {
        for (const { secret, key, source, via } of secretReads(renderDocumented(values).manifests)) {
          if (!created.has(secret)) continue;
          read.add(secret);
          expect(created.get(secret), `${values.name}: ${source} reads ${via} from ${secret}/${key}`).toContain(key);
        }
      }
      expect([...read].sort()).toEqual([...created.keys()].sort());
    });
  });

  describe('forwarding headers (TRUST_PROXY)', () => {
    const trustProxy = (set: string[] = []) => appEnv(findManifest(render({ set }).manifests, 'Deployment', '-api')).TRUST_PROXY?.value;

    it('are trusted from no one without the Ingress, and from the one hop in front with it', () => {
      expect(trustProxy()).toBeUndefined();
      expect(trustProxy(['api.ingress.enabled=true'])).toBe('1');
      expect(appEnv(findManifest(render({ set: ['api.ingress.enabled=true'] }).manifests, 'Deployment', '-worker')).TRUST_PROXY).toBeUndefined();
    });

    it('follow api.trustProxy when it is set', () => {
      expect(trustProxy(['api.trustProxy=10.0.0.0/8'])).toBe('10.0.0.0/8');
      // --set makes a number of it; the chart passes it on as the API reads it.
      expect(trustProxy(['api.ingress.enabled=true', 'api.trustProxy=0'])).toBe('0');
      expect(trustProxy(['api.trustProxy=2'])).toBe('2');
    });
  });

  it('the docs and the CI workflow wait for a release with one timeout, longer than helm’s default 5 minutes', () => {
    const workflow = readYaml<{ jobs: Record<string, { steps: { name?: string; run?: string }[] }> }>(join(repoRoot, '.github/workflows/ci.yml'));
    const waits = [
      ...helmWaits(markdownCommands(deploymentDoc), 'docs/deployment.md'),
      ...Object.values(workflow.jobs).flatMap((job) => job.steps.flatMap((step) => (step.run ? helmWaits(scriptCommands(step.run), `ci.yml "${step.name ?? step.run}"`) : []))),
    ];
    expect(waits.filter((wait) => wait.where.startsWith('ci.yml')).length).toBeGreaterThan(0);
    expect(waits.filter((wait) => wait.timeout === undefined).map((wait) => wait.where)).toEqual([]);
    expect(new Set(waits.map((wait) => wait.timeout)).size, waits.map((wait) => `${wait.where} --timeout ${wait.timeout}`).join('\n')).toBe(1);
    expect(durationSeconds(waits[0].timeout as string)).toBeGreaterThan(5 * 60);
  });

  describe('what every release gets', () => {
    it.each(ciValuesFiles)('ci/%s: every pod is hardened and has resources', (file) => {
      const problems: string[] = [];
      for (const { source, spec } of podSpecs(renderCi(file))) {
        const pod = (spec.securityContext ?? {}) as Values;
        if (pod.runAsNonRoot !== true) problems.push(`${source}: pod runAsNonRoot`);
        if (spec.automountServiceAccountToken !== false) problems.push(`${source}: automountServiceAccountToken`);
        for (const container of spec.containers as Values[]) {
          const sc = (container.securityContext ?? {}) as Values;
          const where = `${source}/${String(container.name)}`;
          if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation`);
          if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem`);
          if (!((sc.capabilities as { drop?: string[] } | undefined)?.drop ?? []).includes('ALL')) problems.push(`${where}: capabilities.drop ALL`);
          const seccomp = ((sc.seccompProfile ?? pod.seccompProfile) as { type?: string } | undefined)?.type;
          if (seccomp !== 'RuntimeDefault') problems.push(`${where}: seccompProfile`);
          const resources = (container.resources ?? {}) as { requests?: Values; limits?: Values };
          for (const kind of ['requests', 'limits'] as const) {
            for (const resource of ['cpu', 'memory']) if (!resources[kind]?.[resource]) problems.push(`${where}: ${kind}.${resource}`);
          }
        }
      }
      expect(problems).toEqual([]);
    });

    it.each(ciValuesFiles)('ci/%s: app pods run as uid 10001 and objects carry the standard labels', (file) => {
      const manifests = renderCi(file);
      for (const m of manifests) {
        const labels = m.metadata.labels ?? {};
        for (const label of ['name', 'instance', 'component', 'version', 'managed-by']) {
          expect(labels[`app.kubernetes.io/${label}`], `${m.kind}/${m.metadata.name} app.kubernetes.io/${label}`).toBeTruthy();
        }
      }
      for (const component of ['api', 'worker']) {
        const deployment = findManifest(manifests, 'Deployment', `-${component}`);
        const template = (deployment.spec as { template: { metadata: { labels: Record<string, string> }; spec: Values } }).template;
        expect(template.metadata.labels['app.kubernetes.io/component']).toBe(component);
        expect(template.metadata.labels['app.kubernetes.io/instance']).toBe('thumbnail-generator');
        expect((template.spec.securityContext as Values).runAsUser).toBe(10001);
      }
    });

    it.each(ciValuesFiles)('ci/%s: the apps have startup, liveness (/health) and readiness (/health/ready) probes and drain in time', (file) => {
      const manifests = renderCi(file);
      const config = findManifest(manifests, 'ConfigMap', '-app').data as Record<string, string>;
      for (const component of ['api', 'worker']) {
        const spec = (findManifest(manifests, 'Deployment', `-${component}`).spec as { template: { spec: Values } }).template.spec;
        const container = (spec.containers as Values[])[0];
        const path = (probe: string) => ((container[probe] as Values).httpGet as { path: string }).path;
        expect([path('startupProbe'), path('livenessProbe'), path('readinessProbe')]).toEqual(['/health', '/health', '/health/ready']);
        expect(Number(spec.terminationGracePeriodSeconds) * 1000).toBeGreaterThan(Number(config.SHUTDOWN_TIMEOUT_MS));
        expect(findManifest(manifests, 'PodDisruptionBudget', `-${component}`)).toBeTruthy();
      }
    });
  });

  describe('durability (docs/deployment.md): an accepted job survives a machine crash but for about its last second', () => {
    it('the bundled Redis, run as its StatefulSet runs it with the rendered redis.conf, says AOF, fsynced every second', async () => {
      const manifests = renderCi('default-values.yaml');
      const redisConf = (findManifest(manifests, 'ConfigMap', '-redis').data as Record<string, string>)['redis.conf'];
      const podSpec = (findManifest(manifests, 'StatefulSet', '-redis').spec as { template: { spec: { containers: Container[] } } }).template.spec;
      const [container] = podSpec.containers;
      const dir = mkdtempSync(join(tmpdir(), 'tg-chart-redis-'));
      const password = 'chart-test-password';
      try {
        const port = await freePort();
        // The pod's own config and command line; only the config file's path, the port and the data
        // folder are this machine's.
        writeFileSync(join(dir, 'redis.conf'), redisConf.replace(/^port .*$/m, `port ${port}`).replace(/^dir .*$/m, `dir ${dir}`));
        const args = [...container.command.slice(1), ...container.args]
          .map((arg) => (arg === '/etc/redis/redis.conf' ? join(dir, 'redis.conf') : arg.replace('$(REDIS_PASSWORD)', password)))
          .concat(['--bind', '127.0.0.1']);
        const server = spawnServer(container.command[0], args);
        try {
          await waitForPort(port, server, 'redis-server');
          const config = (name: string) =>
            spawnSync('redis-cli', ['-p', String(port), '--no-auth-warning', '-a', password, 'config', 'get', name], { encoding: 'utf8' }).stdout.trim().split('\n')[1];
          expect(config('appendonly')).toBe('yes');
          expect(config('appendfsync')).toBe('everysec');
          expect(config('maxmemory-policy')).toBe('noeviction');
        } finally {
          await server.stop();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('the ci value files', () => {
    it('defaults: S3 on the bundled MinIO, job records in the bundled MongoDB, the queue in the bundled Redis', () => {
      const manifests = renderCi('default-values.yaml');
      const config = findManifest(manifests, 'ConfigMap', '-app').data as Record<string, string>;
      expect(config).toMatchObject({
        STORAGE_DRIVER: 's3',
        JOB_STORE: 'mongo',
        S3_ENDPOINT: 'http://thumbnail-generator-minio:9000',
        S3_CREATE_BUCKET: 'true',
        S3_FORCE_PATH_STYLE: 'true',
      });
      const env = appEnv(findManifest(manifests, 'Deployment', '-worker'));
      expect(env.REDIS_URL.value).toBe('redis://:$(REDIS_PASSWORD)@thumbnail-generator-redis:6379/0');
      expect(env.MONGO_URL.value).toBe('mongodb://thumbnails:$(MONGO_PASSWORD)@thumbnail-generator-mongodb:27017/thumbnails?authSource=thumbnails');
      expect(env.S3_SECRET_ACCESS_KEY.valueFrom).toEqual({ secretKeyRef: { name: 'thumbnail-generator-minio', key: 'root-password' } });

      expect(imagesBySource(manifests)).toEqual({
        'Deployment/thumbnail-generator-api': [`thumbnail-generator-api:${packageVersion}`],
        'Deployment/thumbnail-generator-worker': [`thumbnail-generator-worker:${packageVersion}`],
        'Pod/thumbnail-generator-test': [`thumbnail-generator-api:${packageVersion}`],
        'StatefulSet/thumbnail-generator-redis': ['docker.io/library/redis:7.2'],
        'StatefulSet/thumbnail-generator-mongodb': ['docker.io/library/mongo:7'],
        'StatefulSet/thumbnail-generator-minio': [expect.stringMatching(/^docker\.io\/minio\/minio:RELEASE\./)],
      });
      const redisConf = (findManifest(manifests, 'ConfigMap', '-redis').data as Record<string, string>)['redis.conf'];
      expect(redisConf).toMatch(/^appendonly yes$/m);
      expect(redisConf).toMatch(/^maxmemory-policy noeviction$/m);
      for (const name of ['-redis', '-mongodb', '-minio']) {
        const statefulSet = findManifest(manifests, 'StatefulSet', name).spec as { volumeClaimTemplates?: unknown[] };
        expect(statefulSet.volumeClaimTemplates, name).toHaveLength(1);
        expect(findManifest(manifests, 'Secret', name).metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
      }
      expect(findManifest(manifests, 'Pod', '-test').metadata.annotations?.['helm.sh/hook']).toBe('test');
    });

    it('external services: nothing bundled, URLs and keys from Secrets, NetworkPolicies, autoscaling and an Ingress', () => {
      const manifests = renderCi('external-services-values.yaml');
      expect(manifests.filter((m) => m.kind === 'StatefulSet')).toEqual([]);
      const env = appEnv(findManifest(manifests, 'Deployment', '-api'));
      expect(env.REDIS_URL.valueFrom).toEqual({ secretKeyRef: { name: 'thumbnail-redis', key: 'url' } });
      expect(env.MONGO_URL.valueFrom).toEqual({ secretKeyRef: { name: 'thumbnail-generator-external', key: 'MONGO_URL' } });
      expect(env.S3_ACCESS_KEY_ID.valueFrom).toEqual({ secretKeyRef: { name: 'thumbnail-s3', key: 'access-key-id' } });
      expect(env.API_KEYS_FILE.value).toBe('/etc/thumbnail-generator/api-keys/api-keys');
      const config = findManifest(manifests, 'ConfigMap', '-app').data as Record<string, string>;
      expect(config).toMatchObject({ S3_SSE: 'AES256', S3_PUBLIC_ENDPOINT: 'https://s3.example.com', THUMBNAIL_SIZE: '128' });
      // The presets in the values reach the apps as THUMBNAIL_PRESETS, which they parse as written.
      // What the pods read from Secrets, stood in for.
      const fromSecrets = { MONGO_URL: 'mongodb://db/x', S3_ACCESS_KEY_ID: 'id', S3_SECRET_ACCESS_KEY: 'key', WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}` };
      const presets = presetCatalogue(loadConfig({ ...config, ...fromSecrets }));
      expect(Object.fromEntries(presets)).toEqual({
        default: { width: 128, height: 128, fit: 'cover', format: 'png', quality: null },
        w320: { width: 320, height: 320, fit: 'inside', format: 'webp', quality: 80 },
        w640: { width: 640, height: 640, fit: 'inside', format: 'webp', quality: 75 },
        hero: { width: 1200, height: 630, fit: 'cover', format: 'jpeg', quality: 80 },
      });
      expect(loadConfig({ ...config, ...fromSecrets }).MAX_VARIANTS_PER_JOB).toBe(3);
      expect(findManifest(renderCi('default-values.yaml'), 'ConfigMap', '-app').data).not.toHaveProperty('THUMBNAIL_PRESETS');
      expect(manifests.filter((m) => m.kind === 'NetworkPolicy').map((m) => m.metadata.name).sort()).toEqual([
        'thumbnail-generator-api',
        'thumbnail-generator-worker',
      ]);
      expect(manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler')).toHaveLength(2);
      // Webhooks: the secret from its Secret, for the worker (which signs) and the API alike;
      // the worker may reach the receivers, on the listed ports and WEBHOOK_URL's own.
      expect(appEnv(findManifest(manifests, 'Deployment', '-worker')).WEBHOOK_SECRET.valueFrom).toEqual({
        secretKeyRef: { name: 'thumbnail-webhooks', key: 'webhook-secret' },
      });
      expect(config).toMatchObject({ WEBHOOK_URL: 'https://hooks.example.internal:8443/thumbnails', WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com,*.customers.example.com' });
      const egress = (policy: string) => ((findManifest(manifests, 'NetworkPolicy', policy).spec as Values).egress as Values[]);
      const toReceivers = egress('-worker').find((rule) => JSON.stringify(rule.to ?? []).includes('169.254.0.0/16'));
      expect(toReceivers?.ports).toEqual([443, 80, 8443].map((port) => ({ port, protocol: 'TCP' })));
      expect(egress('-api').some((rule) => JSON.stringify(rule.to ?? []).includes('169.254.0.0/16'))).toBe(false);
      expect((findManifest(manifests, 'Deployment', '-api').spec as Values).replicas).toBeUndefined();
      expect(findManifest(manifests, 'Ingress', '-api')).toBeTruthy();
    });

    it('monitoring: ServiceMonitors with the alert rules’ job names, the rules file as shipped, the dashboard for the sidecar', () => {
      const manifests = renderCi('monitoring-values.yaml');
      for (const component of ['api', 'worker']) {
        const monitor = findManifest(manifests, 'ServiceMonitor', `-${component}`);
        expect(monitor.metadata.labels?.release).toBe('monitoring');
        const endpoint = (monitor.spec as { endpoints: { port: string; relabelings: Values[] }[] }).endpoints[0];
        expect(endpoint.port).toBe('http');
        expect(endpoint.relabelings).toContainEqual(expect.objectContaining({ targetLabel: 'job', replacement: `thumbnail-generator-${component}` }));
      }
      const rule = findManifest(manifests, 'PrometheusRule', 'thumbnail-generator');
      expect(rule.spec).toEqual(readYaml(rulesPath));
      const dashboard = findManifest(manifests, 'ConfigMap', '-dashboard');
      expect(dashboard.metadata.labels?.grafana_dashboard).toBe('1');
      expect(dashboard.metadata.annotations?.grafana_folder).toBe('Thumbnails');
      expect(JSON.parse((dashboard.data as Record<string, string>)['thumbnail-generator.json'])).toEqual(JSON.parse(readText(dashboardPath)));

      const relabelled = render({ set: ['monitoring.grafanaDashboard.enabled=true', 'monitoring.grafanaDashboard.labelName=dashboards', 'monitoring.grafanaDashboard.labelValue=thumbnails'] });
      expect(findManifest(relabelled.manifests, 'ConfigMap', '-dashboard').metadata.labels?.dashboards).toBe('thumbnails');
    });
  });

  it('refuses impossible combinations with a message that says what to set, also without the values schema', () => {
    const refusal = (set: string[], extraArgs: string[] = []) => {
      try {
        helmTemplate({ set, kubeVersion, extraArgs });
        return 'rendered';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(refusal(['redis.enabled=false'])).toMatch(/externalRedis/);
    expect(refusal(['api.service.type=Foo'])).toMatch(/'\/api\/service\/type': value must be one of 'ClusterIP', 'NodePort', 'LoadBalancer'/);
    expect(refusal(['global.env.REDIS_URL=redis://x:6379'])).toMatch(/global\.env\.REDIS_URL is set by the chart/);
    expect(refusal(['config.thumbnailPresets.big.width=5000', 'config.thumbnailPresets.big.height=10'])).toMatch(/'\/config\/thumbnailPresets\/big\/width': maximum: got 5,000, want 4,096/);
    expect(refusal(['global.env.THUMBNAIL_PRESETS=x'])).toMatch(/global\.env\.THUMBNAIL_PRESETS is set by the chart; use config\.thumbnailPresets/);
    expect(refusal(['worker.terminationGracePeriodSeconds=10'])).toMatch(/must be longer than config\.shutdownTimeoutMs/);
    expect(refusal(['mongodb.enabled=false'], ['--skip-schema-validation'])).toContain('mongodb.enabled=false with jobStore=mongo needs your own MongoDB');
    expect(refusal(['redis.enabled=false'], ['--skip-schema-validation'])).toContain('redis.enabled=false needs your own Redis');
    const hook = 'webhooks.url=https://hooks.example.com/in';
    expect(refusal([hook])).toMatch(/webhooks/);
    expect(refusal([hook], ['--skip-schema-validation'])).toContain('webhooks.url needs a signing secret');
    expect(refusal(['webhooks.secret=s3cr3t'])).toMatch(/\/webhooks\/secret/);
    expect(refusal(['webhooks.existingSecret=thumbnail-webhooks'])).toContain('set api.publicUrl');
  });
});

/** A Secret a workload reads: by env secretKeyRef (`via` the variable), or as a mounted file an env variable names (`via` that variable). */
interface SecretRead {
  source: string;
  secret: string;
  key: string;
  via: string;
}

function secretReads(manifests: Manifest[]): SecretRead[] {
  const reads: SecretRead[] = [];
  type Container = { env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[]; volumeMounts?: { name: string; mountPath: string }[] };
  for (const { source, spec } of podSpecs(manifests)) {
    const volumes = (spec.volumes ?? []) as { name: string; secret?: { secretName: string } }[];
    for (const container of spec.containers as Container[]) {
      for (const variable of container.env ?? []) {
        const ref = variable.valueFrom?.secretKeyRef;
        if (ref) reads.push({ source, secret: ref.name, key: ref.key, via: variable.name });
        for (const mount of container.volumeMounts ?? []) {
          const secret = volumes.find((volume) => volume.name === mount.name)?.secret?.secretName;
          if (secret && variable.value?.startsWith(`${mount.mountPath}/`)) {
            reads.push({ source, secret, key: variable.value.slice(mount.mountPath.length + 1), via: variable.name });
          }
        }
      }
    }
  }
  return reads;
}

function appEnv(deployment: Manifest): Record<string, { value?: string; valueFrom?: Values }> {
  const container = (deployment.spec as { template: { spec: { containers: { env: { name: string }[] }[] } } }).template.spec.containers[0];
  return Object.fromEntries(container.env.map(({ name, ...rest }) => [name, rest]));
}

/** Seconds of a helm duration such as 10m, 600s or 1h. */
function durationSeconds(duration: string): number {
  const match = /^(\d+)([smh])$/.exec(duration);
  if (!match) throw new Error(`unexpected duration ${duration}`);
  return Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] as 's' | 'm' | 'h'];
}
