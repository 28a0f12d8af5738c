import nx from "@nx/eslint-plugin";

/** What decodes images. Only the worker's side may load them (libs/thumbnail-making). */
const IMAGE_LIBRARIES = ["sharp", "@napi-rs/image"];

/** Test code: specs, contract suites, end-to-end suites and test configs. */
const TEST_FILES = ["**/*.spec.ts", "**/*.contract.ts", "**/*.e2e.ts", "**/vitest.config.mts", "apps/*-e2e/**", "charts/tests/**"];

/**
 * Who may import whom. Tags on each project.json: `type:` (app, lib, testing, e2e, deploy) and
 * `scope:` (api, worker, shared). Production code never imports the test harnesses, and the
 * API and the libraries it uses never load an image library.
 */
function moduleBoundaries({ testCode }) {
  const testing = testCode ? ["type:testing"] : [];
  return [
    "error",
    {
      enforceBuildableLibDependency: true,
      allow: ["^.*/eslint(\\.base)?\\.config\\.[cm]?[jt]s$", "^.*/vitest\\.project\\.mjs$"],
      depConstraints: [
        { sourceTag: "type:app", onlyDependOnLibsWithTags: ["type:lib", ...testing] },
        { sourceTag: "type:lib", onlyDependOnLibsWithTags: ["type:lib", ...testing] },
        { sourceTag: "type:testing", onlyDependOnLibsWithTags: ["type:lib", "type:testing"] },
        { sourceTag: "type:e2e", onlyDependOnLibsWithTags: ["type:lib", "type:testing", "type:app"] },
        { sourceTag: "type:deploy", onlyDependOnLibsWithTags: ["type:lib", "type:testing"] },
        {
          sourceTag: "scope:api",
          onlyDependOnLibsWithTags: ["scope:api", "scope:shared", ...testing],
          ...(testCode ? {} : { bannedExternalImports: IMAGE_LIBRARIES }),
        },
        {
          sourceTag: "scope:shared",
          onlyDependOnLibsWithTags: ["scope:shared", ...testing],
          ...(testCode ? {} : { bannedExternalImports: IMAGE_LIBRARIES }),
        },
        { sourceTag: "scope:worker", onlyDependOnLibsWithTags: ["scope:worker", "scope:shared", ...testing] },
      ],
    },
  ];
}

export default [
  ...nx.configs["flat/base"],
  ...nx.configs["flat/typescript"],
  ...nx.configs["flat/javascript"],
  {
    ignores: ["**/dist", "**/out-tsc", "**/vitest.config.*.timestamp*"],
  },
  {
    files: ["**/*.ts", "**/*.tsx", "**/*.js", "**/*.jsx"],
    rules: { "@nx/enforce-module-boundaries": moduleBoundaries({ testCode: false }) },
  },
  {
    files: TEST_FILES,
    rules: { "@nx/enforce-module-boundaries": moduleBoundaries({ testCode: true }) },
  },
];
