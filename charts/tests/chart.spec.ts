/**
 * The Helm chart checked from its files: Chart.yaml, the values and their schema, the templates'
 * structure, the monitoring files and the helm test hook's script. chart-render.spec.ts renders
 * it with helm and validates what it renders.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Ajv, { type ErrorObject } from 'ajv';
import { isMap as isYamlMap, parseDocument, type Node as YamlNode } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chartDir,
  coalescedValues,
  isMap,
  listFiles,
  readText,
  readYaml,
  repoRoot,
  setValues,
  subchartNames,
  subchartsDir,
  type Values,
} from './chart-files';
import { scanTemplate } from './chart-go-template';

const packageVersion = (JSON.parse(readText(join(repoRoot, 'package.json'))) as { version: string }).version;
const ciValuesFiles = listFiles(join(chartDir, 'ci'))
  .filter((file) => file.endsWith('-values.yaml'))
  .sort();
const rulesPath = join(chartDir, 'files/prometheus-rules.yaml');
const dashboardPath = join(chartDir, 'files/grafana-dashboard.json');
const APP_JOBS = ['thumbnail-generator-api', 'thumbnail-generator-worker'];

interface ChartYaml {
  apiVersion: string;
  name: string;
  version: string;
  appVersion?: string;
  dependencies?: { name: string; version: string; repository: string; condition?: string }[];
}

describe('umbrella Chart.yaml', () => {
  const chart = readYaml<ChartYaml>(join(chartDir, 'Chart.yaml'));

  it('is a v2 chart whose version and appVersion are package.json’s version', () => {
    expect(chart.apiVersion).toBe('v2');
    expect(chart.name).toBe('thumbnail-generator');
    expect(chart.version).toBe(packageVersion);
    expect(chart.appVersion).toBe(packageVersion);
  });

  it('declares exactly the subchart folders as file:// dependencies, each switchable by <name>.enabled', () => {
    const dependencies = chart.dependencies ?? [];
    expect(dependencies.map((d) => d.name).sort()).toEqual(subchartNames());
    expect(subchartNames()).toEqual(['api', 'minio', 'mongodb', 'redis', 'worker']);
    for (const dependency of dependencies) {
      const sub = readYaml<ChartYaml>(join(subchartsDir, dependency.name, 'Chart.yaml'));
      expect(dependency.repository, dependency.name).toBe(`file://charts/${dependency.name}`);
      expect(dependency.condition, dependency.name).toBe(`${dependency.name}.enabled`);
      expect(dependency.version, `${dependency.name}: dependency version = subchart version`).toBe(sub.version);
    }
  });
});

describe.each(subchartNames())('subchart %s', (name) => {
  const dir = join(subchartsDir, name);

  it('has a Chart.yaml with its name and a version, values.yaml with enabled: true, and templates', () => {
    const chart = readYaml<ChartYaml>(join(dir, 'Chart.yaml'));
    expect(chart.apiVersion).toBe('v2');
    expect(chart.name).toBe(name);
    expect(chart.version).toMatch(/^\d+\.\d+\.\d+/);
    const values = readYaml(join(dir, 'values.yaml'));
    expect(isMap(values) && values.enabled).toBe(true);
    const templates = listFiles(join(dir, 'templates')).filter((file) => !file.startsWith('_'));
    expect(templates.length).toBeGreaterThan(0);
  });
});

it('the api and worker subcharts carry the application’s version', () => {
  for (const name of ['api', 'worker']) {
    expect(readYaml<ChartYaml>(join(subchartsDir, name, 'Chart.yaml')).appVersion, name).toBe(packageVersion);
  }
});

describe('values files', () => {
  const files = ['values.yaml', ...subchartNames().map((name) => `charts/${name}/values.yaml`)];

  it.each(files)('%s documents every key (a comment above it or above its block)', (file) => {
    expect(undocumentedKeys(readText(join(chartDir, file)))).toEqual([]);
  });

  it('would notice an undocumented key', () => {
    expect(undocumentedKeys('# Documented.\na: 1\nb:\n  # Documented.\n  c: 2\n  d: 3\n')).toEqual(['b.d']);
  });
});

describe('values.schema.json', () => {
  const schema = JSON.parse(readText(join(chartDir, 'values.schema.json'))) as Values;
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  const validate = ajv.compile(schema);
  const problems = (values: Values) => (validate(values) ? '' : describeErrors(validate.errors ?? []));

  it('is draft-07', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
  });

  it('accepts the defaults (umbrella and subchart values.yaml, coalesced as Helm does)', () => {
    expect(problems(coalescedValues())).toBe('');
  });

  it.each(ciValuesFiles)('accepts ci/%s merged over the defaults', (file) => {
    expect(problems(coalescedValues(readYaml(join(chartDir, 'ci', file))))).toBe('');
  });

  it.each([
    ['Redis disabled with an external URL', { 'redis.enabled': false, 'externalRedis.url': 'redis://:pw@redis.example.com:6379/0' }],
    ['Redis disabled with an existing Secret', { 'redis.enabled': false, 'externalRedis.existingSecret': 'redis-url' }],
    ['MongoDB disabled when job records are in Redis', { 'mongodb.enabled': false, jobStore: 'redis' }],
    ['MongoDB disabled with an external URL', { 'mongodb.enabled': false, 'externalMongodb.url': 'mongodb+srv://u:p@cluster.example.com/thumbnails' }],
    [
      'MinIO disabled with external S3 and keys',
      { 'minio.enabled': false, 'externalS3.endpoint': 'https://s3.example.com', 'externalS3.accessKeyId': 'id', 'externalS3.secretAccessKey': 'key', 'externalS3.sse': 'aws:kms' },
    ],
    ['files on a shared claim', { 'storage.driver': 'fs', 'storage.fs.existingClaim': 'thumbnails-files', 'minio.enabled': false }],
    ['a NodePort API on a fixed port', { 'api.service.type': 'NodePort', 'api.service.nodePort': 30080 }],
    ['the app images from a registry, the bundled ones from a mirror', { 'global.imageRegistry': 'registry.example.com/team', 'global.bundledImageRegistry': 'registry.example.com/dockerhub' }],
    ['numbers in the shared env', { 'global.env': { THUMBNAIL_SIZE: 128, JOB_ATTEMPTS: '5', LIMIT_INPUT_PIXELS: 40000000 } }],
    [
      'thumbnail presets, default redefined',
      {
        'config.thumbnailPresets': {
          default: { width: 150, height: 100, fit: 'contain', format: 'webp', quality: 70 },
          w640: { width: 640, height: 640, fit: 'inside', format: 'avif' },
          tiny: { width: 16, height: 16 },
        },
        'config.maxVariantsPerJob': 16,
      },
    ],
  ] as const)('accepts %s', (_, assignments) => {
    expect(problems(coalescedValues(setValues(assignments)))).toBe('');
  });

  it.each([
    ['service.type Foo', { 'api.service.type': 'Foo' }, '/api/service/type must be equal to one of the allowed values: ClusterIP, NodePort, LoadBalancer'],
    ['replicaCount -1', { 'api.replicaCount': -1 }, '/api/replicaCount must be >= 0'],
    ['replicaCount "two"', { 'worker.replicaCount': 'two' }, '/worker/replicaCount must be integer'],
    ['an unknown storage driver', { 'storage.driver': 'ftp' }, '/storage/driver must be equal to one of the allowed values: s3, fs'],
    ['an unknown job store', { jobStore: 'postgres' }, '/jobStore must be equal to one of the allowed values: mongo, redis'],
    ['a pull policy typo', { 'global.image.pullPolicy': 'Sometimes' }, '/global/image/pullPolicy must be equal to one of the allowed values: Always, IfNotPresent, Never'],
    ['Redis disabled with no external Redis', { 'redis.enabled': false }, '/externalRedis/url must NOT have fewer than 1 characters'],
    ['MongoDB disabled with no external MongoDB', { 'mongodb.enabled': false }, '/externalMongodb/url must NOT have fewer than 1 characters'],
    ['MinIO disabled with no external S3', { 'minio.enabled': false }, '/externalS3/endpoint must NOT have fewer than 1 characters'],
    ['external S3 without credentials', { 'minio.enabled': false, 'externalS3.endpoint': 'https://s3.example.com' }, '/externalS3/accessKeyId must NOT have fewer than 1 characters'],
    ['the fs driver without a claim', { 'storage.driver': 'fs' }, '/storage/fs/existingClaim must NOT have fewer than 1 characters'],
    ['an http:// Redis URL', { 'redis.enabled': false, 'externalRedis.url': 'http://redis:6379' }, '/externalRedis/url must match pattern'],
    ['an S3 SSE typo', { 'externalS3.sse': 'AES-256' }, '/externalS3/sse must be equal to one of the allowed values: , AES256, aws:kms'],
    ['a Redis password that would break REDIS_URL', { 'redis.auth.password': 'p@ss/word' }, '/redis/auth/password must match pattern'],
    ['a misspelt top-level key', { monitorng: { serviceMonitor: { enabled: true } } }, 'must NOT have additional properties (monitorng)'],
    ['a misspelt nested key', { 'api.servce': { type: 'NodePort' } }, '/api must NOT have additional properties (servce)'],
    ['a node port out of range', { 'api.service.nodePort': 80 }, '/api/service/nodePort must be >= 30000'],
    ['a shutdown timeout as text', { 'config.shutdownTimeoutMs': '25s' }, '/config/shutdownTimeoutMs must be integer'],
    ['a preset wider than 4096', { 'config.thumbnailPresets': { big: { width: 5000, height: 100 } } }, '/config/thumbnailPresets/big/width must be <= 4096'],
    ['a preset without a height', { 'config.thumbnailPresets': { w: { width: 100 } } }, "/config/thumbnailPresets/w must have required property 'height'"],
    ['a preset in GIF', { 'config.thumbnailPresets': { g: { width: 10, height: 10, format: 'gif' } } }, '/config/thumbnailPresets/g/format must be equal to one of the allowed values: png, webp, avif, jpeg'],
    ['a PNG preset with a quality', { 'config.thumbnailPresets': { p: { width: 10, height: 10, quality: 80 } } }, '/config/thumbnailPresets/p must NOT be valid'],
    ['a preset with a key of its own', { 'config.thumbnailPresets': { p: { width: 10, height: 10, size: 3 } } }, '/config/thumbnailPresets/p must NOT have additional properties (size)'],
    ['a preset name with a dot', { 'config.thumbnailPresets': { 'w.640': { width: 10, height: 10 } } }, '/config/thumbnailPresets must match pattern "^[a-z0-9][a-z0-9_-]{0,31}$"'],
    ['a default that fits inside', { 'config.thumbnailPresets': { default: { width: 10, height: 10, fit: 'inside' } } }, '/config/thumbnailPresets/default/fit must be equal to one of the allowed values: cover, contain, fill'],
    [
      'seventeen presets',
      { 'config.thumbnailPresets': Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`p${i}`, { width: 10, height: 10 }])) },
      '/config/thumbnailPresets must NOT have more than 16 properties',
    ],
    ['more variants per job than presets can be', { 'config.maxVariantsPerJob': 17 }, '/config/maxVariantsPerJob must be <= 16'],
  ] as const)('rejects %s with a message naming the value', (_, assignments, message) => {
    expect(problems(coalescedValues(setValues(assignments)))).toContain(message);
  });
});

describe('templates', () => {
  const charts = [
    { name: 'thumbnail-generator', dir: chartDir },
    ...subchartNames().map((name) => ({ name, dir: join(subchartsDir, name) })),
  ];
  const files = charts.flatMap(({ name, dir }) =>
    listFiles(join(dir, 'templates')).map((file) => ({ chart: name, dir, file, path: join(dir, 'templates', file) })),
  );
  const scans = new Map(files.map((f) => [f.path, scanTemplate(readText(f.path))]));
  const defined = new Set([...scans.values()].flatMap((scan) => scan.defines));

  it.each(files.map((f) => [`${f.chart}/templates/${f.file}`, f.path] as const))('%s has balanced actions and blocks', (_, path) => {
    expect(scans.get(path)?.problems).toEqual([]);
  });

  it('use only named templates that are defined, and include only template files that exist', () => {
    const missing: string[] = [];
    for (const f of files) {
      const scan = scans.get(f.path);
      for (const name of scan?.uses ?? []) if (!defined.has(name)) missing.push(`${f.chart}/${f.file}: ${name}`);
      for (const file of scan?.fileIncludes ?? []) {
        if (!existsSync(join(f.dir, 'templates', file))) missing.push(`${f.chart}/${f.file}: templates/${file}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('define every named template once', () => {
    const all = [...scans.values()].flatMap((scan) => scan.defines);
    expect(all.filter((name, i) => all.indexOf(name) !== i)).toEqual([]);
  });

  it('would notice unbalanced templates', () => {
    expect(scanTemplate('{{ if .a }}x').problems).toEqual(['line 1: if never ended']);
    expect(scanTemplate('{{ .a }\n').problems).toEqual(['line 1: "{{" never closed']);
    expect(scanTemplate('{"a":{"b":1}}\n{{ end }}').problems).toEqual(['line 2: end without an open block']);
    expect(scanTemplate('{{ else }}').problems).toEqual(['line 1: else outside if/range/with']);
    expect(scanTemplate('{{- /* "odd quote */ -}}{{ with .x }}{{ else }}{{ end }}').problems).toEqual([]);
  });
});

