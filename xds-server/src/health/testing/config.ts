/** Builds a valid Config the way an operator would write it, through parseConfig. */
import type { Config } from "@inferencehub/contracts/config";
import { formatErrors, parseConfig } from "@inferencehub/contracts/config";

export interface RawHealth {
  interval?: string;
  timeout?: string;
  healthyThreshold?: number;
  unhealthyThreshold?: number;
  jitter?: number;
}

export interface TestConfigSpec {
  /** Node name → address. */
  nodes: Record<string, string>;
  /** Model → version → node names. The first version takes weight 100, the others 0. */
  models: Record<string, Record<string, string[]>>;
  /** `defaults.health`. */
  health?: RawHealth;
  /** Per-model `health` overrides. */
  modelHealth?: Record<string, RawHealth>;
}

export function testConfig(spec: TestConfigSpec): Config {
  const raw = {
    nodes: Object.entries(spec.nodes).map(([name, address]) => ({ name, address })),
    models: Object.entries(spec.models).map(([name, versions]) => ({
      name,
      versions: Object.entries(versions).map(([version, nodes], i) => ({
        version,
        weight: i === 0 ? 100 : 0,
        nodes,
      })),
      ...(spec.modelHealth?.[name] ? { health: spec.modelHealth[name] } : {}),
    })),
    ...(spec.health ? { defaults: { health: spec.health } } : {}),
  };
  // JSON is YAML.
  const result = parseConfig(JSON.stringify(raw));
  if (!result.ok) throw new Error(`test config is invalid:\n${formatErrors(result.errors)}`);
  return result.value;
}
