/**
 * hubctl: operate InferenceHub's routing from a terminal, through the control plane's admin API.
 *   hubctl status | models | model <m> | fleet | weights <m> 1=90 2=10 | add-version | remove-version
 *   hubctl pin | unpin | shadow | drain | undrain
 *   hubctl rollout start <m> --to <v> [--steps 5,25,50,100 --interval 30s ...] | status [m] | watch <m> | abort <m>
 *   hubctl keys init | issue | revoke | list   (local files only: keys.ts)
 *   hubctl apply -f inferencehub.yaml | export   (the config in etcd, directly: etcd.ts)
 * Every command takes --json; the server and token come from --server/--token or
 * INFERENCEHUB_SERVER/INFERENCEHUB_ADMIN_TOKEN.
 */
import { Command, Option } from "commander";
import { parseDuration } from "@inferencehub/contracts/config";
import { defaultPorts } from "@inferencehub/contracts/ports";
import type {
  AdminApiFleet,
  AdminApiModel,
  AdminApiRollout,
  AdminApiStatus,
} from "@inferencehub/contracts/admin-api";
import { GatewayError } from "@inferencehub/contracts/errors";
import { createAdminApi, type AdminApi } from "./api.js";
import { etcdCommands } from "./etcd.js";
import { keysCommand } from "./keys.js";
import { exitCodeOf, fmtWeights, parseSteps, rolloutEnded, rolloutRow, watchRollout } from "./rollout.js";
import { table } from "./table.js";

const program = new Command("hubctl")
  .description("Operate InferenceHub: models, versions, weights, nodes, rollouts and API keys")
  .addOption(
    new Option("--server <url>", "control plane admin URL")
      .env("INFERENCEHUB_SERVER")
      .default(`http://127.0.0.1:${defaultPorts.xdsAdmin}`),
  )
  .addOption(new Option("--token <token>", "admin API token").env("INFERENCEHUB_ADMIN_TOKEN"))
  .option("--json", "print JSON instead of tables", false)
  .showHelpAfterError();

const api = (): AdminApi => {
  const o = program.opts<{ server: string; token?: string }>();
  return createAdminApi(o.server, o.token);
};
const json = () => program.opts<{ json: boolean }>().json;
const print = (value: unknown, text: () => string) =>
  console.log(json() ? JSON.stringify(value, null, 2) : text());

/** Where a version is served: its nodes, or its placement and the state on each node chosen. */
function servedBy(model: string, v: AdminApiModel["versions"][number], fleet?: AdminApiFleet): string {
  const p = v.placement;
  if (!p) return v.nodes.join(",");
  const want = [
    p.allNodes ? "all nodes" : `${p.replicas ?? 1} node(s)`,
    ...(p.pools?.length ? [`pools ${p.pools.join(",")}`] : []),
    ...Object.entries(p.labels ?? {}).map(([k, val]) => `${k}=${val}`),
  ].join(" ");
  const placed = fleet?.versions?.find((f) => f.model === model && f.version === v.version);
  const states = (placed?.nodes ?? []).map((n) => `${n.node}:${n.state}`).join(",");
  return `placed (${want})${states ? ` ${states}` : ""}`;
}

const modelRows = (models: AdminApiModel[], fleet?: AdminApiFleet) =>
  models.flatMap((m) =>
    m.versions.map((v) => [
      m.name,
      v.version,
      `${v.weight ?? 0}%`,
      m.pinned === v.version
        ? "pinned"
        : m.shadow?.version === v.version
          ? `shadow ${m.shadow.percent}%`
          : "",
      servedBy(m.name, v, fleet),
    ]),
  );

async function edit(
  model: string | undefined,
  method: "POST" | "PUT" | "DELETE",
  path: string,
  body: Record<string, unknown> = {},
) {
  const base = model
    ? (await api().get<{ configVersion: string }>(`/v1/models/${model}`)).configVersion
    : (await api().get<{ configVersion: string }>("/v1/models")).configVersion;
  const sep = path.includes("?") ? "&" : "?";
  const res = await api().send<{ configVersion: string; model?: AdminApiModel }>(
    method,
    method === "DELETE" ? `${path}${sep}base_version=${base}` : path,
    method === "DELETE" ? undefined : { base_version: base, ...body },
  );
  print(
    res,
    () =>
      `ok: config version ${res.configVersion}${res.model ? `\n${table(["MODEL", "VERSION", "WEIGHT", "", "NODES"], modelRows([res.model]))}` : ""}`,
  );
}

