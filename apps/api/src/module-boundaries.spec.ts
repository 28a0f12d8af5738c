import { join } from 'node:path';
import { ESLint } from 'eslint';
import { findWorkspaceRoot } from '@thumbnail/testing';

/**
 * The API must not load an image library (it only inspects headers) and production code must
 * not import the test harnesses. Lint enforces both through the projects' tags; this lints
 * probe files placed in each project to show the rules bite.
 */
describe('module boundaries (lint)', () => {
  const root = findWorkspaceRoot();
  const eslint = new ESLint({ cwd: root });

  async function boundaryErrors(file: string, source: string): Promise<string[]> {
    const [result] = await eslint.lintText(source, { filePath: join(root, file) });
    return result.messages.filter((m) => m.ruleId === '@nx/enforce-module-boundaries').map((m) => m.message);
  }

  it.each([
    ['the API importing sharp', 'apps/api/src/probe.ts', "import sharp from 'sharp';\nexport const probe = sharp;\n"],
    ['the API importing @napi-rs/image', 'apps/api/src/probe.ts', "import { Transformer } from '@napi-rs/image';\nexport const probe = Transformer;\n"],
    ['the API importing the worker’s image library', 'apps/api/src/probe.ts', "import { createImageProcessor } from '@thumbnail/thumbnail-making';\nexport const probe = createImageProcessor;\n"],
    ['a shared library importing sharp', 'libs/jobs/src/probe.ts', "import sharp from 'sharp';\nexport const probe = sharp;\n"],
    ['app code importing the test harnesses', 'apps/worker/src/probe.ts', "import { startRedisServer } from '@thumbnail/testing';\nexport const probe = startRedisServer;\n"],
    ['library code importing the test harnesses', 'libs/storage/src/probe.ts', "import { startMinio } from '@thumbnail/testing';\nexport const probe = startMinio;\n"],
  ])('refuses %s', async (_name, file, source) => {
    expect(await boundaryErrors(file, source)).not.toEqual([]);
  }, 60_000);

  it.each([
    ['the worker importing the image library', 'apps/worker/src/probe.ts', "import { createImageProcessor } from '@thumbnail/thumbnail-making';\nexport const probe = createImageProcessor;\n"],
    ['the API inspecting uploads', 'apps/api/src/probe.ts', "import { sniffImageType } from '@thumbnail/upload-inspection';\nexport const probe = sniffImageType;\n"],
    ['a spec using the test harnesses', 'apps/api/src/probe.spec.ts', "import { startRedisServer } from '@thumbnail/testing';\nexport const probe = startRedisServer;\n"],
  ])('allows %s', async (_name, file, source) => {
    expect(await boundaryErrors(file, source)).toEqual([]);
  }, 60_000);
});
