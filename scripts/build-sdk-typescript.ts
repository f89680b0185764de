/**
 * Builds @inferencehub/client (sdk/typescript) into a package npm can publish: dist/index.js, one
 * ESM file with the generated protocol types bundled in (esbuild; @grpc/grpc-js, grpc-js-xds and
 * @bufbuild/protobuf stay imports, as dependencies), and its declarations (tsc). `--pack` also
 * runs `npm pack` and prints the tarball's path.
 *
 *   npx tsx scripts/build-sdk-typescript.ts [--pack]
 */
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { repoRoot } from "./lib/paths.js";

export const sdkDir = join(repoRoot, "sdk", "typescript");

export async function buildSdk(): Promise<void> {
  const dist = join(sdkDir, "dist");
  rmSync(dist, { recursive: true, force: true });
  await build({
    entryPoints: [join(sdkDir, "src", "index.ts")],
    outfile: join(dist, "index.js"),
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: ["@grpc/grpc-js", "@grpc/grpc-js-xds", "@bufbuild/protobuf"],
    logLevel: "warning",
  });
  execFileSync(join(repoRoot, "node_modules", ".bin", "tsc"), ["-p", join(sdkDir, "tsconfig.build.json")], {
    stdio: "inherit",
  });
  // The declarations keep the repository's layout (the SDK and the generated types beside it).
  writeFileSync(join(dist, "index.d.ts"), 'export * from "./types/sdk/typescript/src/index.js";\n');
}

/** `npm pack` into `dir`; returns the tarball's path. */
export function packSdk(dir: string): string {
  const out = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], {
    cwd: sdkDir,
    encoding: "utf8",
  });
  return join(dir, out.trim().split("\n").pop() ?? "");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildSdk();
  console.log(`built ${join(sdkDir, "dist")}`);
  if (process.argv.includes("--pack")) console.log(packSdk(sdkDir));
}