const rateLimitsText: Record<string, string> = {
  global: "global (the rate limit service, shared by every Envoy)",
  local: "per Envoy (no rate limit service)",
  "ext-authz": "per ext-authz replica",
  none: "none configured",
};

program
  .command("status")
  .description("whether every Envoy is in sync and every node healthy")
  .action(async () => {
    const s = await api().get<AdminApiStatus>("/v1/status");
    const fleet = await api().get<AdminApiFleet>("/v1/fleet");
    const placed = fleet.versions ?? [];
    const placementTrouble = placed.flatMap((v) => [
      ...(v.nodes ?? [])
        .filter((n) => n.state === "failed")
        .map((n) => `${v.model}/${v.version} failed on ${n.node}`),
      ...(v.unplaced ? [`${v.model}/${v.version} unplaced`] : []),
    ]);
    const clients = s.clients ?? [];
    const unhealthy = (s.nodes ?? []).flatMap((n) =>
      Object.entries(n.models ?? {})
        .filter(([, st]) => st === "UNHEALTHY")
        .map(([m]) => `${n.node}:${m}`),
    );
    const outOfSync = clients.filter((c) => !c.inSync);
    print(s, () =>
      [
        `config ${s.configVersion}${(s.refusedEdit ?? []).length > 0 ? `  (the file holds a refused edit: ${s.refusedEdit!.join("; ")})` : ""}`,
        "",
        table(
          ["CLIENT", "GROUP", "XDS", "IN SYNC", "LAST NACK"],
          clients.map((c) => [
            c.nodeId,
            c.group,
            c.transport,
            c.inSync ? "yes" : "NO",
            c.nacks?.[0]?.message.slice(0, 60) ?? "",
          ]),
        ),
        "",
        table(
          ["NODE", "ADDRESS", "DRAINING", "MODELS"],
          (s.nodes ?? []).map((n) => [
            n.node,
            n.address,
            n.draining ? "yes" : "",
            Object.entries(n.models ?? {})
              .map(([m, st]) => `${m}=${st}`)
              .join(" "),
          ]),
        ),
        "",
        ...(s.auth
          ? [
              `auth: ${s.auth.mode}${s.auth.mode === "native" ? ` (Envoy verifies: ${(s.auth.verifiedByEnvoy ?? []).join(", ") || "nothing yet"}; ${s.auth.keys ?? 0} signed key(s))` : ""}; rate limits: ${rateLimitsText[s.auth.rateLimits] ?? s.auth.rateLimits}`,
              "",
            ]
          : []),
        ...(placed.length > 0
          ? [
              `placed versions: ${placed.length} (${placed.filter((v) => (v.nodes ?? []).some((n) => n.state === "ready")).length} ready somewhere); hubctl fleet for where`,
              "",
            ]
          : []),
        outOfSync.length === 0 && unhealthy.length === 0 && placementTrouble.length === 0
          ? `OK: ${clients.length} client(s) in sync, no unhealthy node${placed.length ? ", no placement failing" : ""}`
          : `ATTENTION: ${outOfSync.length} client(s) out of sync${unhealthy.length ? `, unhealthy: ${unhealthy.join(", ")}` : ""}${placementTrouble.length ? `, placement: ${placementTrouble.join(", ")}` : ""}`,
      ].join("\n"),
    );
    if (outOfSync.length > 0 || unhealthy.length > 0 || placementTrouble.length > 0) process.exitCode = 3;
  });

program
  .command("models")
  .description("list models, versions and weights")
  .action(async () => {
    const r = await api().get<{ configVersion: string; models: AdminApiModel[] }>("/v1/models");
    const fleet = await api().get<AdminApiFleet>("/v1/fleet");
    print(r, () => table(["MODEL", "VERSION", "WEIGHT", "", "NODES"], modelRows(r.models ?? [], fleet)));
  });

program
  .command("model <model>")
  .description("one model")
  .action(async (model: string) => {
    const r = await api().get<{ configVersion: string; model: AdminApiModel }>(`/v1/models/${model}`);
    const fleet = await api().get<AdminApiFleet>("/v1/fleet");
    print(r, () => table(["MODEL", "VERSION", "WEIGHT", "", "NODES"], modelRows([r.model], fleet)));
  });

