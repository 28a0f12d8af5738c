import type { FastifyRequest } from 'fastify';

/**
 * The owner of the jobs a request may see: the id of its API key when API keys are on, null
 * (everyone's jobs) when they are off.
 */
export function ownerOf(request: FastifyRequest): string | null {
  return (request as FastifyRequest & { apiKeyId?: string }).apiKeyId ?? null;
}
