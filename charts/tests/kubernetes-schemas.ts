import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * kubeconform's schema folder, written from the Kubernetes API's own OpenAPI document
 * (api/openapi-spec/swagger.json of k8s.io/kubernetes) and from CustomResourceDefinitions, so
 * rendered manifests are checked offline against exactly the pinned versions. The schemas are as
 * strict as the API server's field validation (which `helm install` and `kubectl apply` use): an
 * unknown field is an error, and only the two loose encodings the server decodes are widened
 * (int-or-string fields, and quantities written as numbers).
 */

type Schema = Record<string, unknown>;

export interface SchemaSources {
  /** Path of swagger.json (OpenAPI v2) of the Kubernetes release. */
  openApiDocument: string;
  /** Its version, e.g. 1.30.14: kubeconform's -kubernetes-version picks the folder by it. */
  kubernetesVersion: string;
  /** CustomResourceDefinition YAML files whose kinds are validated too. */
  crdFiles: string[];
}

export interface KubeconformSchemas {
  /** kubeconform's -schema-location template. */
  location: string;
  /** kubeconform's -kubernetes-version. */
  kubernetesVersion: string;
  /** `apiVersion kind` of every kind that has a schema. */
  kinds: string[];
}

const JSON_SCHEMA_DRAFT = 'http://json-schema.org/draft-04/schema#';
const DEFINITIONS = '#/definitions/';
const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
/** The API server decodes a quantity from a JSON number as well as from a string (cpu: 1). */
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const QUANTITY_SCHEMA: Schema = { oneOf: [{ type: 'string' }, { type: 'number' }] };
const INT_OR_STRING: Schema = { oneOf: [{ type: 'string' }, { type: 'integer' }] };
/** Keywords with the same meaning in OpenAPI and JSON Schema draft 4 (formats are left out: they are annotations to the server). */
const COPIED_KEYWORDS = [
  'type',
  'enum',
  'required',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
];

/** `<kind><suffix>.json`, the name kubeconform looks for (its `{{ .ResourceKind }}{{ .KindSuffix }}`). */
function schemaFileName(apiVersion: string, kind: string): string {
  const [groupOrVersion, version] = apiVersion.split('/');
  const suffix = `-${groupOrVersion.split('.')[0]}${version === undefined ? '' : `-${version}`}`.toLowerCase();
  return `${kind.toLowerCase()}${suffix}.json`;
}

/**
 * One OpenAPI schema node as strict JSON Schema. References are rewritten to `#/definitions/<name>`
 * and their names added to `refs`, for the caller to include.
 */
