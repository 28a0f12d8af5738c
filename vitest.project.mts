import { basename, join, relative } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * The test settings every app and library shares: Node, vitest's globals, specs next to the
 * code, the workspace's path aliases. A project's vitest.config.mts passes its own folder.
 */
export function specProject(projectDir: string) {
  const path = relative(import.meta.dirname, projectDir);
  return defineConfig({
    root: projectDir,
    cacheDir: join(import.meta.dirname, 'node_modules/.vite', path),
    resolve: { tsconfigPaths: true },
    test: {
      name: basename(projectDir),
      watch: false,
      globals: true,
      environment: 'node',
      include: ['{src,tests}/**/*.{test,spec}.{js,mjs,cjs,ts,mts,cts,jsx,tsx}'],
      reporters: ['default'],
      coverage: { reportsDirectory: join(import.meta.dirname, 'coverage', path), provider: 'v8' },
    },
  });
}
