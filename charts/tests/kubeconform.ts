import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '@thumbnail/testing';
import { writeKubeconformSchemas, type KubeconformSchemas, type SchemaSources } from './kubernetes-schemas';

/**
 * kubeconform (as scripts/tools.sh builds it) over schemas written from the pinned module
 * folders: strict, every kind must have a schema, nothing fetched.
 */

/** The pinned sources: Kubernetes' OpenAPI document and the CRDs of the two Prometheus Operator kinds the chart creates. */
export function pinnedSchemaSources(): SchemaSources {
  const kubernetes = requireTool('kubernetes-openapi');
  // The folder is Go's module cache entry, k8s.io/kubernetes@v<version>: the version the pin names.
  const version = /@v(\d+\.\d+\.\d+)$/.exec(kubernetes)?.[1];
  if (!version) throw new Error(`cannot tell the Kubernetes version of ${kubernetes}: expected Go's module folder k8s.io/kubernetes@v<version>`);
  const crds = join(requireTool('prometheus-operator-crds'), 'example/prometheus-operator-crd');
  return {
    openApiDocument: join(kubernetes, 'api/openapi-spec/swagger.json'),
    kubernetesVersion: version,
    crdFiles: ['servicemonitors', 'prometheusrules'].map((plural) => join(crds, `monitoring.coreos.com_${plural}.yaml`)),
  };
}

export interface ResourceResult {
  kind: string;
  name: string;
  /** kubeconform's status: statusValid, statusInvalid, statusError (e.g. no schema), statusSkipped. */
  status: string;
  msg: string;
}

export interface Validation {
  /** One entry per non-empty document. */
  resources: ResourceResult[];
  /** `Kind/name: message` of every resource that is not valid. */
  problems: string[];
}

export interface Validator {
  schemas: KubeconformSchemas;
  validate(manifests: string, options?: { kubernetesVersion?: string }): Validation;
  /** Deletes the schema folder. */
  remove(): void;
}

export function createValidator(sources: SchemaSources = pinnedSchemaSources()): Validator {
  const kubeconform = requireTool('kubeconform');
  const dir = mkdtempSync(join(tmpdir(), 'kubeconform-schemas-'));
  const schemas = writeKubeconformSchemas(dir, sources);
  return {
    schemas,
    validate(manifests, options = {}) {
      const args = ['-strict', '-verbose', '-output', 'json', '-kubernetes-version', options.kubernetesVersion ?? schemas.kubernetesVersion];
      const result = spawnSync(kubeconform, [...args, '-schema-location', schemas.location, '-'], {
        input: manifests,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      if (result.error || !result.stdout) throw new Error(`kubeconform did not run: ${String(result.error ?? result.stderr)}`);
      const output = JSON.parse(result.stdout) as { resources: ResourceResult[] };
      const resources = output.resources.filter((r) => r.status !== '' && r.status !== 'statusEmpty');
      const problems = resources.filter((r) => r.status !== 'statusValid').map((r) => `${r.kind}/${r.name}: ${r.msg}`);
      return { resources, problems };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