describe('monitoring files', () => {
  it('the rules file parses and its alerts select only the jobs the ServiceMonitors set', () => {
    const rules = readYaml<{ groups: { name: string; rules: { alert?: string; expr: string }[] }[] }>(rulesPath);
    expect(rules.groups.length).toBeGreaterThan(0);
    const jobs = new Set<string>();
    for (const group of rules.groups) {
      for (const rule of group.rules) {
        expect(rule.expr, `${group.name}/${rule.alert}`).toBeTruthy();
        for (const match of rule.expr.matchAll(/job="([^"]+)"/g)) jobs.add(match[1]);
      }
    }
    expect([...jobs].sort()).toEqual(APP_JOBS);
  });

  it('the dashboard parses as JSON with panels', () => {
    const dashboard = JSON.parse(readText(dashboardPath)) as { title: string; panels: unknown[] };
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.panels.length).toBeGreaterThan(0);
  });
});

describe('helm test hook script', () => {
  const script = hookScript();
  const png = Buffer.from(/Buffer\.from\(\s*'([A-Za-z0-9+/=]+)'/.exec(script)?.[1] ?? '', 'base64');
  let stub: { server: Server; url: string; outcome: 'complete' | 'failed' | 'refused'; polls: number; apiKey: string | null };

  beforeAll(async () => {
    const server = createServer((request, response) => void answer(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    stub = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, outcome: 'complete', polls: 0, apiKey: null };

    // Answers like the API: 202 with links, `?wait=` holding until done, the PNG at links.image.
    async function answer(request: IncomingMessage, response: ServerResponse) {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const json = (status: number, payload: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(payload));
      };
      const id = '6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77';
      // With a key configured, every route answers 401 without exactly that key, as ApiKeyGuard does.
      if (stub.apiKey && request.headers.authorization !== `Bearer ${stub.apiKey}`) return json(401, { error: { code: 'unauthorized' } });
      if (request.method === 'POST' && request.url === '/thumbnail') {
        const isMultipartPng = String(request.headers['content-type']).startsWith('multipart/form-data') && body.includes(png);
        if (stub.outcome === 'refused' || !isMultipartPng) return json(503, { error: { code: 'service_unavailable' } });
        return json(202, { data: { job_id: id, status: 'waiting', links: { self: `/thumbnail/${id}`, image: `/thumbnail/${id}/image` } } });
      }
      if (request.method === 'GET' && request.url === `/thumbnail/${id}?wait=30`) {
        stub.polls++;
        const status = stub.polls < 2 ? 'processing' : stub.outcome;
        return json(200, { data: { _id: id, status, ...(status === 'failed' ? { error: { code: 'invalid_image', message: 'no' } } : {}) } });
      }
      if (request.method === 'GET' && request.url === `/thumbnail/${id}/image`) {
        response.writeHead(200, { 'content-type': 'image/png' });
        return response.end(png);
      }
      json(404, { error: { code: 'not_found' } });
    }
  });

  afterAll(async () => {
    await new Promise((resolve) => stub.server.close(resolve));
  });

  const runHook = async (env: Record<string, string> = {}) => {
    stub.polls = 0;
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
        env: { API_URL: stub.url, TIMEOUT_SECONDS: '10', ...env },
        timeout: 30_000,
      });
      return { code: 0, output: stdout };
    } catch (error) {
      const failure = error as { code?: number; stdout?: string; stderr?: string };
      return { code: failure.code ?? -1, output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
    }
  };

  it('inlines a valid 16x16 PNG', () => {
    expect(png.subarray(0, 8)).toEqual(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));
    expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([16, 16]);
  });

  it('passes when the job completes and the thumbnail is served', async () => {
    stub.outcome = 'complete';
    const result = await runHook();
    expect(result.output).toContain('thumbnail ok');
    expect(result.code).toBe(0);
  });

  it('fails, saying why, when the job fails', async () => {
    stub.outcome = 'failed';
    const result = await runHook();
    expect(result.code).toBe(1);
    expect(result.output).toContain('job failed');
  });

  it('fails when the upload is refused', async () => {
    stub.outcome = 'refused';
    const result = await runHook();
    expect(result.code).toBe(1);
    expect(result.output).toContain('upload refused');
  });

  describe('on a release with API keys on', () => {
    beforeAll(() => {
      stub.apiKey = 'test-key-123';
      stub.outcome = 'complete';
    });
    afterAll(() => {
      stub.apiKey = null;
    });

    it('passes with the key from tests.apiKey, sent on every request', async () => {
      const result = await runHook({ API_KEY: 'test-key-123' });
      expect(result.output).toContain('thumbnail ok');
      expect(result.code).toBe(0);
    });

    it('fails without a key, naming the value to set', async () => {
      const result = await runHook();
      expect(result.code).toBe(1);
      expect(result.output).toContain('tests.apiKey.existingSecret');
    });

    it('fails with a wrong key, saying it was refused', async () => {
      const result = await runHook({ API_KEY: 'wrong' });
      expect(result.code).toBe(1);
      expect(result.output).toContain('refused the key');
    });
  });
});