program
  .command("fleet")
  .description("placed versions: where each is loading, ready, failed or draining; what each node holds")
  .action(async () => {
    const f = await api().get<AdminApiFleet>("/v1/fleet");
    const failing = [
      ...(f.versions ?? []).flatMap((v) =>
        (v.nodes ?? [])
          .filter((n) => n.state === "failed")
          .map((n) => `${v.model}/${v.version} on ${n.node}`),
      ),
      ...(f.versions ?? []).filter((v) => v.unplaced).map((v) => `${v.model}/${v.version}: ${v.unplaced}`),
    ];
    print(f, () =>
      [
        table(
          ["MODEL", "VERSION", "REPLICAS", "NODE", "STATE", "SINCE", "REASON"],
          (f.versions ?? []).flatMap((v) =>
            (v.nodes?.length ? v.nodes : [{ node: "-", state: "no node matches yet" }]).map((n) => [
              v.model,
              v.version,
              v.replicas,
              n.node,
              n.state,
              "since" in n ? (n.since ?? "") : "",
              "reason" in n && n.reason
                ? `${n.reason.slice(0, 80)}${"retryAt" in n && n.retryAt ? ` (retry ${n.retryAt})` : ""}`
                : "",
            ]),
          ),
        ),
        "",
        table(
          ["NODE", "REPOSITORY", "MODELS", "MEMORY", "LOADED"],
          (f.nodes ?? []).map((n) => [
            n.node,
            n.repository === "down" ? `DOWN ${n.error?.slice(0, 60) ?? ""}` : n.repository,
            n.maxModels ? `${n.models ?? 0}/${n.maxModels}` : String(n.models ?? ""),
            n.memoryBytes ? `${Math.round(Number(n.memoryBytes) / 2 ** 20)} MiB` : "",
            (n.loaded ?? []).join(" "),
          ]),
        ),
        "",
        failing.length === 0 ? "OK: no placed version failing" : `ATTENTION: failing: ${failing.join(", ")}`,
      ].join("\n"),
    );
    if (failing.length > 0) process.exitCode = 3;
  });

program
  .command("weights <model> <weights...>")
  .description("set every version's weight, e.g. `hubctl weights scale 1=90 2=10`")
  .action(async (model: string, pairs: string[]) => {
    const weights = Object.fromEntries(
      pairs.map((p) => {
        const [v, w] = p.split("=");
        if (!v || w === undefined || !/^\d+$/.test(w)) throw new Error(`'${p}' is not version=weight`);
        return [v, Number(w)];
      }),
    );
    await edit(model, "PUT", `/v1/models/${model}/weights`, { weights });
  });

interface PlacementFlags {
  replicas?: string;
  pool?: string;
  label?: string[];
}

/** The placement the flags ask for (AddVersion's JSON), undefined when none of them is given. */
function placementOf(o: PlacementFlags): Record<string, unknown> | undefined {
  if (o.replicas === undefined && o.pool === undefined && o.label === undefined) return undefined;
  const replicas = o.replicas ?? "1";
  if (replicas !== "all" && !/^[1-9]\d*$/.test(replicas))
    throw new Error(`--replicas: '${replicas}' must be a whole number from 1, or all`);
  const labels = Object.fromEntries(
    (o.label ?? []).map((pair) => {
      const i = pair.indexOf("=");
      if (i <= 0) throw new Error(`--label: '${pair}' is not key=value`);
      return [pair.slice(0, i), pair.slice(i + 1)];
    }),
  );
  return {
    pools: (o.pool ?? "").split(",").filter(Boolean),
    ...(replicas === "all" ? { all_nodes: true } : { replicas: Number(replicas) }),
    labels,
  };
}

