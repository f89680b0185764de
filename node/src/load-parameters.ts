/**
 * RepositoryModelLoad's parameters, read as Triton reads them: `config` is a model configuration in
 * JSON that overrides the model's own, and its `version_policy` says which versions to load
 * (`{"specific":{"versions":[2]}}`, `{"latest":{"num_versions":1}}`, `{"all":{}}`). That is how
 * a stock client (tritonclient's `load_model(name, config=...)`) and the control plane ask for one
 * version: the load API itself names only a model. Nothing else of a Triton config applies to an
 * ONNX session here, so other fields are ignored; `file:` parameters (a model sent in the request)
 * are refused: a node loads only from its own --models-dir.
 */
import { status } from "@grpc/grpc-js";
import { GatewayError } from "@inferencehub/contracts/errors";
import type { ModelRepositoryParameter } from "../../gen/inference/inference/grpc_service.js";
import { clip } from "./client-text.js";
import { invalidArgument } from "./errors.js";

/** Which versions a load asks for: all on disk, the newest n, or exactly these. */
export type VersionPolicy =
  { kind: "all" } | { kind: "latest"; count: number } | { kind: "specific"; versions: string[] };

const VERSION = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;

function configOf(parameters: Record<string, ModelRepositoryParameter>): string | undefined {
  let config: string | undefined;
  for (const [key, value] of Object.entries(parameters)) {
    if (key.startsWith("file:")) {
      throw new GatewayError(
        status.UNIMPLEMENTED,
        "RepositoryModelLoad with model files in the request is not supported: the node loads from its own model repository",
      );
    }
    if (key !== "config") {
      throw invalidArgument(`unknown RepositoryModelLoad parameter '${clip(key)}' (only 'config' is read)`);
    }
    const choice = value.parameterChoice;
    if (choice?.$case !== "stringParam")
      throw invalidArgument("the 'config' parameter is a JSON model configuration in string_param");
    config = choice.stringParam;
  }
  return config;
}

/** The version policy a load asks for; `all` when it names none. Throws INVALID_ARGUMENT on anything unreadable. */
export function versionPolicyOf(parameters: Record<string, ModelRepositoryParameter>): VersionPolicy {
  const config = configOf(parameters);
  if (config === undefined) return { kind: "all" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(config);
  } catch {
    throw invalidArgument("the 'config' parameter is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw invalidArgument("the 'config' parameter must be a JSON object (a model configuration)");
  const policy = (parsed as { version_policy?: unknown }).version_policy;
  if (policy === undefined) return { kind: "all" };
  if (typeof policy !== "object" || policy === null)
    throw invalidArgument("config.version_policy must be an object: all, latest or specific");
  const keys = Object.keys(policy);
  if (keys.length !== 1)
    throw invalidArgument("config.version_policy takes exactly one of all, latest, specific");
  const p = policy as {
    all?: unknown;
    latest?: { num_versions?: unknown };
    specific?: { versions?: unknown };
  };
  if (p.all !== undefined) return { kind: "all" };
  if (p.latest !== undefined) {
    // Protobuf's JSON form writes uint32 as a number; accept its string form too.
    const count = Number(p.latest.num_versions);
    if (!Number.isInteger(count) || count < 1)
      throw invalidArgument("config.version_policy.latest.num_versions must be a positive integer");
    return { kind: "latest", count };
  }
  if (p.specific !== undefined) {
    const versions = p.specific.versions;
    if (!Array.isArray(versions) || versions.length === 0)
      throw invalidArgument("config.version_policy.specific.versions must be a non-empty list");
    // int64 in Triton's config, so JSON may carry numbers or strings; versions here are directory names.
    const named = versions.map((v) => (typeof v === "number" && Number.isInteger(v) ? String(v) : v));
    for (const v of named) {
      if (typeof v !== "string" || !VERSION.test(v))
        throw invalidArgument(
          `config.version_policy.specific.versions: '${clip(String(v))}' is not a version`,
        );
    }
    return { kind: "specific", versions: [...new Set(named as string[])] };
  }
  throw invalidArgument(
    `config.version_policy: unknown policy '${clip(keys[0] ?? "")}' (all, latest or specific)`,
  );
}
