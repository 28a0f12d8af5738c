import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors/api-error';
import { type ApiKeyRegistry, digestOf } from './api-keys';

export const API_KEY_REGISTRY = Symbol('API_KEY_REGISTRY');

/**
 * With API keys on, every /thumbnail route needs `Authorization: Bearer <key>`; the request is
 * then scoped to that key's jobs. Runs before the upload is read.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(@Inject(API_KEY_REGISTRY) private readonly keys: ApiKeyRegistry) {}

  canActivate(context: ExecutionContext): boolean {
    if (this.keys.size === 0) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest & { apiKeyId?: string }>();
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    const owner = match ? this.keys.get(digestOf(match[1])) : undefined;
    if (!owner) {
      throw new ApiError(
        401,
        'unauthorized',
        'Send a valid API key as "Authorization: Bearer <key>".',
        { 'www-authenticate': 'Bearer' },
      );
    }
    request.apiKeyId = owner;
    return true;
  }
}
