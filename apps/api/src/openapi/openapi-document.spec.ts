import { PATH_METADATA } from '@nestjs/common/constants';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { Test } from '@nestjs/testing';
import Ajv from 'ajv';
import { APP_CONFIG, loadConfig, presetCatalogue } from '@thumbnail/config';
import { JOB_FAILURE_CODES, JobStore, toJobView, waitingJob } from '@thumbnail/jobs';
import { MetricsController } from '@thumbnail/metrics';
import { HealthController, REDIS } from '@thumbnail/runtime';
import { Storage } from '@thumbnail/storage';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findWorkspaceRoot } from '@thumbnail/testing';
import { API_KEY_REGISTRY } from '../auth/api-key.guard';
import { ApiError, errors } from '../errors/api-error';
import { STATUS_CODES } from '../errors/error-response';
import { RootController } from '../health/root.controller';
import { JobDeletionService } from '../thumbnails/job-deletion.service';
import { JobRetryService } from '../thumbnails/job-retry.service';
import { ThumbnailQueryService } from '../thumbnails/thumbnail-query.service';
import { ThumbnailSubmissionService } from '../thumbnails/thumbnail-submission.service';
import { ThumbnailsController } from '../thumbnails/thumbnails.controller';
import { VariantPresets } from '../thumbnails/variant-presets';
import { FINISHED_SUBMISSION_BODY, JOB_BODY } from './api-schemas';
import { createOpenApiDocument } from './openapi-document';

type Operation = { operationId: string; parameters?: { name: string }[]; security?: object[]; responses: Record<string, Response> };
type Response = { content?: Record<string, { schema?: object }>; links?: Record<string, { operationId: string; parameters: Record<string, string> }> };

/** The document the API serves, built from the real controllers (their services are never called). */
const PRESETS = new VariantPresets(
  presetCatalogue(loadConfig({ THUMBNAIL_PRESETS: JSON.stringify({ w640: { width: 640, height: 640, fit: 'inside', format: 'webp' } }) })),
  2,
);

async function document(apiKeysRequired: boolean, webhooks = true): Promise<OpenAPIObject> {
  // The path MetricsModule gives the controller when it registers it (as PrometheusModule does).
  Reflect.defineMetadata(PATH_METADATA, '/metrics', MetricsController);
  const moduleRef = await Test.createTestingModule({
    controllers: [RootController, HealthController, MetricsController, ThumbnailsController],
    providers: [
      ...[ThumbnailSubmissionService, ThumbnailQueryService, JobDeletionService, JobRetryService, Storage, JobStore].map((token) => ({ provide: token, useValue: {} })),
      { provide: REDIS, useValue: {} },
      { provide: APP_CONFIG, useValue: loadConfig({}) },
      { provide: API_KEY_REGISTRY, useValue: new Map() },
    ],
  }).compile();
  const app = moduleRef.createNestApplication(new FastifyAdapter());
  try {
    return createOpenApiDocument(app, { apiKeysRequired, presets: PRESETS, webhooks });
  } finally {
    await app.close();
  }
}

function operations(doc: OpenAPIObject): Operation[] {
  return Object.values(doc.paths).flatMap((path) => Object.values(path) as Operation[]);
}

const validator = new Ajv({ strict: false, validateFormats: false });

