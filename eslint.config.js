// @ts-check
import { readdirSync } from "node:fs";
import { URL } from "node:url";
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * xds-server's stage folders (#14): config, ir, translate, resources, snapshot, cache, server,
 * health, admin, runner, and any folder added beside them. A folder is imported from another only
 * through its index.ts, so what a stage offers is what its index exports, and a folder can be
 * rearranged inside.
 */
const stages = readdirSync(new URL("./xds-server/src/", import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

/** Tests and testing/ harnesses: they start Envoy and nodes with the shared dev helpers in scripts/lib. */
const testFiles = ["xds-server/src/**/*.test.ts", "xds-server/src/**/testing/**"];

/**
 * no-restricted-imports for the files of xds-server/src `depth` folders down (0: main.ts), whose
 * specifiers reach src/ with `./` (depth 0) or `../` once per folder. Regex patterns (ESLint 9) say
 * "exactly this prefix, one of the stage folders, any file but index.js" in one line each; a
 * file's own folder (translate/filters/x.ts importing ../names.js) is not matched.
 * @param {number} depth
 * @param {boolean} allowScripts
 */
function importBoundaries(depth, allowScripts) {
  const toSrc = depth === 0 ? "\\./" : `(?:\\.\\./){${depth}}`;
  const patterns = [
    {
      regex: `^${toSrc}(?:${stages.join("|")})/(?!index\\.js$)`,
      message:
        "Import another xds-server stage folder through its index.js (export what you need there), not one of its files (#14).",
    },
  ];
  if (!allowScripts) {
    patterns.push({
      regex: `^(?:\\.\\./){${depth + 2}}scripts/`,
      message:
        "xds-server source must not import scripts/ (dev and test helpers); find files from xds-server/src/paths.ts (#14).",
    });
  }
  return { "no-restricted-imports": ["error", { patterns }] };
}

/** Folder depths below xds-server/src that files sit at (translate/filters/x.ts is 2; none is past 2 today). */
const depths = [0, 1, 2, 3, 4];

/** @param {number} depth */
const srcFilesAt = (depth) => `xds-server/src/${"*/".repeat(depth)}*.ts`;

export default tseslint.config(
  { ignores: ["node_modules/", "gen/", ".cache/", ".tools/", "models/"] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  // One block per depth, so each pattern knows the exact `../` prefix that reaches src/.
  ...depths.map((depth) => ({
    files: [srcFilesAt(depth)],
    ignores: testFiles,
    rules: importBoundaries(depth, false),
  })),
  // Tests and testing/ harnesses keep the index rule but may import scripts/lib: they start Envoy
  // and nodes with the shared dev helpers, which are no part of the control plane that ships.
  ...depths.map((depth) => ({
    files: testFiles.map((glob) => [srcFilesAt(depth), glob]),
    rules: importBoundaries(depth, true),
  })),
);