function toStrictJsonSchema(node: Schema, refs: Set<string>): Schema {
  if (typeof node.$ref === 'string') {
    if (!node.$ref.startsWith(DEFINITIONS)) throw new Error(`unsupported reference ${node.$ref}`);
    const name = node.$ref.slice(DEFINITIONS.length);
    refs.add(name);
    return { $ref: `${DEFINITIONS}${name}` };
  }
  if (node.format === 'int-or-string' || node['x-kubernetes-int-or-string'] === true) return structuredClone(INT_OR_STRING);

  const out: Schema = {};
  for (const keyword of COPIED_KEYWORDS) if (keyword in node) out[keyword] = structuredClone(node[keyword]);
  const sub = (value: unknown) => toStrictJsonSchema(value as Schema, refs);
  if (node.properties) {
    out.properties = Object.fromEntries(Object.entries(node.properties as Record<string, Schema>).map(([name, value]) => [name, sub(value)]));
  }
  if (node.items) out.items = Array.isArray(node.items) ? node.items.map(sub) : sub(node.items);
  if (typeof node.additionalProperties === 'object' && node.additionalProperties !== null) out.additionalProperties = sub(node.additionalProperties);
  else if (typeof node.additionalProperties === 'boolean') out.additionalProperties = node.additionalProperties;
  for (const keyword of ['allOf', 'anyOf', 'oneOf'] as const) if (Array.isArray(node[keyword])) out[keyword] = (node[keyword] as Schema[]).map(sub);
  if (node.not) out.not = sub(node.not);

  const keepsUnknownFields = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (out.properties && !('additionalProperties' in out) && !keepsUnknownFields) out.additionalProperties = false;
  if (node.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  return out;
}

/**
 * A standalone schema for one kind: `root` with apiVersion and kind pinned, and every definition
 * it reaches (from `definitions`, the OpenAPI document's) under `definitions`.
 */
function kindSchema(root: Schema, refs: Set<string>, definitions: Record<string, Schema>, apiVersion: string, kind: string): Schema {
  const properties = { ...(root.properties as Record<string, Schema>) };
  properties.apiVersion = { type: 'string', enum: [apiVersion] };
  properties.kind = { type: 'string', enum: [kind] };
  const required = [...new Set([...((root.required as string[] | undefined) ?? []), 'apiVersion', 'kind'])];
  const included: Record<string, Schema> = {};
  const pending = [...refs];
  while (pending.length > 0) {
    const name = pending.pop() as string;
    if (name in included) continue;
    if (!definitions[name]) throw new Error(`${kind}: reference to a missing definition ${name}`);
    const found = new Set<string>();
    included[name] = name === QUANTITY ? structuredClone(QUANTITY_SCHEMA) : toStrictJsonSchema(definitions[name], found);
    pending.push(...found);
  }
  return { $schema: JSON_SCHEMA_DRAFT, ...root, properties, required, definitions: included };
}

interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

interface CustomResourceDefinition {
  kind: string;
  spec: { group: string; names: { kind: string }; versions: { name: string; served: boolean; schema?: { openAPIV3Schema: Schema } }[] };
}

/** Every kind's schema by file name: the OpenAPI document's kinds, then the CRDs'. */
function kubeconformSchemaFiles(sources: Pick<SchemaSources, 'openApiDocument' | 'crdFiles'>): Map<string, { apiVersion: string; kind: string; schema: Schema }> {
  const document = JSON.parse(readFileSync(sources.openApiDocument, 'utf8')) as { definitions: Record<string, Schema> };
  const definitions = document.definitions;
  const files = new Map<string, { apiVersion: string; kind: string; schema: Schema }>();
  const add = (apiVersion: string, kind: string, build: () => Schema) => {
    const file = schemaFileName(apiVersion, kind);
    const existing = files.get(file);
    if (existing && existing.apiVersion !== apiVersion) {
      throw new Error(`${file} would hold both ${existing.apiVersion} ${kind} and ${apiVersion} ${kind}`);
    }
    if (!existing) files.set(file, { apiVersion, kind, schema: build() });
  };

  for (const [name, definition] of Object.entries(definitions)) {
    for (const gvk of (definition['x-kubernetes-group-version-kind'] as GroupVersionKind[] | undefined) ?? []) {
      const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
      add(apiVersion, gvk.kind, () => {
        const refs = new Set<string>();
        const root = toStrictJsonSchema(definitions[name], refs);
        return kindSchema(root, refs, definitions, apiVersion, gvk.kind);
      });
    }
  }

  for (const file of sources.crdFiles) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const crd = doc.toJS() as CustomResourceDefinition | null;
      if (crd?.kind !== 'CustomResourceDefinition') continue;
      for (const version of crd.spec.versions) {
        if (!version.served || !version.schema) continue;
        const apiVersion = `${crd.spec.group}/${version.name}`;
        add(apiVersion, crd.spec.names.kind, () => {
          const refs = new Set<string>([OBJECT_META]);
          const root = toStrictJsonSchema(version.schema?.openAPIV3Schema ?? {}, refs);
          // A custom resource's metadata is checked as the server checks it: as ObjectMeta.
          root.properties = { ...(root.properties as Record<string, Schema>), metadata: { $ref: `${DEFINITIONS}${OBJECT_META}` } };
          return kindSchema(root, refs, definitions, apiVersion, crd.spec.names.kind);
        });
      }
    }
  }
  return files;
}

/**
 * Writes kubeconform's schema folder for these sources into `dir`:
 * `v<kubernetesVersion>-standalone-strict/<kind><suffix>.json`, the layout its -schema-location
 * template below and -kubernetes-version select from (a different version finds no schema).
 */
export function writeKubeconformSchemas(dir: string, sources: SchemaSources): KubeconformSchemas {
  const folder = join(dir, `v${sources.kubernetesVersion}-standalone-strict`);
  mkdirSync(folder, { recursive: true });
  const kinds: string[] = [];
  for (const [file, { apiVersion, kind, schema }] of kubeconformSchemaFiles(sources)) {
    writeFileSync(join(folder, file), JSON.stringify(schema));
    kinds.push(`${apiVersion} ${kind}`);
  }
  return {
    location: join(dir, '{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}', '{{ .ResourceKind }}{{ .KindSuffix }}.json'),
    kubernetesVersion: sources.kubernetesVersion,
    kinds: kinds.sort(),
  };
}
