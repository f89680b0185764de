/** Helpers for the translator's tests; nothing here runs in the control plane. */
export { envoyValidate } from "./envoy-cli.js";
export type { ValidateResult } from "./envoy-cli.js";
export {
  goldenCase,
  goldenOutputs,
  healthView,
  inDir,
  invalidDir,
  loadGoldenCases,
  outDir,
  resourcesAsJson,
  testdataDir,
} from "./golden-cases.js";
export type { GoldenCase } from "./golden-cases.js";
export { toStaticBootstrap } from "./static-bootstrap.js";
export type { StaticBootstrapOptions } from "./static-bootstrap.js";
