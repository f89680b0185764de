/**
 * How a config lies in etcd: one key per model and per node, one for everything else, so that an
 * edit of one model reads, writes and re-parses that model alone. Values are JSON of the entry as
 * written in inferencehub.yaml (RawModel, RawNode), not normalized: a model that states no
 * timeout keeps following `defaults`, as in the file.
 *
 *   <prefix>config/settings        listener, pools, defaults, auth, controlPlane
 *   <prefix>config/nodes/<name>    one entry of `nodes`
 *   <prefix>config/models/<name>   one entry of `models`
 *   <prefix>config/version         touched by every write, so that its revision is the config's
 *                                  version on every replica, deletes included
 *
 * Pure: values in, values out.
 */
import type { ConfigError, RawConfig } from "@inferencehub/contracts/config";

export const defaultEtcdPrefix = "/inferencehub/";

export type EntryList = "models" | "nodes";

export interface EtcdLayout {
  prefix: string;
  /** Every key of the config starts with this. */
  configPrefix: string;
  settingsKey: string;
  versionKey: string;
  entryKey(list: EntryList, name: string): string;
}

export function etcdLayout(prefix = defaultEtcdPrefix): EtcdLayout {
  const p = prefix.endsWith("/") ? prefix : `${prefix}/`;
  const configPrefix = `${p}config/`;
  return {
    prefix: p,
    configPrefix,
    settingsKey: `${configPrefix}settings`,
    versionKey: `${configPrefix}version`,
    entryKey: (list, name) => `${configPrefix}${list}/${name}`,
  };
}

/** What a key holds: the settings, one entry of a list, the version marker, or nothing of ours. */
export type KeyRole =
  | { role: "settings" }
  | { role: "version" }
  | { role: "entry"; list: EntryList; name: string }
  | { role: "other" };

export function keyRole(layout: EtcdLayout, key: string): KeyRole {
  if (key === layout.settingsKey) return { role: "settings" };
  if (key === layout.versionKey) return { role: "version" };
  for (const list of ["models", "nodes"] as const) {
    const start = `${layout.configPrefix}${list}/`;
    if (key.startsWith(start) && key.length > start.length)
      return { role: "entry", list, name: key.slice(start.length) };
  }
  return { role: "other" };
}

/** A whole config as written → key → JSON value, the version marker left out. */
export function entriesOf(layout: EtcdLayout, raw: RawConfig): Map<string, string> {
  const { nodes = [], models = [], ...settings } = raw;
  const out = new Map<string, string>([[layout.settingsKey, JSON.stringify(settings)]]);
  for (const node of nodes) out.set(layout.entryKey("nodes", node.name), JSON.stringify(node));
  for (const model of models) out.set(layout.entryKey("models", model.name), JSON.stringify(model));
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Key → parsed value → the config they make, models and nodes in key order (the same on every
 * replica). A value that is not an object, or an entry whose name is not its key's, is an error
 * naming the key; the config is then not usable.
 */
export function assemble(
  layout: EtcdLayout,
  values: ReadonlyMap<string, unknown>,
): { raw: RawConfig; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const lists: Record<EntryList, [string, unknown][]> = { models: [], nodes: [] };
  let settings: Record<string, unknown> = {};
  for (const [key, value] of values) {
    const role = keyRole(layout, key);
    if (role.role === "version" || role.role === "other") continue;
    if (!isObject(value)) {
      errors.push({ path: key, message: "expected a JSON object" });
      continue;
    }
    if (role.role === "settings") {
      const stray = ["models", "nodes"].filter((k) => k in value);
      if (stray.length > 0)
        errors.push({
          path: key,
          message: `${stray.join(" and ")} belong in keys of their own, not in settings`,
        });
      settings = value;
      continue;
    }
    if (value.name !== role.name) {
      errors.push({
        path: key,
        message: `the entry's name is ${JSON.stringify(value.name)}, not its key's '${role.name}'`,
      });
      continue;
    }
    lists[role.list].push([role.name, value]);
  }
  if (!values.has(layout.settingsKey)) errors.push({ path: layout.settingsKey, message: "missing" });
  const sorted = (list: [string, unknown][]) =>
    list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  const raw = { ...settings, nodes: sorted(lists.nodes), models: sorted(lists.models) } as RawConfig;
  return { raw, errors };
}
