/**
 * Writes sdk/vectors/vectors.json, the SDKs' shared test vectors, from the reference models
 * (scripts/lib/sdk-vectors.ts), formatted as prettier would (the format check covers it).
 */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { format, resolveConfig } from "prettier";
import { vectorsPath } from "./lib/paths.js";
import { sdkVectors } from "./lib/sdk-vectors.js";

async function main(): Promise<void> {
  await writeFile(
    vectorsPath,
    await format(JSON.stringify(sdkVectors()), {
      ...(await resolveConfig(vectorsPath)),
      filepath: vectorsPath,
    }),
  );
  console.log(`wrote ${vectorsPath}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
