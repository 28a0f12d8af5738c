import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { ParameterObject, SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { APP_VERSION } from '@thumbnail/runtime';
import { errors } from '../errors/api-error';
import type { VariantPresets } from '../thumbnails/variant-presets';
import { OPERATION_IDS } from './api-responses';
import { errorBody } from './api-schemas';

export interface DeploymentFacts {
  /** API_KEYS are on: the bearer key is required, not only accepted. */
  apiKeysRequired: boolean;
  /** The operator's presets: the only `variants` and `variant` values there are. */
  presets: VariantPresets;
  /** WEBHOOK_SECRET is set: uploads may name a `callback_url`. */
  webhooks: boolean;
}

type Operation = {
  operationId?: string;
  security?: object[];
  parameters?: ParameterObject[];
  requestBody?: { content: Record<string, { schema: SchemaObject }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: SchemaObject }> }>;
};

/**
 * The OpenAPI document served at /docs/json, from the controllers' decorators. It describes this
 * deployment, so that a request the document calls valid is one the API takes: the bearer key is
 * required only when API keys are on, `variants` and `variant` name the configured presets, and
 * `callback_url` is there only when webhooks are.
 */
export function createOpenApiDocument(app: INestApplication, facts: DeploymentFacts): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Thumbnail Generator')
    .setDescription('Upload images, get thumbnails in the sizes and formats the operator configured, through a job API.')
    .setVersion(APP_VERSION)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key (API_KEYS); each key sees only its own jobs.' })
    .build();
  const document = SwaggerModule.createDocument(app, config);
  for (const path of Object.values(document.paths)) {
    for (const operation of Object.values(path) as Operation[]) {
      // `{}` is "no credentials": the key may be sent, and is not needed. (Operations share
      // their security array: make each its own.)
      if (!facts.apiKeysRequired && operation.security?.length) operation.security = [...operation.security, {}];
      addCredentialsInUrlRefusal(operation);
      if (operation.operationId === OPERATION_IDS.submit) describeSubmission(operation, facts);
      if (operation.operationId === OPERATION_IDS.image) {
        const variant = operation.parameters?.find((parameter) => parameter.name === 'variant');
        if (variant?.schema) (variant.schema as SchemaObject).enum = [...facts.presets.names];
      }
    }
  }
  return document;
}

function describeSubmission(operation: Operation, facts: DeploymentFacts): void {
  const pattern = facts.presets.pattern();
  const query = operation.parameters?.find((parameter) => parameter.name === 'variants');
  if (query?.schema) (query.schema as SchemaObject).pattern = pattern;
  const form = operation.requestBody?.content['multipart/form-data']?.schema;
  const fields = form?.properties as Record<string, SchemaObject> | undefined;
  if (!fields) return;
  fields['variants'] = { ...fields['variants'], pattern };
  if (!facts.webhooks) delete fields['callback_url'];
}

/**
 * Every route refuses a query parameter named like a credential before it runs
 * (auth/credentials-in-url.ts): its 400 answer gets that code beside its own.
 */
function addCredentialsInUrlRefusal(operation: Operation): void {
  const { code } = errors.credentialsInUrl(null);
  const responses = (operation.responses ??= {});
  const error = responses['400']?.content?.['application/json']?.schema?.properties?.['error'] as SchemaObject | undefined;
  const codes = (error?.properties?.['code'] as SchemaObject | undefined)?.enum;
  if (codes) {
    if (!codes.includes(code)) codes.push(code);
    return;
  }
  if (responses['400']) throw new Error(`${operation.operationId}: a 400 answer that is not an error body`);
  responses['400'] = {
    description: 'A query parameter named like a credential (`api_key`, `token`, ...): send keys in `Authorization`.',
    content: { 'application/json': { schema: errorBody([code]) } },
  };
}
