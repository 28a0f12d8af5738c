import { defineConfig } from 'vitest/config';

// Deliberately not named vitest.config.*: the root vitest workspace and the Nx vitest plugin both
// pick up those, and the bench must never run as part of `npm test`. Only bench/run.sh uses it.
export default defineConfig({
  root: import.meta.dirname,
  cacheDir: '../node_modules/.vite/bench',
  resolve: { tsconfigPaths: true },
  test: {
    name: 'bench',
    watch: false,
    environment: 'node',
    include: ['src/**/*.bench-run.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 30 * 60_000,
    hookTimeout: 60_000,
    // Progress and tables go straight to the terminal.
    disableConsoleIntercept: true,
    reporters: ['default'],
  },
});
