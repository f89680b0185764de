/**
 * Bytes the control plane pushes for ONE weight change (scale 100/0 → 0/100), at 10 and 1,000
 * models of 3 versions, State of the World vs delta, and for contrast one endpoint change (scale
 * version 3 leaves one of its two nodes), counted on the wire side: a synthetic
 * client subscribes as Envoy does (CDS, LDS and SRDS wildcard, EDS and RDS by name) over a real grpc-js
 * ADS server in process (server/testing startTestAds, openSotw/openDelta), ACKs everything, and
 * sums the encoded size of every response from the new snapshot until the stream is quiet.
 *
 * Baseline, from the same two snapshots: the encoded size of the resources whose content changed
 * (what an ideal incremental push carries), and of the whole snapshot.
 *
 *   npx tsx bench/xds-push-bytes.ts
 *   BENCH_MODELS=10,1000,5000 npx tsx bench/xds-push-bytes.ts
 */
import { buildSnapshots } from "../xds-server/src/runner/index.js";
import { openDelta, openSotw, startTestAds, type TestAds } from "../xds-server/src/server/testing/index.js";
import { XDS_KINDS, type Snapshot, type XdsKind } from "../xds-server/src/snapshot/index.js";
import type { ClientGroup } from "../xds-server/src/translate/index.js";
import { metricValue } from "../scripts/lib/node-process.js";
import { envoyLikeDelta, envoyLikeSotw, type EnvoyLikeClient, type Transport } from "./lib/ads-client.js";
import {
  bytes,
  fakeNodes,
  machineLine,
  modelsYaml,
  ms,
  now,
  parseOrThrow,
  printTable,
  progress,
  ratio,
} from "./lib/xds-bench.js";

const sizes = (process.env.BENCH_MODELS ?? "10,1000").split(",").map(Number);
const groups: ClientGroup[] = ["envoy", "proxyless"];
const transports: Transport[] = ["sotw", "delta"];
const QUIET_MS = 150;

const scenarios = [
  {
    change: "weight",
    what: "scale 100/0 → 0/100",
    before: { scaleWeights: [100, 0] as const },
    after: { scaleWeights: [0, 100] as const },
  },
  {
    change: "endpoint",
    what: "scale version 3 on 2 nodes → 1",
    before: { scaleWeights: [100, 0] as const, scaleV3Nodes: 2 },
    after: { scaleWeights: [100, 0] as const, scaleV3Nodes: 1 },
  },
];

interface Change {
  /** Encoded bytes of the resources whose version changed or that are new, by kind. */
  changed: Record<XdsKind, { resources: number; bytes: number }>;
  removed: number;
  /** Encoded bytes of every resource of the kinds that changed (what SotW resends). */
  changedKinds: number;
  full: number;
}

function diff(a: Snapshot, b: Snapshot): Change {
  const changed = Object.fromEntries(
    XDS_KINDS.map((k) => [k, { resources: 0, bytes: 0 }]),
  ) as Change["changed"];
  let removed = 0;
  let changedKinds = 0;
  let full = 0;
  for (const kind of XDS_KINDS) {
    let kindBytes = 0;
    for (const r of b.resources[kind].values()) {
      kindBytes += r.any.value.length;
      if (a.resources[kind].get(r.name)?.version !== r.version) {
        changed[kind].resources++;
        changed[kind].bytes += r.any.value.length;
      }
    }
    for (const name of a.resources[kind].keys()) if (!b.resources[kind].has(name)) removed++;
    full += kindBytes;
    if (changed[kind].resources > 0) changedKinds += kindBytes;
  }
  return { changed, removed, changedKinds, full };
}

