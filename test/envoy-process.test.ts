import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ENVOY_VERSION } from "../scripts/lib/envoy.js";
import {
  envoyConfigDir,
  renderBootstrap,
  startEnvoy,
  validateBootstrap,
} from "../scripts/lib/envoy-process.js";
import { freePorts } from "../scripts/lib/ports.js";

test("envoy --mode validate accepts the deployment bootstrap", async () => {
  // bootstrap.yaml points a STRICT_DNS cluster at xds-server, a name that only resolves inside the
  // deployment's network. Validate mode builds every cluster but never starts DNS resolution or
  // connects upstream, so an unresolvable host does not fail it; the test uses the file unchanged.
  // https://www.envoyproxy.io/docs/envoy/v1.40.0/operations/cli#cmdoption-mode
  const bootstrap = await readFile(join(envoyConfigDir, "bootstrap.yaml"), "utf8");
  await validateBootstrap({ bootstrap });
});

function renderAds(apiType: string, adminPort = 0): string {
  return renderBootstrap("bootstrap-ads.template.yaml", {
    XDS_HOST: "127.0.0.1",
    XDS_PORT: 18000,
    ADMIN_PORT: adminPort,
    // Envoy reads YAML 1.1, where a bare n is the boolean false: the template must quote it.
    NODE_ID: "n",
    NODE_CLUSTER: "on",
    ADS_API_TYPE: apiType,
  });
}

test("envoy --mode validate accepts the ADS template for both xDS variants", async () => {
  for (const apiType of ["GRPC", "DELTA_GRPC"]) {
    await validateBootstrap({ bootstrap: renderAds(apiType) });
  }
});

test("startEnvoy boots the ADS template before any control plane exists", async () => {
  // Without xds-server the first CDS/LDS fetches only time out after 15 s each, so this waits
  // for the admin endpoint rather than LIVE.
  const envoy = await startEnvoy({ bootstrap: renderAds("DELTA_GRPC"), name: "ads", waitUntil: "admin" });
  try {
    const info = (await (await envoy.admin("/server_info")).json()) as {
      node: { id: string; cluster: string };
    };
    assert.deepEqual([info.node.id, info.node.cluster], ["n", "on"]);
  } finally {
    await envoy.stop();
  }
});

test("envoy --mode validate accepts the static two-node template", async () => {
  const bootstrap = renderBootstrap("static-two-nodes.template.yaml", {
    ADMIN_PORT: 0,
    LISTEN_PORT: 18080,
    NODE1_PORT: 18081,
    NODE2_PORT: 18082,
  });
  await validateBootstrap({ bootstrap });
});

test("startEnvoy runs the static template until stop() and leaves no process", async () => {
  const [listenPort, node1Port, node2Port] = await freePorts(3);
  const bootstrap = renderBootstrap("static-two-nodes.template.yaml", {
    // 0: the helper reads back the port Envoy bound.
    ADMIN_PORT: 0,
    LISTEN_PORT: listenPort ?? 0,
    NODE1_PORT: node1Port ?? 0,
    NODE2_PORT: node2Port ?? 0,
  });
  const envoy = await startEnvoy({ bootstrap, name: "static-two-nodes" });
  try {
    assert.ok(envoy.adminPort > 0);
    const res = await envoy.admin("/server_info");
    assert.equal(res.status, 200);
    const info = (await res.json()) as { version: string; state: string };
    // e.g. "9e5580…/1.40.0/Clean/RELEASE/BoringSSL"
    assert.equal(info.version.split("/")[1], ENVOY_VERSION);
    assert.equal(info.state, "LIVE");

    const stats = await envoy.stats("^cluster_manager\\.");
    assert.equal(stats["cluster_manager.active_clusters"], 1);
    const dump = JSON.stringify(await envoy.configDump({ resource: "static_clusters" }));
    assert.match(dump, /"name":"nodes"/);
  } finally {
    await envoy.stop();
  }
  await envoy.stop();
  assert.throws(() => process.kill(envoy.pid, 0), { code: "ESRCH" });
});

test("startEnvoy rejects with Envoy's own error when the bootstrap is invalid", async () => {
  await assert.rejects(
    startEnvoy({
      bootstrap: { static_resources: { clusters: [{ name: "broken", type: "NOT_A_TYPE" }] } },
      name: "invalid",
    }),
    /did not become ready: Envoy exited with code 1[\s\S]*NOT_A_TYPE/,
  );
});

test("renderBootstrap names every placeholder left without a value", () => {
  assert.throws(
    () => renderBootstrap("static-two-nodes.template.yaml", { ADMIN_PORT: 0, LISTEN_PORT: 1 }),
    /no value for NODE1_PORT, NODE2_PORT/,
  );
});
