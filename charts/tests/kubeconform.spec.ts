/**
 * The validator the chart suites rely on can fail: kubeconform over the schemas written from the
 * pinned Kubernetes OpenAPI document and Prometheus Operator CRDs refuses what the API server
 * refuses (unknown fields, wrong types, kinds it does not serve) and takes what it takes.
 */
import { skipWithoutTool } from '@thumbnail/testing';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createValidator, type Validator } from './kubeconform';

type Manifest = Record<string, unknown>;

describe.skipIf(skipWithoutTool('kubeconform', 'kubernetes-openapi', 'prometheus-operator-crds'))('kubeconform with the generated schemas', () => {
  let validator: Validator;

  beforeAll(() => {
    validator = createValidator();
  });

  afterAll(() => {
    validator?.remove();
  });

  const problems = (...manifests: Manifest[]) => validator.validate(manifests.map((m) => stringify(m)).join('---\n')).problems;

  it('has schemas for the Kubernetes version of the pinned OpenAPI document, and for ServiceMonitor and PrometheusRule', () => {
    expect(validator.schemas.kubernetesVersion).toMatch(/^1\.\d+\.\d+$/);
    expect(validator.schemas.kinds).toEqual(
      expect.arrayContaining(['apps/v1 Deployment', 'v1 Pod', 'networking.k8s.io/v1 Ingress', 'monitoring.coreos.com/v1 ServiceMonitor', 'monitoring.coreos.com/v1 PrometheusRule']),
    );
  });

  it('accepts valid objects, with quantities and ports written as the API server reads them', () => {
    expect(problems(deployment(), service(), serviceMonitor(), prometheusRule())).toEqual([]);
    expect(problems(deployment({ resources: { limits: { cpu: 1, memory: '512Mi' }, requests: { cpu: 0.5, memory: 134217728 } } }))).toEqual([]);
    expect(problems(service({ targetPort: 3000 }), service({ targetPort: 'http' }))).toEqual([]);
  });

  it('rejects an unknown field, in a Kubernetes kind and in a custom resource', () => {
    expect(problems(deployment({ imagePullPolicey: 'Always' }))).toEqual([
      expect.stringMatching(/^Deployment\/app: .*at '\/spec\/template\/spec\/containers\/0': additional properties 'imagePullPolicey' not allowed/),
    ]);
    const monitor = serviceMonitor();
    (monitor.spec as { endpoints: Manifest[] }).endpoints[0].scrapeInterval = '30s';
    expect(problems(monitor)).toEqual([expect.stringMatching(/^ServiceMonitor\/app: .*additional properties 'scrapeInterval' not allowed/)]);
    expect(problems({ ...prometheusRule(), metadata: { name: 'app', label: { a: 'b' } } })).toEqual([
      expect.stringMatching(/^PrometheusRule\/app: .*at '\/metadata': additional properties 'label' not allowed/),
    ]);
  });

  it('rejects a wrong type', () => {
    const twoAsText = deployment();
    (twoAsText.spec as Manifest).replicas = '2';
    expect(problems(twoAsText)).toEqual([expect.stringMatching(/^Deployment\/app: .*at '\/spec\/replicas': got string, want integer/)]);
    expect(problems(service({ port: 'http' }))).toEqual([expect.stringMatching(/^Service\/app: .*at '\/spec\/ports\/0\/port': got string, want integer/)]);
    const monitor = serviceMonitor();
    (monitor.spec as { endpoints: Manifest[] }).endpoints[0].interval = 30;
    expect(problems(monitor)).toEqual([expect.stringMatching(/^ServiceMonitor\/app: .*at '\/spec\/endpoints\/0\/interval': got number, want string/)]);
  });

  it('rejects a kind it has no schema for, and every kind under another Kubernetes version', () => {
    expect(problems({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'app' } })).toEqual(['Widget/app: could not find schema for Widget']);
    expect(problems({ ...deployment(), apiVersion: 'apps/v1beta2' })).toEqual(['Deployment/app: could not find schema for Deployment']);
    const { problems: elsewhere } = validator.validate(stringify(service()), { kubernetesVersion: '1.29.0' });
    expect(elsewhere).toEqual(['Service/app: could not find schema for Service']);
  });
});

function deployment(container: Manifest = {}): Manifest {
  const labels = { 'app.kubernetes.io/name': 'app' };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'app', labels },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'app', image: 'app:1.0.0', ports: [{ name: 'http', containerPort: 3000 }], ...container }] },
      },
    },
  };
}

function service(port: Manifest = {}): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'app' },
    spec: { selector: { 'app.kubernetes.io/name': 'app' }, ports: [{ name: 'http', port: 3000, targetPort: 'http', ...port }] },
  };
}

function serviceMonitor(): Manifest {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { name: 'app', labels: { release: 'monitoring' } },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': 'app' } },
      endpoints: [{ port: 'http', interval: '30s', relabelings: [{ targetLabel: 'job', replacement: 'app' }] }],
    },
  };
}

function prometheusRule(): Manifest {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'app' },
    spec: { groups: [{ name: 'app', rules: [{ alert: 'AppDown', expr: 'up{job="app"} == 0', for: '5m', labels: { severity: 'critical' } }] }] },
  };
}
