/**
 * Generates TypeScript types and grpc-js service definitions with ts-proto into gen/ (git-ignored):
 * - gen/inference: the Open Inference Protocol and grpc.health.v1, from proto/;
 * - gen/envoy: the Envoy v3 messages the control plane builds, from the .proto files that
 *   @grpc/grpc-js-xds ships under deps/ (never copied into this repository);
 * - gen/inference/descriptor-set.ts: the inference protocol's FileDescriptorSet, which Envoy's
 *   gRPC field extraction filter needs to read fields of its requests;
 * - gen/inference/gateway-index-descriptor-set.ts: the REST index's binding (with its imports),
 *   for Envoy's gRPC-JSON transcoder.
 *
 * Output is a pure function of the inputs, so a stamp of their hash lets a second run return at once.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { repoRoot } from "./lib/paths.js";

const deps = join(repoRoot, "node_modules/@grpc/grpc-js-xds/deps");
const patchedInclude = join(repoRoot, ".cache/proto-include");
const genDir = join(repoRoot, "gen");
const stampFile = join(genDir, ".stamp");

/** The Envoy API roots the control plane and ext-authz use; their imports come along. */
const envoyProtos = [
  "envoy/service/discovery/v3/ads.proto",
  "envoy/service/auth/v3/external_auth.proto",
  "envoy/service/ratelimit/v3/rls.proto",
  "envoy/config/cluster/v3/cluster.proto",
  "envoy/config/endpoint/v3/endpoint.proto",
  "envoy/config/listener/v3/listener.proto",
  "envoy/config/route/v3/route.proto",
  "envoy/config/route/v3/scoped_route.proto",
  "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
  "envoy/extensions/filters/http/router/v3/router.proto",
  "envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto",
  "envoy/extensions/filters/http/header_mutation/v3/header_mutation.proto",
  "envoy/extensions/http/early_header_mutation/header_mutation/v3/header_mutation.proto",
  "envoy/extensions/filters/http/grpc_stats/v3/config.proto",
  "envoy/extensions/filters/http/upstream_codec/v3/upstream_codec.proto",
  "envoy/extensions/filters/http/lua/v3/lua.proto",
  "envoy/extensions/filters/http/grpc_field_extraction/v3/config.proto",
  "envoy/extensions/filters/http/grpc_json_transcoder/v3/transcoder.proto",
  "envoy/extensions/filters/http/jwt_authn/v3/config.proto",
  "envoy/extensions/filters/http/rbac/v3/rbac.proto",
  "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto",
  "envoy/extensions/filters/http/ratelimit/v3/rate_limit.proto",
  "envoy/extensions/transport_sockets/tls/v3/tls.proto",
  "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
  "envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto",
  "envoy/extensions/access_loggers/stream/v3/stream.proto",
  "envoy/extensions/access_loggers/filters/cel/v3/cel.proto",
];

const tsProtoOpts = [
  "outputServices=grpc-js",
  "oneof=unions",
  "env=node",
  "esModuleInterop=true",
  "importSuffix=.js",
  "useOptionals=messages",
  "forceLong=number",
].join(",");

function listProtos(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".proto"))
    .map((f) => join(dir, f))
    .sort();
}

function inputsHash(): string {
  const hash = createHash("sha256");
  const files = [
    ...listProtos(join(repoRoot, "proto")),
    join(repoRoot, "scripts/gen-protos.ts"),
    join(repoRoot, "node_modules/ts-proto/package.json"),
    join(repoRoot, "node_modules/@grpc/grpc-js-xds/package.json"),
  ];
  for (const f of files) hash.update(relative(repoRoot, f)).update(readFileSync(f));
  return hash.digest("hex");
}

/**
 * The validate.proto bundled with grpc-js-xds predates `ignore_empty`, which Envoy's own files
 * set on many rules; protoc refuses them without it. Adding the field to every *Rules message
 * of a private copy, first on the include path, is enough (TOOLCHAIN-NOTES.md).
 */
function writePatchedValidateProto(): void {
  const src = readFileSync(join(deps, "protoc-gen-validate/validate/validate.proto"), "utf8");
  const patched = src.replace(
    /^(message \w+Rules \{)$/gm,
    "$1\n    optional bool ignore_empty = 1000; // added by scripts/gen-protos.ts",
  );
  mkdirSync(join(patchedInclude, "validate"), { recursive: true });
  writeFileSync(join(patchedInclude, "validate/validate.proto"), patched);
}

function protoc(outDir: string, includes: string[], files: string[]): void {
  mkdirSync(outDir, { recursive: true });
  const plugin = join(repoRoot, "node_modules/.bin/protoc-gen-ts_proto");
  execFileSync(
    "protoc",
    [
      `--plugin=protoc-gen-ts_proto=${plugin}`,
      `--ts_proto_out=${outDir}`,
      `--ts_proto_opt=${tsProtoOpts}`,
      ...includes.map((i) => `-I${i}`),
      ...files,
    ],
    { stdio: "inherit" },
  );
}

/** The FileDescriptorSet of one proto file (with its imports), as a base64 string constant. */
function writeDescriptorSet(
  includes: string[],
  file: string,
  out: string,
  constant = "inferenceDescriptorSetBase64",
): void {
  const setPath = join(genDir, ".descriptor-set.pb");
  execFileSync(
    "protoc",
    [...includes.map((i) => `-I${i}`), "--include_imports", `--descriptor_set_out=${setPath}`, file],
    { stdio: "inherit" },
  );
  const base64 = readFileSync(setPath).toString("base64");
  rmSync(setPath);
  writeFileSync(
    out,
    `// Generated by scripts/gen-protos.ts from proto/${file}: do not edit.\n` +
      `export const ${constant} = "${base64}";\n`,
  );
}

function main(): void {
  const force = process.argv.includes("--force");
  const hash = inputsHash();
  if (!force && existsSync(stampFile) && readFileSync(stampFile, "utf8") === hash) {
    console.log("gen-protos: gen/ is up to date");
    return;
  }
  const started = Date.now();
  rmSync(genDir, { recursive: true, force: true });
  writePatchedValidateProto();

  const protoRoot = join(repoRoot, "proto");
  // The project's own protos (inference protocol, health, admin API, the gateway's REST index);
  // the admin API imports PGV's validate.proto, the REST index google.api's HTTP annotations.
  protoc(
    join(genDir, "inference"),
    [protoRoot, patchedInclude, join(deps, "googleapis")],
    listProtos(protoRoot).map((f) => relative(protoRoot, f)),
  );
  writeDescriptorSet(
    [protoRoot],
    "inference/grpc_service.proto",
    join(genDir, "inference/descriptor-set.ts"),
  );
  // Envoy's gRPC-JSON transcoder reads the REST index's binding from this (translate/filters).
  writeDescriptorSet(
    [protoRoot, join(deps, "googleapis")],
    "inferencehub/gateway/v1/repository_index.proto",
    join(genDir, "inference/gateway-index-descriptor-set.ts"),
    "gatewayIndexDescriptorSetBase64",
  );
  protoc(
    join(genDir, "envoy"),
    [
      patchedInclude,
      join(deps, "envoy-api"),
      join(deps, "xds"),
      join(deps, "googleapis"),
      join(deps, "protoc-gen-validate"),
    ],
    envoyProtos,
  );
  writeFileSync(stampFile, hash);
  console.log(`gen-protos: generated gen/ in ${Date.now() - started} ms`);
}

main();
