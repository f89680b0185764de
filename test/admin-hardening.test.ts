/**
 * The admin API under abuse (issue #10): concurrent edits from one base version, bodies that are
 * not JSON objects, duplicates, oversized bodies, and the bytes of the file an edit leaves. The
 * control plane runs in this process (no Envoy, no nodes, no probing): what serves is read from
 * the control plane itself, and the audit lines from its log.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { pino } from "pino";
import { AdminServiceClient } from "../gen/inference/inferencehub/admin/v1/admin.js";
import { startControlPlane, type ControlPlane } from "../xds-server/src/runner/index.js";
import { contentHash } from "../xds-server/src/snapshot/index.js";
import type { ConfigFile } from "../xds-server/src/source/index.js";
import { grpcCall } from "./lib/assertions.js";

const TOKEN = "test-admin-token-0123456789";

// Flow sequences, flow maps with and without padding, comments and blank lines: an edit must
// leave all of it as it is, apart from the value it changes.
const configText = `# Operator's notes: keep this comment.
nodes:
  - { name: node-a, address: "127.0.0.1:9001" }   # node-a comment
  - {name: node-b, address: '127.0.0.1:9002'}

models:
  # scale is our canary model
  - name: scale
    versions:
      - { version: "1", weight: 50, nodes: [node-a, node-b] }  # stable
      - version: "2"
        weight: 50   # canary share
        nodes: [node-b]
  - name: other
    versions: [{version: v1, nodes: [node-a]}]
`;

interface Weights {
  [version: string]: number;
}

describe("admin API hardening (issue #10)", () => {
  let dir = "";
  let path = "";
  let cp: ControlPlane;
  const lines: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "inferencehub-admin-hardening-"));
    path = join(dir, "inferencehub.yaml");
    await writeFile(path, configText);
    cp = await startControlPlane({
      configPath: path,
      adsHost: "127.0.0.1",
      adsPort: 0,
      adminPort: 0,
      probe: false,
      adminToken: TOKEN,
      log: pino({ level: "info" }, { write: (line: string) => void lines.push(line) }),
    });
  });
  after(async () => {
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => void (lines.length = 0));

  const http = async (method: string, urlPath: string, body?: string) => {
    const res = await fetch(`http://127.0.0.1:${cp.adminPort}${urlPath}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) as Record<string, unknown> };
  };
  const setWeights = (base: string, weights: Weights, model = "scale") =>
    http("PUT", `/v1/models/${model}/weights`, JSON.stringify({ base_version: base, weights }));
  const servedWeights = (model = "scale"): Weights =>
    Object.fromEntries(
      cp.config.current!.models.find((m) => m.name === model)!.versions.map((v) => [v.version, v.weight]),
    );
  const audits = () =>
    lines
      .filter((l) => l.includes('"audit":true'))
      .map((l) => JSON.parse(l) as { edit: { weights?: Weights }; configVersion: string; changed?: boolean });

  /** What serves, what the file holds and what the status says are one and the same. */
  async function assertConsistent(expected: Weights, version: string) {
    const text = await readFile(path, "utf8");
    assert.equal(contentHash(text), version, "the file holds the version that serves");
    assert.equal(cp.config.version, version, "the control plane serves that version");
    assert.equal(cp.status().configVersion, version);
    assert.deepEqual(servedWeights(), expected);
    // Nothing is left to apply later: a load now finds the file as it serves.
    assert.equal((await (cp.config as ConfigFile).load()).status, "unchanged");
  }

  test("issue #10 finding 4: a no-op and a real SetWeights at once both answer truthfully and the real one serves, audited", async () => {
    for (let round = 0; round < 10; round++) {
      const reset = await setWeights(cp.config.version, { "1": 50, "2": 50 });
      assert.equal(reset.status, 200, reset.text);
      const base = cp.config.version;
      lines.length = 0;
      const [noop, real] = await Promise.all([
        setWeights(base, { "1": 50, "2": 50 }),
        setWeights(base, { "1": 77, "2": 23 }),
      ]);
      // Either order is right: a no-op first changes nothing (so 77/23 still holds its base), a
      // no-op second is based on a version that is gone.
      assert.ok(noop.status === 200 || noop.status === 409, noop.text);
      assert.equal(real.status, 200, `round ${round}: ${real.text}`);
      assert.doesNotMatch(real.text, /written but did not apply/);
      const version = real.body.configVersion as string;
      await assertConsistent({ "1": 77, "2": 23 }, version);
      const applied = audits().filter((a) => a.configVersion === version && a.changed !== false);
      assert.equal(applied.length, 1, `round ${round}: one audit line for the edit that serves`);
      assert.deepEqual(applied[0]!.edit.weights, { "1": 77, "2": 23 });
    }
  });

  test("issue #10 finding 4: many concurrent SetWeights from one base: one wins, the rest are refused, and the file, the served config and the audit agree", async () => {
    const base = cp.config.version;
    const asked: Weights[] = Array.from({ length: 12 }, (_, i) => ({ "1": 10 + i, "2": 90 - i }));
    const answers = await Promise.all(asked.map((w) => setWeights(base, w)));
    const won = answers.flatMap((a, i) => (a.status === 200 ? [i] : []));
    assert.equal(won.length, 1, answers.map((a) => `${a.status} ${a.text}`).join("\n"));
    for (const a of answers.filter((x) => x.status !== 200)) {
      assert.equal(a.status, 409, a.text);
      assert.equal(a.body.code, "ABORTED");
      assert.match(
        String(a.body.error),
        /conflict: this edit was based on config version .* read it again and retry/,
      );
    }
    const winner = asked[won[0]!]!;
    const version = answers[won[0]!]!.body.configVersion as string;
    await assertConsistent(winner, version);
    const applied = audits().filter((a) => a.changed !== false);
    assert.equal(applied.length, 1);
    assert.deepEqual(applied[0]!.edit.weights, winner);
    assert.equal(applied[0]!.configVersion, version);
  });

  test("issue #10 finding 4: over gRPC, one concurrent edit wins and the rest are ABORTED", async () => {
    const client = new AdminServiceClient(`127.0.0.1:${cp.adsPort}`, credentials.createInsecure());
    const md = new Metadata();
    md.set("authorization", `Bearer ${TOKEN}`);
    try {
      const base = cp.config.version;
      const asked: Weights[] = Array.from({ length: 8 }, (_, i) => ({ "1": 30 + i, "2": 70 - i }));
      const results = await Promise.allSettled(
        asked.map((weights) =>
          grpcCall(client, "setWeights", { baseVersion: base, model: "scale", weights }, md),
        ),
      );
      const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
      assert.equal(won.length, 1);
      for (const r of results) {
        if (r.status === "rejected") {
          const err = r.reason as ServiceError;
          assert.equal(err.code, status.ABORTED, err.message);
          assert.match(err.details, /conflict/);
        }
      }
      const winner = results[won[0]!] as PromiseFulfilledResult<{ configVersion: string }>;
      await assertConsistent(asked[won[0]!]!, winner.value.configVersion);
    } finally {
      client.close();
    }
  });

  test("issue #10 finding 4: a no-op edit succeeds without a write and keeps the config version", async () => {
    const base = cp.config.version;
    const before = await readFile(path, "utf8");
    const res = await setWeights(base, servedWeights());
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.configVersion, base);
    assert.equal(await readFile(path, "utf8"), before);
    const [audit] = audits();
    assert.equal(audit?.changed, false, "the no-op is audited as no change");
    // Still a conditional edit: a no-op on a stale base is a conflict like any other.
    const stale = await setWeights("0123456789abcdef", servedWeights());
    assert.equal(stale.status, 409, stale.text);
  });

  test("issue #10 finding 7: a body that is not a JSON object is a 400 INVALID_ARGUMENT with a message", async () => {
    const base = cp.config.version;
    for (const body of ["null", "[]", "[1,2]", "5", '"text"', "true", "{", '{"weights": }', "\u0000"]) {
      const res = await http("PUT", "/v1/models/scale/weights", body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.body.code, "INVALID_ARGUMENT");
      assert.match(String(res.body.error), /JSON object/);
    }
    assert.equal(cp.config.version, base, "nothing changed");
  });

  test("issue #10 finding 7: odd values in a JSON object are refused with a message, never a 500", async () => {
    const base = cp.config.version;
    const cases: [string, string, unknown][] = [
      ["PUT", "/v1/models/scale/weights", { base_version: base, weights: { "1": "abc", "2": 50 } }],
      ["PUT", "/v1/models/scale/weights", { base_version: base, weights: { "1": 50.5, "2": 49.5 } }],
      ["PUT", "/v1/models/scale/weights", { base_version: base, weights: [50, 50] }],
      ["PUT", "/v1/models/scale/weights", { base_version: ["x"], weights: { "1": 50, "2": 50 } }],
      ["POST", "/v1/models/scale/versions", { base_version: base, version: "3", nodes: "node-a", weight: 0 }],
      ["POST", "/v1/models/scale/versions", { base_version: base, version: "3", nodes: [{}], weight: -1 }],
      ["PUT", "/v1/models/%E0%A4%A/weights", { base_version: base, weights: { "1": 50 } }],
    ];
    for (const [method, urlPath, body] of cases) {
      const res = await http(method, urlPath, JSON.stringify(body));
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.body.code, "INVALID_ARGUMENT");
      assert.match(
        String(res.body.error),
        /^invalid (SetWeights|AddVersion) request: \S+ must be|percent-encoding/,
      );
    }
    assert.equal(cp.config.version, base, "nothing changed");
  });

  test("issue #10 finding 7: adding a version that exists is 409 ALREADY_EXISTS naming the model and version", async () => {
    const body = JSON.stringify({
      base_version: cp.config.version,
      version: "2",
      nodes: ["node-a"],
      weight: 0,
    });
    const res = await http("POST", "/v1/models/scale/versions", body);
    assert.equal(res.status, 409, res.text);
    assert.equal(res.body.code, "ALREADY_EXISTS");
    assert.match(String(res.body.error), /model 'scale' already has version '2'/);

    const client = new AdminServiceClient(`127.0.0.1:${cp.adsPort}`, credentials.createInsecure());
    const md = new Metadata();
    md.set("authorization", `Bearer ${TOKEN}`);
    try {
      await assert.rejects(
        grpcCall(
          client,
          "addVersion",
          { baseVersion: cp.config.version, model: "scale", version: "2", nodes: ["node-a"], weight: 0 },
          md,
        ),
        (err: ServiceError) => err.code === status.ALREADY_EXISTS && /'scale'.*'2'/.test(err.details),
      );
    } finally {
      client.close();
    }
  });

  test("issue #10 finding 7: a 2 MB body gets a 413 answer naming the limit, not a reset", async () => {
    const big = JSON.stringify({
      base_version: cp.config.version,
      weights: { "1": 50 },
      pad: "x".repeat(2 << 20),
    });
    // Plain node:http, so a reset shows as an error rather than being retried.
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: cp.adminPort,
          method: "PUT",
          path: "/v1/models/scale/weights",
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        },
        (r) => {
          let text = "";
          r.setEncoding("utf8");
          r.on("data", (c: string) => (text += c));
          r.on("end", () => resolve({ status: r.statusCode ?? 0, text }));
          r.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(big);
    });
    assert.equal(res.status, 413, res.text);
    const body = JSON.parse(res.text) as { error: string; code: string };
    assert.equal(body.code, "RESOURCE_EXHAUSTED");
    assert.match(body.error, /at most 1048576 bytes \(1 MiB\)/);
    // The same through fetch.
    const viaFetch = await http("PUT", "/v1/models/scale/weights", big);
    assert.equal(viaFetch.status, 413);
    // And the port still answers.
    assert.equal((await http("GET", "/v1/models")).status, 200);
  });

  test("issue #10 finding 7: a weight edit changes only the lines it edits, byte for byte", async () => {
    await writeFile(path, configText);
    assert.equal((await (cp.config as ConfigFile).load()).status !== "invalid", true);
    const base = cp.config.version;
    assert.equal(base, contentHash(configText));
    const res = await setWeights(base, { "1": 60, "2": 40 });
    assert.equal(res.status, 200, res.text);
    const after = (await readFile(path, "utf8")).split("\n");
    const before = configText.split("\n");
    assert.equal(after.length, before.length);
    const changed = before.flatMap((line, i) => (line === after[i] ? [] : [i]));
    assert.deepEqual(
      changed.map((i) => [before[i], after[i]]),
      [
        [
          '      - { version: "1", weight: 50, nodes: [node-a, node-b] }  # stable',
          '      - { version: "1", weight: 60, nodes: [node-a, node-b] }  # stable',
        ],
        ["        weight: 50   # canary share", "        weight: 40   # canary share"],
      ],
    );
  });

  test("issue #10 finding 7 (held already): unknown routes, methods and models answer with a message, never an empty one", async () => {
    for (const [method, urlPath] of [
      ["GET", "/v1/nope"],
      ["PATCH", "/v1/models/scale/weights"],
      ["PUT", "/v1/models/ghost/weights"],
    ] as const) {
      const res = await http(
        method,
        urlPath,
        method === "GET" ? undefined : JSON.stringify({ base_version: "x", weights: { a: 1 } }),
      );
      assert.ok(res.status >= 400 && res.status < 500, `${method} ${urlPath}: ${res.text}`);
      assert.ok(String(res.body.error).length > 10, res.text);
      assert.doesNotMatch(res.text, /\n\s+at /, "no stack trace");
    }
  });
});
