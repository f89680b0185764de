/**
 * Envoy bootstrap files: rendering the YAML templates in envoy/, and preparing a bootstrap for a
 * test instance (parsed from text, admin listener forced onto loopback).
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { repoRoot } from "./paths.js";

/** Where the bootstrap files and templates live. */
export const envoyConfigDir = join(repoRoot, "envoy");

/**
 * Reads a YAML template (a name in envoy/, or a path) and replaces every ${NAME} with vars[NAME].
 * Throws when a placeholder outside a comment has no value, so a typo fails here instead of as an
 * Envoy config error.
 */
export function renderBootstrap(templatePath: string, vars: Record<string, string | number>): string {
  const path = resolveTemplate(templatePath);
  const missing = new Set<string>();
  const rendered = readFileSync(path, "utf8")
    .split("\n")
    .map((line) => {
      // Comments may mention placeholders to document them.
      if (line.trimStart().startsWith("#")) return line;
      return line.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (placeholder, key: string) => {
        const value = vars[key];
        if (value === undefined) {
          missing.add(key);
          return placeholder;
        }
        const text = String(value);
        // A newline would let a value inject YAML structure.
        if (/[\r\n]/.test(text)) throw new Error(`renderBootstrap: value of ${key} contains a newline`);
        return text;
      });
    })
    .join("\n");
  if (missing.size > 0) {
    throw new Error(`renderBootstrap(${templatePath}): no value for ${[...missing].sort().join(", ")}`);
  }
  return rendered;
}

function resolveTemplate(templatePath: string): string {
  if (isAbsolute(templatePath)) return templatePath;
  const inEnvoyDir = join(envoyConfigDir, templatePath);
  return existsSync(inEnvoyDir) ? inEnvoyDir : join(repoRoot, templatePath);
}

export function toObject(bootstrap: object | string): Record<string, unknown> {
  // YAML 1.2 is a superset of JSON, so one parser takes both.
  const value: unknown = typeof bootstrap === "string" ? parseYaml(bootstrap) : structuredClone(bootstrap);
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new Error("startEnvoy: bootstrap must be a YAML/JSON mapping or an object");
  }
  return value as Record<string, unknown>;
}

/**
 * The bootstrap with every control plane replica as an endpoint of xds_cluster: when the one
 * Envoy streams from dies, the stream's retry lands on another (round robin), which holds the
 * same resources at the same versions.
 */
export function withXdsReplicas(bootstrap: object | string, replicas: { host: string; port: number }[]) {
  const b = toObject(bootstrap);
  const clusters =
    (b.static_resources as { clusters?: Record<string, unknown>[] } | undefined)?.clusters ?? [];
  const xds = clusters.find((c) => c.name === "xds_cluster");
  if (!xds) throw new Error("withXdsReplicas: the bootstrap has no xds_cluster");
  xds.load_assignment = {
    cluster_name: "xds_cluster",
    endpoints: [
      {
        lb_endpoints: replicas.map((r) => ({
          endpoint: { address: { socket_address: { address: r.host, port_value: r.port } } },
        })),
      },
    ],
  };
  return b;
}

/** Forces the admin listener onto loopback: the admin API can quit the server and dump secrets. */
export function withLoopbackAdmin(bootstrap: Record<string, unknown>, adminPort: number | undefined) {
  const admin = isRecord(bootstrap.admin) ? bootstrap.admin : {};
  const address = isRecord(admin.address) ? admin.address : {};
  const socket = isRecord(address.socket_address) ? address.socket_address : {};
  const port = adminPort ?? (typeof socket.port_value === "number" ? socket.port_value : 0);
  return {
    ...bootstrap,
    admin: { ...admin, address: { socket_address: { address: "127.0.0.1", port_value: port } } },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
