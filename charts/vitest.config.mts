import { defineConfig } from 'vitest/config';

export default defineConfig(() => ({
  root: import.meta.dirname,
  cacheDir: '../node_modules/.vite/charts',
  resolve: { tsconfigPaths: true },
  test: {
    name: 'charts',
    watch: false,
    environment: 'node',
    include: ['tests/**/*.spec.ts'],
    testTimeout: 120_000,
    reporters: ['default'],
  },
}));
