import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findWorkspaceRoot } from '@thumbnail/testing';

/** Where the build-images target (docker/tests/prepare-images.sh) leaves the image ids. */
const BUILT = join(findWorkspaceRoot(), 'dist', 'images');

export type ImageName = 'api' | 'worker';

/**
 * For `describe.skipIf(...)`: true when the images could not be built here, after printing why
 * (prepare-images.sh wrote the reason), so a skipped suite is never silent.
 */
export function skipWithoutImages(): boolean {
  const unavailable = join(BUILT, 'unavailable');
  if (!existsSync(unavailable)) return false;
  console.warn(`SKIPPED: ${readFileSync(unavailable, 'utf8').trim()}`);
  return true;
}

/** The id of the image the build-images target built (by id, so a parallel build elsewhere cannot swap it). */
export function builtImage(name: ImageName): string {
  const file = join(BUILT, `${name}.iid`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npx nx run images:build-images\` first`);
  return readFileSync(file, 'utf8').trim();
}

/** The Node version docker/Dockerfile pins (ARG NODE_IMAGE=node:<version>-bookworm-slim). */
export function pinnedNodeVersion(): string {
  const dockerfile = readFileSync(join(findWorkspaceRoot(), 'docker', 'Dockerfile'), 'utf8');
  const match = /^ARG NODE_IMAGE=node:(\d+\.\d+\.\d+)-bookworm-slim$/m.exec(dockerfile);
  if (!match) throw new Error('docker/Dockerfile pins no node:<x.y.z>-bookworm-slim image');
  return match[1];
}
