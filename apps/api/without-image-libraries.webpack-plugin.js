const { readCachedProjectGraph, serializeJson } = require('@nx/devkit');
const { generatePrunedDeployOutput } = require('@nx/js');

/** Packages the API must never ship: it only reads image headers (libs/upload-inspection). */
const IMAGE_LIBRARIES = ['sharp', '@napi-rs/image'];
const NAME = 'WithoutImageLibraries';

/**
 * Nx writes the API's package.json and package-lock.json from the project graph, counting every
 * file of each library the API uses, test files included; libs/testing makes its fixtures with
 * sharp, so sharp (and its libvips binaries) would land in the API image unused. This removes
 * the image libraries from both files after Nx wrote them, and fails the build instead if the
 * bundle does require one.
 */
class WithoutImageLibrariesPlugin {
  constructor({ projectRoot }) {
    this.projectRoot = projectRoot;
  }

  apply(compiler) {
    const { Compilation, sources } = compiler.webpack;
    compiler.hooks.thisCompilation.tap(NAME, (compilation) => {
      compilation.hooks.processAssets.tap(
        // Just after NxAppWebpackPlugin's package.json step (PROCESS_ASSETS_STAGE_ADDITIONAL).
        { name: NAME, stage: Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL + 1 },
        () => {
          const required = requiredExternals(compilation);
          const bundled = IMAGE_LIBRARIES.filter((name) => required.has(name));
          if (bundled.length > 0) {
            compilation.errors.push(new Error(`${NAME}: the API bundle requires ${bundled.join(', ')}; it must only read headers`));
            return;
          }
          const asset = compilation.getAsset('package.json');
          if (!asset) return;
          const packageJson = JSON.parse(asset.source.source().toString());
          if (!IMAGE_LIBRARIES.some((name) => packageJson.dependencies?.[name])) return;
          for (const name of IMAGE_LIBRARIES) delete packageJson.dependencies[name];
          compilation.updateAsset('package.json', new sources.RawSource(serializeJson(packageJson)));
          generatePrunedDeployOutput(packageJson, readCachedProjectGraph(), this.projectRoot, {
            packageManager: 'npm',
            emit: (path, content) => compilation.updateAsset(path, new sources.RawSource(content)),
          });
        },
      );
    });
  }
}

/** Package names of the modules the bundle leaves to `require` at run time. */
function requiredExternals(compilation) {
  const names = new Set();
  for (const module of compilation.modules) {
    if (module.constructor.name !== 'ExternalModule') continue;
    const request = Array.isArray(module.request) ? module.request[0] : String(module.request);
    const parts = request.split('/');
    names.add(request.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
  }
  return names;
}

module.exports = { WithoutImageLibrariesPlugin };
