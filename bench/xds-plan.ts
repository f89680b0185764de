/**
 * What an ADS stream's planning costs per call (StreamState.plan: what to send a client now), for
 * an Envoy-like SotW client holding every cluster, listener and scope and naming every route
 * configuration and endpoint assignment, at 1,000 models × 3 versions. Every ACK and every new
 * snapshot plans each stream again, so this is paid per client, per ACK.
 *
 * Three cases in one run: the client in sync (nothing to send: what every ACK of an unrelated
 * kind costs), the plan right after a weight edit of one model (a new snapshot whose routes map
 * changed), and, as the baseline, the first plan of a stream that asked for everything and holds
 * nothing yet (everything to send).
 *
 *   npx tsx bench/xds-plan.ts
 *   BENCH_MODELS=10000 npx tsx bench/xds-plan.ts
 */
import type { RawConfig } from "@inferencehub/contracts/config";
import { parseConfigValue } from "@inferencehub/contracts/config";
import { buildSnapshots } from "../xds-server/src/runner/index.js";
import { StreamState } from "../xds-server/src/server/index.js";
import { createSnapshotBuilder, XDS_KINDS, type Snapshot } from "../xds-server/src/snapshot/index.js";
import { fakeNodes, machineLine, median, modelsConfig, ms, printTable, ratio } from "./lib/xds-bench.js";

const models = Number(process.env.BENCH_MODELS ?? 1000);
const calls = Number(process.env.BENCH_CALLS ?? 200);

const configWith = (weights: [number, number]) => {
  const parsed = parseConfigValue(
    modelsConfig({ models, nodes: fakeNodes(2), scaleWeights: weights }) as RawConfig,
  );
  if (!parsed.ok) throw new Error("the generated config is invalid");
  return parsed.value;
};

/** A stream that asked for everything, as Envoy does (wildcard, or every name), holding nothing yet. */
function askingStream(snapshot: Snapshot): StreamState {
  const s = new StreamState("sotw");
  for (const kind of XDS_KINDS) {
    const named = kind === "route" || kind === "endpoint";
    s.setNames(kind, named ? [...snapshot.resources[kind].keys()] : [], snapshot);
  }
  return s;
}

/** The same, having ACKed everything it was sent. */
function syncedStream(snapshot: Snapshot): StreamState {
  const s = askingStream(snapshot);
  sync(s, snapshot);
  return s;
}

let nonce = 0;
function sync(s: StreamState, snapshot: Snapshot): void {
  for (let out = s.plan(snapshot); out.length > 0; out = s.plan(snapshot)) {
    for (const o of out) {
      s.sent(o, { nonce: String(++nonce), version: "v", snapshotVersion: snapshot.version });
      s.ack(o.kind);
    }
  }
}

/** ms per call of `fn`, median of 5 rounds of `calls` calls. */
function perCall(fn: () => void): number {
  const rounds = Array.from({ length: 5 }, () => {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) fn();
    return (performance.now() - t0) / calls;
  });
  return median(rounds);
}

const builder = createSnapshotBuilder();
const before = buildSnapshots(configWith([90, 10]), undefined, builder).envoy;
const after = buildSnapshots(configWith([80, 20]), undefined, builder).envoy;
const stream = syncedStream(before);

const inSync = perCall(() => stream.plan(before));
// Each call on a fresh copy of the synced stream would cost the sync; instead plan the edit on
// streams synced once each, and time only their first plan of the new snapshot.
const edited = Array.from({ length: calls * 5 }, () => syncedStream(before));
let next = 0;
const afterEdit = perCall(() => edited[next++]!.plan(after));
const asking = Array.from({ length: calls * 5 }, () => askingStream(before));
next = 0;
const first = perCall(() => asking[next++]!.plan(before));

console.log(machineLine());
printTable(
  `StreamState.plan, ms per call, ${models} models × 3 versions (medians of 5 rounds of ${calls} calls):`,
  ["case", "ms per call", "vs a new stream's first plan"],
  [
    ["in sync (an ACK, nothing to send)", ms(inSync, 4), ratio(inSync, first, 4)],
    ["after a weight edit of one model", ms(afterEdit, 4), ratio(afterEdit, first, 4)],
    ["a new stream's first plan (baseline)", ms(first, 4), "1.0000"],
  ],
);
