import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { APP_VERSION } from '@thumbnail/runtime';

/**
 * The OpenAPI document served at /docs/json, from the controllers' decorators. It describes this
 * deployment: the bearer API key is required only when API keys are on (API_KEYS), otherwise a
 * request without one is as good.
 */
export function createOpenApiDocument(app: INestApplication, options: { apiKeysRequired: boolean }): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Thumbnail Generator')
    .setDescription('Upload images, get 100x100 PNG thumbnails through a job API.')
    .setVersion(APP_VERSION)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key (API_KEYS); each key sees only its own jobs.' })
    .build();
  const document = SwaggerModule.createDocument(app, config);
  if (!options.apiKeysRequired) {
    for (const path of Object.values(document.paths)) {
      for (const operation of Object.values(path) as { security?: object[] }[]) {
        // `{}` is "no credentials": the key may be sent, and is not needed. (Operations share
        // their security array: make each its own.)
        if (operation.security?.length) operation.security = [...operation.security, {}];
      }
    }
  }
  return document;
}
