import { defineConfig } from 'vitest/config';

// End-to-end suites start real processes (Redis, the built api and worker, MinIO); run the
// files one after another so two suites never compete for the machine's 2 cores.
export default defineConfig(() => ({
  root: import.meta.dirname,
  cacheDir: '../../node_modules/.vite/apps/api-e2e',
  resolve: { tsconfigPaths: true },
  test: {
    name: 'api-e2e',
    watch: false,
    globals: true,
    environment: 'node',
    include: ['src/**/*.e2e.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
}));
