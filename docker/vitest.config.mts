import { defineConfig } from 'vitest/config';

// The suites run the built images as containers (the build-images target builds them first)
// against real Redis, MinIO and FerretDB; one file at a time, so two suites never compete for
// the machine's cores.
export default defineConfig(() => ({
  root: import.meta.dirname,
  cacheDir: '../node_modules/.vite/docker',
  resolve: { tsconfigPaths: true },
  test: {
    name: 'images',
    watch: false,
    globals: true,
    environment: 'node',
    include: ['tests/**/*.spec.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
}));
