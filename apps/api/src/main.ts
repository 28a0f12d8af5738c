import 'reflect-metadata';
import type { IncomingMessage } from 'node:http';
import multipart from '@fastify/multipart';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { Logger, PinoLogger } from 'nestjs-pino';
import type { Counter, Histogram } from 'prom-client';
import { exitOnConfigError, loadConfigOrExit } from '@thumbnail/config';
import { METRICS, metricToken } from '@thumbnail/metrics';
import { APP_VERSION, onTerminate, requestIdFor } from '@thumbnail/runtime';
import { AppModule } from './app.module';
import { loadApiKeys } from './auth/api-keys';
import { refuseCredentialsInUrl } from './auth/credentials-in-url';
import { toErrorResponse } from './errors/error-response';
import { recordHttpMetrics } from './http-metrics';
import { BodyDeadlines } from './http/body-deadlines';
import { clientErrorHandler } from './http/client-errors';
import { methodNotAllowed } from './http/method-not-allowed';
import { createOpenApiDocument } from './openapi/openapi-document';
import { JobCompletionWaiter } from './thumbnails/job-completion-waiter.service';
import { ThumbnailSubmissionService } from './thumbnails/thumbnail-submission.service';
import { UploadLimits } from './thumbnails/upload-limits';
import { VariantPresets } from './thumbnails/variant-presets';
import { CallbackUrls } from './thumbnails/callback-urls';

/** How long a refused upload's remaining bytes are read before the connection is cut instead. */
const DRAIN_TIMEOUT_MS = 10_000;

/** Reads and drops the rest of a request body; true once it ended, false on timeout or error. */
function drain(body: IncomingMessage, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (ended: boolean) => {
      clearTimeout(timer);
      body.off('end', onEnd).off('error', onFail).off('close', onFail);
      resolve(ended);
    };
    const onEnd = () => finish(true);
    const onFail = () => finish(body.complete);
    const timer = setTimeout(() => finish(false), timeoutMs);
    body.on('end', onEnd).on('error', onFail).on('close', onFail);
    body.unpipe();
    body.resume();
  });
}

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  const apiKeys = exitOnConfigError(() => loadApiKeys(config));
  const headersTimeout = Math.min(60_000, config.REQUEST_TIMEOUT_MS);
  const adapter = new FastifyAdapter({
    // Forwarding headers (X-Forwarded-Host, -Proto, -For) count only from the proxies named here.
    trustProxy: config.TRUST_PROXY ?? false,
    genReqId: (req: IncomingMessage) => requestIdFor(req),
    bodyLimit: 1024 * 1024, // JSON bodies only; uploads are streamed with their own limit
    keepAliveTimeout: 72_000, // longer than common load balancers' idle timeout
    return503OnClosing: true,
    // Node's own limits, for the headers above all (BodyDeadlines times bodies more finely).
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    http: { headersTimeout, connectionsCheckingInterval: Math.max(100, headersTimeout / 10) },
    // Errors found before any route runs answer in the API's shape too, quoting nothing.
    clientErrorHandler: clientErrorHandler(),
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const answer = toErrorResponse(error, String(request.id));
      void reply.code(answer.status).headers(answer.headers).send(answer.body);
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, apiKeys), adapter, {
    bufferLogs: true,
  });
  const logger = app.get(Logger);
  app.useLogger(logger);
  const fastify = app.getHttpAdapter().getInstance();
  const unsupportedMethods = methodNotAllowed(fastify);

  await app.register(multipart, { throwFileSizeLimit: true });
  // Any other body type reaches the handler unread, which answers 400 file_required.
  fastify.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
  const limits = app.get(UploadLimits);
  fastify.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  // First among the hooks that can refuse: every body is timed, refused or not.
  new BodyDeadlines({ requestMs: config.REQUEST_TIMEOUT_MS, idleMs: config.BODY_IDLE_TIMEOUT_MS }).register(fastify);
  refuseCredentialsInUrl(fastify);
  fastify.addHook('onRequest', async (request) => {
    // Refused from the header alone: the body is never read.
    if (request.method === 'POST' && limits.declaresTooMuch(request.headers)) throw limits.tooLarge();
  });
  let shuttingDown = false;
  fastify.addHook('onSend', async (request, reply) => {
    if (request.method !== 'POST' || reply.statusCode < 400 || request.raw.complete) return;
    // An upload refused part-way leaves unread bytes. A bounded remainder is read and dropped
    // before answering, so a client that writes its whole body before reading (many do) gets
    // the answer instead of a reset; an oversized or stalled one is cut off after the answer.
    // Not after a 413 (too much to read) or a 408 (the body stopped coming).
    const bounded = limits.declaresReadableBody(request.headers) && reply.statusCode !== 413 && reply.statusCode !== 408;
    if (!shuttingDown && bounded && (await drain(request.raw, DRAIN_TIMEOUT_MS))) return;
    void reply.header('connection', 'close');
  });
  recordHttpMetrics(fastify, {
    duration: app.get<Histogram<string>>(metricToken(METRICS.httpRequestDuration)),
    requests: app.get<Counter<string>>(metricToken(METRICS.httpRequests)),
  });

  const deployment = { apiKeysRequired: apiKeys.size > 0, presets: app.get(VariantPresets), webhooks: app.get(CallbackUrls).accepted };
  SwaggerModule.setup('docs', app, () => createOpenApiDocument(app, deployment), {
    jsonDocumentUrl: 'docs/json',
  });

  await app.init();
  unsupportedMethods.answer();
  await app.listen(config.PORT, config.HOST);
  const pino = await app.resolve(PinoLogger);
  pino.setContext('main');
  pino.info({ port: config.PORT, version: APP_VERSION }, `API listening on http://localhost:${config.PORT}`);

  onTerminate(
    async () => {
      // Answer held ?wait= requests and cut off uploads still arriving (503), finish the other
      // in-flight requests, then close connections.
      shuttingDown = true;
      await app.get(JobCompletionWaiter).onModuleDestroy();
      app.get(ThumbnailSubmissionService).abortUploads();
      await app.close();
    },
    { timeoutMs: config.SHUTDOWN_TIMEOUT_MS, logger: pino.logger },
  );
}

void bootstrap();
