import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, whatever the working directory of the process. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** Project-local folder for tools the project installs itself (the Envoy venv). */
export const toolsDir = join(repoRoot, ".tools");

/** Generated test models (<repo>/<model>/<version>/model.onnx). */
export const modelsDir = join(repoRoot, "models");

/** The SDKs' shared test vectors (scripts/gen-sdk-vectors.ts writes them). */
export const vectorsPath = join(repoRoot, "sdk", "vectors", "vectors.json");