program
  .command("add-version <model> <version>")
  .description(
    "add a version served by --nodes, or placed by the control plane (--replicas, --pool, --label)",
  )
  .option("--nodes <nodes>", "comma-separated node names that serve it (loaded there already)")
  .option("--replicas <n|all>", "the control plane loads it on this many nodes (or all that match)")
  .option("--pool <pools>", "placement: comma-separated pools its nodes may be in")
  .option("--label <key=value...>", "placement: labels a node must carry")
  .option("--weight <percent>", "traffic share to start with (taken from the others)", "0")
  .action(
    async (
      model: string,
      version: string,
      o: { nodes?: string; replicas?: string; pool?: string; label?: string[]; weight: string },
    ) => {
      const placement = placementOf(o);
      if ((placement !== undefined) === (o.nodes !== undefined))
        throw new Error("name --nodes, or place it with --replicas (and --pool, --label): one or the other");
      await edit(model, "POST", `/v1/models/${model}/versions`, {
        version,
        weight: Number(o.weight),
        ...(placement ? { placement } : { nodes: (o.nodes ?? "").split(",").filter(Boolean) }),
      });
    },
  );

program
  .command("remove-version <model> <version>")
  .action(async (model: string, version: string) =>
    edit(model, "DELETE", `/v1/models/${model}/versions/${version}`),
  );
program
  .command("pin <model> <version>")
  .action(async (model: string, version: string) =>
    edit(model, "PUT", `/v1/models/${model}/pin`, { version }),
  );
program
  .command("unpin <model>")
  .action(async (model: string) => edit(model, "DELETE", `/v1/models/${model}/pin`));
program
  .command("shadow <model> <version> <percent>")
  .description("copy <percent> of the model's calls to <version> (0 removes the shadow)")
  .action(async (model: string, version: string, percent: string) =>
    edit(model, "PUT", `/v1/models/${model}/shadow`, { version, percent: Number(percent) }),
  );
program
  .command("drain <node>")
  .action(async (node: string) => edit(undefined, "POST", `/v1/nodes/${node}/drain`));
program
  .command("undrain <node>")
  .action(async (node: string) => edit(undefined, "POST", `/v1/nodes/${node}/undrain`));

const rolloutCommand = program
  .command("rollout")
  .description(
    "progressive rollouts, driven by the control plane: start, status, watch, abort (hubctl may exit meanwhile)",
  );

/** Prints the rollout's events until it ends (Ctrl-C stops watching, not the rollout); sets the exit code. */
async function watch(model: string, seen = 0): Promise<void> {
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.once("SIGINT", onSigint);
  const r = await watchRollout(
    model,
    {
      api: api(),
      log: (line) => (json() ? undefined : console.log(line)),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      interrupted: () => interrupted,
    },
    seen,
  );
  process.off("SIGINT", onSigint);
  if (json()) console.log(JSON.stringify(r, null, 2));
  if (!rolloutEnded(r)) {
    if (!json())
      console.log(`stopped watching; the rollout goes on (${r.state}): hubctl rollout watch ${model}`);
    process.exitCode = 130;
  } else process.exitCode = exitCodeOf(r);
}

