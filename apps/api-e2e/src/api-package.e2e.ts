import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { builtApp } from '@thumbnail/testing';

/** The API image installs what dist/apps/api/package.json and its lockfile list, nothing else. */
describe('the built API package', () => {
  const dir = dirname(builtApp('api'));
  const packageJson = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));

  it('ships no image library: it only reads headers', () => {
    for (const name of ['sharp', '@napi-rs/image']) {
      expect(packageJson.dependencies).not.toHaveProperty(name);
      expect(lock.packages['']?.dependencies ?? {}).not.toHaveProperty(name);
      expect(lock.packages).not.toHaveProperty(`node_modules/${name}`);
    }
    expect(Object.keys(lock.packages).filter((path) => path.startsWith('node_modules/@img/'))).toEqual([]);
  });

  it('still lists what it runs on, with a lockfile that agrees', () => {
    for (const name of ['fastify', '@nestjs/core', 'bullmq', 'ioredis', '@aws-sdk/client-s3', 'mongoose']) {
      expect(packageJson.dependencies).toHaveProperty(name);
      expect(lock.packages['']?.dependencies).toHaveProperty(name, packageJson.dependencies[name]);
      expect(lock.packages).toHaveProperty(`node_modules/${name}`);
    }
  });
});
