/**
 * Validation and normalization of a config assembled from entries (the etcd store's), reusing
 * what an edit did not touch: while everything but the models is unchanged, a model whose text
 * is the same as last time keeps its normalized form, and a changed one is checked alone (the
 * schema and the model's own rules, on a document of the rest and that model), followed by the
 * rules that reach across models (auth grants, version ports). The result is the one
 * parseConfigValue gives for the whole config (the tests compare them); the work for one changed
 * model no longer grows with the number of models, bar the cross-model rules and the list itself.
 */
import type { ConfigError } from "./errors.js";
import { normalize, normalizeModel } from "./normalize.js";
import { parseConfigValue, unplacedErrors } from "./parse.js";
import type { RawConfig, RawModel } from "./raw.js";
import { fail, ok, type Result } from "./result.js";
import { checkSchema, type Issue } from "./schema.js";
import { checkSemantics } from "./semantic.js";
import { checkAuth } from "./semantic/auth.js";
import { checkVersionPorts } from "./semantic/nodes.js";
import type { Config, ModelConfig } from "./types.js";

/** One model as stored: its raw value and the text it was read from (the cache key). */
export interface ModelEntry {
  raw: RawModel;
  text: string;
}

export class ConfigAssembler {
  /** JSON of everything but the models, and its normalized form (models empty). */
  #base: { key: string; config: Config } | undefined;
  /** Model name → the text last checked valid and its normalized form, under #base. */
  #models = new Map<string, { text: string; config: ModelConfig }>();

  /**
   * `rest` is the config without models; `models` in the order the config lists them. Names
   * must be unique (the store's keys are): duplicates are not checked here.
   */
  assemble(
    rest: Omit<RawConfig, "models">,
    models: readonly ModelEntry[],
    source?: string,
  ): Result<Config, ConfigError[]> {
    const full = { ...rest, models: models.map((m) => m.raw) };
    const key = JSON.stringify(rest);
    if (this.#base?.key !== key) return this.#whole(full, key, models, source);
    const base = this.#base.config;
    const out: ModelConfig[] = [];
    const issues: Issue[] = [];
    const checked = new Map<string, { text: string; config: ModelConfig }>();
    models.forEach((model, i) => {
      const cached = this.#models.get(model.raw.name);
      if (cached && cached.text === model.text) {
        out.push(cached.config);
        checked.set(model.raw.name, cached);
        return;
      }
      const alone = modelIssues(rest, model.raw).map((issue) => ({
        ...issue,
        segments: ["models", i, ...issue.segments.slice(2)],
      }));
      issues.push(...alone);
      if (alone.length > 0) return;
      const config = normalizeModel(model.raw, base.defaults);
      out.push(config);
      checked.set(model.raw.name, { text: model.text, config });
    });
    // The rules across models, on the whole document: cheap next to checking every model.
    issues.push(
      ...(full.auth ? checkAuth(full as Record<string, unknown>) : []),
      ...checkVersionPorts(full as Record<string, unknown>),
    );
    if (issues.length > 0) return fail(unplacedErrors(issues, source));
    this.#models = checked;
    return ok({ ...base, models: out });
  }

  #whole(
    full: RawConfig,
    key: string,
    models: readonly ModelEntry[],
    source: string | undefined,
  ): Result<Config, ConfigError[]> {
    const parsed = parseConfigValue(full, source);
    if (!parsed.ok) return parsed;
    this.#base = { key, config: normalize({ ...full, models: [] }) };
    this.#models = new Map(
      models.map((m, i) => [m.raw.name, { text: m.text, config: parsed.value.models[i]! }]),
    );
    return parsed;
  }
}

/** The schema's and the semantic rules' issues about one model, in a document of it alone. */
function modelIssues(rest: Omit<RawConfig, "models">, model: RawModel): Issue[] {
  const doc = { ...rest, models: [model] };
  return [...checkSchema(doc), ...checkSemantics(doc)].filter(
    (issue) => issue.segments[0] === "models" && issue.segments[1] === 0,
  );
}