rolloutCommand
  .command("start <model>")
  .description("start shifting the model's traffic to a version, step by step")
  .requiredOption("--to <version>", "the version to roll out")
  .option("--steps <percents>", "traffic on the new version at each step", "5,25,50,100")
  .option("--interval <duration>", "how long each step runs before it is judged", "30s")
  .option("--max-error-rate <fraction>", "roll back above this share of failed calls", "0.05")
  .option("--max-p99-ms <ms>", "roll back above this p99 latency (a step without a p99 holds)")
  .option("--min-calls <n>", "calls a step needs before it can be judged (fewer: it holds)", "20")
  .option("--remove-old", "after 100%, remove the model's other versions", false)
  .option("--ready-timeout <duration>", "how long to wait for the version to be ready (default 5m)")
  .option("--max-hold <duration>", "how long a step may hold before it rolls back (default 10 intervals)")
  .option("--watch", "print each step, hold and rollback until it ends (Ctrl-C stops watching only)", false)
  .option("--replicas <n|all>", "a new version: add it first, placed on this many nodes (or all that match)")
  .option("--pool <pools>", "a new version's placement: comma-separated pools")
  .option("--label <key=value...>", "a new version's placement: labels a node must carry")
  .action(
    async (
      model: string,
      o: PlacementFlags & {
        to: string;
        steps: string;
        interval: string;
        maxErrorRate: string;
        maxP99Ms?: string;
        minCalls: string;
        removeOld: boolean;
        readyTimeout?: string;
        maxHold?: string;
        watch: boolean;
      },
    ) => {
      const duration = (flag: string, text: string | undefined) => {
        if (text === undefined) return 0;
        const ms = parseDuration(text);
        if (ms === undefined) throw new Error(`${flag}: '${text}' is not a duration (e.g. 30s, 2m)`);
        return ms;
      };
      const number = (flag: string, text: string | undefined) => {
        const n = Number(text ?? 0);
        if (!Number.isFinite(n) || n < 0) throw new Error(`${flag}: '${text}' is not a number >= 0`);
        return n;
      };
      // One command from "not loaded anywhere": the version is added at weight 0, placed; the
      // control plane loads it and waits for it to be ready before the first step.
      const placement = placementOf(o);
      if (placement) {
        const { configVersion, model: current } = await api().get<{
          configVersion: string;
          model: AdminApiModel;
        }>(`/v1/models/${model}`);
        if (current.versions.some((v) => v.version === o.to))
          throw new Error(`--replicas places a new version, and '${model}' has version '${o.to}' already`);
        await api().send("POST", `/v1/models/${model}/versions`, {
          base_version: configVersion,
          version: o.to,
          weight: 0,
          placement,
        });
      }
      const { rollout: r } = await api().send<{ rollout: AdminApiRollout }>("POST", "/v1/rollouts", {
        model,
        to_version: o.to,
        steps: parseSteps(o.steps),
        interval_ms: duration("--interval", o.interval),
        max_error_rate: number("--max-error-rate", o.maxErrorRate),
        max_p99_ms: number("--max-p99-ms", o.maxP99Ms),
        min_calls: number("--min-calls", o.minCalls),
        remove_old: o.removeOld,
        ready_timeout_ms: duration("--ready-timeout", o.readyTimeout),
        max_hold_ms: duration("--max-hold", o.maxHold),
      });
      if (o.watch) {
        for (const e of json() ? [] : (r.events ?? [])) console.log(`${e.at} ${e.kind}: ${e.message}`);
        return watch(model, r.events?.length ?? 0);
      }
      print(
        r,
        () =>
          `rollout of ${model} to ${o.to} ${r.state}${r.reason ? ` (${r.reason})` : ""}; the control plane drives it: hubctl rollout watch ${model}`,
      );
    },
  );

rolloutCommand
  .command("status [model]")
  .description("the last rollout of each model (or of one), with its state and why")
  .action(async (model?: string) => {
    if (model) {
      const { rollout: r } = await api().get<{ rollout: AdminApiRollout }>(
        `/v1/rollouts/${encodeURIComponent(model)}`,
      );
      print(r, () =>
        [
          table(["MODEL", "TO", "STATE", "STEP", "WEIGHTS", "REASON"], [rolloutRow(r)]),
          `original weights: ${fmtWeights(r.originalWeights)}`,
          ...(r.events ?? []).map((e) => `${e.at} ${e.kind}: ${e.message}`),
        ].join("\n"),
      );
      return;
    }
    const { rollouts = [] } = await api().get<{ rollouts?: AdminApiRollout[] }>("/v1/rollouts");
    print({ rollouts }, () =>
      rollouts.length === 0
        ? "no rollouts"
        : table(["MODEL", "TO", "STATE", "STEP", "WEIGHTS", "REASON"], rollouts.map(rolloutRow)),
    );
  });

rolloutCommand
  .command("watch <model>")
  .description("print each step, hold and rollback until the rollout ends (Ctrl-C stops watching only)")
  .action(async (model: string) => watch(model));

rolloutCommand
  .command("abort <model>")
  .description("end the model's rollout, with the weights back to where they were before it")
  .action(async (model: string) => {
    const { rollout: r } = await api().send<{ rollout: AdminApiRollout }>(
      "POST",
      `/v1/rollouts/${encodeURIComponent(model)}/abort`,
    );
    print(r, () => `rollout of ${model} ${r.state}: weights ${fmtWeights(r.weights)}`);
  });

program.addCommand(keysCommand(json));
for (const command of etcdCommands(json)) program.addCommand(command);

program.parseAsync().catch((err: unknown) => {
  if (err instanceof GatewayError) {
    console.error(`hubctl: ${err.message}`);
    // The server's message may already list them; print only what it does not say.
    for (const v of err.violations.filter((x) => !err.message.includes(x.message)))
      console.error(`  ${v.field}: ${v.message}`);
  } else console.error(`hubctl: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
