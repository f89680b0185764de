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

/** The regex of a deep import of the contracts package's files: use its `exports` instead. */
const contractsDeep = {
  regex: "(?:^|/)contracts/(?:src|schema)/",
  message:
    "Import the shared contracts as @inferencehub/contracts/<entry> (contracts/package.json `exports`), not by path (#14).",
};

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
    contractsDeep,
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

/** The other services and tools: each is its own program, sharing only the contracts package. */
const services = ["ext-authz", "hubctl", "node"];
const serviceTests = services.map((s) => `${s}/**/*.test.ts`);

/** @param {boolean} allowScripts */
function serviceBoundaries(allowScripts) {
  const patterns = [
    {
      regex: "^(?:\\.\\./)+xds-server/",
      message:
        "ext-authz, hubctl and the node do not import xds-server: what they share with it is in @inferencehub/contracts (#14).",
    },
    contractsDeep,
  ];
  if (!allowScripts) {
    patterns.push({
      regex: "^(?:\\.\\./)+scripts/",
      message: "A service's source must not import scripts/ (dev and test helpers, not in its image) (#14).",
    });
  }
  return { "no-restricted-imports": ["error", { patterns }] };
}

/** Tests, benches and scripts reach into xds-server through each stage's index.js or testing/index.js. */
const harnessBoundaries = {
  "no-restricted-imports": [
    "error",
    {
      patterns: [
        {
          regex: `^(?:\\.\\./)+xds-server/src/(?:${stages.join("|")})/(?!(?:testing/)?index\\.js$)`,
          message:
            "Import an xds-server stage folder through its index.js (or its testing/index.js), not one of its files (#14).",
        },
        contractsDeep,
      ],
    },
  ],
};

/** The contracts package stands alone: the services, the SDKs and hubctl import it, never the reverse. */
const contractsBoundaries = {
  "no-restricted-imports": [
    "error",
    {
      patterns: [
        {
          regex: "^(?:\\.\\./)+(?:xds-server|ext-authz|hubctl|node|scripts|test|bench|gen)/",
          message:
            "contracts/ imports nothing of the repository's other folders: it is the package they all depend on (#14).",
        },
      ],
    },
  ],
};

export default tseslint.config(
  { ignores: ["node_modules/", "gen/", ".cache/", ".tools/", "models/", "sdk/typescript/dist/"] },
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
  { files: services.map((s) => `${s}/**/*.ts`), ignores: serviceTests, rules: serviceBoundaries(false) },
  { files: serviceTests, rules: serviceBoundaries(true) },
  { files: ["test/**/*.ts", "bench/**/*.ts", "scripts/**/*.ts"], rules: harnessBoundaries },
  { files: ["contracts/**/*.ts"], rules: contractsBoundaries },
);