async function waitSynced(ads: TestAds, version: string, timeoutMs = 30_000): Promise<void> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const clients = ads.registry.list();
    const latest = clients.reduce((a, c) => (c.stream > (a?.stream ?? 0) ? c : a), clients[0]);
    if (latest?.syncedVersion === version) return;
    if (now() > deadline) throw new Error(`client not synced on ${version}: ${JSON.stringify(latest)}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

interface Row {
  change: string;
  group: ClientGroup;
  models: number;
  transport: Transport;
  responses: number;
  resources: number;
  wire: number;
  serverMetric: number;
  syncMs: number;
  diff: Change;
  byKind: string;
}

async function measure(
  ads: TestAds,
  group: ClientGroup,
  transport: Transport,
  a: Snapshot,
  b: Snapshot,
): Promise<Omit<Row, "group" | "models" | "change" | "diff">> {
  ads.cache.set(group, a);
  // Envoy's xDS client takes messages of any size (EnvoyGrpc max_receive_message_length defaults
  // to unlimited); grpc-js clients, the proxyless group, keep grpc-js's 4 MiB.
  const opts = group === "envoy" ? { channelOptions: { "grpc.max_receive_message_length": -1 } } : {};
  const client: EnvoyLikeClient =
    transport === "sotw"
      ? envoyLikeSotw(openSotw(ads.address, opts))
      : envoyLikeDelta(openDelta(ads.address, opts));
  try {
    await waitSynced(ads, a.version);
    await client.quiet(QUIET_MS);
    client.reset();
    const pushed = async () =>
      metricValue(await ads.metricsRegistry.metrics(), "inferencehub_xds_push_bytes_total", { transport });
    const metricBefore = await pushed();
    const t0 = now();
    ads.cache.set(group, b);
    await waitSynced(ads, b.version);
    const syncMs = now() - t0;
    await client.quiet(QUIET_MS);
    if (client.error) throw client.error;
    const c = client.counters;
    const sum = (f: (k: XdsKind) => number) => XDS_KINDS.reduce((n, k) => n + f(k), 0);
    return {
      transport,
      responses: sum((k) => c[k].responses),
      resources: sum((k) => c[k].resources),
      wire: sum((k) => c[k].wireBytes),
      serverMetric: (await pushed()) - metricBefore,
      syncMs,
      byKind: XDS_KINDS.filter((k) => c[k].responses > 0)
        .map((k) => `${k} ${c[k].responses}×/${c[k].resources} res`)
        .join(", "),
    };
  } finally {
    client.close();
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const group of groups) {
    const ads = await startTestAds(() => group);
    try {
      for (const { change, before, after } of scenarios) {
        for (const models of sizes) {
          const snapshot = (o: typeof before | typeof after) =>
            buildSnapshots(parseOrThrow(modelsYaml({ models, nodes: fakeNodes(2), ...o })))[group];
          const a = snapshot(before);
          const b = snapshot(after);
          for (const transport of transports) {
            progress(`${change} change, ${group} group, ${models} models, ${transport}`);
            rows.push({
              change,
              group,
              models,
              diff: diff(a, b),
              ...(await measure(ads, group, transport, a, b)),
            });
          }
        }
      }
    } finally {
      await ads.close();
    }
  }

  console.log(
    `\nxDS bytes pushed for one change (${scenarios.map((s) => `${s.change}: ${s.what}`).join("; ")}); ${machineLine()}`,
  );
  printTable(
    "Wire bytes = encoded (Delta)DiscoveryResponses; change = encoded resources whose content changed (the baseline)",
    [
      "change",
      "group",
      "models",
      "transport",
      "responses",
      "resources sent",
      "wire bytes",
      "change (baseline)",
      "wire / change",
      "full snapshot",
      "wire / full",
      "ms to ACK",
    ],
    rows.map((r) => [
      r.change,
      r.group,
      r.models,
      r.transport,
      r.responses,
      r.resources,
      bytes(r.wire),
      bytes(XDS_KINDS.reduce((n, k) => n + r.diff.changed[k].bytes, 0)),
      ratio(
        r.wire,
        XDS_KINDS.reduce((n, k) => n + r.diff.changed[k].bytes, 0),
      ),
      bytes(r.diff.full),
      ratio(r.wire, r.diff.full, 3),
      ms(r.syncMs),
    ]),
  );
  printTable(
    "What changed and what went out",
    [
      "change",
      "group",
      "models",
      "transport",
      "changed resources (kind: count, bytes)",
      "kinds that changed, in full",
      "responses by kind",
      "server push_bytes metric",
    ],
    rows.map((r) => [
      r.change,
      r.group,
      r.models,
      r.transport,
      XDS_KINDS.filter((k) => r.diff.changed[k].resources > 0)
        .map((k) => `${k}: ${r.diff.changed[k].resources}, ${bytes(r.diff.changed[k].bytes)}`)
        .join("; ") + (r.diff.removed ? `; removed ${r.diff.removed}` : ""),
      bytes(r.diff.changedKinds),
      r.byKind,
      bytes(r.serverMetric),
    ]),
  );
  // Delta's point: at the larger size its bytes follow the change, not the snapshot.
  console.log("");
  for (const [{ change }, group] of scenarios.flatMap((s) => groups.map((g) => [s, g] as const))) {
    const at = (models: number, t: Transport) =>
      rows.find((r) => r.change === change && r.group === group && r.models === models && r.transport === t)!;
    const small = Math.min(...sizes);
    const large = Math.max(...sizes);
    console.log(
      `${change} change, ${group} group: wire bytes ${small} → ${large} models: sotw ×${ratio(at(large, "sotw").wire, at(small, "sotw").wire, 1)}, ` +
        `delta ×${ratio(at(large, "delta").wire, at(small, "delta").wire, 1)}; at ${large} models delta/sotw = ${ratio(at(large, "delta").wire, at(large, "sotw").wire, 3)}`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