/** Keys whose value is a leaf (not a non-empty map) with no comment above them or above any enclosing key. */
function undocumentedKeys(text: string): string[] {
  const lines = text.split('\n');
  const missing: string[] = [];
  const commented = (node: YamlNode) => {
    const line = text.slice(0, node.range?.[0] ?? 0).split('\n').length - 1;
    return line > 0 && lines[line - 1].trim().startsWith('#');
  };
  const visit = (node: unknown, path: string[], documented: boolean) => {
    if (!isYamlMap(node)) return;
    for (const pair of node.items) {
      const key = pair.key as YamlNode & { value?: unknown };
      const here = [...path, String(key.value)];
      const isDocumented = documented || commented(key);
      if (isYamlMap(pair.value) && pair.value.items.length > 0) visit(pair.value, here, isDocumented);
      else if (!isDocumented) missing.push(here.join('.'));
    }
  };
  visit(parseDocument(text).contents, [], false);
  return missing;
}

function describeErrors(errors: ErrorObject[]): string {
  return errors
    .map((error) => {
      const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues;
      const extra = (error.params as { additionalProperty?: string }).additionalProperty;
      return `${error.instancePath || '/'} ${error.message}${allowed ? `: ${allowed.join(', ')}` : ''}${extra ? ` (${extra})` : ''}`;
    })
    .join('\n');
}

/** The JavaScript the helm test Pod runs (`node -e`), as written in its template. */
function hookScript(): string {
  const lines = readText(join(chartDir, 'templates/tests/test-thumbnail.yaml')).split('\n');
  const start = lines.findIndex((line) => /^\s+- \|$/.test(line));
  const end = lines.findIndex((line, i) => i > start && /^\s+resources:$/.test(line));
  const body = lines.slice(start + 1, end);
  const indent = Math.min(...body.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
  const script = body.map((l) => l.slice(indent)).join('\n');
  if (script.includes('{{')) throw new Error('the hook script must stay free of template actions to be tested here');
  return script;
}