describe('the OpenAPI document', () => {
  it('gives every answer with a body a schema, and every link an operation and parameter that exist', async () => {
    const doc = await document(true);
    const byId = new Map(operations(doc).map((operation) => [operation.operationId, operation]));
    expect([...byId.keys()].sort()).toEqual(
      ['deleteJob', 'getGreeting', 'getJob', 'getLiveness', 'getMetrics', 'getReadiness', 'getThumbnail', 'listJobs', 'retryJob', 'submitJob'].sort(),
    );
    for (const operation of byId.values()) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (status === '204' || status === '304') {
          expect(response.content, `${operation.operationId} ${status}`).toBeUndefined();
          continue;
        }
        const media = Object.values(response.content ?? {});
        expect(media.length, `${operation.operationId} ${status}`).toBeGreaterThan(0);
        for (const { schema } of media) expect(schema, `${operation.operationId} ${status}`).toBeDefined();
        for (const link of Object.values(response.links ?? {})) {
          const target = byId.get(link.operationId);
          expect(target, link.operationId).toBeDefined();
          for (const name of Object.keys(link.parameters)) expect(target?.parameters?.map((p) => p.name)).toContain(name);
        }
      }
    }
    expect(Object.keys(byId.get('submitJob')?.responses['202']?.links ?? {})).toEqual(['GetJob', 'GetThumbnail', 'DeleteJob', 'RetryJob']);
  });

  it('names the configured presets for variants and variant, and offers callback_url only with webhooks on', async () => {
    const find = (doc: OpenAPIObject, id: string) => operations(doc).find((op) => op.operationId === id) as unknown as {
      parameters: { name: string; schema: { enum?: string[]; pattern?: string } }[];
      requestBody: { content: Record<string, { schema: { properties: Record<string, { pattern?: string }> } }> };
    };
    const withWebhooks = await document(true, true);
    const submit = find(withWebhooks, 'submitJob');
    expect(submit.parameters.find((p) => p.name === 'variants')?.schema.pattern).toBe('^(?:default|w640)(?:,(?:default|w640)){0,1}$');
    const fields = submit.requestBody.content['multipart/form-data'].schema.properties;
    expect(fields['variants'].pattern).toBe(PRESETS.pattern());
    expect(Object.keys(fields)).toContain('callback_url');
    expect(find(withWebhooks, 'getThumbnail').parameters.find((p) => p.name === 'variant')?.schema.enum).toEqual(['default', 'w640']);
    const without = find(await document(true, false), 'submitJob').requestBody.content['multipart/form-data'].schema.properties;
    expect(Object.keys(without)).not.toContain('callback_url');
  });

  it('lets every operation answer 400 credentials_in_url, beside its own 400 codes', async () => {
    const codesOf = (operation: Operation) =>
      (operation.responses['400']?.content?.['application/json']?.schema as { properties: { error: { properties: { code: { enum: string[] } } } } })
        ?.properties.error.properties.code.enum;
    const all = operations(await document(false));
    for (const operation of all) expect(codesOf(operation), operation.operationId).toContain('credentials_in_url');
    const list = all.find((operation) => operation.operationId === 'listJobs');
    expect(list && codesOf(list)).toEqual(['invalid_parameter', 'credentials_in_url']);
  });

  it('lets every /thumbnail operation answer 408 request_timeout and 503 service_unavailable', async () => {
    const doc = await document(false);
    const thumbnailOperations = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/thumbnail'))
      .flatMap(([, path]) => Object.values(path) as Operation[]);
    expect(thumbnailOperations.length).toBeGreaterThan(0);
    for (const operation of thumbnailOperations) expect(Object.keys(operation.responses), operation.operationId).toEqual(expect.arrayContaining(['408', '503']));
  });

  it('requires the bearer key only when API keys are on', async () => {
    const submitWith = async (keys: boolean) => operations(await document(keys)).find((op) => op.operationId === 'submitJob')?.security;
    expect(await submitWith(true)).toEqual([{ bearer: [] }]);
    expect(await submitWith(false)).toEqual([{ bearer: [] }, {}]);
  });

  it('describes the job views the API builds, waiting, complete and failed', () => {
    const waiting = waitingJob({
      id: '6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77',
      originalFilename: 'holiday.png',
      originalKey: 'originals/6f1c1a4e-3c1b-4c52-9a8e-0d2b8f1e9a77',
      contentType: 'image/png',
      bytes: 72_236,
      fit: 'cover',
      width: 100,
      height: 100,
      variants: [
        { name: 'default', width: 100, height: 100, fit: 'cover', format: 'png', quality: null, output: null },
        { name: 'w640', width: 640, height: 640, fit: 'inside', format: 'webp', quality: 80, output: null },
      ],
      owner: null,
      requestId: 'r1',
      createdAt: new Date(),
      callbackUrl: 'https://hooks.example.com/in?token=t',
    });
    const complete = {
      ...waiting,
      status: 'complete' as const,
      thumbnailKey: 'thumbnails/x.png',
      startedAt: new Date(),
      completedAt: new Date(),
      attempts: 1,
      variants: waiting.variants.map((variant) => ({ ...variant, output: { width: 100, height: 75, bytes: 1234 } })),
      placeholder: { thumbhash: 'HBkSHYSIeHiPiHh8eJd4eTN0EEQG' },
    };
    const failed = { ...waiting, status: 'failed' as const, completedAt: new Date(), attempts: 1, error: { code: 'worker_crashed', message: 'Every worker stopped.' } };
    const links = new Map([
      ['default', 'http://localhost/thumbnail/x/image'],
      ['w640', 'http://localhost/thumbnail/x/image?variant=w640'],
    ]);
    const job = validator.compile(JOB_BODY);
    for (const view of [toJobView(waiting, null), toJobView(complete, links), toJobView(failed, null)]) {
      expect(job({ data: view }), JSON.stringify(job.errors)).toBe(true);
    }
    const finished = validator.compile(FINISHED_SUBMISSION_BODY);
    const jobLinks = { self: '/thumbnail/x', image: '/thumbnail/x/image' };
    expect(finished({ data: { job_id: failed.id, links: jobLinks, ...toJobView(failed, null) } }), JSON.stringify(finished.errors)).toBe(true);
    expect(job({ data: { ...toJobView(waiting, null), undocumented: 1 } })).toBe(false);
  });

  it("has every error code the API answers in the README's error table, and no other", async () => {
    const answered = new Set<string>(['internal_error', ...Object.values(STATUS_CODES).map(([code]) => code)]);
    // Every factory, whatever its arguments: each makes one code.
    for (const make of Object.values(errors) as ((...args: unknown[]) => ApiError)[]) answered.add(make('x', 1, 1).code);
    // The error answers' own codes (a job's `error.code` inside `data` is another list).
    for (const operation of operations(await document(true))) {
      for (const response of Object.values(operation.responses)) {
        for (const { schema } of Object.values(response.content ?? {})) {
          const error = (schema as { properties?: { error?: { properties?: { code?: { enum?: string[] } } } } } | undefined)?.properties?.error;
          for (const code of error?.properties?.code?.enum ?? []) answered.add(code);
        }
      }
    }

    const readme = readFileSync(join(findWorkspaceRoot(), 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Errors'), readme.indexOf('\n## ', readme.indexOf('### Errors')));
    const documented = new Set(
      section
        .split('\n')
        .filter((line) => /^\| \d{3}/.test(line))
        .flatMap((line) => [...line.split('|')[2].matchAll(/`([a-z_]+)`/g)].map((match) => match[1])),
    );
    expect([...answered].filter((code) => !documented.has(code)).sort(), 'answered, not in the README').toEqual([]);
    expect([...documented].filter((code) => !answered.has(code)).sort(), 'in the README, never answered').toEqual([]);
  });

  it("names every code a failed job can record in the README, after the error table", () => {
    const readme = readFileSync(join(findWorkspaceRoot(), 'README.md'), 'utf8');
    const start = readme.indexOf('A job that fails records `error.code`');
    const paragraph = readme.slice(start, readme.indexOf('\n\n', start));
    expect(start).toBeGreaterThan(0);
    const named = [...paragraph.matchAll(/`([a-z_]+)`/g)].map((match) => match[1]).filter((code) => (JOB_FAILURE_CODES as string[]).includes(code));
    expect(new Set(named)).toEqual(new Set(JOB_FAILURE_CODES));
  });
});
