/**
 * Import cycles anywhere in the repository's TypeScript fail `npm run check` (#14).
 * Type-only imports count: a cycle through `import type` is still two folders that each need
 * the other. gen/ (generated protobuf code) and node_modules are not ours to arrange.
 * @type {import("dependency-cruiser").IConfiguration}
 */
export default {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "An import cycle: one module depends on another that, directly or not, depends back on it.",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: ["node_modules"] },
    exclude: {
      path: ["^node_modules/", "^gen/", "^\\.cache/", "^\\.tools/", "^models/", "^sdk/typescript/dist/"],
    },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".json"],
    },
  },
};
